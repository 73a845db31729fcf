"""Screenshots of a rendered book at 1280 px, as a reader sees it, in headless Chromium (the browser
and Playwright that tests/test_browser.py drives): the first page's first screen and whole page, and
a chapter's first figure with its caption and provenance line.

    python docs/screenshots.py _build/smoke/html docs
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

SCREEN = {"width": 1280, "height": 900}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def shoot(html: Path, out: Path, chapter: str = "03_generalization", figure: str = "fig-e3") -> list[Path]:
    """Write ``first-screen-1280.png``, ``first-page-1280.png`` and ``chapter-FIGURE-1280.png`` into
    ``out`` from the book in ``html``; returns their paths."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SINGLEDIR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("no Chromium: apt-get install chromium (make chromium), or set SINGLEDIR_CHROMIUM")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "first-screen-1280.png", out / "first-page-1280.png", out / f"chapter-{figure}-1280.png"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport=SCREEN)
            page.goto(f"{origin}/index.html", wait_until="load")
            page.screenshot(path=str(paths[0]))
            page.screenshot(path=str(paths[1]), full_page=True)
            page.goto(f"{origin}/chapters/{chapter}.html#{figure}", wait_until="load")
            page.evaluate(f"document.getElementById('{figure}').scrollIntoView({{block: 'start'}})")
            page.evaluate("window.scrollBy(0, -70)")  # below the theme's sticky header
            page.screenshot(path=str(paths[2]))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("html", type=Path, help="a rendered book, e.g. _build/smoke/html")
    ap.add_argument("out", type=Path, nargs="?", default=Path(__file__).parent)
    a = ap.parse_args()
    for path in shoot(a.html.resolve(), a.out):
        print(path)


if __name__ == "__main__":
    main()
