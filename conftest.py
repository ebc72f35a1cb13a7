"""Hooks for every pytest run here, the chapters under nbmake included (tests/conftest.py only
reaches the tests in tests/).

nbmake reports a failed or timed-out chapter with the cell's code but not its place. This adds
the place: "book/03_cnn.ipynb, cell 60 (code cell 34, `Playground(...`): A cell timed out
...", in the failure's text and in the one-line summary at the end of the run.
"""
import pytest


def where(item, failure, nb):
    """Chapter, cell index (as nbmake and the notebook count cells) and the cell's first line."""
    index = failure.failing_cell_index
    text = f"{item.nodeid.split('::')[0]}, cell {index}"
    if nb is not None and 0 <= index < len(nb.cells):
        code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        lines = nb.cells[index].source.strip().splitlines() or [""]
        if index in code:
            text += f" (code cell {code.index(index) + 1}, `{lines[0][:60]}`)"
    return text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.excinfo is None or not getattr(item, "nbmake", False):
        return
    result = call.excinfo.value.args[0] if call.excinfo.value.args else None
    failure = getattr(result, "error", None)         # nbmake's NotebookResult.error
    longrepr = report.longrepr
    if failure is None or not hasattr(longrepr, "term"):
        return
    place = where(item, failure, getattr(result, "nb", None))
    longrepr.term = f"{place}: {failure.summary}\n{longrepr.term}"
    longrepr.reprcrash.message = f"{place}: {failure.summary}"
