"""Sphinx extension: a line under every figure saying where it came from, and a link to its data.

The book's staging step (singledir/book/provenance.py) writes ``figure_provenance.json`` beside the
pages: per page, the fields of the line (preset, design hash, commit, the chapter's run, seeds,
networks trained and taken from the cache, the command that makes the figure again) and, per figure
label, the CSV file of the data it was drawn from, a path relative to the page (the CSV files are
copied into the HTML by ``html_extra_path``). Each figure that shows an image gets the line as its
last paragraph (class ``figure-provenance``), after its caption.
"""
import json
from pathlib import Path

from docutils import nodes

PROVENANCE_FILE = "figure_provenance.json"
FIELDS = (("preset", "preset"), ("design", "design"), ("commit", "commit"), ("run", "run"), ("seeds", "seeds"),
          ("networks", "networks"))


def _load(app):
    path = Path(app.srcdir) / PROVENANCE_FILE
    app.env.singledir_provenance = json.loads(path.read_text()) if path.is_file() else {}


def _line(fields: dict, csv: str | None) -> nodes.paragraph:
    para = nodes.paragraph(classes=["figure-provenance"])
    for i, (key, label) in enumerate(FIELDS):
        if fields.get(key):
            para += nodes.Text(("" if i == 0 else " · ") + f"{label} ")
            para += nodes.literal(text=str(fields[key])) if key in ("preset", "design", "commit") \
                else nodes.Text(str(fields[key]))
    if fields.get("command"):
        para += nodes.Text(" · re-make: ")
        para += nodes.literal(text=fields["command"])
    para += nodes.Text(" · data: ")
    if csv:
        para += nodes.reference("", Path(csv).name, refuri=csv, classes=["figure-data"])
    else:
        para += nodes.Text("not recorded")
    return para


def _add_lines(app, doctree, docname):
    record = getattr(app.env, "singledir_provenance", {}).get(docname)
    if not record:
        return
    for figure in list(doctree.findall(nodes.figure)):
        if not any(True for _ in figure.findall(nodes.image)):
            continue  # a table pasted as a figure: its numbers are on the page
        csv = next((record.get("figures", {}).get(i) for i in figure["ids"] if i in record.get("figures", {})), None)
        figure += _line(record.get("line", {}), csv)


def setup(app):
    app.connect("builder-inited", _load)
    app.connect("doctree-resolved", _add_lines)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
