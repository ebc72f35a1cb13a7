"""scripts/count_machinery.py: each rule claims the lines it documents, once."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "count_machinery.py"
spec = importlib.util.spec_from_file_location("count_machinery", SCRIPT)
cm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cm)


def notebook(*cells):
    return {"cells": [{"cell_type": kind, "source": source} for kind, source in cells]}


NB = notebook(
    ("code", 'import sys\nif "google.colab" in sys.modules:\n    %pip install -q x\n'),
    ("code", "from companion.book import setup\n\nsetup(seed=0)"),
    ("markdown", "Some prose about `corr2d`."),
    ("code", "def corr2d(X, K):\n    # a teaching function still counts\n    return X\n"
             "def my_answer(x):\n    raise NotImplementedError\n"),
    ("code", "acc = 0.9\nassert acc > 0.5\nglue('acc', acc)\n"
             "rows = ['| a | b |', '|---|---|']\nfor v in (1, 2):\n"
             "    rows.append(f'| {v} | {2 * v} |')\ndisplay(Markdown('\\n'.join(rows)))"),
    ("code", "fig, ax = plt.subplots()\nax.plot([1, 2])  # data\n"
             "ax.set_xlabel('x')\nfor a in [ax]:\n    a.grid(alpha=0.3)\nplt.show()"),
    ("code", "def render(x):\n    return x\n\nExplorer({'x': [1]}, render)\nexplorer = 1"),
)


def test_each_rule_claims_its_lines():
    counts = cm.count(NB)
    assert counts["setup"] == 3 + 2
    assert counts["glue_assert"] == 2
    assert counts["markdown"] == 4               # rows, the for header, the append, display
    assert counts["styling"] == 3                # set_xlabel, the for header, grid
    assert counts["figures"] == 2                # subplots, show
    assert counts["definitions"] == 3 + 2        # corr2d (comment included), render
    assert counts["widgets"] == 2                # the Explorer call, the line after it
    assert counts["teaching"] == 1 + 2 + 1       # acc, the stub, ax.plot
    assert counts["code"] == sum(counts[c] for c in cm.CATEGORIES)
    assert counts["non_teaching"] == counts["code"] - counts["teaching"] - counts["glue_assert"]


def test_a_commit_is_read_with_git_show():
    head = cm.notebooks("HEAD")
    assert "book/intro.ipynb" in head and cm.count(head["book/intro.ipynb"])["code"] > 50
