"""Optuna searches (hepgan search): results, the best trial, shared studies, pruning, bad spaces, seeding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

optuna = pytest.importorskip("optuna")

from hepgan.cli import main  # noqa: E402
from hepgan.io import write_table  # noqa: E402
from hepgan.samples.toys import gjets_toy  # noqa: E402

SPACE = {
    "training.lr": {"low": 1.0e-4, "high": 3.0e-3, "log": True},
    "training.n_critic": {"choices": [1, 2]},
    "model.latent_dim": {"low": 2, "high": 6, "step": 2},
}


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("search_data") / "events.parquet"
    write_table(gjets_toy(600, seed=3), path, metadata={"id_threshold": 0.0})
    return path


def _config(path: Path, events: Path, space=None, epochs: int = 2) -> Path:
    cfg = {
        "method": "background",
        "data": {"train": str(events), "validation_fraction": 0.25, "test_fraction": 0.25},
        "model": {"g_hidden": [8], "d_hidden": [8], "latent_dim": 2, "n_quantiles": 20},
        "training": {"optimizer": "adam", "epochs": epochs, "batch_size": 64, "seed": 5, "step": "eager"},
        "metric": {"k_epoch": 1, "k_final": 1, "events": 50},
        "apply": {"k": 1},
    }
    if space is not None:
        cfg["search"] = space
    path.write_text(yaml.safe_dump(cfg))
    return path


def _one_error_line(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("hepgan: error: "), err
    return err[0]


def test_search_writes_ranked_results_and_the_best_trial(events, tmp_path, capsys):
    from hepgan import load
    from hepgan.runs import load_config

    cfg = _config(tmp_path / "s.yaml", events, SPACE)
    run = tmp_path / "run"
    assert main(["-q", "search", str(cfg), "--trials", "4", "--run-dir", str(run), "--no-prune"]) == 0
    out = capsys.readouterr().out
    assert "best: trial" in out and "value" in out
    res = json.loads((run / "search_results.json").read_text())
    assert len(res["rows"]) == 4 and res["direction"] == "minimize"
    import pandas as pd

    assert len(pd.read_csv(run / "search_results.csv")) == 4
    done = [r for r in res["rows"] if r["state"] == "COMPLETE"]
    assert len(done) == 4
    best = min(done, key=lambda r: r["value"])
    assert res["best_trial"] == best["number"]
    for r in done:  # each value is the trial's validation -2lnLambda at its best epoch
        h = json.loads((run / f"trial_{r['number']}" / "history.json").read_text())
        assert r["value"] == pytest.approx(h["neg2lnL_val"][h["best_epoch"] - 1]) and r["best_epoch"] == h["best_epoch"]
        assert min(h["neg2lnL_val"]) == pytest.approx(r["value"])
        assert not (run / f"trial_{r['number']}" / "report.html").exists()
    best_cfg = yaml.safe_load((run / "best" / "config.yaml").read_text())
    assert "search" not in best_cfg
    loaded = load_config(run / "best" / "config.yaml")
    assert loaded.training.lr == pytest.approx(best["params"]["training.lr"])
    assert loaded.model.latent_dim == best["params"]["model.latent_dim"]
    model = load(run / "best" / "model_best.safetensors")
    assert model.latent_dim == best["params"]["model.latent_dim"]
    # a second search into the folder is refused without --overwrite (the study would continue)
    assert main(["-q", "search", str(cfg), "--trials", "1", "--run-dir", str(run)]) == 2
    assert "--overwrite" in _one_error_line(capsys)


def test_two_processes_share_one_study(events, tmp_path):
    cfg = _config(tmp_path / "shared.yaml", events, SPACE)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hepgan.cli", "-q", "search", str(cfg), "--trials", "2", "--storage", storage,
             "--study-name", "shared", "--seed", str(i), "--run-dir", str(tmp_path / f"run{i}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 4
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    # each folder holds its own trials' runs; the results list the whole study
    own = {i: sorted(int(p.name.split("_")[1]) for p in (tmp_path / f"run{i}").glob("trial_*")) for i in range(2)}
    assert len(own[0]) == 2 and len(own[1]) == 2 and set(own[0]) | set(own[1]) == {0, 1, 2, 3}
    assert len(json.loads((tmp_path / "run1" / "search_results.json").read_text())["rows"]) >= 2


def test_a_pruned_trial_is_recorded_pruned(events, tmp_path):
    from hepgan.methods.background.search import load_search_config, search_run
    from hepgan.training.loop import TrainSettings

    class Always(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return True

    assert TrainSettings().epoch_callback is None
    search = load_search_config(_config(tmp_path / "p.yaml", events, {"training.lr": {"low": 1e-4, "high": 1e-3}}, epochs=3))
    result = search_run(search, tmp_path / "run", trials=2, pruner=Always())
    assert [r["state"] for r in result["rows"]] == ["PRUNED", "PRUNED"]
    assert all(r["epochs_run"] == 1 for r in result["rows"])
    assert result["best"] is None and not (tmp_path / "run" / "best").exists()
    assert not (tmp_path / "run" / "trial_0" / "history.json").exists()


BAD = [
    ({"training.lr": {"low": 1e-4, "hi": 1e-3}}, "search.training.lr.hi: unknown key"),
    ({"training.lrr": {"low": 1e-4, "high": 1e-3}}, "lrr"),
    ({}, "non-empty"),
    ({"training.lr": {"low": 1e-3, "high": 1e-4}}, "low < high"),
    ({"training.lr": {"low": 0.0, "high": 1e-3, "log": True}}, "low > 0"),
    ({"training.n_critic": {"choices": []}}, "non-empty list"),
    ({"training.epochs": {"low": 0, "high": 3}}, "training.epochs"),
]


@pytest.mark.parametrize("space,needle", BAD)
def test_a_bad_search_space_is_one_line_and_writes_nothing(events, tmp_path, capsys, space, needle):
    cfg = _config(tmp_path / "bad.yaml", events, space)
    run = tmp_path / "run"
    assert main(["-q", "search", str(cfg), "--trials", "1", "--run-dir", str(run)]) == 2
    assert needle in _one_error_line(capsys)
    assert not run.exists()


def test_other_methods_and_a_missing_section(events, tmp_path, capsys):
    cfg = _config(tmp_path / "none.yaml", events)
    assert main(["-q", "search", str(cfg), "--trials", "1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "no 'search' section" in _one_error_line(capsys)
    data = yaml.safe_load(cfg.read_text())
    (tmp_path / "gen.yaml").write_text(yaml.safe_dump({**data, "method": "generation", "search": SPACE}))
    assert main(["-q", "search", str(tmp_path / "gen.yaml"), "--trials", "1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "background-estimation configs only" in _one_error_line(capsys)
    assert main(["-q", "search", str(_config(tmp_path / "s.yaml", events, SPACE)), "--trials", "1",
                 "--run-dir", str(tmp_path / "r"), "--set", "training.lr=0.1"]) == 2  # fmt: skip
    assert "searched" in _one_error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_the_sampler_is_seeded(events, tmp_path):
    """Two searches with the same --seed (each its own new study) propose the same parameters."""
    from hepgan.methods.background.search import load_search_config, search_run

    class Always(optuna.pruners.BasePruner):  # one epoch per trial: the proposals are what matters here
        def prune(self, study, trial) -> bool:
            return True

    search = load_search_config(_config(tmp_path / "seed.yaml", events, SPACE))
    params = {}
    for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
        result = search_run(search, tmp_path / name, trials=3, seed=seed, pruner=Always())
        params[name] = [r["params"] for r in result["rows"]]
    assert params["a"] == params["b"]
    assert params["a"] != params["c"]


def test_without_optuna_one_line_names_the_extra(events, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    cfg = _config(tmp_path / "s.yaml", events, SPACE)
    assert main(["-q", "search", str(cfg), "--trials", "1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "pip install 'hepgan[search]'" in _one_error_line(capsys)
    assert not (tmp_path / "r").exists()
