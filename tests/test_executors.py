"""singledir.experiments.executors: where a sweep's groups run besides the calling process."""
from __future__ import annotations

import pytest

from singledir.experiments import executors
from singledir.experiments import sweep as sweep_mod
from singledir.nets.runs import RunConfig


def test_the_processes_executor_stays_in_process_for_what_a_worker_cannot_know(monkeypatch):
    from singledir.data.raw import DATASETS

    cfg = RunConfig(dataset="my-digits")
    monkeypatch.setitem(DATASETS, "my-digits", DATASETS["digits"])
    assert "registered in this process only" in executors.stay_in_process([cfg], sweep_mod.Measurements())
    assert executors.stay_in_process([RunConfig(dataset="digits")], sweep_mod.Measurements()) is None
    with pytest.raises(ValueError, match="unknown executor 'threads'; allowed: local, processes, dask"):
        sweep_mod.run_sweep([cfg], executor="threads")
