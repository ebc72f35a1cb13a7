"""Count each chapter's code lines that are not teaching, by fixed rules, on any commit.

    python scripts/count_machinery.py                  # the working tree
    python scripts/count_machinery.py --rev 734af1f    # a commit (read with `git show`)
    python scripts/count_machinery.py --explain book/02_activations.ipynb   # every line's rule
    python scripts/count_machinery.py --json

Only code cells count, and only their non-blank lines (comments included), as in the design
review of 2026-12-06 (§6). Each line gets exactly one category: the first rule below that
claims it. A statement's lines are all of its lines (continuations included); a comment line
goes with the statement that follows it in its cell (or, at the end of a cell, the one before).

1. setup        every line of the Colab cell (the code cell that mentions google.colab) and
                of the set-up cell (the code cell that calls setup(...)).
2. glue_assert  `assert` statements and bare `glue(...)` calls: they keep the prose honest and
                stay; reported apart, not part of the non-teaching total.
3. markdown     building Markdown: a statement that calls Markdown(...) or table(...); a
                statement that assigns, augments (+=) or appends/extends text (an f-string, a
                string, a join, ...) to a name that such a call reads, directly or through
                other such names; a function defined in the notebook that only such statements
                call.
4. styling      a call statement to an axis or figure styling method: set, set_xlabel and the
                other set_* of AXIS_SETTERS, legend, grid, tight_layout, subplots_adjust,
                suptitle, axis, tick_params, bar_label, margins, xlabel, ylabel, title, xlim,
                ylim, xticks, yticks.
5. figures      figure plumbing: a statement that calls subplots, figure, show, close, savefig,
                BytesIO, getvalue, quantize or Image.open, and `return fig`.
6. definitions  the lines of a function or class defined in the notebook (probes, plotting
                and plumbing helpers, render functions), except exercise stubs (a definition
                that raises NotImplementedError). Teaching definitions (corr2d, dropout, ...)
                count here too, before and after alike.
7. widgets      the other lines of a cell that builds an Explorer(...) or a Playground(...).
8. teaching     everything else.

For rules 2-5 a compound statement's header (`for ...:`, `if ...:`, `with ...:`) takes the
category of its body when every statement in the body has that one category.
Non-teaching = setup + markdown + styling + figures + definitions + widgets.
"""
import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

CATEGORIES = ("setup", "glue_assert", "markdown", "styling", "figures", "definitions",
              "widgets", "teaching")
NON_TEACHING = ("setup", "markdown", "styling", "figures", "definitions", "widgets")
AXIS_SETTERS = {"set_xlabel", "set_ylabel", "set_title", "set_xlim", "set_ylim", "set_xticks",
                "set_yticks", "set_xticklabels", "set_yticklabels", "set_xscale", "set_yscale",
                "set_aspect", "set_major_locator", "set_minor_locator", "set_major_formatter",
                "set_minor_formatter", "set_params", "set_axis_off", "set_facecolor"}
STYLING = AXIS_SETTERS | {"set", "legend", "grid", "tight_layout", "subplots_adjust", "suptitle",
                          "axis", "tick_params", "bar_label", "margins", "xlabel", "ylabel",
                          "title", "xlim", "ylim", "xticks", "yticks"}
FIGURES = {"subplots", "figure", "show", "close", "savefig", "BytesIO", "getvalue", "quantize"}
MARKDOWN_CALLS = {"Markdown", "table"}
TOP = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ reading
def notebooks(rev):
    """{path: notebook} of book/*.ipynb in the working tree, or at commit `rev`."""
    if rev is None:
        return {str(p.relative_to(TOP)): json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((TOP / "book").glob("*.ipynb"))}
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "book/"], cwd=TOP, check=True,
                           capture_output=True, text=True).stdout.split()
    return {name: json.loads(subprocess.run(["git", "show", f"{rev}:{name}"], cwd=TOP,
                                            check=True, capture_output=True,
                                            text=True).stdout)
            for name in sorted(names) if name.endswith(".ipynb")}


def code_cells(nb):
    """The source of every code cell."""
    return ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code"]


def parse(source):
    """The cell's syntax tree; IPython magics (%pip, !cmd) parse as `pass`."""
    lines = []
    for line in source.split("\n"):
        if line.strip().startswith(("%", "!")):
            line = line[:len(line) - len(line.lstrip())] + "pass"
        lines.append(line)
    return ast.parse("\n".join(lines))


# ------------------------------------------------------------------------------ rules
def called(node):
    """The name of what a Call calls: `ax.set_title(...)` -> 'set_title', `glue(...)` -> 'glue'."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
        if isinstance(node.func, ast.Name):
            return node.func.id
    return None


def calls_in(node):
    return {called(n) for n in ast.walk(node) if isinstance(n, ast.Call)}


def is_text(node):
    """Does this expression build text (a table row, a sentence)?"""
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant)
                                           and isinstance(node.value, str)):
        return True
    if isinstance(node, ast.BinOp):
        return is_text(node.left) or is_text(node.right)
    if isinstance(node, ast.IfExp):
        return is_text(node.body) or is_text(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(is_text(e) for e in node.elts)
    if isinstance(node, ast.Call):
        return called(node) in ("join", "format", "replace", "str")
    return False


def text_target(stmt):
    """(name, value) when `stmt` assigns, augments or appends a value to a plain name."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(
            stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    if (isinstance(stmt, ast.Expr) and called(stmt.value) in ("append", "extend")
            and isinstance(stmt.value.func.value, ast.Name) and stmt.value.args):
        return stmt.value.func.value.id, stmt.value.args[0]
    return None


def simple_statements(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.stmt)
            and not isinstance(n, (ast.For, ast.While, ast.If, ast.With, ast.Try,
                                   ast.FunctionDef, ast.ClassDef))]


def markdown_statements(tree):
    """The statements of one cell that build Markdown (rule 3, without the functions)."""
    statements = simple_statements(tree)
    found = {id(s) for s in statements if calls_in(s) & MARKDOWN_CALLS}
    names = {n.id for s in statements if id(s) in found for n in ast.walk(s)
             if isinstance(n, ast.Name)}
    while True:                       # text that flows into those names, transitively
        grown = False
        for s in statements:
            target = text_target(s)
            if id(s) not in found and target and target[0] in names and is_text(target[1]):
                found.add(id(s))
                names |= {n.id for n in ast.walk(s) if isinstance(n, ast.Name)}
                grown = True
        if not grown:
            return found


def own_category(stmt, markdown):
    """Rules 2-5 for one simple statement, or None."""
    if isinstance(stmt, ast.Assert) or (isinstance(stmt, ast.Expr)
                                        and called(stmt.value) == "glue"):
        return "glue_assert"
    if id(stmt) in markdown:
        return "markdown"
    if isinstance(stmt, ast.Expr) and called(stmt.value) in STYLING:
        return "styling"
    calls = calls_in(stmt)
    if calls & FIGURES or ("open" in calls and "Image" in ast.unparse(stmt)) or (
            isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name)
            and stmt.value.id == "fig"):
        return "figures"
    return None


def is_stub(definition):
    return any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n)
               for n in ast.walk(definition))


def classify(nb):
    """[(cell index, line text, category)] for every non-blank code line of a notebook."""
    cells = code_cells(nb)
    trees = [parse(source) for source in cells]
    markdown = [markdown_statements(tree) for tree in trees]
    # rule 3's functions: defined here, and called only from Markdown-building statements
    definitions = {d.name: d for tree in trees for d in tree.body
                   if isinstance(d, (ast.FunctionDef, ast.ClassDef))}
    uses = {name: [] for name in definitions}
    for tree, found in zip(trees, markdown):
        for stmt in simple_statements(tree):
            for n in ast.walk(stmt):
                if isinstance(n, ast.Name) and n.id in uses:
                    uses[n.id].append(id(stmt) in found)
    text_functions = {name for name, seen in uses.items() if seen and all(seen)}
    rows = []
    for index, (source, tree, found) in enumerate(zip(cells, trees, markdown)):
        lines = source.split("\n")
        rank = [len(CATEGORIES) - 1] * len(lines)            # teaching, unless claimed

        def claim(first, last, category):
            for i in range(first - 1, last):
                rank[i] = min(rank[i], CATEGORIES.index(category))

        if "google.colab" in source or "setup(" in source:
            claim(1, len(lines), "setup")
        if "Explorer(" in source or "Playground(" in source:
            claim(1, len(lines), "widgets")
        for d in tree.body:
            if isinstance(d, (ast.FunctionDef, ast.ClassDef)) and not is_stub(d):
                first = min([d.lineno] + [x.lineno for x in d.decorator_list])
                claim(first, d.end_lineno, "markdown" if d.name in text_functions
                      else "definitions")
        own = {}
        for stmt in simple_statements(tree):
            category = own_category(stmt, found)
            if category:
                own[id(stmt)] = category
                claim(stmt.lineno, stmt.end_lineno, category)
        for stmt in ast.walk(tree):                          # headers of uniform blocks
            if isinstance(stmt, (ast.For, ast.While, ast.If, ast.With)):
                inner = {own.get(id(s)) for s in simple_statements(stmt)}
                if len(inner) == 1 and None not in inner:
                    claim(stmt.lineno, stmt.body[0].lineno - 1, inner.pop())
        # a comment line goes with the next statement (or, at the end, the one before)
        code = [i for i, line in enumerate(lines)
                if line.strip() and not line.strip().startswith("#")]
        for i, line in enumerate(lines):
            if line.strip().startswith("#"):
                after = [j for j in code if j > i]
                before = [j for j in code if j < i]
                near = after[0] if after else before[-1] if before else None
                if near is not None and rank[i] == len(CATEGORIES) - 1:
                    rank[i] = rank[near]
        rows += [(index, line, CATEGORIES[r]) for line, r in zip(lines, rank) if line.strip()]
    return rows


def count(nb):
    rows = classify(nb)
    counts = {category: 0 for category in CATEGORIES}
    for _, _, category in rows:
        counts[category] += 1
    counts["code"] = len(rows)
    counts["non_teaching"] = sum(counts[c] for c in NON_TEACHING)
    return counts


# ------------------------------------------------------------------------------ output
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="a git commit to read the chapters from (default: the "
                                      "working tree)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--explain", metavar="NOTEBOOK",
                        help="print every code line of this notebook with its category")
    args = parser.parse_args(argv)
    books = notebooks(args.rev)
    if args.explain:
        for cell, line, category in classify(books[args.explain]):
            print(f"{category:<12} [{cell:>2}] {line}")
        return
    results = {name: count(nb) for name, nb in books.items()}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    columns = ("code", "setup", "glue_assert", "markdown", "styling", "figures", "definitions",
               "widgets", "non_teaching")
    print("| chapter | " + " | ".join(columns) + " | share |")
    print("|---" + "|---:" * (len(columns) + 1) + "|")
    totals = {c: 0 for c in columns}
    for name, counts in results.items():
        for c in columns:
            totals[c] += counts[c]
        share = counts["non_teaching"] / max(counts["code"], 1)
        print(f"| {Path(name).stem} | " + " | ".join(str(counts[c]) for c in columns)
              + f" | {share:.0%} |")
    share = totals["non_teaching"] / max(totals["code"], 1)
    print("| total | " + " | ".join(str(totals[c]) for c in columns) + f" | {share:.0%} |")


if __name__ == "__main__":
    sys.exit(main())
