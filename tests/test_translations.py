"""The Chinese edition stays on the English code and says when its text falls behind
(scripts/translations.py, book/zh/)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "scripts"))
import translations as tr  # noqa: E402

sys.path.pop(0)


def md(cell_id, text):
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def code(cell_id, text, **metadata):
    return {"cell_type": "code", "id": cell_id, "metadata": metadata, "source": text,
            "execution_count": None, "outputs": []}


def notebook(cells):
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}}}


@pytest.fixture
def book(tmp_path):
    """A book of one English chapter, translated and published in Chinese."""
    (tmp_path / "book" / "zh").mkdir(parents=True)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/ch\nchapters:\n"
                                       "  - file: book/other\n")
    (tmp_path / "book" / "zh" / "_toc.yml").write_text("format: jb-book\nroot: ch\n")
    figure = {"figure": {"caption": "Two spirals.", "name": "fig-a"}}
    tr.save(notebook([md("t", "# Title"), code("c1", "x = 1\nprint(x)"),
                      md("p", "Some *text*."), code("c2", "plot()", mystnb=figure)]),
            tmp_path / "book" / "ch.ipynb")
    tr.save(notebook([md("o", "# Other")]), tmp_path / "book" / "other.ipynb")
    b = tr.Book(tmp_path)
    tr.start(b, "ch")
    zh = tr.load(b.zh_path("ch"))
    zh["cells"][0]["source"] = "# 标题"
    zh["cells"][2]["source"] = "一些*文字*。"
    zh["metadata"]["translation"]["captions"]["c2"]["text"] = "两条螺旋线。"
    tr.save(zh, b.zh_path("ch"))
    tr.accept(b, ["ch:t", "ch:p", "ch:c2"])
    return tr.Book(tmp_path)


def run_check(book):
    lines = []
    return tr.check(book, lines.append), "\n".join(lines)


def edit(path, change):
    nb = tr.load(path)
    change(nb)
    tr.save(nb, path)


def test_a_current_translation_passes_and_untranslated_chapters_are_named(book):
    status, out = run_check(book)
    assert status == 0, out
    assert "published in Chinese (book/zh/_toc.yml): ch" in out
    assert "not yet translated: other" in out


def test_a_changed_english_cell_makes_its_translation_stale(book):
    edit(book.en_path("ch"), lambda nb: nb["cells"][2].update(source="Other *text*."))
    status, out = run_check(book)
    assert status == 1
    assert "book/zh/ch.ipynb, cell 2 (id p): stale" in out
    tr.sync(book, out=lambda line: None)                  # sync keeps the stale Chinese text
    assert tr.text(tr.load(book.zh_path("ch"))["cells"][2]) == "一些*文字*。"
    assert run_check(book)[0] == 1
    tr.accept(book, ["ch:p"])                             # the translator updated it
    assert run_check(book)[0] == 0


def test_a_code_difference_is_found_and_sync_copies_the_english_code(book):
    edit(book.zh_path("ch"), lambda nb: nb["cells"][1].update(source="x = 2\nprint(x)"))
    status, out = run_check(book)
    assert status == 1 and "book/zh/ch.ipynb, cell 1 (id c1): code: code differs" in out
    edit(book.en_path("ch"), lambda nb: nb["cells"][1].update(source="y = 3\nprint(y)"))
    tr.sync(book, out=lambda line: None)
    zh, en = tr.load(book.zh_path("ch")), tr.load(book.en_path("ch"))
    assert zh["cells"][1] == en["cells"][1]
    assert tr.text(zh["cells"][0]) == "# 标题"
    assert run_check(book)[0] == 0


def test_code_metadata_is_part_of_the_code(book):
    edit(book.zh_path("ch"), lambda nb: nb["cells"][1]["metadata"].update(tags=["hide-input"]))
    status, out = run_check(book)
    assert status == 1 and "cell 1 (id c1): code: code differs" in out


def test_a_new_english_cell_is_a_missing_translation_until_translated(book):
    edit(book.en_path("ch"), lambda nb: nb["cells"].insert(3, md("new", "A new paragraph.")))
    status, out = run_check(book)
    assert status == 1 and "cell 3 (id new)" in out
    tr.sync(book, out=lambda line: None)
    status, out = run_check(book)
    assert status == 1 and "book/zh/ch.ipynb, cell 3 (id new): missing" in out
    edit(book.zh_path("ch"), lambda nb: nb["cells"][3].update(source="新的一段。"))
    tr.accept(book, ["ch:new"])
    assert run_check(book)[0] == 0


def test_a_figure_caption_is_translated_and_checked(book):
    def recaption(nb):
        nb["cells"][3]["metadata"]["mystnb"]["figure"]["caption"] = "Three spirals."
    edit(book.en_path("ch"), recaption)
    tr.sync(book, out=lambda line: None)
    status, out = run_check(book)
    assert status == 1 and "cell 3 (id c2): stale: the English figure caption changed" in out
    edit(book.zh_path("ch"),
         lambda nb: nb["metadata"]["translation"]["captions"].pop("c2"))
    status, out = run_check(book)
    assert status == 1 and "cell 3 (id c2): missing: figure caption" in out


def test_a_glue_translation_table_is_checked(book):
    def glue(nb):
        nb["cells"][2]["source"] = "结果{glue:text}`verdict`。"
        nb["metadata"]["translation"]["glue"] = {"verdict": [["(.*) is ahead", r"\1 领先"]]}
    edit(book.zh_path("ch"), glue)
    tr.accept(book, ["ch:p"])
    assert run_check(book)[0] == 0
    edit(book.zh_path("ch"), lambda nb: nb["metadata"]["translation"]["glue"].update(
        {"gone": [["x", "y"]], "verdict": [["(unclosed", "y"]]}))
    status, out = run_check(book)
    assert status == 1
    assert "id gone: glue: translation.glue has a key no markdown cell glues" in out
    assert "the pattern '(unclosed' does not compile" in out
    edit(book.zh_path("ch"), lambda nb: nb["metadata"]["translation"]["glue"].update(
        {"verdict": [["(.*) is ahead", r"\2 领先"]]}))
    assert "refers to group 2, but the pattern has 1" in run_check(book)[1]
    edit(book.zh_path("ch"), lambda nb: nb["metadata"]["translation"]["glue"].update(
        {"gone": "x", "verdict": [["a", "b", "c"]]}))
    out = run_check(book)[1]
    assert "must be a list of [regex, replacement] pairs of strings, not 'x'" in out
    assert "not ['a', 'b', 'c']" in out


def test_the_chinese_build_translates_glued_text_and_flags_english_it_cannot():
    sys.path.insert(0, str(TOP / "_ext"))
    try:
        import book_pages
    finally:
        sys.path.pop(0)
    patterns = [["the (\\w+) is ahead: its perplexity is (.*) lower", r"\1 领先：困惑度低 \2"],
                ["the two are tied", "两者持平"]]
    assert (book_pages.translate_glued("the LSTM is ahead: its perplexity is 40% lower",
                                       patterns) == "LSTM 领先：困惑度低 40%")
    assert book_pages.translate_glued("the two are tied", patterns) == "两者持平"
    assert book_pages.translate_glued("the two are tied, nearly", patterns) is None  # whole
    assert book_pages.english_words("lower than") == ["lower", "than"]
    assert book_pages.english_words("+0.26 points") == ["points"]
    for name_or_number in ("GPT", "LSTM", "gelu", "2.4×", "ScaledDotProductFlashAttention",
                           "LeNet-5", "93.1%"):
        assert book_pages.english_words(name_or_number) == [], name_or_number


def test_a_chapter_in_progress_is_reported_but_does_not_fail(book):
    (book.zh / "_toc.yml").write_text("format: jb-book\nroot: ch\nchapters:\n"
                                      "  - file: references\n")
    (book.zh / "references.md").write_text("# 参考文献\n")
    tr.start(book, "other")
    status, out = run_check(tr.Book(book.top))
    assert status == 0 and "other (in progress, not published): 1 cells due" in out
    (book.zh / "_toc.yml").write_text("format: jb-book\nroot: ch\nchapters:\n"
                                      "  - file: other\n")
    status, out = run_check(tr.Book(book.top))
    assert status == 1 and "book/zh/other.ipynb, cell 0 (id o): missing" in out


def test_a_published_chapter_must_exist(book):
    (book.zh / "_toc.yml").write_text("format: jb-book\nroot: ch\nchapters:\n"
                                      "  - file: nine\n")
    status, out = run_check(tr.Book(book.top))
    assert status == 1 and "lists 'nine', which is not an English chapter" in out


def test_outputs_of_the_english_run_are_copied_and_differing_code_refused(book):
    output = {"output_type": "stream", "name": "stdout", "text": "1\n"}
    edit(book.en_path("ch"), lambda nb: nb["cells"][1].update(outputs=[output],
                                                               execution_count=1))
    tr.copy_outputs(book)
    assert tr.load(book.zh_path("ch"))["cells"][1]["outputs"] == [output]
    edit(book.zh_path("ch"), lambda nb: nb["cells"][1].update(source="x = 2"))
    with pytest.raises(SystemExit, match="id c1: code differs"):
        tr.copy_outputs(book)


def test_the_real_book_passes_with_a_plain_python_without_site_packages():
    result = subprocess.run([sys.executable, "-S", "scripts/translations.py", "check"],
                            cwd=TOP, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "published in Chinese" in result.stdout


@pytest.mark.parametrize("toc", ["_toc.yml", "book/zh/_toc.yml"])
def test_the_toc_reader_reads_the_tocs_as_yaml_does(toc):
    data = yaml.safe_load((TOP / toc).read_text())
    expected = [data["root"]] + [c["file"] for c in data.get("chapters", [])]
    assert tr.toc_files(TOP / toc) == expected


def test_the_chinese_configuration_is_the_english_one_but_for_its_edition():
    en = yaml.safe_load((TOP / "_config.yml").read_text())
    zh = yaml.safe_load((TOP / "book/zh/_config.yml").read_text())
    up = "../../"
    assert zh["sphinx"]["config"].pop("language") == "zh_CN"
    assert zh["sphinx"]["config"].pop("html_static_path") == [
        up + p for p in en["sphinx"]["config"].pop("html_static_path")]
    assert zh["sphinx"]["config"] == en["sphinx"]["config"]
    assert zh["sphinx"]["local_extensions"] == {
        k: up + v for k, v in en["sphinx"]["local_extensions"].items()}
    assert zh["bibtex_bibfiles"] == [up + p for p in en["bibtex_bibfiles"]]
    assert zh["html"].pop("favicon") == up + en["html"].pop("favicon")
    assert zh["html"] == en["html"] and zh["parse"] == en["parse"]
    assert zh["launch_buttons"] == en["launch_buttons"]
    assert zh["repository"] == {**en["repository"], "path_to_book": "book/zh"}
    assert zh["execute"].pop("cache") == up + "_build/.jupyter_cache"
    assert zh["execute"] == en["execute"]
    assert zh["title"] != en["title"] and "动手学深度学习" not in zh["title"]


def test_the_chinese_chapters_keep_the_english_cell_ids_and_record_hashes():
    book = tr.Book()
    for chapter in book.published:
        en, zh = tr.load(book.en_path(chapter)), tr.load(book.zh_path(chapter))
        assert [c["id"] for c in zh["cells"]] == [c["id"] for c in en["cells"]]
        for en_cell, zh_cell in zip(en["cells"], zh["cells"]):
            if en_cell["cell_type"] == "markdown":
                assert zh_cell["metadata"]["translation"]["en_sha256"] == \
                    tr.sha(tr.text(en_cell))
                assert tr.text(zh_cell) != tr.text(en_cell), zh_cell["id"]
            else:
                assert zh_cell == en_cell


def test_a_chinese_page_links_to_the_english_page_of_an_untranslated_chapter(tmp_path):
    sys.path.insert(0, str(TOP / "_ext"))
    try:
        import book_pages
    finally:
        sys.path.pop(0)
    (tmp_path / "book" / "zh").mkdir(parents=True)
    (tmp_path / "book" / "01_learning.ipynb").write_text("{}")
    (tmp_path / "book" / "zh" / "_toc.yml").write_text("root: intro\nchapters: []\n")

    def app(srcdir, language):
        return type("App", (), {"srcdir": str(srcdir),
                                "config": type("C", (), {"language": language})()})()
    zh, en = app(tmp_path / "book" / "zh", "zh_CN"), app(tmp_path, "en")
    assert book_pages.other_edition_url(zh, "01_learning") == "../book/01_learning.html"
    assert book_pages.other_edition_url(zh, "missing") is None
    assert book_pages.other_edition_url(en, "book/intro") == "../zh/intro.html"
    assert book_pages.other_edition_url(en, "index") is None    # outside book/
    assert book_pages.other_edition_url(en, "book/01_learning") is None
    node = {"reftype": "doc", "refdoc": "intro", "reftarget": "01_learning"}
    link = book_pages._english_fallback(zh, None, node, book_pages.nodes.Text("第 1 章"))
    assert link["refuri"] == "../book/01_learning.html" and link.astext() == "第 1 章"
    node["reftarget"] = "09_missing"
    assert book_pages._english_fallback(zh, None, node, book_pages.nodes.Text("x")) is None
