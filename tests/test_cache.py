"""singledir.base.cache and the cached path of singledir.nets.training: hits, damaged and partial entries,
concurrent writers, checkpoints in the payload."""
from __future__ import annotations

import json
import multiprocessing as mp
import warnings
from pathlib import Path

import pytest
import torch

from singledir.base import cache
from singledir.base.cache import Cache, config_key
from singledir.nets.models import MLPConfig
from singledir.nets.runs import TRAINING_MODULE, RunConfig, TrainConfig
from singledir.nets.training import train_network

CFG = RunConfig(dataset="digits", n_train=300, n_test=100, model=MLPConfig(widths=(16,)),
                train=TrainConfig(epochs=2, batch_size=64, lr=3e-3), seed=0)
PAYLOAD = {"w": torch.arange(12.0).reshape(3, 4), "history": [{"epoch": 1, "loss": 0.5}], "flag": True}


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def payload_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and torch.equal(a["w"], b["w"]) and a["history"] == b["history"] and a["flag"] == b["flag"]


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("SINGLEDIR_CACHE", str(root))
    return root


def run_files(root: Path) -> tuple[Path, Path]:
    (pt,) = (root / "runs").glob("*.pt")
    return pt, pt.with_suffix(".json")


def leftovers(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.name.endswith(".partial"))


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------
def test_cache_dir_follows_the_environment(cache_root):
    assert cache.cache_dir() == cache_root
    assert Cache("ns").dir == cache_root / "ns"


def test_put_get_round_trip(tmp_path):
    c = Cache("ns", root=tmp_path)
    assert c.get("k") is None and c.meta("k") is None
    c.put("k", PAYLOAD, meta={"config": {"a": 1}})
    assert payload_equal(c.get("k"), PAYLOAD)
    pt, js = c.paths("k")
    assert pt == tmp_path / "ns" / "k.pt" and js == tmp_path / "ns" / "k.json"
    meta = c.meta("k")
    assert meta["config"] == {"a": 1}
    assert meta["sha256"] == cache._sha256(pt)
    assert leftovers(tmp_path) == []
    c.remove("k")
    assert not pt.exists() and not js.exists() and c.get("k") is None


def test_config_key_is_stable_and_order_free():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})
    assert len(config_key({})) == 24


def test_damaged_payload_is_warned_about_and_removed(tmp_path):
    c = Cache("ns", root=tmp_path)
    c.put("k", PAYLOAD)
    pt, js = c.paths("k")
    raw = bytearray(pt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pt.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="damaged"):
        assert c.get("k") is None
    assert not pt.exists() and not js.exists()


def test_in_a_book_chapter_a_damaged_entry_is_one_progress_line_not_a_warning(tmp_path, monkeypatch):
    log = tmp_path / "progress.log"
    monkeypatch.setenv("SINGLEDIR_PROGRESS_LOG", str(log))  # what the book's runner sets for a chapter
    c = Cache("ns", root=tmp_path)
    c.put("k", PAYLOAD)
    pt, _ = c.paths("k")
    pt.write_bytes(pt.read_bytes()[:-5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would reach the rendered page
        assert c.get("k") is None
    assert log.read_text().count("\n") == 1 and f"cache entry {pt} is damaged" in log.read_text()


def test_payload_without_manifest_is_not_used(tmp_path):
    c = Cache("ns", root=tmp_path)
    c.put("k", PAYLOAD)
    c.paths("k")[1].unlink()  # a writer that died between the payload and the manifest
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert c.get("k") is None


def test_damaged_manifest_is_not_used(tmp_path):
    c = Cache("ns", root=tmp_path)
    c.put("k", PAYLOAD)
    c.paths("k")[1].write_text("{not json")
    with pytest.warns(UserWarning, match="damaged"):
        assert c.get("k") is None


def test_payload_bytes_are_deterministic(tmp_path):
    c = Cache("ns", root=tmp_path)
    c.put("k", PAYLOAD)
    first = c.paths("k")[0].read_bytes()
    c.put("k", PAYLOAD)
    assert c.paths("k")[0].read_bytes() == first


def test_writer_midway_does_not_damage_a_committed_entry(tmp_path, monkeypatch):
    c = Cache("ns", root=tmp_path)
    c.put("k", PAYLOAD)  # writer A commits
    real = cache.atomic_write

    def dies_before_manifest(path: Path, write) -> None:
        if path.suffix == ".json":
            raise OSError("writer killed")
        real(path, write)

    # writer B, same key and payload, stops between its payload rename and its manifest
    monkeypatch.setattr(cache, "atomic_write", dies_before_manifest)
    with pytest.raises(OSError, match="writer killed"):
        c.put("k", PAYLOAD)
    monkeypatch.setattr(cache, "atomic_write", real)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = c.get("k")
    assert got is not None and payload_equal(got, PAYLOAD)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "d" / "x.pt"

    def fail(p: Path):
        p.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.atomic_write(target, fail)
    assert not target.exists() and list((tmp_path / "d").iterdir()) == []


def _writer(root: str, keys: list[str], barrier) -> None:
    payload = {"w": torch.arange(1_000_000.0), "history": [{"epoch": 1, "loss": 0.5}], "flag": True}
    c = Cache("ns", root=Path(root))
    for k in keys:
        barrier.wait()
        c.put(k, payload, meta={"key": k})


def test_concurrent_writers_of_one_key(tmp_path):
    keys = [f"k{i}" for i in range(6)]
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), keys, barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0, 0]
    finally:
        for p in procs:  # a writer still running after the wait (stuck at the barrier) is ended
            if p.is_alive():
                p.kill()
                p.join()
    assert leftovers(tmp_path) == []
    c = Cache("ns", root=tmp_path)
    bad = [k for k in keys if c.meta(k)["sha256"] != cache._sha256(c.paths(k)[0])]
    assert bad == [], f"manifest hash differs from its payload for {bad}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in keys:
            got = c.get(k)
            assert got is not None and torch.equal(got["w"], torch.arange(1_000_000.0))
            assert c.meta(k)["key"] == k


# ---------------------------------------------------------------------------------------------
# train_network() through the cache
# ---------------------------------------------------------------------------------------------
def test_second_train_is_a_cache_hit(cache_root):
    a = train_network(CFG, device="cpu")
    b = train_network(CFG, device="cpu")
    assert not a.from_cache and b.from_cache
    assert state_equal(a.model.state_dict(), b.model.state_dict())
    assert a.history == b.history and b.seconds == a.seconds
    assert not b.model.training
    pt, js = run_files(cache_root)
    meta = json.loads(js.read_text())
    assert meta["config"] == CFG.to_dict() and meta["device"] == "cpu"
    assert meta["code_version"] == cache.code_version(TRAINING_MODULE)
    # a different config is a different entry
    c = train_network(CFG.with_(seed=1), device="cpu")
    assert not c.from_cache and len(list((cache_root / "runs").glob("*.pt"))) == 2


def test_use_cache_false_neither_reads_nor_writes(cache_root):
    train_network(CFG, use_cache=False, device="cpu")
    assert not (cache_root / "runs").exists()
    train_network(CFG, device="cpu")
    assert not train_network(CFG, use_cache=False, device="cpu").from_cache


def test_damaged_run_is_recomputed(cache_root):
    a = train_network(CFG, device="cpu")
    pt, js = run_files(cache_root)
    raw = bytearray(pt.read_bytes())
    for i in range(100, 110):
        raw[-i] ^= 0x5A
    pt.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="damaged"):
        b = train_network(CFG, device="cpu")
    assert not b.from_cache
    assert state_equal(a.model.state_dict(), b.model.state_dict()) and a.history == b.history
    c = train_network(CFG, device="cpu")  # the recomputed entry is valid again
    assert c.from_cache and state_equal(a.model.state_dict(), c.model.state_dict())


def test_truncated_run_is_recomputed(cache_root):
    a = train_network(CFG, device="cpu")
    pt, _ = run_files(cache_root)
    pt.write_bytes(pt.read_bytes()[: pt.stat().st_size // 2])
    with pytest.warns(UserWarning, match="damaged"):
        b = train_network(CFG, device="cpu")
    assert not b.from_cache and state_equal(a.model.state_dict(), b.model.state_dict())
    assert train_network(CFG, device="cpu").from_cache


def test_run_without_manifest_is_recomputed(cache_root):
    a = train_network(CFG, device="cpu")
    pt, js = run_files(cache_root)
    js.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = train_network(CFG, device="cpu")
    assert not b.from_cache and state_equal(a.model.state_dict(), b.model.state_dict())
    assert js.exists() and train_network(CFG, device="cpu").from_cache


def test_cached_checkpoints(cache_root):
    cfg = CFG.with_(train=TrainConfig(epochs=2, batch_size=64, lr=3e-3, checkpoints=(0, 1, 2)))
    a = train_network(cfg, device="cpu")
    b = train_network(cfg, device="cpu")
    assert b.from_cache and sorted(b.checkpoints) == [0, 1, 2]
    for e in (0, 1, 2):
        assert state_equal(a.checkpoints[e], b.checkpoints[e])
        assert state_equal(b.at_epoch(e).state_dict(), a.checkpoints[e])
    assert state_equal(b.at_epoch(2).state_dict(), b.model.state_dict())
    # the payload is plain tensors and containers: it loads with weights_only=True
    pt, _ = run_files(cache_root)
    payload = torch.load(pt, map_location="cpu", weights_only=True)
    assert set(payload) == {"state", "history", "checkpoints", "diverged", "seconds"}
    assert sorted(payload["checkpoints"]) == ["0", "1", "2"]
    assert state_equal(payload["checkpoints"]["1"], a.checkpoints[1])
    assert state_equal(payload["state"], a.model.state_dict())
    assert payload["history"] == a.history and payload["diverged"] is False


def test_diverged_run_is_cached_as_such(cache_root):
    cfg = CFG.with_(train=TrainConfig(epochs=2, batch_size=64, optimizer="sgd", lr=1e20))
    a = train_network(cfg, device="cpu")
    b = train_network(cfg, device="cpu")
    assert a.diverged and b.diverged and b.from_cache and len(b.history) == 1


def test_cached_convnet_run(cache_root):
    from singledir.nets.models import ConvNetConfig

    cfg = CFG.with_(model=ConvNetConfig(width=0.0625), train=TrainConfig(epochs=1, batch_size=64))
    a = train_network(cfg, device="cpu")
    b = train_network(cfg, device="cpu")
    assert b.from_cache and state_equal(a.model.state_dict(), b.model.state_dict())
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(a.model(x), b.model(x))
