"""The web book's hygiene, read from the sources (the built pages are checked in a browser by
scripts/check_pages.py): what the HTML hides, markup that would show raw, linked references."""
import json
import re
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((TOP / "book").glob("*.ipynb"))
CONFIG = yaml.safe_load((TOP / "_config.yml").read_text())
SPHINX = CONFIG["sphinx"]["config"]


def cells(path, kind):
    return [(cell.get("id"), "".join(cell["source"]), cell.get("metadata", {}).get("tags", []))
            for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == kind]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_colab_install_cell_is_hidden_from_the_web_book(path):
    cell_id, source, tags = cells(path, "code")[0]
    assert 'if "google.colab" in sys.modules:' in source
    assert "remove-cell" in tags, f"cell {cell_id}: tag the Colab-only install cell remove-cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_explorer_and_playground_builders_are_folded(path):
    """Plumbing folds in the HTML (one click shows it), so figures are not buried under it."""
    unfolded = [cell_id for cell_id, source, tags in cells(path, "code")
                if re.search(r"\b(Explorer|Playground)\(", source)
                and not {"hide-input", "remove-input", "hide-cell", "remove-cell"} & set(tags)]
    assert not unfolded, f"tag these cells hide-input: {unfolded}"


# Markdown that MyST renders as literal text (each one was on a built page once).
RAW_MARKUP = {
    "a ::: fence after text on the same line (it needs a line, and a blank line, of its own)":
        re.compile(r"\S[ \t]*:::+\{"),
    "a title after {note}/{warning}/... (they take none: use {admonition} Title with :class:)":
        re.compile(r"^:::+\{(note|warning|tip|important|caution|danger|attention|hint|error|"
                   r"seealso)\}[ \t]*\S", re.M),
    "** after punctuation and before a letter (CommonMark cannot close bold there)":
        re.compile(r"[.,:;!?)\]]\*\*[A-Za-z0-9]"),
    "TeX in a heading (links and contents that name the section show it raw, e.g. p_t)":
        re.compile(r"^#{1,6} [^\n]*\$[^$\n]*[_^\\{][^$\n]*\$", re.M),
}


@pytest.mark.parametrize("path", NOTEBOOKS + [TOP / "book" / "references.md"],
                         ids=lambda p: p.name)
def test_markdown_has_no_markup_that_would_show_raw(path):
    if path.suffix == ".md":
        texts = [("", path.read_text())]
    else:
        texts = [(cell_id, source) for cell_id, source, _ in cells(path, "markdown")]
    found = [f"cell {cell_id}: {what}: {match.group(0)!r}" for cell_id, text in texts
             for what, pattern in RAW_MARKUP.items() for match in pattern.finditer(text)]
    assert not found, "\n".join(found)


def bib_entries():
    text = (TOP / "references.bib").read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"@\w+\{([^,]+),(.*?)\n\}", text, re.S)}


def field(entry, name):
    match = re.search(rf"^\s*{name}\s*=\s*\{{(.*)\}},?\s*$", entry, re.M)
    return match.group(1) if match else None


def test_references_link_their_arxiv_preprints_and_show_no_raw_math():
    entries = bib_entries()
    assert len(entries) > 40
    for key, entry in entries.items():
        title = field(entry, "title") or ""
        assert "$" not in title, f"{key}: the bibliography prints $...$ in titles literally"
        arxiv = re.search(r"arXiv:(\d{4}\.\d{4,5})", entry)
        if arxiv:
            assert f"arxiv.org/abs/{arxiv.group(1)}" in (field(entry, "url") or ""), \
                f"{key}: cites arXiv:{arxiv.group(1)}, so its url should link there"
        doi = field(entry, "doi")
        if doi is not None:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", doi), f"{key}: malformed doi {doi!r}"
        author = field(entry, "author") or ""
        assert not re.search(r"\{\\.", author), \
            f"{key}: write accented names in Unicode ({author[:40]}...): braces garble labels"


def test_most_references_are_linked():
    entries = bib_entries()
    linked = [k for k, e in entries.items()
              if field(e, "doi") or field(e, "url") or "\\url{" in e]
    assert len(linked) >= 0.8 * len(entries), \
        f"only {len(linked)} of {len(entries)} references have a doi or url"


def test_the_web_book_needs_no_widget_javascript():
    """Explorers render from their text/html form; playgrounds become build-time snapshots."""
    assert SPHINX.get("nb_ipywidgets_js") == {}
    assert ["html", "text/html", 5] in SPHINX["nb_mime_priority_overrides"]
    assert "book_pages" in CONFIG["sphinx"]["local_extensions"]


def test_a_launch_button_only_where_it_can_work():
    binder = (CONFIG.get("launch_buttons") or {}).get("binderhub_url")
    if binder:
        assert (TOP / "binder").is_dir() or (TOP / ".binder").is_dir(), \
            "a Binder button without a binder/ environment fails at the first import"
