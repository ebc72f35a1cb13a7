"""Every chapter's hidden solutions pass the chapter's own checks.

An exercise is a code cell that leaves a stub (`raise NotImplementedError`) and calls a check
(`check.basic_block(MyBasicBlock)`); the markdown cell after it hides the solution in a
`:::{admonition} Solution` block. This test runs, for each exercise, the chapter's imports, the
solution's code as the notebook shows it, and the exercise cell's check call, and asserts that
the check passes. The tests of the checks (`test_check_*.py`) take the same solutions from here
(`solutions(chapter)`) instead of keeping copies.
"""
import ast
import re
from pathlib import Path

import nbformat
import pytest

from companion import check

BOOK = Path(__file__).resolve().parents[1] / "book"
SOLUTION = re.compile(r":::\{admonition\} Solution.*?```python\n(.*?)```", re.S)


def assert_hint(result, words):
    """A check's result is a failure whose message contains `words` (its hint)."""
    assert result.status == check.FAILED, result
    assert words in result.message, result.message


def _parsed(cell):
    """The cell's statements, or [] for a cell with IPython syntax (magics)."""
    try:
        return ast.parse(cell.source).body
    except SyntaxError:
        return []


def _calls_check(statement):
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and isinstance(node.func.value, ast.Name) and node.func.value.id == "check"
               for node in ast.walk(statement))


def chapter_imports(nb):
    """The import statements of a chapter's code cells (the Colab cell excepted)."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"][1:]
    return "\n".join(ast.unparse(statement) for cell in code for statement in _parsed(cell)
                     if isinstance(statement, (ast.Import, ast.ImportFrom)))


def exercises(path):
    """[(cell index, the check call's source, the solution's source)] of a chapter."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "NotImplementedError" not in cell.source:
            continue
        calls = [ast.unparse(s) for s in _parsed(cell) if _calls_check(s)]
        if not calls:
            continue
        following = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
        match = SOLUTION.search(following.source) if following is not None and (
            following.cell_type == "markdown") else None
        if match is None:
            raise AssertionError(f"{path.name} cell {index}: an exercise whose next cell has "
                                 "no ':::{admonition} Solution' block with Python code")
        found.append((index, "\n".join(calls), match.group(1)))
    return found


def solutions(chapter):
    """A namespace with the chapter's imports and every solution it shows defined in it."""
    path = BOOK / f"{chapter}.ipynb"
    namespace = {}
    exec(chapter_imports(nbformat.read(path, as_version=4)), namespace)
    for index, _, solution in exercises(path):
        exec(compile(solution, f"{path.name}, solution after cell {index}", "exec"), namespace)
    return namespace


CASES = [pytest.param(path, index, call, solution, id=f"{path.stem}-cell{index}")
         for path in sorted(BOOK.glob("*.ipynb")) for index, call, solution in exercises(path)]


def test_the_chapters_have_exercises_with_solutions():
    assert len({case.values[0] for case in CASES}) >= 8 and len(CASES) >= 20


@pytest.mark.parametrize("path, index, call, solution", CASES)
def test_the_solution_passes_the_chapters_check(path, index, call, solution):
    namespace = {}
    exec(chapter_imports(nbformat.read(path, as_version=4)), namespace)
    exec(compile(solution, f"{path.name}, solution after cell {index}", "exec"), namespace)
    results = []
    for statement in ast.parse(call).body:     # the exercise cell's own check call(s)
        results.append(eval(compile(ast.Expression(statement.value), "check", "eval"),
                            namespace))
    assert results and all(isinstance(r, check.Result) for r in results), results
    failed = [r for r in results if r.status != check.PASSED]
    assert not failed, f"{path.name} cell {index}: {failed[0].message}"
