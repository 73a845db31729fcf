"""Sphinx extension: drop repeated <script> tags from every page.

sphinx-thebe 0.3 registers its inline configuration script once through the app registry (file
name '') and once on the builder (file name None); Sphinx 7 sees two different scripts and writes
both, and the second `const THEBE_JS_URL` is a JavaScript error on every page (found by the
real-browser test, tests/test_browser.py).
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))
        key = (getattr(js, "filename", js) or "", attrs)
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
