"""A build's results: which findings files a chapter's run wrote, whether they are all there and
readable (a chapter whose findings are not is not current), and the leftovers of runs that no
longer describe the build."""
from __future__ import annotations

import json
from pathlib import Path

from .keys import executed_meta
from .runner import say


def _id_number(finding: dict) -> tuple[int, float]:
    from ..decide.verdicts import claim_order

    return claim_order(finding.get("id", ""))


def expected_findings(meta: dict, name: str) -> list[str]:
    """The findings files a chapter's run wrote (recorded in its notebook's metadata when it ran; for
    a notebook of an older runner, the claims that :mod:`singledir.decide.claims` gives the chapter)."""
    if isinstance(meta.get("findings"), list):
        return [str(f) for f in meta["findings"]]
    from ..decide.claims import CLAIMS

    return [f"{cid}.json" for cid, claim in CLAIMS.items() if claim.chapter == name]


def _read_finding(path: Path) -> dict:
    """One findings file; a ValueError naming it when it cannot be read or is not a finding."""
    try:
        finding = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"its findings file {path} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"its findings file {path} is damaged ({type(e).__name__}: {e})") from None
    if not isinstance(finding, dict) or not isinstance(finding.get("id"), str) or "parts" not in finding:
        raise ValueError(f"its findings file {path} is damaged (not a finding)")
    return finding


def findings_problem(build_dir: Path, name: str) -> str | None:
    """Why the findings of ``name``'s last run are incomplete (a file missing or damaged), or None."""
    meta = executed_meta(build_dir / "exec" / f"{name}.ipynb") or {}
    folder = build_dir / "results" / name / str(meta.get("run"))
    for file in expected_findings(meta, name):
        try:
            _read_finding(folder / file)
        except ValueError as e:
            return str(e)
    return None


def chapter_findings(build_dir: Path, names: list[str]) -> list[dict]:
    """The findings of the last successful run of each chapter in ``names``, by experiment number
    (E1, E2, ..., E13): what the run named in the executed notebook's metadata recorded in
    ``results/NAME/RUN``. A chapter without an executed notebook has none; a findings file that
    cannot be read is left out, and a line names it."""
    out = []
    for name in names:
        run = (executed_meta(build_dir / "exec" / f"{name}.ipynb") or {}).get("run")
        folder = build_dir / "results" / name / str(run)
        if not (run and folder.is_dir()):
            continue
        for path in sorted(folder.glob("[EF]*.json")):
            try:
                out.append({**_read_finding(path), "chapter": name})
            except ValueError as e:
                say(f"{name}: left out of the scorecard: {e}")
    return sorted(out, key=_id_number)  # stable: chapter order among equal numbers


def clean_leftovers(exec_dir: Path, current: list[str]) -> None:
    """Remove what no longer describes the build: partial notebooks of runs that were killed, and
    the failed notebooks of chapters that are current now."""
    for p in Path(exec_dir).glob(".*.partial.ipynb"):
        p.unlink(missing_ok=True)
    failed = Path(exec_dir) / "failed"
    for name in current:
        (failed / f"{name}.ipynb").unlink(missing_ok=True)
    if failed.is_dir() and not any(failed.iterdir()):
        failed.rmdir()
