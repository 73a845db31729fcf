"""The rendered book in a real browser: Debian's headless Chromium, driven by Playwright.

The smoke book (every chapter executed with params/smoke.yml) is rendered to HTML and served from
127.0.0.1. Every page must load without a JavaScript error, every image must decode, every
formula must be typeset by the book's own MathJax, and no request may leave the book: requests to
any other origin are blocked and reported. `make test` installs Chromium (`apt-get install
chromium`); set SINGLEDIR_CHROMIUM to use another binary.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from singledir.book import cli
from singledir.book import params as params_mod

SMOKE = params_mod.ROOT / "params" / "smoke.yml"


def chromium_path() -> str:
    path = os.environ.get("SINGLEDIR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium found: `make test` installs Debian's chromium (apt-get install chromium), "
                    "or set SINGLEDIR_CHROMIUM to a Chromium binary")
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served_book(smoke_build, tmp_path_factory):
    """The smoke book's HTML, rendered from a copy of the session's build (which stays as built, with
    no HTML) and served on 127.0.0.1; yields ``(origin, html_dir)``."""
    import shutil

    if not (params_mod.ROOT / "book_static" / "mathjax" / "tex-svg-full.js").exists():
        pytest.fail("book_static/mathjax/tex-svg-full.js is missing: `make test` fetches it (npm's mathjax)")
    build_dir = tmp_path_factory.mktemp("browser") / "_build"
    shutil.copytree(smoke_build.build_dir, build_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SINGLEDIR_CACHE", str(smoke_build.cache))
        times = cli.build(SMOKE, build_dir=build_dir, html=True, progress=False)
    assert all(t is None for t in times.values()), "the smoke chapters should be up to date"
    html = (build_dir / "html").resolve()
    with serve(html) as origin:
        yield origin, html


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) for the duration of the block; yields the origin."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def book_pages(html: Path) -> list[str]:
    """Every page of the book: the HTML files outside Sphinx's asset folders."""
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(html).parts))


IMAGES_JS = """async () => Promise.all(Array.from(document.images).map(async img => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    return {src: img.getAttribute('src'), decoded, width: img.naturalWidth, height: img.naturalHeight};
}))"""

MATH_JS = """async () => {
    const spans = Array.from(document.querySelectorAll('.math'));
    if (!spans.length) return {n: 0};
    if (!window.MathJax || !MathJax.startup) return {n: spans.length, loaded: false};
    await MathJax.startup.promise;
    return {
        n: spans.length, loaded: true,
        typeset: spans.filter(s => s.querySelector('mjx-container svg')).length,
        errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
        raw: spans.filter(s => /\\\\\\(|\\\\\\[|\\$\\$/.test(s.textContent)).length,
    };
}"""


SCORECARD_JS = """() => Array.from(document.querySelectorAll('div.scorecard.verdicts table tbody tr')).map(tr => ({
    cells: Array.from(tr.cells).map(td => td.innerText.trim()),
    link: tr.cells[tr.cells.length - 1].querySelector('a') ? tr.cells[tr.cells.length - 1].querySelector('a').href : null,
}))"""


GRID_JS = """() => {
    const t = document.querySelector('div.verdict-grid table');
    if (!t) return null;
    const cells = Array.from(t.querySelectorAll('tbody td'));
    return {bottom: t.getBoundingClientRect().bottom, scroll: window.scrollY,
            ids: cells.filter(td => /^[EF]\\d+$/.test(td.innerText.trim())).map(td => td.innerText.trim()),
            marks: Array.from(t.querySelectorAll('tbody tr')).flatMap(tr => {
                const c = Array.from(tr.cells);
                const n = c.length / 2;
                return [c.slice(0, n), c.slice(n)].filter(h => h[0].innerText.trim()).map(h => ({
                    id: h[0].innerText.trim(), link: !!h[1].querySelector('a'),
                    mark: h[n - 1].innerText.trim(), coloured: !!h[n - 1].querySelector('span.verdict-mark')}));
            })};
}"""


# The first page's size and each page's figures (issue 33): the page's height at this width, the
# lines of the scorecard's tallest row (a cell's text height over its line height), the provenance
# line under each figure with the data file it links, and the headline each closing verdict box names.
LAYOUT_JS = """() => {
    const lines = td => {
        const r = document.createRange(); r.selectNodeContents(td);
        const h = r.getBoundingClientRect().height, lh = parseFloat(getComputedStyle(td).lineHeight);
        return h && lh ? Math.round(h / lh) : 0;
    };
    const rows = Array.from(document.querySelectorAll('div.scorecard.verdicts table tbody tr')).map(tr => ({
        id: tr.cells[0].innerText.trim(), lines: Math.max(...Array.from(tr.cells).map(lines))}));
    return {
        height: document.documentElement.scrollHeight, width: document.documentElement.clientWidth,
        rows,
        figures: Array.from(document.querySelectorAll('figure[id]')).filter(f => f.querySelector('img')).map(f => {
            const p = f.querySelector('p.figure-provenance'), a = p && p.querySelector('a.figure-data');
            const num = f.querySelector('span.caption-number');
            return {id: f.id, number: num ? num.innerText.trim() : null, line: p ? p.innerText : null,
                    csv: a ? a.href : null};
        }),
        boxes: Array.from(document.querySelectorAll('div.admonition.verdict > p.admonition-title'))
            .map(t => t.innerText.trim()),
    };
}"""


CODE_JS = """() => ({
    cells: Array.from(document.querySelectorAll('div.cell details.hide.above-input')).map(d => ({
        open: d.open, code: (d.querySelector('.cell_input') || {textContent: ''}).textContent})),
    figures: Array.from(document.querySelectorAll('figure[id]')).map(f => f.id),
})"""


# What a reader sees (issue "the book as a reader sees it"): figure images only inside numbered
# figures, no warning or traceback in an output, tables inside the text column and not covered by
# another element, figure text at least plots.MIN_TEXT_PX high as displayed, no glued nan.
READER_JS = """([minFontPt, dpi]) => {
    const article = document.querySelector('article.bd-article') || document.body;
    const column = article.getBoundingClientRect();
    const where = el => (el.closest('[id]') || {id: '?'}).id;
    const stray = Array.from(article.querySelectorAll('img')).filter(img => !img.closest('figure[id]'))
        .map(img => img.getAttribute('src'));
    const outputs = Array.from(article.querySelectorAll('.output.stderr, .output.traceback, .output.error, '
        + 'div.cell_output'));
    const warned = outputs.filter(o => o.matches('.stderr, .traceback, .error')
        || /Traceback \\(most recent call last\\)|\\b\\w*(Warning|Error):/.test(o.textContent))
        .map(o => o.textContent.trim().slice(0, 200));
    const tables = Array.from(article.querySelectorAll('table')).map(t => {
        const r = t.getBoundingClientRect();
        const head = Array.from(t.querySelectorAll('thead th')).length ? Array.from(t.querySelectorAll('thead th'))
            : Array.from((t.rows[0] || {cells: []}).cells);
        const covered = [];
        if (t.closest('.toggle-hidden') || getComputedStyle(t).visibility === 'hidden') return null;  // in a closed dropdown
        for (const th of head) {
            th.scrollIntoView({block: 'center'});
            const b = th.getBoundingClientRect();
            const hit = document.elementFromPoint(b.left + b.width / 2, b.top + Math.min(b.height / 2, 8));
            if (b.width > 0 && !(hit && (hit === th || th.contains(hit))))
                covered.push(th.textContent.trim() + ' under ' + (hit ? hit.tagName + '.' + hit.className : 'nothing'));
        }
        const box = t.parentElement.getBoundingClientRect();
        return {near: where(t), width: r.width, right: r.left + r.width, column_right: column.right,
                box_right: box.right, scroll: t.scrollWidth - t.clientWidth, covered};
    }).filter(t => t);
    const figures = Array.from(article.querySelectorAll('figure[id] img')).map(img => ({
        figure: img.closest('figure[id]').id, natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
        text_px: minFontPt * dpi / 72 * img.getBoundingClientRect().width / img.naturalWidth}));
    const pasted = Array.from(article.querySelectorAll('.pasted-text, figure[id] table td'))
        .map(e => e.textContent.trim()).filter(t => /^(nan|-?inf|none)$/i.test(t));
    const bold = Array.from(article.querySelectorAll('p')).map(p => ({
        text: p.innerText.slice(0, 60),
        runs: Array.from(p.querySelectorAll('*')).filter(e => parseInt(getComputedStyle(e).fontWeight) >= 600
            && !(e.parentElement && e.parentElement !== p && parseInt(getComputedStyle(e.parentElement).fontWeight) >= 600)
            && e.innerText.trim()).length})).filter(p => p.runs > 5);
    const degenerate = (article.innerText.match(/[-\\d.]+ \\u00b1 0\\.0+(?!\\d)/g) || []);
    return {stray, warned, tables, figures, pasted, degenerate, bold};
}"""


def reader_faults(r: dict) -> list[str]:
    """What a reader would trip over on a page (see READER_JS), one line each."""
    from singledir.pages import plots

    out = [f"image outside a numbered figure: {s}" for s in r["stray"]]
    out += [f"warning or traceback in an output: {w!r}" for w in r["warned"]]
    for t in r["tables"]:
        if t["right"] > min(t["column_right"], t["box_right"]) + 1 or t["scroll"] > 1:
            out.append(f"table near #{t['near']} is wider than its column ({t['width']:.0f} px, right edge "
                       f"{t['right']:.0f} > {min(t['column_right'], t['box_right']):.0f})")
        out += [f"table near #{t['near']}: header cell covered: {c}" for c in t["covered"]]
    for f in r["figures"]:
        if f["natural"] and f["text_px"] < plots.MIN_TEXT_PX:
            out.append(f"figure #{f['figure']}: its smallest text shows {f['text_px']:.1f} px high "
                       f"({f['natural']} px image shown {f['shown']:.0f} px wide)")
    out += [f"glued value reads {v!r}" for v in r["pasted"]]
    out += [f"degenerate number printed: {d!r}" for d in r["degenerate"]]
    out += [f"a paragraph with {p['runs']} bold runs (at most 5): {p['text']!r}" for p in r.get("bold", [])]
    return out


def visit(origin: str, pages: list[str]) -> tuple[dict[str, dict], list[str]]:
    """Open each page in headless Chromium: ``({page: report}, [blocked requests to other origins])``."""
    from playwright.sync_api import sync_playwright

    from singledir.pages import plots

    reports, outside = {}, []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def route(r):
                url = r.request.url
                if url.startswith(origin + "/") or url.startswith(("data:", "blob:")):
                    r.continue_()
                else:
                    outside.append(url)
                    r.abort()

            context.route("**/*", route)
            for name in pages:
                page = context.new_page()  # a fresh page each time: its listeners see only this page
                report = {"js_errors": [], "bad_responses": [], "failed": []}
                page.on("pageerror", lambda e, r=report: r["js_errors"].append(str(e)))
                page.on("response", lambda resp, r=report: resp.status >= 400 and r["bad_responses"].append(
                    f"{resp.status} {resp.url}"))
                page.on("requestfailed", lambda req, r=report: req.url.startswith(origin) and r["failed"].append(req.url))
                resp = page.goto(f"{origin}/{name}", wait_until="load", timeout=60_000)
                report["status"] = resp.status if resp else None
                report["title"] = page.title()
                report["grid"] = page.evaluate(GRID_JS)  # before anything scrolls: the first screen
                report["images"] = page.evaluate(IMAGES_JS)
                report["math"] = page.evaluate(MATH_JS)
                report["scorecard"] = page.evaluate(SCORECARD_JS)
                report["code"] = page.evaluate(CODE_JS)
                report["layout"] = page.evaluate(LAYOUT_JS)
                report["reader"] = page.evaluate(READER_JS, [plots.MIN_FONT_PT, plots.DPI])
                reports[name] = report
                page.close()
        finally:
            browser.close()
    return reports, outside


@pytest.fixture(scope="module")
def visited(served_book):
    """Every page of the smoke book, opened once."""
    origin, html = served_book
    return visit(origin, book_pages(html))


def test_the_checks_catch_a_broken_page(tmp_path):
    """The same checks on a page with every fault they look for."""
    (tmp_path / "ok.png").write_bytes(b"not a png")
    (tmp_path / "bad.html").write_text(
        "<html><head><title>bad</title></head><body>"
        "<img src='ok.png'><img src='missing.png'><img src='https://example.org/x.png'>"
        "<span class='math'>\\(x^2\\)</span>"
        "<script>undefinedFunction();</script></body></html>")
    with serve(tmp_path) as origin:
        reports, outside = visit(origin, ["bad.html"])
    r = reports["bad.html"]
    assert any("undefinedFunction" in e for e in r["js_errors"])
    assert sum(not i["decoded"] for i in r["images"]) == 3
    assert any(b.startswith("404 ") and b.endswith("/missing.png") for b in r["bad_responses"])
    assert outside == ["https://example.org/x.png"]
    assert r["math"] == {"n": 1, "loaded": False}  # formulas but no MathJax


def test_the_reader_checks_catch_each_fault(tmp_path):
    """A page with each fault a reader meets: a stray image, a warning in an output, a table wider
    than the column, a table whose header a sticky panel covers, a figure shown too small, a nan,
    a paragraph of bold runs."""
    from PIL import Image

    Image.new("RGB", (2000, 400), "white").save(tmp_path / "wide.png")
    Image.new("RGB", (600, 300), "white").save(tmp_path / "ok.png")
    cells = "".join(f"<th>column_{i}_with_a_long_unbreakable_name</th>" for i in range(6))
    (tmp_path / "faults.html").write_text(
        "<html><head><meta charset='utf-8'><title>faults</title><style>article{width:600px} #panel{position:fixed;top:0;left:0;"
        "width:1280px;height:900px;background:#fff;z-index:9}</style></head><body><article class='bd-article'>"
        "<img src='ok.png'>"
        "<div class='cell_output'><div class='output stderr'>plots.py:179: UserWarning: c has precedence</div></div>"
        f"<table id='wide'><thead><tr>{cells}</tr></thead></table>"
        "<figure id='fig-small'><img src='wide.png' style='width:600px'></figure>"
        "<figure id='fig-ok'><img src='ok.png'></figure>"
        "<p>rho is <span class='pasted-text'>nan</span>; gap 0.0 \u00b1 0.0 points</p>"
        "<p>all bold: " + " and ".join(f"<strong>{i}</strong>" for i in range(6)) + "</p>"
        "<p>five is fine: " + " and ".join(f"<b>{i}</b>" for i in range(5)) + "</p>"
        "<div id='panel'></div><table id='covered'><thead><tr><th>a</th></tr></thead></table>"
        "</article></body></html>")
    with serve(tmp_path) as origin:
        reports, _ = visit(origin, ["faults.html"])
    faults = reader_faults(reports["faults.html"]["reader"])
    text = "\n".join(faults)
    assert "image outside a numbered figure: ok.png" in text
    assert "UserWarning" in text
    assert "table near #wide is wider than its column" in text
    assert "table near #covered: header cell covered" in text
    assert "figure #fig-small: its smallest text shows" in text and "fig-ok" not in text
    assert "glued value reads 'nan'" in text
    assert "degenerate number printed: '0.0 \u00b1 0.0'" in text
    assert "a paragraph with 6 bold runs (at most 5): 'all bold:" in text and "five is fine" not in text


def test_every_page_reads_as_a_reader_expects(visited):
    """At 1280 px: figure images only inside numbered figures, no warning or traceback in an
    output, every table within its column and its header uncovered, figure text at least
    plots.MIN_TEXT_PX high as shown, no glued value that reads nan and no "0.0 ± 0.0"."""
    reports, _ = visited
    faults = {name: f for name, r in reports.items() if (f := reader_faults(r["reader"]))}
    assert not faults, faults


def test_the_book_has_its_pages(served_book):
    _, html = served_book
    pages = book_pages(html)
    chapters = [f"chapters/{n}.html" for n in params_mod.chapter_paths()]
    assert "index.html" in pages
    assert set(chapters) <= set(pages), set(chapters) - set(pages)


def test_every_page_loads_without_errors(visited):
    reports, _ = visited
    for name, r in reports.items():
        assert r["status"] == 200, (name, r["status"])
        assert r["title"], name
        assert r["js_errors"] == [], (name, r["js_errors"])
        assert r["bad_responses"] == [] and r["failed"] == [], (name, r["bad_responses"], r["failed"])


def test_every_image_decodes_and_every_chapter_has_figures(visited):
    reports, _ = visited
    for name, r in reports.items():
        for img in r["images"]:
            assert img["decoded"] and img["width"] > 0 and img["height"] > 0, (name, img)
    for chapter in params_mod.chapter_paths():
        images = reports[f"chapters/{chapter}.html"]["images"]
        assert any(i["src"].startswith("../_images/") for i in images), (chapter, "has no figure")


def test_each_figures_code_is_in_a_collapsed_cell(visited):
    """A reader can open the code behind every figure: the cell that glues it is on the page, in a
    code cell collapsed by default ("Show code cell source")."""
    import re


    reports, _ = visited
    for name, path in params_mod.chapter_paths().items():
        code = reports[f"chapters/{name}.html"]["code"]
        assert code["cells"] and not any(c["open"] for c in code["cells"]), name
        text = "\n".join(c["code"] for c in code["cells"])
        figures = re.findall(r"```\{glue:figure\} (\S+)\n:name: (\S+)", path.read_text())
        assert figures, name
        for key, label in figures:
            assert label in code["figures"], (name, label)
            assert f'"{key}"' in text or f"'{key}'" in text, (name, key)


def test_no_chapter_hides_its_code_entirely():

    for name, path in params_mod.chapter_paths().items():
        assert "remove-cell" not in path.read_text() and "remove-input" not in path.read_text(), name


def test_math_is_typeset_by_the_books_mathjax(visited):
    reports, _ = visited
    with_math = {name: r["math"] for name, r in reports.items() if r["math"]["n"]}
    assert "chapters/01_approach.html" in with_math  # the definitions page is full of formulas
    for name, m in with_math.items():
        assert m["loaded"], (name, "MathJax did not load")
        assert m["typeset"] == m["n"] and m["errors"] == 0 and m["raw"] == 0, (name, m)


def test_no_request_leaves_the_book(visited):
    _, outside = visited
    assert outside == [], f"requests to other origins (blocked): {sorted(set(outside))[:10]}"


def test_the_scorecard_shows_what_the_chapters_computed(visited, served_book, smoke_build):
    """Each scorecard row on the first page (one per part of each claim): the number, interval and
    verdicts of _build/scorecard.csv (written from the chapters' records), and for each claim a
    link to a figure that exists."""
    import csv
    from urllib.parse import urlparse

    from singledir.pages.scorecard import route_text

    reports, _ = visited
    rows = reports["index.html"]["scorecard"]
    html = served_book[1]
    with open(smoke_build.build_dir / "scorecard.csv") as fh:  # the copy the book is rendered from holds the same
        expected = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert len(rows) == len(expected) > 13
    assert [r["cells"][0] for r in rows if r["cells"][0]] == list(dict.fromkeys(e["id"] for e in expected)) \
        == [f"E{i}" for i in range(1, 14)] + [f"F{i}" for i in range(1, 9)]  # two tables: the paper, after the paper
    seen = set()
    headline = {e["id"]: e["headline"] for e in expected if e["role"] == "primary"}
    for row, e in zip(rows, expected):
        cid, claim, part, ours, part_verdict, verdicts, _ = row["cells"]
        first = e["id"] not in seen
        seen.add(e["id"])
        assert part.startswith(f"{e['part']} ({e['role']}); "), (e["id"], part)
        route = f": {route_text(e)}" if e["route"] else ""  # a description's route without its repeated word
        smart = part_verdict.replace("\u2019", "'")  # Sphinx's smart quotes in "paper's side of 0"
        assert smart == f"{e['part_verdict']}{route}; {e['corrected_part_verdict']}", (e["id"], part_verdict)
        if e["ours"] not in ("", "nan"):
            interval = (f"{float(e['ci_low']):.3f} to {float(e['ci_high']):.3f}" if e["ci_low"] not in ("", "nan")
                        else f"n/a: {e['n']} {e['replicates']}")
            assert ours == f"{float(e['ours']):.3f} ({interval})", (e["id"], ours, e["ours"])
        if not first:
            assert cid == claim == verdicts == "", row["cells"]
            continue
        plain = claim.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')  # Sphinx's smart quotes
        assert cid == e["id"] and plain == e["claim"], (cid, claim)
        assert verdicts == f"{headline[e['id']]}; {e['verdict']}", (cid, verdicts)
        url = urlparse(row["link"])
        target = (html / url.path.lstrip("/")).read_text()
        assert f'id="{url.fragment}"' in target, (cid, row["link"])

def test_the_first_screen_shows_every_claims_verdict(visited, smoke_build):
    """At 1280 x 900 the verdict grid, with a row for every claim, fits the first screen; each row
    links to its claim's figure and says the headline verdict of the scorecard in a coloured mark;
    the forest plot of the primary parts is a numbered figure."""
    import csv

    from singledir.decide.claims import CLAIMS

    reports, _ = visited
    grid = reports["index.html"]["grid"]
    assert grid is not None, "no verdict grid on the first page"
    assert grid["scroll"] == 0 and grid["bottom"] <= 900, f"the grid ends at {grid['bottom']:.0f} px, below the first screen"
    assert sorted(grid["ids"]) == sorted(CLAIMS)
    with open(smoke_build.build_dir / "scorecard.csv") as fh:
        headline = {r["id"]: r["headline"] for r in csv.DictReader(line for line in fh if not line.startswith("#"))
                    if r["role"] == "primary"}
    for row in grid["marks"]:
        assert row["coloured"] and row["link"], row
        assert row["mark"] == headline[row["id"]], row
    assert "fig-forest" in reports["index.html"]["code"]["figures"]


SCREEN = (1280, 900)  # the reader's window, CSS pixels


def test_the_first_page_is_at_most_four_screens_and_its_scorecard_rows_short(visited):
    """At 1280 px the first page, the full scorecard included, is at most four 900 px screens
    tall, the scorecard spans the page (no empty right margin) and none of its rows is taller than
    four lines."""
    reports, _ = visited
    layout = reports["index.html"]["layout"]
    assert layout["height"] <= 4 * SCREEN[1], f"the first page is {layout['height']} px tall at {SCREEN[0]} px"
    tables = reports["index.html"]["reader"]["tables"]
    widest = max(t["width"] for t in tables)
    assert widest >= 0.9 * layout["width"], f"the scorecard is {widest:.0f} px wide in a {layout['width']} px window"
    assert layout["rows"], "no scorecard rows"
    tall = [r for r in layout["rows"] if r["lines"] > 4]
    assert not tall, f"scorecard rows taller than 4 lines: {tall}"


def test_every_figure_says_where_it_came_from_and_links_its_data(visited, served_book):
    """Under every figure (the forest plot and each chapter's): a line with the preset, design,
    commit, seeds and networks, the command that re-makes it, and a link to its data, a CSV file
    that is in the HTML output beside the page and has a header."""
    import re
    from urllib.parse import urlparse

    origin, html = served_book
    seen = 0
    for name, r in visited[0].items():
        for f in r["layout"]["figures"]:
            seen += 1
            assert f["line"], (name, f["id"], "has no provenance line")
            for word in ("preset", "design", "commit", "seeds", "networks", "re-make: make book"):
                assert word in f["line"], (name, f["id"], word, f["line"])
            assert f["csv"] and f["csv"].startswith(origin), (name, f["id"], f["csv"])
            path = html / urlparse(f["csv"]).path.lstrip("/")
            assert path.suffix == ".csv" and path.is_file(), (name, f["id"], f["csv"])
            assert path.read_text().split("\n", 1)[0].strip(), (name, f["id"], "CSV without a header")
    forest = [f for f in visited[0]["index.html"]["layout"]["figures"] if f["id"] == "fig-forest"]
    assert forest and re.fullmatch(r"Fig\. \d+", forest[0]["number"] or ""), forest  # a numbered figure
    assert seen > 20


def test_each_chapters_headline_is_the_first_pages(visited):
    """The closing box of each claim in its chapter names the same headline verdict as the first
    page's verdict grid."""
    import re

    from singledir.decide.claims import CLAIMS

    reports, _ = visited
    first = {m["id"]: m["mark"] for m in reports["index.html"]["grid"]["marks"]}
    boxes = {}
    for name, r in reports.items():
        for title in r["layout"]["boxes"]:
            m = re.match(r"([EF]\d+): (.+?)(?: in this build)?$", title)  # the registered verdicts are inside
            if m:
                boxes[m.group(1)] = m.group(2)
    assert set(boxes) == set(CLAIMS), set(CLAIMS) ^ set(boxes)
    assert boxes == {cid: first[cid] for cid in boxes}, {c: (boxes[c], first.get(c)) for c in boxes
                                                         if boxes[c] != first.get(c)}
