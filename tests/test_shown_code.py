"""Code the book shows with `literalinclude` and `:pyobject:` fits the page's code column
(79 characters), as the notebooks' own code does (tests/test_book.py)."""
import ast
import re
from pathlib import Path

import nbformat
import pytest

TOP = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n(?::[^\n]*\n)*?:pyobject: (\S+)")


def shown():
    """(notebook, file, object) for every :pyobject: literalinclude in the chapters."""
    found = []
    for path in sorted((TOP / "book").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for file, name in INCLUDE.findall(cell.source):
                    found.append((path.name, (path.parent / file).resolve(), name))
    return found


def source_of(file, dotted):
    """The lines of a function, class or method `A.b` in a Python file."""
    nodes = ast.parse(file.read_text()).body
    for part in dotted.split("."):
        node = next((n for n in nodes if getattr(n, "name", None) == part), None)
        assert node is not None, f"{dotted} not found in {file.name}"
        nodes = node.body
    return file.read_text().splitlines()[node.lineno - 1:node.end_lineno]


def test_the_epoch_loop_is_shown_where_fit_is_first_used():
    assert ("intro.ipynb", TOP / "companion" / "training.py", "train_epoch") in shown()


@pytest.mark.parametrize("notebook, file, name", shown(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_shown_code_fits_the_column(notebook, file, name):
    long = [line for line in source_of(file, name) if len(line) > 79]
    assert not long, f"{notebook} shows {name} with {len(long)} lines over 79: {long[0]!r}"
