"""A small Sphinx extension for the built pages: drop duplicate inline scripts.

sphinx-thebe (which Jupyter Book always loads) adds its inline `const THEBE_JS_URL = ...`
script twice, and a browser stops at the second declaration with a console error.
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or None,   # None and "" alike
               getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
