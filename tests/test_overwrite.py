"""No command destroys a user's data: the overwrite rule for every command that writes, run folder
locks, conditions outside the training range, and the last tracebacks on user input.

The matrix walks the command line's own list of commands (hepgan.cli.leaf_commands): every
command declares what it writes (hepgan.cli.Output, with an example command line) or that it
writes no output of its own, so a new command joins the matrix without an edit here.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hepgan.cli import build_parser, leaf_commands, main
from hepgan.io import read_metadata, read_table, run_dir_lock, write_table
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
from hepgan.samples.toys import gjets_toy


def _digest(path: Path) -> str:
    if path.is_dir():
        return ",".join(f"{p.relative_to(path)}:{_digest(p)}" for p in sorted(path.rglob("*")) if p.is_file())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lines(err: str) -> list[str]:
    return [ln.split("\r")[-1] for ln in err.split("\n") if ln.split("\r")[-1].strip()]


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, Path]:
    """Inputs every command's example can use: event tables, models of both methods, configs."""
    d = tmp_path_factory.mktemp("fixtures")
    toy = gjets_toy(600, seed=3)
    write_table(toy, d / "events.parquet", metadata={"id_threshold": 0.0})
    write_table(gjets_toy(400, seed=4), d / "events_b.parquet", metadata={"id_threshold": 0.0})
    sr = toy[toy.region == 1]
    small = dict(g_hidden=(8,), d_hidden=(8,), latent_dim=2, epochs=1, batch_size=32, progress=False)
    ConditionalGAN(**small, n_quantiles=20).fit(sr[X_OBJECT], sr[FEATURE_SETS["full"]]).save(d / "background.safetensors")
    from hepgan.methods.generation import EventGAN

    p3 = np.random.default_rng(1).normal(0.0, 40.0, (64, 6, 3))
    EventGAN(**{**small, "mmd_lambda": 0.0}).fit(p3).save(d / "generation.safetensors")
    from hepgan.methods.subtraction import SubtractionGAN

    rng = np.random.default_rng(2)
    toy_inputs = {"B": rng.uniform(1.0, 2.0, (64, 1)), "S": rng.uniform(1.0, 2.0, (32, 1))}
    SubtractionGAN(**{**small, "latent_dim": 2}).fit(toy_inputs, {"B": 2.0, "S": 1.0}).save(d / "subtraction.safetensors")
    from hepgan.methods.scaling import TableWGAN

    table = pd.DataFrame({"m_llg": 130.0 + 40.0 * rng.random(200), "pt_ll": rng.exponential(30.0, 200)})
    TableWGAN(["m_llg", "pt_ll"], g_hidden=[8], d_hidden=[8], epochs=1, progress=False).fit(table).save(d / "scaling.safetensors")
    write_table(table.assign(m_llg=rng.normal(150.0, 1.5, 200)), d / "signal.parquet")
    (d / "lee.yaml").write_text(yaml.safe_dump({"generator": str(d / "scaling.safetensors"), "signal": str(d / "signal.parquet"),
                                                "features": ["pt_ll"], "data_events": 200, "pseudo_experiments": 1,
                                                "classifier": {"hidden": [4], "epochs": 1}}))  # fmt: skip
    from hepgan.kinematics import event_table
    from hepgan.methods.unfolding import UnfoldingGAN
    from hepgan.samples.zw import DET_OBJECTS, PART_OBJECTS

    p3 = rng.normal(0.0, 40.0, (64, 8, 3))
    p4 = np.concatenate([p3, np.linalg.norm(p3, axis=-1, keepdims=True)], axis=-1)
    zw = pd.concat([event_table(p4[:, :4], DET_OBJECTS).drop(columns="weight"), event_table(p4[:, 4:], PART_OBJECTS)], axis=1)
    UnfoldingGAN(**small).fit(zw).save(d / "unfolding.safetensors")
    write_table(zw, d / "zw.parquet")
    cfg = {
        "method": "background",
        "data": {"train": str(d / "events.parquet"), "validation_fraction": 0.25, "test_fraction": 0.25},
        "model": {"g_hidden": [8], "d_hidden": [8], "latent_dim": 2, "n_quantiles": 20},
        "training": {"optimizer": "adam", "epochs": 1, "batch_size": 32},
        "metric": {"k_epoch": 1, "k_final": 1, "events": 50},
    }
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "scan.yaml").write_text(yaml.safe_dump({**cfg, "scan": {"training.lr": [1e-3, 2e-3]}}))
    (d / "search.yaml").write_text(yaml.safe_dump({**cfg, "search": {"training.lr": {"low": 1e-3, "high": 2e-3}}}))
    return {
        "events": d / "events.parquet", "events_b": d / "events_b.parquet",
        "background_model": d / "background.safetensors", "generation_model": d / "generation.safetensors",
        "subtraction_model": d / "subtraction.safetensors", "lee_config": d / "lee.yaml",
        "unfolding_model": d / "unfolding.safetensors", "unfolding_events": d / "zw.parquet",
        "config": d / "config.yaml", "scan_config": d / "scan.yaml", "search_config": d / "search.yaml",
    }  # fmt: skip


def _argv(example, fx, out) -> list[str]:
    return [a.format(out=out, **{k: str(v) for k, v in fx.items()}) for a in example]


COMMANDS = leaf_commands(build_parser())


def test_every_command_declares_what_it_writes():
    for name, p in COMMANDS.items():
        out = p.get_default("output")
        assert out is not None or p.get_default("output_note"), f"hepgan {name}: declare its output (hepgan.cli.add_output or no_output)"
        if out is not None:
            assert out.example and out.kind in ("file", "dir"), name


WRITERS = {name: p.get_default("output") for name, p in COMMANDS.items() if p.get_default("output") is not None}


def _refused(argv, capsys, watched: list[Path], what: str) -> str:
    before = {p: _digest(p) for p in watched}
    rc = main(["-q", *argv])
    err = capsys.readouterr().err
    lines = _lines(err)
    assert rc == 2, f"{shlex.join(argv)} ({what}): exit {rc}, stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith("hepgan: error: "), f"{shlex.join(argv)} ({what}): {lines}"
    for p, h in before.items():
        assert p.exists() and _digest(p) == h, f"{shlex.join(argv)} ({what}): {p} changed"
    return lines[0]


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_the_overwrite_rule_for_every_command(name, fx, tmp_path, capsys):
    out = WRITERS[name]
    inputs = list(fx.values())
    # 1. an existing output: a user's file, or a folder with a user's file in it
    if out.kind == "file":
        target = tmp_path / "existing.parquet"
        target.write_bytes(b"a user's file")
    else:
        target = tmp_path / "existing"
        target.mkdir()
        (target / "notes.txt").write_text("a user's notes")
    line = _refused(_argv(out.example, fx, target), capsys, [target, *inputs], "existing output")
    assert str(target) in line and "--overwrite" in line
    # 2. the output is one of its inputs (or holds one), even with --overwrite
    args = build_parser().parse_args(_argv(out.example, fx, tmp_path / "x"))
    own_inputs = [Path(v) for dest in out.inputs for v in ([getattr(args, dest)] if not isinstance(getattr(args, dest), list) else getattr(args, dest)) if v]
    for inp in own_inputs:
        target = inp if out.kind == "file" else inp.parent
        argv = [*_argv(out.example, fx, target), "--overwrite"]
        line = _refused(argv, capsys, inputs, "output = input")
        assert "input" in line
        link = tmp_path / f"link_to_{inp.name}"  # through a symlink
        link.symlink_to(target)
        _refused([*_argv(out.example, fx, link), "--overwrite"], capsys, inputs, "output = input via a symlink")
    # 3. a file where a folder is expected, or a folder where a file is expected
    wrong = tmp_path / "a_folder"
    wrong.mkdir()
    (wrong / "keep.txt").write_text("keep")
    if out.kind == "dir":
        wrong = wrong / "keep.txt"
    _refused([*_argv(out.example, fx, wrong), "--overwrite"], capsys, [wrong, *inputs], "file vs folder")
    # 4. an unwritable place: below a file
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    _refused(_argv(out.example, fx, blocker / "sub" / "out.parquet"), capsys, [blocker, *inputs], "unwritable place")
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(fx, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        line = _refused(["apply", str(fx["background_model"]), str(fx["events"]), "--out", str(ro / "o.parquet")], capsys, [ro], "read-only")
        assert "not writable" in line
    finally:
        ro.chmod(0o700)


# --------------------------------------------------------------------------- what --overwrite does


def test_evaluate_writes_beside_a_users_files_with_overwrite(fx, tmp_path, capsys):
    out = tmp_path / "mydir"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    argv = ["-q", "evaluate", str(fx["events"]), str(fx["events_b"]), "--out", str(out), "--bootstrap", "2", "--max-events", "300"]
    assert main(argv) == 2  # refused without --overwrite
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "metrics.json").is_file() and (out / ".hepgan").is_file()
    assert main(argv) == 0  # now hepgan's own folder: its files are replaced, the user's kept
    assert (out / "notes.txt").read_text() == "mine"
    capsys.readouterr()


def test_sample_and_apply_replace_a_file_only_with_overwrite(fx, tmp_path, capsys):
    out = tmp_path / "cr_gan.parquet"
    argv = ["-q", "apply", str(fx["background_model"]), str(fx["events"]), "--out", str(out)]
    assert main(argv) == 0
    first = _digest(out)
    assert main([*argv, "--seed", "9"]) == 2 and _digest(out) == first
    assert main([*argv, "--seed", "9", "--overwrite"]) == 0 and _digest(out) != first
    capsys.readouterr()


def test_train_refuses_a_run_folder_in_use_and_takes_over_a_released_lock(fx, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "train", str(fx["config"]), "--run-dir", str(run), "--no-report"]) == 0
    with run_dir_lock(run):  # another process holds the folder (flock: a second open file is another holder)
        assert main(["-q", "train", "--resume", str(run), "--no-report"]) == 2
        assert "in use by hepgan process" in capsys.readouterr().err
        assert main(["-q", "train", str(fx["config"]), "--run-dir", str(run), "--overwrite", "--no-report"]) == 2
    assert main(["-q", "train", "--resume", str(run), "--no-report"]) == 0  # the lock is free again
    capsys.readouterr()


def test_demo_refuses_a_users_folder(tmp_path, capsys):
    mine = tmp_path / "demo"
    mine.mkdir()
    (mine / "thesis.tex").write_text("chapter 1")
    assert main(["-q", "demo", "--run-dir", str(mine), "--set", "training.epochs=1"]) == 2
    assert (mine / "thesis.tex").read_text() == "chapter 1" and "hepgan did not write" in capsys.readouterr().err


# --------------------------------------------------------------------------- inputs outside the model's domain


def test_apply_marks_conditions_outside_the_training_range(fx, tmp_path, capsys, caplog):
    cr = read_table(fx["events"])
    cr = cr[cr.region == 0].reset_index(drop=True)
    cr.loc[: len(cr) // 2, "pho1_pt"] = 1e30
    src = tmp_path / "far.parquet"
    write_table(cr, src, metadata=read_metadata(fx["events"]))
    out = tmp_path / "o.parquet"
    assert main(["apply", str(fx["background_model"]), str(src), "--out", str(out)]) == 0
    got = read_table(out)
    flags = ConditionalGAN.load(fx["background_model"]).outside_training_range(cr[FEATURE_SETS["full"]])
    n_out = int(flags.to_numpy().any(axis=1).sum())  # the 1e30 rows, and CR events beyond the SR's range anyway
    assert got["outside_training_range"].tolist() == flags.to_numpy().any(axis=1).astype(int).tolist()
    assert got["outside_training_range"].iloc[: len(cr) // 2 + 1].all()
    n_pt = int(flags["pho1_pt"].sum())
    assert n_pt >= len(cr) // 2 + 1
    assert f"{n_out} of {len(cr)} events have conditions outside the range seen in training (pho1_pt: {n_pt}" in caplog.text
    out2 = tmp_path / "strict.parquet"
    assert main(["-q", "apply", str(fx["background_model"]), str(src), "--out", str(out2), "--strict"]) == 2
    assert not out2.exists() and "outside the range seen in training" in capsys.readouterr().err


def test_outside_training_range_by_column_and_for_discrete_columns(fx):
    m = ConditionalGAN.load(fx["background_model"])
    c = read_table(fx["events"])[m.c_columns].iloc[:4].copy()
    assert not m.outside_training_range(c).to_numpy().any()  # training-like events
    c.loc[0, "n_vtx"] = 1000
    c.loc[1, "pho1_eta"] = -50.0
    flags = m.outside_training_range(c)
    assert flags.loc[0, "n_vtx"] and flags.loc[1, "pho1_eta"] and flags.to_numpy().sum() == 2


def test_apply_asks_for_the_id_threshold_when_the_region_cannot_be_decided(fx, tmp_path, capsys):
    src = tmp_path / "nometa.parquet"
    read_table(fx["events"]).to_parquet(src)  # pandas: no hepgan metadata, no threshold
    out = tmp_path / "o.parquet"
    assert main(["-q", "apply", str(fx["background_model"]), str(src), "--out", str(out)]) == 2
    assert "--id-threshold" in capsys.readouterr().err and not out.exists()
    assert main(["-q", "apply", str(fx["background_model"]), str(src), "--out", str(out), "--id-threshold", "0.5"]) == 0


def test_a_failing_apply_leaves_no_progress_bar(fx, tmp_path, capsys):
    bad = read_table(fx["events"]).drop(columns=["n_vtx"])
    write_table(bad, tmp_path / "bad.parquet")
    assert main(["apply", str(fx["background_model"]), str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "o.parquet")]) == 2
    err = capsys.readouterr().err
    assert "apply:" not in err and len(_lines(err)) == 1


# --------------------------------------------------------------------------- one line, not a traceback


def test_evaluate_with_a_non_positive_total_weight_is_one_line(fx, tmp_path, capsys):
    t = read_table(fx["events_b"])
    t["weight"] = -t["weight"]
    write_table(t, tmp_path / "neg.parquet")
    line = _refused(["evaluate", str(fx["events"]), str(tmp_path / "neg.parquet")], capsys, [tmp_path / "neg.parquet"], "total weight")
    assert "neg.parquet" in line and "total weight must be positive" in line


def test_metrics_raise_an_error_that_is_both_hepgan_s_and_a_value_error():
    from hepgan.exceptions import HepganError
    from hepgan.metrics import wasserstein_1d

    with pytest.raises(ValueError, match="total weight") as info:
        wasserstein_1d(np.arange(3.0), np.arange(3.0), -np.ones(3), None)
    assert isinstance(info.value, HepganError)
