"""The book runner as a user meets it: progress lines in the terminal, where the numbers came from,
``--only``, keys that follow the files a chapter reads, runs that fail or are interrupted (real
child processes and signals), parameter files with a chapter section of the wrong type."""
from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import torch
import yaml

from singledir.book import cli
from singledir.book.keys import chapter_key, executed_key, executed_meta
from singledir.book import params as params_mod
from singledir.book import results
from singledir.book import runner
from singledir.decide.verdicts import claim_order
from singledir.book import staging
from singledir.book.params import BookError
from helpers import CHAPTER_HEADER, end_processes, run_ending_on_timeout

ROOT = params_mod.ROOT
SMOKE = ROOT / "params" / "smoke.yml"

# A chapter that records one finding (with scorecard.report: a JSON file and glued numbers),
# reports progress, and can wait (for a signal to arrive) or fail on request.
CHAPTER = CHAPTER_HEADER + '''
# Test chapter {name}

```{{code-cell}} ipython3
:tags: [parameters]

value = 1.0
pause = 0.0
fail = False
ready = ""
```

```{{code-cell}} ipython3
import time
from pathlib import Path
from singledir.base import progress as progress_mod
from singledir.decide import claims as claims_mod
from singledir.pages import scorecard
scorecard.report("{finding}", {{p.name: {{"estimate": value, "ci_low": value, "ci_high": value, "n": 3}}
                               for p in claims_mod.CLAIMS["{finding}"].parts}},
                 scale="tiny", setup={{k: "x" for k in scorecard.SETUP_KEYS}})
from myst_nb import glue
glue("the_figure", "a figure", display=False)
with progress_mod.Progress(3, "steps") as bar:
    for i in range(3):
        bar.update(note=f"step {{i}}")
progress_mod.note("a one-off note")
if ready:
    Path(ready).touch()
time.sleep(pause)
if ready:
    Path(ready + ".slept").touch()  # the pause ran to its end
if fail:
    raise RuntimeError("asked to fail")
```

```{{glue:figure}} the_figure
:name: {figure}

The figure the scorecard links to.
```
'''

# Runs the book's command line on the chapters of another folder (argv[1]).
DRIVER = '''import sys
from pathlib import Path
from singledir.book import cli
from singledir.book.params import ROOT
chapters = {p.stem: p for p in sorted(Path(sys.argv[1]).glob("[0-9][0-9]_*.md"))}
cli.chapter_paths = lambda root=ROOT: chapters
sys.exit(cli.main(sys.argv[2:]))
'''


def make_chapters(folder: Path, names=("01_approach", "02_memorization")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names, 1):
        (folder / f"{name}.md").write_text(CHAPTER.format(name=name, finding=f"E{k}", figure=f"fig-e{k}"))
    return folder


def write_params(path: Path, chapters: dict) -> Path:
    path.write_text(yaml.safe_dump({"chapters": chapters}))
    return path


@pytest.fixture
def fake_book(tmp_path, monkeypatch):
    """Two quick test chapters (named like the book's first two, so the table of contents knows
    them) in place of the book's chapters, for builds in this process."""
    chapters = make_chapters(tmp_path / "chapters")
    paths = {p.stem: p for p in sorted(chapters.glob("*.md"))}
    monkeypatch.setattr(cli, "chapter_paths", lambda root=ROOT: paths)
    return tmp_path


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def driver(tmp_path: Path) -> Path:
    path = tmp_path / "driver.py"
    path.write_text(DRIVER)
    return path


def run_book(tmp_path: Path, *args, cwd=ROOT) -> subprocess.CompletedProcess:
    return run_ending_on_timeout([sys.executable, str(driver(tmp_path)), str(tmp_path / "chapters"), *map(str, args)],
                                 cwd=cwd, env=env(), capture_output=True, text=True, timeout=300)


def meta(build_dir: Path, name: str) -> dict:
    return executed_meta(build_dir / "exec" / f"{name}.ipynb")


def ours(build_dir: Path) -> dict[str, float]:
    return {f["id"]: f["parts"][0]["estimate"] for f in results.chapter_findings(build_dir, list(params_mod.chapter_paths()))}


# ---------------------------------------------------------------------------------------------
# Progress in the terminal
# ---------------------------------------------------------------------------------------------
def test_the_runner_prints_progress_while_a_chapter_runs_and_no_kernel_warning(tmp_path):
    make_chapters(tmp_path / "chapters")
    params = write_params(tmp_path / "p.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    proc = run_book(tmp_path, "--params", params, "--build-dir", tmp_path / "b", "--no-html")
    said = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, said
    out = proc.stdout.splitlines()
    started = out.index('[book] 01_approach: executing with {"value": 1.0}')
    done = next(i for i, line in enumerate(out) if re.fullmatch(r"\[book\] 01_approach: [0-9.]+ s( \(training .*, analysis [0-9]+ s\))?", line))
    between = out[started + 1:done]
    assert between[0] == "[book] 01_approach: steps: 0/3, started", said
    assert any(re.fullmatch(r"\[book\] 01_approach: steps: 2/3, \d+s elapsed, ~\d+s left, step 1", x)
               for x in between), said
    assert "[book] 01_approach: a one-off note" in between, said
    # ipykernel's "Kernel is running over TCP without encryption" is gone: its sockets are encrypted
    assert "encryption" not in proc.stderr and "IPKernelApp" not in proc.stderr, said



def test_a_finished_chapters_kernel_is_shut_down_without_a_sigint():
    """jupyter_client interrupts a kernel before asking it to shut down; ipykernel, interrupted while
    it still handles papermill's last request, logs "KeyboardInterrupt caught in kernel." to the
    terminal now and then. The runner's kernels are asked to shut down without the signal."""
    import asyncio

    async def run() -> list:
        from singledir.book import runner

        km = runner._kernel_manager_class()(kernel_name="python3")
        sent = []
        real = km._async_signal_kernel

        async def record(signum):
            sent.append(signum)
            await real(signum)

        km._async_signal_kernel = record
        await km.start_kernel()
        assert km.transport_encryption == "auto" and km.curve_publickey  # encrypted sockets
        await km.interrupt_kernel()  # an interrupt asked for is still sent
        await km.shutdown_kernel()
        assert not await km.is_alive()
        return sent

    assert asyncio.run(run()) == [signal.SIGINT]

# ---------------------------------------------------------------------------------------------
# Where the numbers came from
# ---------------------------------------------------------------------------------------------
def _widest(flags: set[str]) -> str | None:
    """The widest vector instruction set among /proc/cpuinfo flags, written out for the test."""
    if "avx512f" in flags:
        isa = "AVX-512"
    elif "avx2" in flags:
        isa = "AVX2"
    elif "avx" in flags:
        isa = "AVX"
    elif "sse4_2" in flags:
        isa = "SSE4.2"
    elif "sve" in flags:
        isa = "SVE"
    elif "asimd" in flags:
        isa = "NEON"
    else:
        return None
    return isa + (" + AMX" if "amx_tile" in flags else "")


def test_machine_info():
    m = runner.machine_info()
    assert m["torch"] == torch.__version__ and m["torch_threads"] == torch.get_num_threads()
    assert m["cpu"] and m["instruction_set"] and m["device"].startswith(("cpu", "cuda"))
    assert m["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    # this machine's, whatever it is: the first flags line of /proc/cpuinfo read here
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((set(line.split(":", 1)[1].split()) for line in info.splitlines()
                  if line.split(":")[0].strip() in ("flags", "Features")), set())
    assert m["instruction_set"] == (_widest(flags) or platform.machine())


@pytest.mark.parametrize("cpuinfo, cpu, isa", [
    ("model name\t: Intel Xeon\nflags\t\t: fpu sse4_2 avx avx2 fma\n", "Intel Xeon", "AVX2"),
    ("model name\t: Xeon\nflags\t\t: sse4_2 avx avx2 avx512f avx512bw\n\nmodel name\t: Xeon\nflags\t\t: sse4_2\n",
     "Xeon", "AVX-512"),
    ("model name\t: Sapphire\nflags\t\t: avx2 avx512f amx_tile amx_bf16\n", "Sapphire", "AVX-512 + AMX"),
    ("model name\t: Old\nflags\t\t: sse sse2 sse4_1 sse4_2\n", "Old", "SSE4.2"),
    ("model name\t: Older\nflags\t\t: sse avx\n", "Older", "AVX"),
    ("processor\t: 0\nFeatures\t: fp asimd evtstrm sve\n", None, "SVE"),
    ("processor\t: 0\nFeatures\t: fp asimd evtstrm\n", None, "NEON"),
], ids=["avx2", "avx512", "amx", "sse4.2", "avx", "sve", "neon"])
def test_machine_info_reads_the_widest_instruction_set_on_any_cpu(monkeypatch, cpuinfo, cpu, isa):
    """The instruction-set field on hand-written /proc/cpuinfo texts of other machines."""
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: cpuinfo if str(self) == "/proc/cpuinfo"
                        else real(self, *a, **k))
    m = runner.machine_info()
    assert m["instruction_set"] == isa
    assert m["cpu"] == (cpu or platform.processor() or platform.machine())

def test_scorecard_csv_says_where_each_number_came_from(fake_book):
    params = write_params(fake_book / "p.yml", {"01_approach": {"value": 1.5}, "02_memorization": {"value": 2.5}})
    build_dir = fake_book / "_build"
    cli.build(params, build_dir=build_dir, html=False, progress=False)
    table = pd.read_csv(build_dir / "scorecard.csv")
    from singledir.pages import scorecard

    assert list(table.columns) == [*scorecard.CSV_COLUMNS, *scorecard.CSV_META_COLUMNS]
    assert list(table.id) == ["E1", "E1", "E2", "E2"] and list(table.ours) == [1.5, 1.5, 2.5, 2.5]  # two parts each
    for row in table.itertuples():
        m = meta(build_dir, row.chapter)
        assert row.preset == str(params) and row.executed == m["executed"]
        assert pd.Timestamp(row.executed).year >= 2024
        assert row.chapter_seconds == m["seconds"] > 0
        assert row.cpu == runner.machine_info()["cpu"] and row.torch == torch.__version__
        assert row.torch_threads == torch.get_num_threads() and row.device.startswith(("cpu", "cuda"))
        assert row.instruction_set == runner.machine_info()["instruction_set"]

def test_build_info_page():
    machine = runner.machine_info()
    metas = {"01_approach": {"executed": "2026-01-02T03:04:05+00:00", "seconds": 12.5, "machine": machine}}
    text = staging.build_info("params/x.yml", "a test preset", ["01_approach", "02_memorization"], metas,
                           {"01_approach": True}, "python -m singledir.book --params params/x.yml --only 02_memorization")
    assert "`params/x.yml`" in text and "a test preset" in text
    assert ("| {doc}`/chapters/01_approach` | not recorded | 2026-01-02 03:04:05+00:00 | 12.5 | n/a | n/a | n/a | n/a "
            "| current |") in text
    assert machine["cpu"] in text and machine["instruction_set"] in text and torch.__version__ in text
    assert f"{machine['torch_threads']} torch threads" in text
    assert "Not built yet with this preset: 02_memorization" in text and "--only 02_memorization" in text
    split = {"01_approach": {**metas["01_approach"], "phases": {"training": 7.0, "curves": 3.0, "units": 0.0}}}
    page = staging.build_info("params/x.yml", None, ["01_approach"], split, {"01_approach": True}, None)
    assert "| 12.5 | 7 | 3 | 0 | 2 | current |" in page  # analysis: the 2.5 s left, rounded
    for executed, word in (([], "kept"), (["01_approach"], "executed")):  # what the last executing build did
        page = staging.build_info("params/x.yml", None, ["01_approach"], split, {"01_approach": True}, None, executed)
        assert f"| {{doc}}`/chapters/01_approach` | {word} |" in page
        assert f"executed {len(executed)} of the 1 chapters" in page


# ---------------------------------------------------------------------------------------------
# --only
# ---------------------------------------------------------------------------------------------
def test_only_without_names_is_an_error_naming_the_chapters(tmp_path, capsys):
    assert cli.main(["--params", str(SMOKE), "--only", "--no-html", "--build-dir", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "--only needs the names" in err and "01_approach" in err and "07_your_model" in err
    assert not (tmp_path / "b").exists()  # nothing was executed
    with pytest.raises(BookError, match="--only needs"):
        cli.build(SMOKE, build_dir=tmp_path / "b", only=[], html=False, progress=False)

def test_only_keeps_every_chapter_and_finding_on_the_first_page(smoke_build, tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(smoke_build.cache))
    build_dir = tmp_path / "_build"
    shutil.copytree(smoke_build.build_dir, build_dir)
    every = results.chapter_findings(build_dir, list(smoke_build.chapters))
    assert [f["id"] for f in every] == sorted((f["id"] for f in every), key=claim_order)  # E1 ... E13, F1 ... F5
    chapters_with_findings = {f["chapter"] for f in every}
    assert len(chapters_with_findings) >= 4
    monkeypatch.setattr(cli, "execute_chapter", lambda *a, **k: 1.0)  # "re-ran" chapter 4
    monkeypatch.setattr(cli, "render", lambda *a, **k: None)
    cli.build(SMOKE, build_dir=build_dir, only=["04_dropout_batchnorm"], force=True, progress=False)
    table = (build_dir / "src" / staging.SCORECARD_PAGE).read_text()
    for f in every:
        assert f"/chapters/{f['chapter']}.ipynb::{f['id']}_p0_est" in table
    toc = yaml.safe_load((build_dir / "src" / "_toc.yml").read_text())
    in_order = [c["file"] for c in yaml.safe_load((params_mod.ROOT / "_toc.yml").read_text())["chapters"]]
    assert [c["file"] for c in toc["chapters"]] == [f for f in in_order  # pages other than chapters stay
                                                 if not f.startswith("chapters/") or f.split("/")[-1] in smoke_build.chapters]
    assert list(pd.read_csv(build_dir / "scorecard.csv").id) == [f["id"] for f in every for _ in f["parts"]]

def test_only_on_a_preset_not_built_in_full_renders_what_exists(tmp_path):
    make_chapters(tmp_path / "chapters")
    params = write_params(tmp_path / "p.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    build_dir = tmp_path / "b"
    proc = run_book(tmp_path, "--params", params, "--build-dir", build_dir, "--only", "01_approach")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = build_dir / "html"
    assert (html / "chapters" / "01_approach.html").exists()
    assert not (html / "chapters" / "02_memorization.html").exists()
    lines = proc.stdout.splitlines()
    k = lines.index(f"[book] not built yet with {params}: 02_memorization; the book leaves them out. Build them with:")
    command = lines[k + 1].strip()
    # the interpreter is shown relative to the repository when it lives there (a project venv)
    exe = Path(sys.executable)
    python = exe.relative_to(ROOT) if exe.is_relative_to(ROOT) else exe
    assert command == " ".join(shlex.quote(str(x)) for x in (
        python, "-m", "singledir.book", "--params", params, "--build-dir", build_dir, "--only", "02_memorization"))
    index = " ".join(re.sub(r"<[^>]+>", " ", (html / "build.html").read_text()).split())  # "What this build did"
    assert "Not built yet with this preset: 02_memorization" in index
    assert str(params) in index and runner.machine_info()["cpu"] in index and torch.__version__ in index
    # the printed command, run as printed (with the test's chapters in place of the book's), completes the book
    args = shlex.split(command)
    assert args[1:3] == ["-m", "singledir.book"]
    proc = run_book(tmp_path, *args[3:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not built yet" not in proc.stdout
    assert (html / "chapters" / "02_memorization.html").exists() and (html / "chapters" / "01_approach.html").exists()
    index = (html / "index.html").read_text()
    assert "Not built yet" not in (html / "build.html").read_text() and "E1" in index and "E2" in index


# ---------------------------------------------------------------------------------------------
# Keys follow the files named by a chapter's own defaults
# ---------------------------------------------------------------------------------------------
def test_chapter_key_follows_files_named_by_the_chapters_defaults(tmp_path, monkeypatch):
    src = ROOT / "chapters" / "07_your_model.md"
    defaults = params_mod.declared_parameters(params_mod.read_chapter(src))
    assert defaults["weights"].startswith("$SINGLEDIR_CACHE/") and defaults["model"].startswith("examples/")
    params = params_mod.load_params(SMOKE, params_mod.chapter_paths())["07_your_model"]
    assert "weights" not in params and "model" not in params  # the smoke preset relies on the defaults
    root = tmp_path / "root"
    model_file = root / defaults["model"].partition(":")[0]
    model_file.parent.mkdir(parents=True)
    shutil.copy(ROOT / defaults["model"].partition(":")[0], model_file)

    monkeypatch.setattr(params_mod, "ROOT", root)  # relative paths in parameters are read from here
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    weights = Path(os.path.expandvars(defaults["weights"]))
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights one")
    k1 = chapter_key(src, params)
    assert k1 == chapter_key(src, params)
    weights.write_bytes(b"weights two")
    k2 = chapter_key(src, params)
    model_file.write_text(model_file.read_text() + "\n# an edit\n")
    k3 = chapter_key(src, params)
    assert len({k1, k2, k3}) == 3


# ---------------------------------------------------------------------------------------------
# Failed and interrupted runs keep the previous result
# ---------------------------------------------------------------------------------------------
def test_a_run_replaces_notebook_and_findings_together(fake_book):
    build_dir = fake_book / "_build"
    p1 = write_params(fake_book / "p1.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    cli.build(p1, build_dir=build_dir, html=False, progress=False)
    first = meta(build_dir, "01_approach")["run"]
    assert ours(build_dir) == {"E1": 1.0, "E2": 2.0}
    p2 = write_params(p1, {"01_approach": {"value": 3.0}, "02_memorization": {"value": 2.0}})  # the file edited
    times = cli.build(p2, build_dir=build_dir, html=False, progress=False)
    assert times["02_memorization"] is None and times["01_approach"] > 0
    assert ours(build_dir) == {"E1": 3.0, "E2": 2.0}
    second = meta(build_dir, "01_approach")["run"]
    assert second != first
    assert [p.name for p in (build_dir / "results" / "01_approach").iterdir()] == [second]  # the old run is gone

def test_a_failed_forced_run_keeps_the_previous_notebook_and_findings(fake_book):
    build_dir = fake_book / "_build"
    good = write_params(fake_book / "good.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    cli.build(good, build_dir=build_dir, html=False, progress=False)
    before = meta(build_dir, "02_memorization")
    bad = write_params(good, {"01_approach": {"value": 1.0}, "02_memorization": {"value": 7.0, "fail": True}})
    with pytest.raises(BookError, match="chapter 02_memorization failed") as e:
        cli.build(bad, build_dir=build_dir, html=False, progress=False, force=True)
    assert "previous result" in str(e.value)
    assert meta(build_dir, "02_memorization") == before
    assert ours(build_dir) == {"E1": 1.0, "E2": 2.0}
    assert [p.name for p in (build_dir / "results" / "02_memorization").iterdir()] == [before["run"]]
    # not current for the failing parameters: the next build executes it again
    key = chapter_key(params_mod.chapter_paths()["02_memorization"], {"value": 7.0, "fail": True})
    assert executed_key(build_dir / "exec" / "02_memorization.ipynb") != key

def test_findings_of_a_chapter_without_an_executed_notebook_are_never_listed(fake_book):
    build_dir = fake_book / "_build"
    params = write_params(fake_book / "p.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    cli.build(params, build_dir=build_dir, html=False, progress=False)
    (build_dir / "exec" / "02_memorization.ipynb").unlink()
    stray = build_dir / "results" / "01_approach" / "20990101-000000-deadbeef"  # a run that never finished
    stray.mkdir()
    (stray / "E1.json").write_text(json.dumps({"id": "E1", "ours": 99.0}))
    assert ours(build_dir) == {"E1": 1.0}
    cli.build(params, build_dir=build_dir, only=["01_approach"], html=False, progress=False)
    assert list(pd.read_csv(build_dir / "scorecard.csv").id) == ["E1", "E1"]  # its two parts

def test_ctrl_c_keeps_the_previous_result_and_says_so_in_one_line(tmp_path):
    make_chapters(tmp_path / "chapters")
    build_dir = tmp_path / "b"
    good = write_params(tmp_path / "good.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    assert run_book(tmp_path, "--params", good, "--build-dir", build_dir, "--no-html").returncode == 0
    before = {n: meta(build_dir, n) for n in ("01_approach", "02_memorization")}
    ready = tmp_path / "ready"
    slow = write_params(good, {"01_approach": {"value": 3.0},
                               "02_memorization": {"value": 5.0, "pause": 120, "ready": str(ready)}})
    proc = subprocess.Popen([sys.executable, str(driver(tmp_path)), str(tmp_path / "chapters"), "--params", str(slow),
                             "--build-dir", str(build_dir), "--no-html", "--force"], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    kernel = []
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            if time.monotonic() > deadline:
                pytest.fail("the chapter did not reach its pause in 120 s")
            time.sleep(0.1)
        kernel = psutil.Process(proc.pid).children(recursive=True)  # the chapter's kernel, in its pause
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the runner's whole process group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # the waits above timed out: end what they waited for
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        left = psutil.wait_procs(kernel, timeout=30)[1]
        end_processes(left)
    assert kernel and left == []  # the runner's kernel ended with it
    assert proc.returncode == 130, out + err
    assert not Path(f"{ready}.slept").exists()  # the 120 s pause did not run to its end
    assert "Traceback" not in out + err and "Error" not in err
    said = [line for line in err.splitlines() if line.startswith("[book]")]
    assert said == ["[book] interrupted during 02_memorization; kept the chapter(s) finished in this run: 01_approach; "
                    "02_memorization keeps its previous result. Run the same command to go on from there."]
    assert "[book] 02_memorization: a one-off note" in out  # its progress reached the terminal before
    assert meta(build_dir, "02_memorization") == before["02_memorization"]
    assert meta(build_dir, "01_approach")["run"] != before["01_approach"]["run"]
    findings = {f["id"]: f["parts"][0]["estimate"] for f in results.chapter_findings(build_dir, ["01_approach", "02_memorization"])}
    assert findings == {"E1": 3.0, "E2": 2.0}
    assert [p.name for p in (build_dir / "results" / "02_memorization").iterdir()] == [before["02_memorization"]["run"]]
    assert not [p for p in build_dir.rglob("*") if ".partial" in p.name]


# ---------------------------------------------------------------------------------------------
# Parameter files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [3, [1, 2], "seed"], ids=["number", "list", "string"])
def test_a_chapter_section_that_is_not_a_mapping_is_named(tmp_path, value):
    doc = yaml.safe_load(SMOKE.read_text())
    doc["chapters"]["01_approach"] = value
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(doc))
    child = tmp_path / "child.yml"
    child.write_text(yaml.safe_dump({"extends": str(SMOKE), "chapters": {"01_approach": value}}))
    for p in (path, child):
        with pytest.raises(BookError) as e:
            params_mod.load_params(p, params_mod.chapter_paths())
        msg = str(e.value)
        assert str(p) in msg and "chapter 01_approach" in msg and "mapping" in msg
        assert "01_approach:\n      seed: 1" in msg  # how to write it


def test_the_command_line_runs_as_make_book_calls_it(tmp_path):
    """`python -m singledir.book ...`, as the Makefile and the README call it, reaches main()."""
    proc = run_ending_on_timeout([sys.executable, "-m", "singledir.book", "--params", str(SMOKE), "--only", "--no-html",
                                  "--build-dir", str(tmp_path / "b")], cwd=ROOT, env=env(), capture_output=True,
                                 text=True, timeout=120)
    assert proc.returncode == 1 and "--only needs the names" in proc.stderr, proc.stdout + proc.stderr


def test_the_command_line_uses_the_cache_make_book_uses(monkeypatch, tmp_path):
    """The README's `.venv/bin/python -m singledir.book --only ...` after `make book` must find the
    networks `make book` trained (the Makefile exports SINGLEDIR_CACHE=.cache), not retrain them
    under ~/.cache; a cache the user chose is kept."""
    seen = []
    monkeypatch.setattr(cli, "build", lambda *a, **k: seen.append(os.environ["SINGLEDIR_CACHE"]))
    monkeypatch.delenv("SINGLEDIR_CACHE", raising=False)
    assert cli.main(["--params", str(SMOKE), "--build-dir", str(tmp_path)]) == 0
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "mine"))
    assert cli.main(["--params", str(SMOKE), "--build-dir", str(tmp_path)]) == 0
    assert seen == [str(ROOT / ".cache"), str(tmp_path / "mine")]
