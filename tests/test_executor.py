"""The executor (issue 20): tasks in this process, on a local Dask cluster, or on a cluster given by
address; samples and multi-file ``hepgan apply`` give the same output whatever the workers; a killed
worker's task is run again; a rerun skips finished outputs.

One LocalCluster of 2 single-process workers (processes=True) serves the whole module.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from hepgan.cli import main
from hepgan.executor import map_tasks
from hepgan.io import read_metadata, read_table, write_table
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
from hepgan.methods.background.apply import apply_file, apply_files, file_seed
from hepgan.samples.toys import gjets_toy

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """A running local Dask cluster, used through --scheduler (so the test pays its startup once)."""
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)
    yield c.scheduler_address
    c.close()


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("executor")
    toy = gjets_toy(600, seed=3)
    sr = toy[toy.region == 1]
    small = dict(g_hidden=(8,), d_hidden=(8,), latent_dim=2, epochs=1, batch_size=32, progress=False)
    ConditionalGAN(**small, n_quantiles=20).fit(sr[X_OBJECT], sr[FEATURE_SETS["full"]]).save(d / "model.safetensors")
    (d / "in").mkdir()
    for i in range(3):
        write_table(gjets_toy(300, seed=10 + i), d / "in" / f"cr_{i}.parquet", metadata={"id_threshold": 0.0})
    return {"model": d / "model.safetensors", "inputs": sorted((d / "in").glob("*.parquet"))}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _square(x: int) -> int:
    return x * x


def test_map_tasks_here_and_on_a_cluster(cluster):
    assert map_tasks(_square, [1, 2, 3]) == [1, 4, 9]  # in this process, in order
    assert sorted(map_tasks(_square, range(6), scheduler=cluster)) == [0, 1, 4, 9, 16, 25]
    seen = []
    map_tasks(_square, [5], scheduler=cluster, on_result=seen.append)
    assert seen == [25]
    t0 = time.perf_counter()
    assert sorted(map_tasks(_square, range(4), workers=2)) == [0, 1, 4, 9]  # a LocalCluster made and closed inside
    print(f"a local cluster of 2 workers: {time.perf_counter() - t0:.1f} s to start, run 4 tasks and close")


def test_ttbar_sample_same_table_on_one_or_two_workers(tmp_path, cluster):
    from hepgan.samples.ttbar import make_ttbar

    pytest.importorskip("pythia8mc")
    kw = dict(seed=5, chunk_size=50, progress=False)
    one = make_ttbar(200, cache_dir=tmp_path / "a", **kw)
    two = make_ttbar(200, cache_dir=tmp_path / "b", scheduler=cluster, **kw)
    assert len(list((tmp_path / "b").rglob("chunk_*.parquet"))) == 4
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def _apply(fx, out_dir: Path, **kw) -> dict:
    return apply_files(fx["model"], [str(p) for p in fx["inputs"]], out_dir, seed=7, progress=False, **kw)


def test_apply_many_files_skips_existing_and_does_not_depend_on_workers(fx, tmp_path, cluster):
    out1 = tmp_path / "one"
    out1.mkdir()
    (out1 / ".hepgan").write_text("{}\n")
    pre = out1 / "cr_1_gan.parquet"
    pre.write_bytes(b"an earlier output")
    r = _apply(fx, out1)
    assert [Path(s["out"]).name for s in r["written"]] == ["cr_0_gan.parquet", "cr_2_gan.parquet"]
    assert r["skipped"] == [str(pre)] and pre.read_bytes() == b"an earlier output"
    pre.unlink()
    assert [Path(s["out"]).name for s in _apply(fx, out1)["written"]] == ["cr_1_gan.parquet"]  # the resume
    out2 = tmp_path / "two"
    r2 = _apply(fx, out2, scheduler=cluster)
    assert len(r2["written"]) == 3 and not r2["skipped"]
    for p in fx["inputs"]:
        name = p.stem + "_gan.parquet"
        pd.testing.assert_frame_equal(read_table(out1 / name), read_table(out2 / name), check_exact=True)
        assert read_metadata(out2 / name)["seed"] == file_seed(7, p) and read_metadata(out2 / name)["seed_of_file"] == {"seed": 7, "file": p.name}
    assert not read_table(out1 / "cr_0_gan.parquet").equals(read_table(out1 / "cr_2_gan.parquet"))


def _die_once(job: dict) -> dict:
    """apply_file, but the first attempt at cr_1 kills its worker process (a marker file says it did)."""
    marker = Path(job["out"]).parent.parent / "killed_once"
    if job["input"].endswith("cr_1.parquet") and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return apply_file(job)


def test_a_killed_worker_task_runs_again(fx, tmp_path, cluster):
    ref = tmp_path / "ref"
    _apply(fx, ref)
    out = tmp_path / "run" / "out"
    out.mkdir(parents=True)
    jobs = [{"model": str(fx["model"]), "input": str(p), "out": str(out / (p.stem + "_gan.parquet")), "seed": file_seed(7, p), "base_seed": 7,
             "options": {}} for p in fx["inputs"]]  # fmt: skip
    t0 = time.perf_counter()
    done = map_tasks(_die_once, jobs, scheduler=cluster)
    assert (tmp_path / "run" / "killed_once").exists() and len(done) == 3, time.perf_counter() - t0
    for p in fx["inputs"]:
        name = p.stem + "_gan.parquet"
        pd.testing.assert_frame_equal(read_table(ref / name), read_table(out / name), check_exact=True)


def test_cli_apply_out_dir_glob_workers_and_rerun(fx, tmp_path, capsys, caplog, cluster):
    out = tmp_path / "o"
    pattern = str(fx["inputs"][0].parent / "*.parquet")
    assert main(["-q", "apply", str(fx["model"]), pattern, "--out-dir", str(out), "--seed", "7", "--scheduler", cluster]) == 0
    assert "wrote 3 of 3 files" in capsys.readouterr().out
    before = {p.name: _sha(p) for p in out.glob("*.parquet")}
    with caplog.at_level(logging.INFO, "hepgan"):
        assert main(["apply", str(fx["model"]), pattern, "--out-dir", str(out), "--seed", "7"]) == 0
    assert "skipped 3 of 3: outputs exist" in caplog.text and "wrote 0 of 3 files" in capsys.readouterr().out
    assert {p.name: _sha(p) for p in out.glob("*.parquet")} == before
    # a folder hepgan did not make needs --overwrite; several inputs need --out-dir; --workers needs --out-dir
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    for argv in (["--out-dir", str(user)], ["--out", str(tmp_path / "x.parquet")],
                 [str(fx["inputs"][0]).replace("cr_0", "nothing_*"), "--out-dir", str(tmp_path / "n")]):  # fmt: skip
        assert main(["-q", "apply", str(fx["model"]), *[str(p) for p in fx["inputs"]], *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("hepgan: error: "), err
    assert main(["-q", "apply", str(fx["model"]), str(fx["inputs"][0]), "--out", str(tmp_path / "y.parquet"), "--workers", "2"]) == 2
    assert (user / "notes.txt").read_text() == "mine" and sorted(p.name for p in user.iterdir()) == ["notes.txt"]


def test_cli_bad_scheduler_and_missing_dask(fx, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEPGAN_DASK_TIMEOUT", "2")
    for argv in (["apply", str(fx["model"]), str(fx["inputs"][0]), "--out-dir", str(tmp_path / "a")],
                 ["sample", "ttbar", "--events", "10", "--out", str(tmp_path / "t.parquet"), "--cache-dir", str(tmp_path / "c")]):  # fmt: skip
        for address in ("tcp://127.0.0.1:1", "not-an-address"):
            t0 = time.perf_counter()
            assert main(["-q", *argv, "--scheduler", address]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith("hepgan: error: --scheduler") and time.perf_counter() - t0 < 8, (err, argv)
        monkeypatch.setattr("hepgan.executor.have_dask", lambda: False)
        assert main(["-q", *argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "pip install 'hepgan[dask]'" in err[0], err
        monkeypatch.undo()
        monkeypatch.setenv("HEPGAN_DASK_TIMEOUT", "2")
    assert not (tmp_path / "t.parquet").exists() and not (tmp_path / "a" / "cr_0_gan.parquet").exists()
