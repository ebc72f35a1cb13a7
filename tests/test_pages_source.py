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


# The extension that draws widgets at build time (_ext/book_pages.py), on real widget state.
def book_pages():
    import importlib
    import sys
    sys.path.insert(0, str(TOP / "_ext"))
    try:
        return importlib.import_module("book_pages")
    finally:
        sys.path.pop(0)


def test_a_playground_is_drawn_from_its_saved_state_with_its_controls_disabled():
    import base64

    import ipywidgets as widgets

    pages = book_pages()
    png = base64.b64encode(b"\x89PNG fake").decode()
    out = widgets.Output()
    out.outputs = ({"output_type": "display_data", "metadata": {"image/png": {"width": 720}},
                    "data": {"image/png": png, "text/plain": "<Figure>"}},)
    box = widgets.VBox([
        widgets.HBox([widgets.IntSlider(value=3, min=1, max=5, description="depth"),
                      widgets.FloatLogSlider(value=0.01, min=-4, max=0,
                                             description="learning rate"),
                      widgets.Dropdown(options=["relu", "tanh"], value="tanh",
                                       description="activation"),
                      widgets.HTML("<b>1,218 parameters</b>")]),
        widgets.Button(description="Train"), out])
    state = widgets.Widget.get_manager_state()["state"]     # every live widget
    view = ('<script type="application/vnd.jupyter.widget-view+json">'
            + json.dumps({"version_major": 2, "version_minor": 0, "model_id": box.model_id})
            + "</script>")
    context = {"body": f"<p>before</p>{view}<p>after</p>"}
    app = type("App", (), {"config": type("C", (), {"html_theme_options": {
        "repository_url": "https://github.com/org/book", "repository_branch": "main",
        "path_to_docs": "", "launch_buttons": {"colab_url": "https://colab.example"}}})()})()
    pages._render_widgets(app, "book/intro", context, state)
    body = context["body"]
    assert "widget-view" not in body and "<p>before</p>" in body and "<p>after</p>" in body
    assert 'href="https://colab.example/github/org/book/blob/main/book/intro.ipynb"' in body
    assert "book-frozen-note" in body and "<b>1,218 parameters</b>" in body
    assert re.search(r'<span class="book-snapshot-label">depth</span><input type="range" '
                     r'min="0" max="100" value="50" disabled', body)
    assert "<output>0.01</output>" in body          # a log slider shows its value
    assert 'value="50"' in body.split("learning rate")[1].split("</label>")[0]
    assert "<option>tanh</option>" in body and "<select disabled" in body
    assert '<button type="button" disabled tabindex="-1">Train</button>' in body
    assert f'<img src="data:image/png;base64,{png}" width="720"' in body
    controls = re.findall(r"<(?:input|select|button)\b[^>]*>", body)
    assert len(controls) == 4 and all("disabled" in c for c in controls)


def test_a_widget_without_a_static_form_fails_the_build_loudly():
    import ipywidgets as widgets

    pages = book_pages()
    picker = widgets.ColorPicker(value="red")
    state = widgets.Widget.get_manager_state()["state"]
    with pytest.raises(ValueError, match="no static form for the widget ColorPickerModel"):
        pages.Snapshot(state).render(picker.model_id)


def test_inline_images_become_files_and_the_page_points_at_them(tmp_path):
    import base64

    pages = book_pages()
    png = b"\x89PNG one image"
    data = base64.b64encode(png).decode()
    context = {"body": f'<img src="data:image/png;base64,{data}"><img data-src='
                       f'"data:image/png;base64,{data}">',
               "pathto": lambda name, resource: "../" + name}
    app = type("App", (), {"outdir": str(tmp_path)})()
    pages._extract_images(app, "book/x", context)
    files = list((tmp_path / "_images" / "book").iterdir())
    assert len(files) == 1 and files[0].read_bytes() == png
    assert context["body"] == (f'<img src="../_images/book/{files[0].name}"><img data-src='
                               f'"../_images/book/{files[0].name}">')


SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_tables_have_a_separator_row(path):
    """A table whose second row is not |---|---| renders as a paragraph of pipes."""
    found = []
    for cell_id, source, _ in cells(path, "markdown"):
        block, fenced = [], False
        for line in source.split("\n") + [""]:
            fenced ^= line.lstrip().startswith(("```", "~~~"))
            if not fenced and line.lstrip().startswith("|"):
                block.append(line)
                continue
            if len(block) > 1 and not SEPARATOR_ROW.match(block[1]):
                found.append(f"cell {cell_id}: {block[0]!r} is followed by {block[1]!r}")
            block = []
    assert not found, "\n".join(found)
