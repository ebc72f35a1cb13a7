"""A small Sphinx extension that makes the built pages light and honest.

- Widgets need no JavaScript bundle: explorers arrive as plain HTML (`companion.explorer`
  gives each one a `text/html` form, which `_config.yml` makes MyST-NB prefer), and every other
  widget output (a playground, which needs a kernel) is drawn here, at build time, from the
  widget state the execution saved: a snapshot of the build's run with its controls disabled
  and a note that links to Colab. The widget state and the widget JavaScript leave the page.
- Images inlined as base64 (explorer results, snapshots) become files in `_images/book/`, so
  a page's HTML stays small and an explorer loads only the image it shows.
- Scripts no page uses are dropped: fontawesome.js (the theme's CSS already has the icon
  font), Thebe (not enabled), and one of sphinx-thebe's two copies of its inline script (a
  browser stops at the second declaration).
- Each Exercises section starts with how to do the exercises: open the chapter in Colab (or
  JupyterLab) and run the cells above first.
- Each page gets a `<meta name="description">` (its first paragraph), and the first page a
  tab title that does not repeat the book's title ("Introduction — Deep Learning, Hands-On").
- Chapters are numbered (`_toc.yml`); pages that are not notebooks (the references) are back
  matter and keep no number.
- Two editions (issue 24): the English book (`_toc.yml`, pages `book/<page>`) and the Chinese
  one (`book/zh/`, its own Sphinx project, `language: zh_CN`, built into `html/zh/`). Each page
  names its counterpart in the other edition (`<link rel="alternate" hreflang>`, which
  assets/book.js shows in the header); a Chinese page's link to a chapter not yet translated
  goes to the English page; the Chinese figure captions (kept in the notebook's metadata, since
  the code cells, captions included, are the English ones) replace the English captions; the
  book's own notes are in the page's language. Text that a code cell glues into the prose
  (`{glue:text}`) comes from the one, English, execution: a Chinese chapter translates each glued
  value that has English words in it with the patterns in its metadata (`translation.glue`), and
  a glued value with English words and no pattern that matches it fails the strict build.
"""
import base64
import hashlib
import html
import json
import math
import re
from pathlib import Path

from docutils import nodes
from docutils.transforms import Transform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S)
DATA_URI = re.compile(
    r'(\b(?:src|data-src))="data:image/(png|jpeg|gif|svg\+xml);base64,([A-Za-z0-9+/=\s]+)"')
DROPPED_SCRIPTS = ("fontawesome.js", "sphinx-thebe.js", "widgets/", "widgets-config.js")
DROPPED_CSS = ("sphinx-thebe.css",)
EXTENSIONS = {"png": "png", "jpeg": "jpg", "gif": "gif", "svg+xml": "svg"}


# ---------------------------------------------------------------------------------------------
# The two editions
WORDS = {
    "en": {"run": "To do these exercises, run the chapter: ",
           "open": "open it in Colab", "or_lab": " (or in JupyterLab), ",
           "open_either": "open it in Colab or JupyterLab, ",
           "how": "run all the cells above this heading first (Colab: Runtime ▸ Run "
                  "before; JupyterLab: Run ▸ Run All Above Selected Cell), then write "
                  "your answers in the exercise cells and run them; the self-checking "
                  "ones say whether you got it right. On this page the cells show what "
                  "they printed at build time, before anyone answered.",
           "exercises": r"Exercises\b", "first_page": "Introduction",
           "snapshot_link": "Open this chapter in Colab",
           "snapshot": "Snapshot of the build's run: these controls need a running Python "
                       "kernel. {link} or in JupyterLab to change them and train again.",
           "other": "中文", "other_lang": "zh-Hans"},
    "zh": {"run": "做这些练习，需要运行本章：", "open": "在 Colab 中打开",
           "or_lab": "（或在 JupyterLab 中打开），",
           "open_either": "在 Colab 或 JupyterLab 中打开，",
           "how": "先运行本标题以上的所有单元格（Colab：Runtime ▸ Run before；JupyterLab："
                  "Run ▸ Run All Above Selected Cell），再在练习单元格中写下答案并运行；能自动检查"
                  "的练习会告诉你答得对不对。本页上的单元格显示的是构建时的输出，那时还没有人作答。",
           "exercises": "练习", "first_page": "引言",
           "snapshot_link": "在 Colab 中打开本章",
           "snapshot": "这是构建时运行结果的快照：这些控件需要运行中的 Python 内核。{link}，"
                       "或在 JupyterLab 中打开，即可修改设置并重新训练。",
           "other": "English", "other_lang": "en",
           "english_only": "尚未译成中文：链接到英文版"},
}


def edition(app):
    """"zh" in the Chinese edition, "en" in the English one."""
    language = getattr(app.config, "language", None) or "en"
    return "zh" if language.startswith("zh") else "en"


def words(app):
    return WORDS[edition(app)]


def _to_root(docname):
    return "../" * docname.count("/")


def _english_page(app, docname):
    """From the Chinese edition (srcdir book/zh): the English page of `docname`, relative to the
    English book's root (`book/<docname>`), or None if there is none."""
    english = Path(app.srcdir).parent
    if any((english / f"{docname}{ext}").exists() for ext in (".ipynb", ".md")):
        return f"book/{docname}"
    return None


def _chinese_pages(app):
    """From the English edition: the pages the Chinese edition publishes (its toc)."""
    if not hasattr(app, "_book_zh_pages"):
        import yaml
        toc = Path(app.srcdir) / "book" / "zh" / "_toc.yml"
        pages = set()
        if toc.exists():
            data = yaml.safe_load(toc.read_text(encoding="utf-8"))
            pages = {data["root"]} | {c["file"] for c in data.get("chapters", [])}
        app._book_zh_pages = pages
    return app._book_zh_pages


def other_edition_url(app, docname):
    """The same page in the other edition, relative to this page, or None."""
    if edition(app) == "zh":
        page = _english_page(app, docname)
        # html/zh/<docname>.html -> html/book/<docname>.html
        return f"{_to_root(docname)}../{page}.html" if page else None
    # `make book` builds the Chinese edition beside this one: a page links to its Chinese page
    # where book/zh/_toc.yml publishes one.
    if not docname.startswith("book/"):
        return None
    name = docname[len("book/"):]
    # html/book/<name>.html -> html/zh/<name>.html
    return f"{_to_root(docname)}zh/{name}.html" if name in _chinese_pages(app) else None


def _link_other_edition(app, pagename, context):
    url = other_edition_url(app, pagename)
    if url:
        w = words(app)
        context["metatags"] = (context.get("metatags", "") +
                               f'\n<link rel="alternate" hreflang="{w["other_lang"]}" '
                               f'href="{html.escape(url)}" title="{html.escape(w["other"])}" />')


def _english_fallback(app, env, node, contnode):
    """A Chinese page's link to a chapter not translated yet: to the English page instead."""
    if edition(app) != "zh" or node.get("reftype") not in ("doc", "myst"):
        return None
    refdoc, target = node.get("refdoc", ""), node.get("reftarget", "")
    target = re.sub(r"\.(ipynb|md)$", "", target)
    folder = refdoc.rsplit("/", 1)[0] + "/" if "/" in refdoc else ""
    docname = target.lstrip("/") if target.startswith("/") else folder + target
    page = _english_page(app, docname)
    if page is None:
        return None
    link = nodes.reference("", "", internal=False, classes=["book-english-only"],
                           refuri=f"{_to_root(refdoc)}../{page}.html",
                           reftitle=WORDS["zh"]["english_only"])
    link += contnode
    return link


def inline_markdown(document, text):
    """`text` parsed as MyST Markdown (math, emphasis, code), as the inline nodes of one
    paragraph: a translated caption is written as the English one is."""
    from docutils.utils import new_document
    from myst_parser.parsers.sphinx_ import MystParser

    part = new_document(document["source"], document.settings)
    MystParser().parse(text, part)
    paragraph = part.next_node(nodes.paragraph)
    return list(paragraph.children) if paragraph is not None else [nodes.Text(text)]


class TranslatedCaptions(Transform):
    """The Chinese caption of each figure (notebook metadata `translation.captions`, by cell
    id) in place of the English one its code cell carries. Runs before the domains collect the
    figures' names (priority 850), so a {ref} to a figure reads the Chinese caption."""
    default_priority = 800

    def apply(self):
        env = self.document.settings.env
        path = Path(env.doc2path(env.docname))
        if path.suffix != ".ipynb":
            return
        nb = json.loads(path.read_text(encoding="utf-8"))
        captions = nb.get("metadata", {}).get("translation", {}).get("captions", {})
        names = {}
        for cell in nb["cells"]:
            figure = (cell.get("metadata", {}).get("mystnb", {}).get("figure") or {})
            if cell.get("id") in captions and figure.get("name"):
                names[figure["name"]] = captions[cell["id"]]["text"]
        for figure in self.document.findall(nodes.figure):
            name = next((n for n in figure["names"] if n in names), None)
            caption = figure.next_node(nodes.caption)
            if name is None or caption is None:
                continue
            caption.children = inline_markdown(self.document, names.pop(name))
        for name in names:
            LOGGER.warning(f"{env.docname}: no figure named {name!r} for its translated "
                           f"caption", location=env.docname)


# Glued text in the Chinese edition: one execution, two languages
# A word that marks glued text as English prose: a lowercase word of three letters or more
# (names such as GPT, LSTM or ReLU, numbers and identifiers in CamelCase pass as they are),
# except these names the book prints in lowercase.
ENGLISH_WORD = re.compile(r"(?<![\w.-])[a-z]{3,}(?![\w-])")
LOWERCASE_NAMES = {"gelu", "relu", "tanh", "sigmoid", "softplus", "elu", "selu", "silu",
                   "swish", "mish", "sgd", "adam", "adamw"}


PLAIN_QUOTES = str.maketrans("‘’“”", "''\"\"")


def english_words(text):
    """The lowercase English words in a glued value that the Chinese page must not show."""
    return [w for w in ENGLISH_WORD.findall(text) if w not in LOWERCASE_NAMES]


def translate_glued(text, patterns):
    """`text` through the first of `patterns` ([regex, replacement] pairs, the regex matching
    the whole text) that matches it, or None if none does."""
    for pattern, replacement in patterns:
        match = re.fullmatch(pattern, text)
        if match:
            return match.expand(replacement)
    return None


def keyed_paste_text_role():
    """MyST-NB's {glue:text} role, remembering on its node which key it pasted."""
    from myst_nb.ext.glue.roles import PasteTextRole

    class KeyedPasteText(PasteTextRole):
        def run(self):
            made, messages = super().run()
            key = self.text.rsplit(":", 1)[0] if self.text.count(":") == 1 else self.text
            for node in made:
                if isinstance(node, nodes.inline) and "::" not in self.text:
                    node["glue_key"] = key
            return made, messages

    return KeyedPasteText()


def _key_glued_text(app, config):
    if edition(app) == "zh":
        app.add_role_to_domain("glue", "text", keyed_paste_text_role(), override=True)


class TranslatedGluedText(Transform):
    """In the Chinese edition, each glued value with English words in it, translated by the
    patterns of its key in the notebook's metadata (`translation.glue[key]`, [regex,
    replacement] pairs); a value no pattern matches is a build warning (an error under -W)."""
    default_priority = 800

    def apply(self):
        env = self.document.settings.env
        if not env.config.language or not env.config.language.startswith("zh"):
            return
        path = Path(env.doc2path(env.docname))
        if path.suffix != ".ipynb":
            return
        nb = json.loads(path.read_text(encoding="utf-8"))
        table = nb.get("metadata", {}).get("translation", {}).get("glue", {})
        for node in list(self.document.findall(nodes.inline)):
            key = node.get("glue_key")
            if key is None:
                continue
            # the value as the code glued it (the smart-quotes transform may have run)
            text = node.astext().translate(PLAIN_QUOTES)
            try:
                chinese = translate_glued(text, table.get(key, []))
            except (re.error, IndexError) as error:    # a bad pattern or group reference
                LOGGER.warning(f"{env.docname}: translation.glue[{key!r}] cannot be applied to "
                               f"{text!r}: {error}", location=node)
                continue
            if chinese is not None:
                node.children = [nodes.Text(chinese)]
            elif english_words(text):
                LOGGER.warning(f"{env.docname}: the glued value of {key!r} is English "
                               f"({text!r}) and no pattern in the notebook's "
                               f"translation.glue[{key!r}] matches it", location=node)


# ---------------------------------------------------------------------------------------------
# Launch links
def colab_url(app, docname):
    """The chapter's "Open in Colab" URL, as the theme's launch button builds it, or None."""
    options = app.config.html_theme_options or {}
    colab = (options.get("launch_buttons") or {}).get("colab_url", "").strip("/")
    repo = options.get("repository_url", "").strip("/")
    if not colab or "github.com/" not in repo:
        return None
    branch = options.get("repository_branch") or "main"
    folder = options.get("path_to_docs", "").strip("/")
    path = f"{folder}/{docname}.ipynb" if folder else f"{docname}.ipynb"
    org_repo = repo.split("github.com/", 1)[1]
    return f"{colab}/github/{org_repo}/blob/{branch}/{path}"


def _is_notebook(app, docname):
    return str(app.env.doc2path(docname)).endswith(".ipynb")


# ---------------------------------------------------------------------------------------------
# Exercises: say how to do them
def _exercises_note(app, doctree, docname):
    if not _is_notebook(app, docname):
        return
    url, w = colab_url(app, docname), words(app)
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None or not re.match(rf"^(\d+(\.\d+)*\.?\s*)?{w['exercises']}",
                                         title.astext()):
            continue
        para = nodes.paragraph(classes=["book-exercises-run"])
        para += nodes.strong(text=w["run"])
        if url:
            para += nodes.reference(text=w["open"], refuri=url)
            para += nodes.Text(w["or_lab"])
        else:
            para += nodes.Text(w["open_either"])
        para += nodes.Text(w["how"])
        section.insert(section.index(title) + 1, para)


# ---------------------------------------------------------------------------------------------
# Widgets drawn at build time from their saved state
def _number(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Snapshot:
    """Static HTML for widgets, from the state an execution saved (models by id)."""

    BOXES = {"VBoxModel": "column", "HBoxModel": "row", "BoxModel": "row",
             "GridBoxModel": "row", "AccordionModel": "column", "TabModel": "column"}

    def __init__(self, state, words=WORDS["en"]):
        self.state = state
        self.words = words

    def model(self, ref):
        model_id = ref[len("IPY_MODEL_"):] if ref.startswith("IPY_MODEL_") else ref
        if model_id not in self.state:
            raise KeyError(f"widget model {model_id} is not in the saved widget state")
        entry = self.state[model_id]
        return entry["model_name"], entry["state"], entry.get("buffers", [])

    def label(self, state):
        text = state.get("description", "")
        return f'<span class="book-snapshot-label">{html.escape(text)}</span>' if text else ""

    def control(self, state, inner):
        return f'<label class="book-snapshot-control">{self.label(state)}{inner}</label>'

    def slider(self, state, value_text, position, count):
        inner = (f'<input type="range" min="0" max="{max(count - 1, 1)}" value="{position}" '
                 f'disabled tabindex="-1"><output>{html.escape(value_text)}</output>')
        return self.control(state, inner)

    def render(self, ref):
        name, state, buffers = self.model(ref)
        if name in self.BOXES:
            children = "".join(self.render(child) for child in state.get("children", []))
            classes = " ".join(["book-snapshot-box", f"book-snapshot-{self.BOXES[name]}"] +
                               list(state.get("_dom_classes", [])))
            return f'<div class="{html.escape(classes)}">{children}</div>'
        if name == "StackModel":
            children = state.get("children", [])
            index = state.get("selected_index")
            return self.render(children[index]) if children and index is not None else ""
        if name in ("HTMLModel", "HTMLMathModel"):
            return (f'<div class="book-snapshot-html">{self.label(state)}'
                    f'{state.get("value", "")}</div>')
        if name == "LabelModel":
            return f'<span class="book-snapshot-text">{html.escape(state.get("value", ""))}</span>'
        if name == "ImageModel":
            data = next((b["data"] for b in buffers if b.get("path") == ["value"]), "")
            fmt = state.get("format", "png")
            return f'<img src="data:image/{fmt};base64,{data}" alt="" class="book-snapshot-image">'
        if name == "OutputModel":
            return ('<div class="book-snapshot-output">' +
                    "".join(self.output(o) for o in state.get("outputs", [])) + "</div>")
        if name in ("IntSliderModel", "FloatSliderModel", "FloatLogSliderModel",
                    "IntRangeSliderModel", "FloatRangeSliderModel", "PlayModel"):
            low, high = state.get("min", 0), state.get("max", 1)
            value = state.get("value", low)
            text = _number(value)
            if name == "FloatLogSliderModel":      # value as it is; min and max: exponents
                value = math.log(value, state.get("base", 10)) if value else low
            try:
                position = round(100 * (value - low) / ((high - low) or 1))
            except TypeError:                        # a range slider: [low, high]
                position = 0
            return self.slider(state, text, position, 101)
        if name == "SelectionSliderModel":
            labels, index = state.get("_options_labels", []), state.get("index") or 0
            return self.slider(state, labels[index] if labels else "", index, len(labels))
        if name in ("DropdownModel", "SelectModel", "RadioButtonsModel",
                    "ToggleButtonsModel"):
            labels, index = state.get("_options_labels", []), state.get("index")
            chosen = labels[index] if labels and index is not None else ""
            return self.control(state, f'<select disabled tabindex="-1"><option>'
                                       f'{html.escape(chosen)}</option></select>')
        if name in ("CheckboxModel", "ToggleButtonModel"):
            checked = " checked" if state.get("value") else ""
            return self.control(state, f'<input type="checkbox" disabled tabindex="-1"'
                                       f'{checked}>')
        if name in ("IntTextModel", "FloatTextModel", "BoundedIntTextModel",
                    "BoundedFloatTextModel", "TextModel"):
            return self.control(state, f'<input type="text" disabled tabindex="-1" '
                                       f'value="{html.escape(_number(state.get("value", "")))}">')
        if name == "ButtonModel":
            return (f'<button type="button" disabled tabindex="-1">'
                    f'{html.escape(state.get("description", ""))}</button>')
        raise ValueError(f"book_pages: no static form for the widget {name}; add one to "
                         f"_ext/book_pages.py (the web book loads no widget JavaScript)")

    def output(self, output):
        if output.get("output_type") == "stream":
            return f'<pre class="book-snapshot-stream">{html.escape(output.get("text", ""))}</pre>'
        if output.get("output_type") == "error":
            return f'<pre class="book-snapshot-stream">{html.escape(output.get("ename", ""))}</pre>'
        data = output.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data:
            return self.render(data["application/vnd.jupyter.widget-view+json"]["model_id"])
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                width = (output.get("metadata", {}).get(mime) or {}).get("width")
                size = f' width="{int(width)}"' if width else ""
                return (f'<img src="data:{mime};base64,{data[mime]}"{size} alt="" '
                        f'class="book-snapshot-image">')
        if "text/html" in data:
            value = data["text/html"]
            return value if isinstance(value, str) else "".join(value)
        if "text/plain" in data:
            value = data["text/plain"]
            value = value if isinstance(value, str) else "".join(value)
            return f'<pre class="book-snapshot-stream">{html.escape(value)}</pre>'
        return ""

    def page_widget(self, model_id, colab):
        text = html.escape(self.words["snapshot_link"])
        link = (f'<a href="{html.escape(colab)}" target="_blank" rel="noopener">{text}</a>'
                if colab else text)
        note = f'<p class="book-frozen-note">{self.words["snapshot"].format(link=link)}</p>'
        return f'<div class="book-snapshot book-frozen">{note}{self.render(model_id)}</div>'


def _pop_widget_state(context):
    """Remove the widget state and the widget scripts from the page; return the state."""
    state, kept = {}, []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {}) or {}
        if attributes.get("type") == WIDGET_STATE:
            state.update(json.loads(attributes.get("body", "{}")).get("state", {}))
            continue
        kept.append(script)
    context["script_files"] = kept
    return state


def _render_widgets(app, pagename, context, state):
    body = context.get("body", "")
    if "application/vnd.jupyter.widget-view+json" not in body:
        return
    snapshot, colab = Snapshot(state, words(app)), colab_url(app, pagename)

    def replace(match):
        view = json.loads(match.group(1).replace("<\\/", "</"))
        if isinstance(view, str):
            view = json.loads(view)
        try:
            return snapshot.page_widget(view["model_id"], colab)
        except (KeyError, ValueError, IndexError) as error:
            LOGGER.warning(f"{pagename}: a widget cannot be drawn without JavaScript: {error}",
                           location=pagename)
            return ""
    context["body"] = WIDGET_VIEW.sub(replace, body)


# ---------------------------------------------------------------------------------------------
# Inline images to files, assets to drop, title and description
def _extract_images(app, pagename, context):
    body = context.get("body", "")
    if "base64," not in body:
        return
    folder = Path(app.outdir) / "_images" / "book"
    folder.mkdir(parents=True, exist_ok=True)

    def replace(match):
        attribute, kind, data = match.groups()
        content = base64.b64decode(re.sub(r"\s", "", data))
        name = f"{hashlib.sha1(content).hexdigest()[:20]}.{EXTENSIONS[kind]}"
        path = folder / name
        if not path.exists():
            path.write_bytes(content)
        return f'{attribute}="{context["pathto"]("_images/book/" + name, 1)}"'
    context["body"] = DATA_URI.sub(replace, body)


def _lazy_images(context):
    """Images below the first screen load when the reader scrolls near them."""
    body = context.get("body", "")
    context["body"] = re.sub(r"<img (?![^>]*\bloading=)", '<img loading="lazy" ', body)


def _drop_assets(context):
    context["script_files"] = [
        s for s in context.get("script_files", [])
        if not any(part in str(getattr(s, "filename", "") or "") for part in DROPPED_SCRIPTS)
        and "THEBE_JS_URL" not in str((getattr(s, "attributes", {}) or {}).get("body", ""))]
    context["css_files"] = [
        c for c in context.get("css_files", [])
        if not any(part in str(getattr(c, "filename", "") or "") for part in DROPPED_CSS)]


def _dedupe_scripts(context):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or None,   # None and "" alike
               getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _title_and_description(app, context, doctree):
    def plain(text):
        return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text or "")).split())
    book = plain(context.get("docstitle") or app.config.html_title)
    if book and plain(context.get("title")) == book:
        # "Introduction — Book", not "Book — Book"
        context["title"] = words(app)["first_page"]
    if doctree is None:
        return
    text = ""
    for para in doctree.findall(nodes.paragraph):
        if para.next_node(nodes.literal_block) is None and len(para.astext()) > 60:
            text = " ".join(para.astext().split())
            break
    if text:
        if len(text) > 200:
            text = text[:197].rsplit(" ", 1)[0] + "…"
        context["metatags"] = (context.get("metatags", "") +
                               f'\n<meta name="description" content="{html.escape(text)}" />')


def _page_context(app, pagename, templatename, context, doctree):
    state = _pop_widget_state(context)
    _render_widgets(app, pagename, context, state)
    _extract_images(app, pagename, context)
    _lazy_images(context)
    _drop_assets(context)
    _dedupe_scripts(context)
    _title_and_description(app, context, doctree)
    _link_other_edition(app, pagename, context)


def _unnumber_back_matter(app, env):
    """Drop the section number Sphinx gave a page that is not a chapter (not a notebook): from
    its own headings, its title (links and the sidebar) and its table of contents."""
    for docname in list(getattr(env, "toc_secnumbers", {})):
        if _is_notebook(app, docname):
            continue
        env.toc_secnumbers.pop(docname)
        title = env.titles.get(docname)
        if title is not None:
            title.attributes.pop("secnumber", None)
        if docname in env.tocs:
            for node in env.tocs[docname].findall(nodes.reference):
                node.attributes.pop("secnumber", None)
    return []


FONTAWESOME_JS = re.compile(r'\s*<script[^>]*src="[^"]*/fontawesome\.js[^"]*"[^>]*></script>')


def _drop_fontawesome_js(app, exception):
    """The theme's template loads fontawesome.js (1.5 MB, it swaps icons for SVG) on every page;
    its CSS already draws the same icons from the icon font, so drop the script."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lean = FONTAWESOME_JS.sub("", text)
        if lean != text:
            page.write_text(lean, encoding="utf-8")


def setup(app):
    app.add_transform(TranslatedCaptions)
    app.add_transform(TranslatedGluedText)
    app.connect("config-inited", _key_glued_text)
    app.connect("missing-reference", _english_fallback)
    app.connect("build-finished", _drop_fontawesome_js)
    app.connect("env-get-updated", _unnumber_back_matter, priority=900)
    app.connect("doctree-resolved", lambda app, doctree, docname:
                _exercises_note(app, doctree, docname))
    # after MyST-NB has added a page's widget scripts (its handler runs at the default 500)
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
