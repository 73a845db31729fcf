"""singledir.base.memory: importing the package keeps freed memory in the process, which changes
where a tensor's memory comes from and never a computed value. Each case runs in fresh processes,
since the allocator's policy is the process's."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from singledir.base import memory

pytestmark = pytest.mark.skipif(not memory.hold_freed_memory(), reason="glibc's allocator only (Linux)")

RESIDENT = """
import json, os, torch
import singledir.base
from singledir.base import memory

def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

before = resident()
x = torch.ones(64 * 2**20)  # 256 MiB, written
del x
print(json.dumps({"held": memory.hold_freed_memory(), "kept": resident() - before}))
"""

# a batch-norm conv net pair trained as a group for two epochs, then an ablation curve of one of them
TRAIN_AND_MEASURE = """
import hashlib, json, torch
import singledir.base
from singledir.base import memory
from singledir.measure import perturb
from singledir.nets.group_run import GroupRun
from singledir.nets.models import build_model
from singledir.nets.models import ConvNetConfig
from singledir.nets.runs import RunConfig, TrainConfig, load_run_dataset

torch.set_num_threads(1)
cfgs = [RunConfig(dataset="digits", n_train=300, seed=s, model=ConvNetConfig(width=0.125),
                  train=TrainConfig(epochs=2, batch_size=32)) for s in (0, 1)]
dss = [load_run_dataset(c) for c in cfgs]
g = GroupRun(cfgs, dss, torch.device("cpu"))
g.run(False, None, None)
h = hashlib.sha256()
for k, v in sorted(g.net.state_dict().items()):
    h.update(k.encode() + v.numpy().tobytes())
net = build_model(cfgs[0].model, dss[0].input_shape, dss[0].n_classes)
net.load_state_dict(g.net.member_state(0))
curve = perturb.ablation_curve(net, (dss[0].x_test, dss[0].y_test), list(net.unit_layers), grid=5, repetitions=2)
print(json.dumps({"held": memory.hold_freed_memory(), "weights": h.hexdigest(),
                  "history": g.history[0], "curve": curve.table.to_dict("list")}))
"""


def _run(script: str, tmp_path, opt_out: bool) -> dict:
    env = {**os.environ, "SINGLEDIR_CACHE": str(tmp_path)}
    env.pop(memory.OPT_OUT_ENV, None)
    if opt_out:
        env[memory.OPT_OUT_ENV] = "1"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_singledir_keeps_freed_memory_unless_told_not_to(tmp_path):
    held = _run(RESIDENT, tmp_path, opt_out=False)
    default = _run(RESIDENT, tmp_path, opt_out=True)
    assert held["held"] and not default["held"]
    assert held["kept"] >= 200 * 2**20  # the freed 256 MiB stay in the process
    assert default["kept"] < 64 * 2**20  # glibc's default gave them back


def test_the_allocator_policy_changes_no_value(tmp_path):
    held = _run(TRAIN_AND_MEASURE, tmp_path / "a", opt_out=False)
    default = _run(TRAIN_AND_MEASURE, tmp_path / "b", opt_out=True)
    assert held.pop("held") and not default.pop("held")
    assert held == default  # weights bit for bit, the history and the curve to the last digit


def test_later_calls_repeat_the_first_answer(monkeypatch):
    """The policy is set once per process: after a first call told not to (the opt-out set), a
    later call without the opt-out still answers False and touches no C library; after a first
    call that set it, later calls answer True without calling mallopt again."""
    opened = []
    real_cdll = memory.ctypes.CDLL
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda *a, **k: opened.append(a) or real_cdll(*a, **k))
    monkeypatch.setattr(memory, "_held", None)  # as in a fresh process
    monkeypatch.setenv(memory.OPT_OUT_ENV, "1")
    assert memory.hold_freed_memory() is False
    monkeypatch.delenv(memory.OPT_OUT_ENV)
    assert memory.hold_freed_memory() is False and opened == []
    monkeypatch.setattr(memory, "_held", None)
    assert memory.hold_freed_memory() is True and len(opened) == 1  # sets the same values again: harmless
    assert memory.hold_freed_memory() is True and len(opened) == 1
