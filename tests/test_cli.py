"""Command-line conventions: usage on a bare hepgan, help text on every option of every command,
-o for outputs, -q/-v after the sub-command, one 'hepgan:' prefix, evaluate's exit code for batch jobs."""

from __future__ import annotations

import argparse

import pytest

from hepgan.cli import build_parser, leaf_commands, main
from hepgan.io import write_table
from hepgan.samples.toys import gjets_toy

COMMANDS = leaf_commands(build_parser())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_every_command_has_help_text(name):
    p = COMMANDS[name]
    for action in p._actions:  # argparse keeps them here; what --help prints
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help is not argparse.SUPPRESS and len(action.help) > 8, f"hepgan {name}: {label} has no help text"
        if action.option_strings and isinstance(action, argparse._StoreAction) and action.dest in ("format", "optimizer", "device_kind"):
            assert action.choices, f"hepgan {name}: {label} lists no choices"
    out = p.get_default("output")
    if out is not None:
        assert any("-o" in a.option_strings for a in p._actions), f"hepgan {name}: its output option has no -o"


def test_a_bare_hepgan_prints_its_usage(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: hepgan") and "apply" in out and "train" in out


def test_one_prefix_on_usage_errors(capsys):
    assert main(["apply"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hepgan: error: hepgan apply: ") and err.count("hepgan: error") == 1
    assert main(["nope"]) == 2
    assert not capsys.readouterr().err.startswith("hepgan: error: hepgan: ")
    assert main(["--version"]) == 0 and "hepgan 0." in capsys.readouterr().out


def _toys(tmp_path, shift=0.0):
    a, b = gjets_toy(400, seed=1), gjets_toy(400, seed=2)
    b["pho2_pt"] = b["pho2_pt"] + shift
    write_table(a, tmp_path / "a.parquet")
    write_table(b, tmp_path / "b.parquet")
    return tmp_path / "a.parquet", tmp_path / "b.parquet"


def test_common_options_after_the_command_and_o_for_the_output(tmp_path, capsys):
    a, b = _toys(tmp_path)
    args = build_parser().parse_args(["evaluate", str(a), str(b), "-q", "-o", str(tmp_path / "ev")])
    assert args.quiet and not args.verbose and args.out == str(tmp_path / "ev")
    args = build_parser().parse_args(["-q", "evaluate", str(a), str(b)])
    assert args.quiet  # before the command too, not undone by the command's own option
    args = build_parser().parse_args(["evaluate", str(a), str(b), "-v"])
    assert args.verbose and not args.quiet


def test_evaluate_fails_a_batch_job_on_an_incompatible_verdict(tmp_path, capsys):
    a, b = _toys(tmp_path, shift=40.0)
    common = ["--columns", "pho2_pt", "pho2_eta", "--bootstrap", "2", "--threads", "1"]
    assert main(["-q", "evaluate", str(a), str(b), *common]) == 0  # a report, not a verdict, by default
    assert main(["-q", "evaluate", str(a), str(b), *common, "--fail-on-incompatible"]) == 1
    capsys.readouterr()
