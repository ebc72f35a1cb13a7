#!/usr/bin/env python3
"""The Chinese edition (book/zh/) kept on the English chapters' code, and honest about staleness.

One source of code: a Chinese chapter `book/zh/<chapter>.ipynb` has the English chapter's cells
in the same order with the same ids. Its code cells are copies of the English ones (source and
metadata, byte for byte: Jupyter Book's execution cache hashes both, so a copy hits the English
execution). Its markdown cells are the Chinese text; each records in its metadata the hash of
the English cell it translates, `{"translation": {"en_sha256": "..."}}`. Figure captions live in
code-cell metadata, which stays English; their translations are in the notebook's metadata,
`translation.captions[<cell id>] = {"text": "...", "en_sha256": "..."}`. Text that code glues
into the prose is English (one execution serves both editions); the Chinese notebook translates
it by key, `translation.glue[<key>] = [[regex, replacement], ...]` (the build applies the first
regex that matches the whole value, _ext/book_pages.py); here each pattern must compile and each
key must be one the Chinese text glues.

The chapters that the Chinese edition publishes are the ones `book/zh/_toc.yml` lists (the one
place): `check` fails on any of them that has a stale or missing cell or caption or a code cell
that differs. A Chinese notebook not in that toc yet (work in progress) and an English chapter
with no Chinese notebook are reported, not failed.

    python3 scripts/translations.py sync [CHAPTER ...]   # copy code, refresh, list what is due
    python3 scripts/translations.py check                # exit 1 on anything due (make test)
    python3 scripts/translations.py start CHAPTER        # a new Chinese notebook: code + English
    python3 scripts/translations.py accept CHAPTER:ID ... # after translating cell/caption ID
    python3 scripts/translations.py outputs BOOK_DIR     # executed English outputs into zh/

Standard library only: it runs with a plain python3, in well under a second.
"""
import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
KEY = "translation"
GLUE_KEY = re.compile(r"\{glue:text\}`([^`:]+)")
TOC_ENTRY = re.compile(r"^\s*(?:root|-\s*file)\s*:\s*[\"']?([^\"'\s#]+)", re.M)


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def text(cell):
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save(nb, path):
    """As nbformat.write writes it (sources as lists of lines, indent 1, sorted keys, UTF-8,
    a final newline)."""
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def toc_files(path):
    """The `root:` and `file:` entries of a Jupyter Book toc (a regex: no YAML library here;
    tests/test_translations.py checks it reads the real tocs as PyYAML does)."""
    return TOC_ENTRY.findall(Path(path).read_text(encoding="utf-8"))


class Book:
    """The English chapters (notebooks in the main toc) and the Chinese edition beside them."""

    def __init__(self, top=TOP, book="book"):
        self.top = Path(top)
        self.en = self.top / book
        self.zh = self.en / "zh"
        self.chapters = [f.split("/")[-1] for f in toc_files(self.top / "_toc.yml")
                         if (self.top / f"{f}.ipynb").exists()]
        zh_toc = self.zh / "_toc.yml"
        # the chapters it lists (its other pages, such as the references, are Markdown)
        self.published = [f for f in toc_files(zh_toc) if not (self.zh / f"{f}.md").exists()] \
            if zh_toc.exists() else []

    def en_path(self, chapter):
        return self.en / f"{chapter}.ipynb"

    def zh_path(self, chapter):
        return self.zh / f"{chapter}.ipynb"


def captions_of(nb):
    """{cell id: English caption} of the code cells that are figures."""
    found = {}
    for cell in nb["cells"]:
        caption = (cell.get("metadata", {}).get("mystnb", {}).get("figure") or {}).get("caption")
        if cell["cell_type"] == "code" and caption:
            found[cell["id"]] = caption
    return found


def merge(en, zh):
    """The Chinese notebook brought up to the English one, and what is due in it.

    Returns (notebook, problems): problems are (kind, cell index or None, id, what) with kind
    one of "stale", "missing", "dropped" (a Chinese cell whose English cell is gone)."""
    problems = []
    translated = {c["id"]: c for c in zh["cells"] if c["cell_type"] != "code"} if zh else {}
    cells = []
    for index, cell in enumerate(en["cells"]):
        if cell["cell_type"] == "code":
            cells.append(copy.deepcopy(cell))
            continue
        digest = sha(text(cell))
        mine = translated.pop(cell["id"], None)
        record = (mine or {}).get("metadata", {}).get(KEY, {})
        if mine is None or record.get("untranslated"):
            placeholder = copy.deepcopy(cell)       # the English text until it is translated
            placeholder.setdefault("metadata", {})[KEY] = {"untranslated": True}
            cells.append(placeholder)
            problems.append(("missing", index, cell["id"], "not translated yet"))
            continue
        if record.get("en_sha256") != digest:
            problems.append(("stale", index, cell["id"],
                             "the English cell changed since it was translated"))
        cells.append(mine)
    for cell_id in translated:
        problems.append(("dropped", None, cell_id,
                         "its English cell is gone; the translation was removed"))
    nb = copy.deepcopy(en)
    nb["cells"] = cells
    meta = (zh or {}).get("metadata", {}).get(KEY, {})
    captions = {}
    for cell_id, caption in captions_of(en).items():
        mine = meta.get("captions", {}).get(cell_id)
        index = next(i for i, c in enumerate(cells) if c.get("id") == cell_id)
        if not mine or not mine.get("text"):
            problems.append(("missing", index, cell_id, "figure caption not translated yet"))
            mine = {"text": "", "en": caption}
        elif mine.get("en_sha256") != sha(caption):
            problems.append(("stale", index, cell_id,
                             "the English figure caption changed since it was translated"))
        captions[cell_id] = mine
    nb["metadata"][KEY] = {**{k: v for k, v in meta.items() if k != "captions"},
                           "captions": captions}
    return nb, problems


def glue_problems(nb):
    """What is wrong in the notebook's translations of glued text: (index, key, what)."""
    found = []
    table = nb.get("metadata", {}).get(KEY, {}).get("glue", {})
    glued = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            glued.update(GLUE_KEY.findall(text(cell)))
    for key, patterns in table.items():
        if key not in glued:
            found.append((None, key, "translation.glue has a key no markdown cell glues"))
        pairs = patterns if isinstance(patterns, list) else [patterns]
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(part, str) for part in pair)):
                found.append((None, key, f"translation.glue[{key!r}] must be a list of "
                              f"[regex, replacement] pairs of strings, not {pair!r}"))
                continue
            try:
                groups = re.compile(pair[0]).groups
            except re.error as error:
                found.append((None, key, f"translation.glue[{key!r}]: the pattern "
                              f"{pair[0]!r} does not compile ({error})"))
                continue
            refs = re.findall(r"\\(\d+)|\\g<(\d+)>", pair[1])    # \1 or \g<1>
            used = [int(plain or named) for plain, named in refs]
            if any(n > groups for n in used):
                found.append((None, key, f"translation.glue[{key!r}]: the replacement "
                              f"{pair[1]!r} refers to group {max(used)}, but the pattern "
                              f"has {groups}"))
    return found


def code_differences(en, zh):
    """Where the Chinese notebook's cells do not follow the English ones: (index, id, what)."""
    found = []
    zh_cells = zh["cells"]
    for index, cell in enumerate(en["cells"]):
        other = zh_cells[index] if index < len(zh_cells) else None
        if other is None or other.get("id") != cell["id"] \
                or other["cell_type"] != cell["cell_type"]:
            found.append((index, cell["id"], "the cells do not follow the English chapter's "
                          "(order, ids or types differ)"))
            break
        if cell["cell_type"] == "code" and (text(other) != text(cell) or
                                            other.get("metadata") != cell.get("metadata")):
            first = text(cell).splitlines()[:1] or [""]
            found.append((index, cell["id"], f"code differs from the English cell "
                          f"(`{first[0][:40]}`)"))
    if len(zh_cells) > len(en["cells"]) and not found:
        found.append((len(en["cells"]), zh_cells[len(en["cells"])].get("id"),
                      "extra cells after the English chapter's last"))
    if zh.get("metadata", {}).get("kernelspec") != en.get("metadata", {}).get("kernelspec"):
        found.append((None, "-", "the notebook's kernelspec differs from the English one"))
    return found


def where(chapter, index, cell_id, zh_dir="book/zh"):
    cell = f"cell {index} (id {cell_id})" if index is not None else f"id {cell_id}"
    return f"{zh_dir}/{chapter}.ipynb, {cell}"


def status(book):
    """{chapter: (problems, code differences)} for every Chinese notebook; and the English
    chapters that have none."""
    result, untranslated = {}, []
    for chapter in book.chapters:
        if not book.zh_path(chapter).exists():
            untranslated.append(chapter)
            continue
        en, zh = load(book.en_path(chapter)), load(book.zh_path(chapter))
        _, problems = merge(en, zh)
        problems += [("glue", index, key, what) for index, key, what in glue_problems(zh)]
        result[chapter] = (problems, code_differences(en, zh))
    return result, untranslated


def sync(book, chapters=None, out=print):
    """Copy the English code into the Chinese notebooks; report what is due. Returns the count
    of problems in the published chapters."""
    due = 0
    for chapter in chapters or book.chapters:
        if chapter not in book.chapters:
            raise SystemExit(f"translations: no English chapter {chapter!r} in _toc.yml "
                             f"(chapters: {', '.join(book.chapters)})")
        if not book.zh_path(chapter).exists():
            continue
        nb, problems = merge(load(book.en_path(chapter)), load(book.zh_path(chapter)))
        save(nb, book.zh_path(chapter))
        problems += [("glue", index, key, what) for index, key, what in glue_problems(nb)]
        for kind, index, cell_id, what in problems:
            out(f"{where(chapter, index, cell_id)}: {kind}: {what}")
        if chapter in book.published:
            due += sum(kind != "dropped" for kind, *_ in problems)
    report_coverage(book, out)
    return due


def report_coverage(book, out=print):
    published = [c for c in book.chapters if c in book.published]
    pending = [c for c in book.chapters if c not in book.published]
    out(f"translations: published in Chinese (book/zh/_toc.yml): {', '.join(published) or '-'}")
    if pending:
        started = [c for c in pending if book.zh_path(c).exists()]
        out(f"translations: not yet translated: {', '.join(pending)}"
            + (f" (in progress: {', '.join(started)})" if started else ""))


def check(book, out=print):
    """Exit status 1 if a published chapter has a stale or missing cell or caption, or code that
    differs from the English chapter's; name chapter and cell."""
    failures = []
    for chapter in book.published:
        if chapter not in book.chapters:
            failures.append(f"book/zh/_toc.yml lists {chapter!r}, which is not an English "
                            f"chapter in _toc.yml")
            continue
        if not book.zh_path(chapter).exists():
            failures.append(f"book/zh/_toc.yml lists {chapter!r} but book/zh/{chapter}.ipynb "
                            f"does not exist")
    results, _ = status(book)
    for chapter, (problems, differences) in results.items():
        lines = [f"{where(chapter, i, c)}: code: {w}" for i, c, w in differences]
        lines += [f"{where(chapter, i, c)}: {k}: {w}" for k, i, c, w in problems]
        if chapter in book.published:
            failures += lines
        elif lines:
            out(f"translations: {chapter} (in progress, not published): {len(lines)} "
                f"cells due")
    report_coverage(book, out)
    for line in failures:
        out(line)
    if failures:
        out(f"translations: {len(failures)} problems in the published Chinese chapters; "
            f"run `python3 scripts/translations.py sync`, translate, then `accept`")
        return 1
    out("translations: every published Chinese chapter is current and its code is the "
        "English code")
    return 0


def start(book, chapter):
    if chapter not in book.chapters:
        raise SystemExit(f"translations: no English chapter {chapter!r}")
    if book.zh_path(chapter).exists():
        raise SystemExit(f"translations: book/zh/{chapter}.ipynb exists already")
    nb, problems = merge(load(book.en_path(chapter)), None)
    book.zh.mkdir(parents=True, exist_ok=True)
    save(nb, book.zh_path(chapter))
    print(f"translations: wrote book/zh/{chapter}.ipynb ({len(problems)} cells and captions "
          f"to translate); add it to book/zh/_toc.yml once translated")


def accept(book, targets):
    """Record that cells (or captions) now translate the current English text."""
    for target in targets:
        chapter, _, cell_id = target.partition(":")
        if chapter not in book.chapters or not book.zh_path(chapter).exists() or not cell_id:
            raise SystemExit(f"translations: accept wants CHAPTER:CELL_ID of a Chinese "
                             f"notebook, got {target!r}")
        en, zh = load(book.en_path(chapter)), load(book.zh_path(chapter))
        en_cell = next((c for c in en["cells"] if c["id"] == cell_id), None)
        zh_cell = next((c for c in zh["cells"] if c["id"] == cell_id), None)
        if en_cell is None or zh_cell is None:
            raise SystemExit(f"translations: no cell {cell_id!r} in {chapter} (run sync first)")
        if en_cell["cell_type"] == "code":
            caption = captions_of(en).get(cell_id)
            mine = zh["metadata"].get(KEY, {}).get("captions", {}).get(cell_id)
            if caption is None or not mine or not mine.get("text"):
                raise SystemExit(f"translations: {chapter}:{cell_id} is code with no "
                                 f"translated caption; nothing to accept")
            mine.pop("en", None)
            mine["en_sha256"] = sha(caption)
        else:
            if text(zh_cell) == text(en_cell):
                print(f"translations: warning: {chapter}:{cell_id} is the English text as is")
            zh_cell["metadata"][KEY] = {"en_sha256": sha(text(en_cell))}
        save(zh, book.zh_path(chapter))
        print(f"translations: {chapter}:{cell_id} accepted")


def copy_outputs(book):
    """Outputs of the executed English chapters into the published Chinese ones, so the Chinese
    edition is built from the English execution (CI's `make book-executed`)."""
    for chapter in book.published:
        en, zh = load(book.en_path(chapter)), load(book.zh_path(chapter))
        by_id = {c["id"]: c for c in en["cells"] if c["cell_type"] == "code"}
        for cell in zh["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = by_id.get(cell["id"])
            if source is None or text(source) != text(cell):
                raise SystemExit(f"translations: {where(chapter, None, cell['id'])}: code "
                                 f"differs from the executed English chapter")
            cell["outputs"] = source.get("outputs", [])
            cell["execution_count"] = source.get("execution_count")
        for key in ("widgets", "language_info"):
            if key in en["metadata"]:
                zh["metadata"][key] = en["metadata"][key]
        save(zh, book.zh_path(chapter))
        print(f"translations: outputs of {book.en_path(chapter)} copied into the Chinese "
              f"chapter")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sync", help="copy code cells, list stale and missing translations")
    p.add_argument("chapters", nargs="*")
    sub.add_parser("check", help="fail on anything due in a published chapter")
    p = sub.add_parser("start", help="create a Chinese notebook to translate")
    p.add_argument("chapter")
    p = sub.add_parser("accept", help="record cells as translating the current English text")
    p.add_argument("targets", nargs="+", metavar="CHAPTER:CELL_ID")
    p = sub.add_parser("outputs", help="copy executed English outputs into the Chinese notebooks")
    p.add_argument("book_dir", help="a book/ folder whose English chapters are executed")
    args = parser.parse_args(argv)
    if args.command == "outputs":
        folder = Path(args.book_dir).resolve()
        copy_outputs(Book(folder.parent, folder.name))
        return 0
    book = Book()
    if args.command == "sync":
        due = sync(book, args.chapters)
        print(f"translations: {due} cells due in the published chapters" if due else
              "translations: the published chapters are current")
        return 0
    if args.command == "check":
        return check(book)
    if args.command == "start":
        start(book, args.chapter)
    elif args.command == "accept":
        accept(book, args.targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
