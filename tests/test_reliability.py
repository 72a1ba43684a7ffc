"""Reliability through the command line: bad input, interrupted training, unsafe model files.

Each bad input must give exit code 2, exactly one line ``hepgan: error: ...`` naming the file,
column or key, and leave no output (not even a temporary file) behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open

from hepgan.cli import main
from hepgan.io import read_table, write_table
from hepgan.methods.background import MODEL_FORMAT_VERSION, ConditionalGAN
from hepgan.samples.toys import gjets_toy
from hepgan.training.state import load_state, save_state

MODEL_CFG = {"g_hidden": [16, 16], "d_hidden": [16, 16], "latent_dim": 4, "n_quantiles": 50}


def _config(path: Path, data: Path, **sections) -> Path:
    cfg = {
        "method": "background",
        "data": {"train": str(data), "validation_fraction": 0.25, "test_fraction": 0.25},
        "model": dict(MODEL_CFG),
        "training": {"optimizer": "adam", "epochs": 1, "batch_size": 64, "seed": 1},
        "metric": {"k_epoch": 2, "k_final": 2, "events": 100},
        "apply": {"k": 1},
    }
    for dotted, value in sections.items():
        sec, key = dotted.split("__")
        cfg[sec][key] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder of good and bad inputs, and a trained model."""
    d = tmp_path_factory.mktemp("reliability")
    good = gjets_toy(600, seed=5)
    write_table(good, d / "good.parquet", metadata={"id_threshold": 0.0})
    write_table(good, d / "good.root", metadata={"id_threshold": 0.0})
    good.to_csv(d / "good.csv", index=False)

    def variant(name, **changes):
        t = good.copy()
        for col, v in changes.items():
            if v is None:
                t = t.drop(columns=[col])
            else:
                t[col] = v
        write_table(t, d / f"{name}.parquet", metadata={"id_threshold": 0.0})
        return t

    t = good.copy()
    t.loc[3, "pho2_pt"] = np.nan
    write_table(t, d / "nan.parquet", metadata={"id_threshold": 0.0})
    t = good.copy()
    t.loc[7, "n_vtx"] = np.inf
    write_table(t, d / "inf.parquet", metadata={"id_threshold": 0.0})
    variant("missing", pho1_eta=None)
    variant("dtype", pho1_pt=good["pho1_pt"].astype(str))
    variant("no_sr", region=np.zeros(len(good)))
    variant("no_cr", region=np.ones(len(good)))
    variant("constant", pho1_phi=np.full(len(good), 0.5))
    (d / "empty.parquet").write_bytes(b"")
    raw = (d / "good.parquet").read_bytes()
    (d / "truncated.parquet").write_bytes(raw[: len(raw) // 2])
    raw = (d / "good.root").read_bytes()
    (d / "truncated.root").write_bytes(raw[: len(raw) // 2])
    (d / "junk.root").write_bytes(np.random.default_rng(0).bytes(3000))
    (d / "bad.csv").write_text('a,b\n1,2,3\n"')
    (d / "header_only.csv").write_text(",".join(good.columns) + "\n")

    model = ConditionalGAN(
        x_columns=["pho2_pt", "pho2_eta", "pho2_phi", "pho2_id"], c_columns=["pho1_pt", "pho1_eta", "n_jets"],
        g_hidden=[16], d_hidden=[16], latent_dim=4, epochs=1, batch_size=64, n_quantiles=50, progress=False,
    )  # fmt: skip
    sr = good[good.region == 1]
    model.fit(sr[model.x_columns], sr[model.c_columns])
    model.save(d / "model.safetensors")
    return d


def _outputs(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _visible(text: str) -> list[str]:
    """The lines a terminal shows: a progress bar cleared with carriage returns leaves nothing."""
    return [line.split("\r")[-1] for line in text.split("\n") if line.split("\r")[-1].strip()]


def _one_error_line(capsys) -> str:
    err = _visible(capsys.readouterr().err)
    assert len(err) == 1, err
    assert err[0].startswith("hepgan: error: ")
    return err[0]


# --------------------------------------------------------------------------- train

TRAIN_CASES = {
    # input file: (data file, words the line must hold)
    "nan": ("nan.parquet", ["nan.parquet", "'pho2_pt'", "1 NaN or inf", "--drop-nan"]),
    "inf": ("inf.parquet", ["inf.parquet", "'n_vtx'", "NaN or inf"]),
    "missing column": ("missing.parquet", ["missing.parquet", "missing column 'pho1_eta'", "did you mean"]),
    "wrong dtype": ("dtype.parquet", ["dtype.parquet", "'pho1_pt'", "expected a number"]),
    "no SR events": ("no_sr.parquet", ["no_sr.parquet", "SR", "0 events"]),
    "constant column": ("constant.parquet", ["constant.parquet", "'pho1_phi'", "constant"]),
    "empty file": ("empty.parquet", ["empty.parquet", "empty"]),
    "truncated parquet": ("truncated.parquet", ["truncated.parquet", "Parquet"]),
    "truncated root": ("truncated.root", ["truncated.root"]),
    "junk root": ("junk.root", ["junk.root", "ROOT"]),
    "corrupt csv": ("bad.csv", ["bad.csv"]),  # its header lacks the columns: named before the broken rows are read
    "csv without rows": ("header_only.csv", ["header_only.csv", "no rows"]),
    "absent file": ("absent.parquet", ["absent.parquet", "no such file"]),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_rejects_bad_input_and_writes_nothing(case, work, tmp_path, capsys):
    data, words = TRAIN_CASES[case]
    cfg = _config(tmp_path / "cfg.yaml", work / data)
    before = _outputs(tmp_path)
    assert main(["train", str(cfg), "--run-dir", str(tmp_path / "run")]) == 2
    line = _one_error_line(capsys)
    for w in words:
        assert w in line, (w, line)
    assert _outputs(tmp_path) == before  # no run folder, no temporary file
    assert _outputs(work) >= {"good.parquet"} and not any(n.endswith(".tmp") for n in _outputs(work))


CONFIG_CASES = {
    "unknown key": ({"training__epochz": 3}, ["training.epochz", "unknown key", "did you mean 'epochs'"]),
    "out of range": ({"training__epochs": -3}, ["training.epochs", ">= 1", "-3"]),
    "wrong type": ({"training__lr": "fast"}, ["training.lr", "expected a number", "fast"]),
    "label noise out of range": ({"training__label_noise": 0.7}, ["training.label_noise"]),
    "misspelled column": ({"data__x_columns": ["pho2_ptt", "pho2_eta"]}, ["missing column 'pho2_ptt'", "did you mean 'pho2_pt'"]),
    "unknown feature set": ({"data__feature_set": "everything"}, ["data.feature_set", "everything"]),
    "unknown optimizer": ({"training__optimizer": "adamw2"}, ["training.optimizer", "adamw2"]),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_train_rejects_bad_config(case, work, tmp_path, capsys):
    overrides, words = CONFIG_CASES[case]
    cfg = _config(tmp_path / "cfg.yaml", work / "good.parquet", **overrides)
    before = _outputs(tmp_path)
    assert main(["train", str(cfg), "--run-dir", str(tmp_path / "run")]) == 2
    line = _one_error_line(capsys)
    for w in words:
        assert w in line, (w, line)
    assert _outputs(tmp_path) == before


def test_config_problems_from_the_command_line(work, tmp_path, capsys):
    cfg = _config(tmp_path / "cfg.yaml", work / "good.parquet")
    assert main(["train", str(cfg), "--set", "model.latent=3", "--run-dir", str(tmp_path / "r")]) == 2
    assert "model.latent" in _one_error_line(capsys)
    assert main(["train", str(cfg), "--set", "epochs", "--run-dir", str(tmp_path / "r")]) == 2
    assert "KEY=VALUE" in _one_error_line(capsys)
    (tmp_path / "broken.yaml").write_text("data: [unclosed\n")
    assert main(["train", str(tmp_path / "broken.yaml")]) == 2
    assert "broken.yaml" in _one_error_line(capsys)
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing" in _one_error_line(capsys)
    assert main(["demo", "--set", "training.epochs=0", "--run-dir", str(tmp_path / "demo")]) == 2
    assert "training.epochs" in _one_error_line(capsys)
    assert not (tmp_path / "r").exists() and not (tmp_path / "demo").exists()
    assert main(["train", str(cfg), "--no-such-flag"]) == 2  # a usage error: the exit code, returned like every other
    assert "--no-such-flag" in _one_error_line(capsys)


def test_train_drops_nan_rows_only_when_asked_and_says_how_many(work, tmp_path, caplog):
    cfg = _config(tmp_path / "cfg.yaml", work / "nan.parquet", data__drop_nan=True)
    with caplog.at_level("WARNING", logger="hepgan"):
        assert main(["-q", "train", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-report"]) == 0
    assert any("dropped 1 rows with NaN or inf" in r.getMessage() for r in caplog.records)


def test_train_never_overwrites_an_earlier_run(work, tmp_path, capsys):
    cfg = _config(tmp_path / "cfg.yaml", work / "good.parquet")
    run = tmp_path / "run"
    assert main(["-q", "train", str(cfg), "--run-dir", str(run), "--no-report"]) == 0
    kept = (run / "model_best.safetensors").read_bytes()
    capsys.readouterr()
    assert main(["-q", "train", str(cfg), "--run-dir", str(run), "--no-report"]) == 2
    line = _one_error_line(capsys)
    assert "already holds a run" in line and "--resume" in line and "--overwrite" in line
    assert (run / "model_best.safetensors").read_bytes() == kept
    assert main(["-q", "train", str(cfg), "--run-dir", str(run), "--no-report", "--overwrite"]) == 0


# --------------------------------------------------------------------------- apply

APPLY_CASES = {
    "nan": ("nan.parquet", ["nan.parquet", "'pho2_pt'", "NaN or inf"]),
    "inf": ("inf.parquet", ["inf.parquet", "'n_vtx'"]),
    "missing condition": ("missing.parquet", ["missing.parquet", "missing column 'pho1_eta'"]),
    "wrong dtype": ("dtype.parquet", ["dtype.parquet", "'pho1_pt'", "expected a number"]),
    "no CR events": ("no_cr.parquet", ["no_cr.parquet", "no CR events"]),
    "empty file": ("empty.parquet", ["empty.parquet", "empty"]),
    "truncated parquet": ("truncated.parquet", ["truncated.parquet"]),
    "truncated root": ("truncated.root", ["truncated.root"]),
    "junk root": ("junk.root", ["junk.root"]),
    "corrupt csv": ("bad.csv", ["bad.csv"]),
    "absent file": ("absent.parquet", ["absent.parquet", "no such file"]),
}


@pytest.mark.parametrize("case", list(APPLY_CASES))
def test_apply_rejects_bad_input_and_writes_nothing(case, work, tmp_path, capsys):
    data, words = APPLY_CASES[case]
    out = tmp_path / "out.parquet"
    assert main(["apply", str(work / "model.safetensors"), str(work / data), "--out", str(out), "--chunk-size", "100"]) == 2
    line = _one_error_line(capsys)
    for w in words:
        assert w in line, (w, line)
    assert _outputs(tmp_path) == set()


def test_apply_options_and_output_problems(work, tmp_path, capsys):
    model, good = str(work / "model.safetensors"), str(work / "good.parquet")
    cases = [
        (["--k", "0"], "k"),
        (["--out", str(tmp_path / "nodir" / "x.parquet")], "does not exist"),
        (["--out", str(tmp_path / "x.txt")], "x.txt"),
        (["--device", "tpu"], "tpu"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "no CUDA GPU"))
    for argv, word in cases:
        args = ["apply", model, good, *argv] + ([] if "--out" in argv else ["--out", str(tmp_path / "o.parquet")])
        assert main(args) == 2, argv
        assert word in _one_error_line(capsys)
    assert _outputs(tmp_path) == set()


def test_apply_drops_nan_rows_when_asked(work, tmp_path, caplog):
    out = tmp_path / "out.parquet"
    with caplog.at_level("WARNING", logger="hepgan"):
        assert main(["-q", "apply", str(work / "model.safetensors"), str(work / "nan.parquet"), "--out", str(out), "--drop-nan"]) == 0
    src = read_table(work / "good.parquet")
    n_cr = int((src.region == 0).sum()) - int(src.region.iloc[3] == 0)
    assert len(read_table(out)) == n_cr
    assert any("dropped 1 rows" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- model files


def _rewrite_model(src: Path, dst: Path, **meta_changes) -> Path:
    state, meta = load_state(src)
    meta.update(meta_changes)
    return save_state(dst, state, meta)


def _tamper(src: Path, dst: Path) -> Path:
    raw = bytearray(src.read_bytes())
    raw[-5] ^= 0x01  # one bit of the last tensor
    dst.write_bytes(bytes(raw))
    return dst


def test_unsafe_or_foreign_model_files_are_refused(work, tmp_path, capsys):
    src = work / "model.safetensors"
    raw = src.read_bytes()
    from safetensors.torch import save_file

    (tmp_path / "m").mkdir()
    m = tmp_path / "m"
    save_file({"w": torch.zeros(2)}, str(m / "foreign.safetensors"))
    (m / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (m / "empty.safetensors").write_bytes(b"")
    (m / "pickle.pt").write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n(S'echo owned'\ntR." )
    cases = {
        "future.safetensors": (_rewrite_model(src, m / "future.safetensors", format_version=MODEL_FORMAT_VERSION + 1), "format version"),
        "other.safetensors": (_rewrite_model(src, m / "other.safetensors", format="hepgan.Something"), "not a hepgan ConditionalGAN"),
        "tampered.safetensors": (_tamper(src, m / "tampered.safetensors"), "checksum"),
        "foreign.safetensors": (m / "foreign.safetensors", "not a hepgan file"),
        "truncated.safetensors": (m / "truncated.safetensors", "not a readable hepgan file"),
        "empty.safetensors": (m / "empty.safetensors", "empty.safetensors"),
        "pickle.pt": (m / "pickle.pt", "not a readable hepgan file"),
        "absent.safetensors": (m / "absent.safetensors", "no such file"),
    }
    for name, (path, words) in cases.items():
        out = tmp_path / "out.parquet"
        assert main(["apply", str(path), str(work / "good.parquet"), "--out", str(out)]) == 2, name
        line = _one_error_line(capsys)
        assert name in line and words in line, (name, line)
        assert not out.exists()
    # the untouched file still loads: the checks are not refusing everything
    assert main(["-q", "apply", str(src), str(work / "good.parquet"), "--out", str(tmp_path / "ok.parquet")]) == 0


def test_model_file_holds_no_pickle_and_names_its_format(work):
    with safe_open(str(work / "model.safetensors"), framework="pt") as f:
        header = f.metadata()
    meta = json.loads(header["meta"])
    assert meta["format"] == "hepgan.ConditionalGAN" and meta["format_version"] == MODEL_FORMAT_VERSION
    assert meta["params"]["x_columns"] == ["pho2_pt", "pho2_eta", "pho2_phi", "pho2_id"]
    assert set(meta) >= {"x_preprocessing", "c_preprocessing"}  # preprocessing as JSON beside the tensors
    raw = (work / "model.safetensors").read_bytes()
    assert b"\x80\x04\x95" not in raw[:200] and not raw.startswith(b"PK")  # neither pickle nor torch zip


# --------------------------------------------------------------------------- evaluate / report


@pytest.mark.parametrize(
    "case", ["nan.parquet", "dtype.parquet", "empty.parquet", "truncated.parquet", "junk.root", "absent.parquet"]
)
def test_evaluate_rejects_bad_input_and_writes_nothing(case, work, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", str(work / "good.parquet"), str(work / case), "--out", str(out), "--bootstrap", "2"]) == 2
    assert case in _one_error_line(capsys)
    assert _outputs(tmp_path) == set()


def test_outputs_are_readable_like_any_file(work, tmp_path):
    """Temporary names come from mkstemp/mkdtemp (mode 0600/0700); the finished outputs follow the umask."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.parquet"
        assert main(["-q", "apply", str(work / "model.safetensors"), str(work / "good.parquet"), "--out", str(out)]) == 0
        ev = tmp_path / "ev"
        assert main(["-q", "evaluate", str(work / "good.parquet"), str(out), "--columns", "pho2_pt", "pho2_eta",
                     "--out", str(ev), "--bootstrap", "2"]) == 0  # fmt: skip
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    assert ev.stat().st_mode & 0o777 == 0o755 and (ev / "metrics.json").stat().st_mode & 0o777 == 0o644


def test_evaluate_and_report_arguments(work, tmp_path, capsys):
    assert main(["evaluate", str(work / "good.parquet"), str(work / "good.parquet"), "--columns", "pho2_ptt"]) == 2
    assert "missing column 'pho2_ptt'" in _one_error_line(capsys)
    assert main(["report", str(tmp_path / "absent")]) == 2
    assert "no such run folder" in _one_error_line(capsys)
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run folder" in _one_error_line(capsys)
    assert _outputs(tmp_path) == set()


# --------------------------------------------------------------------------- real processes


def _hepgan(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hepgan.cli", *args], capture_output=True, text=True, timeout=timeout, env=env, **kw
    )


def test_one_line_and_debug_traceback_in_a_real_process(work, tmp_path):
    cfg = _config(tmp_path / "cfg.yaml", work / "nan.parquet")
    r = _hepgan("train", str(cfg), "--run-dir", str(tmp_path / "run"))  # not quiet: info logging on
    assert r.returncode == 2 and r.stdout == ""
    assert len(_visible(r.stderr)) == 1 and "'pho2_pt'" in r.stderr
    r = _hepgan("--debug", "train", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert r.returncode != 0 and "Traceback" in r.stderr and "SchemaError" in r.stderr
    assert not (tmp_path / "run").exists()


def _tensors(path: Path) -> dict[str, np.ndarray]:
    with safe_open(str(path), framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def test_sigkill_mid_training_then_resume_matches_uninterrupted(work, tmp_path):
    """kill -9 during training; --resume continues from the last checkpoint to the same weights and history."""
    cfg = _config(
        tmp_path / "cfg.yaml", work / "good.parquet",
        training__epochs=200, training__batch_size=32, training__checkpoint_every=1,
    )  # fmt: skip
    ref, run = tmp_path / "ref", tmp_path / "run"
    r = _hepgan("-q", "train", str(cfg), "--run-dir", str(ref), "--no-report")
    assert r.returncode == 0, r.stderr

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hepgan.cli", "-q", "train", str(cfg), "--run-dir", str(run), "--no-report"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    ckpt = run / "checkpoint.safetensors"
    deadline = time.monotonic() + 240
    while not ckpt.exists():  # the first checkpoint is written after epoch 1
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # a few more epochs
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model_last.safetensors").exists(), "the run ended before the kill: nothing was tested"
    killed_at = load_state(ckpt)[0]["epoch"]
    assert 1 <= killed_at < 200
    # the checkpoint under its real name is complete: load_state above verified its digest

    r = _hepgan("-q", "train", "--resume", str(run), "--no-report")
    assert r.returncode == 0, r.stderr
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # a temp file the kill left is cleared
    for name in ("model_last.safetensors", "model_best.safetensors"):
        a, b = _tensors(ref / name), _tensors(run / name)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}:{k} (killed after epoch {killed_at})")
    h_ref = json.loads((ref / "history.json").read_text())
    h_run = json.loads((run / "history.json").read_text())
    for key in ("epoch", "loss_d", "loss_g", "lr", "neg2lnL_train", "neg2lnL_val", "best_epoch"):
        assert h_ref[key] == h_run[key], key
