"""The ``hepgan`` command line: parse, load config, call the public API.

Every user error is a :class:`~hepgan.exceptions.HepganError`: printed as one
line ``hepgan: error: ...`` with exit code 2; ``--debug`` shows the traceback.
Each command has an ``_add_<name>`` function (its arguments) and a
``_run_<name>`` function (the call into the library).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from hepgan import __version__
from hepgan.exceptions import HepganError

log = logging.getLogger("hepgan")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit code 2 like every other user error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"hepgan: error: {self.prog}: {message}\n")


# --------------------------------------------------------------------------- sample


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="make physics samples with Pythia 8 + FastJet")
    kinds = p.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    g = kinds.add_parser("gjets", help="prompt photon + jet events with a jet photon candidate (SR/CR)")
    from hepgan.samples.cli import add_gjets_arguments

    add_gjets_arguments(g)
    g.set_defaults(func=_run_sample_gjets)
    t = kinds.add_parser("ttbar", help="top-pair events, hard process + decays (6 partons), for event generation")
    from hepgan.samples.ttbar import add_ttbar_arguments

    add_ttbar_arguments(t)
    t.set_defaults(func=_run_sample_ttbar)
    d = kinds.add_parser("drellyan", help="pp -> gamma*/Z -> e+ e-, hard process (full, photon-only or Z-only), for event subtraction")
    from hepgan.samples.drellyan import add_drellyan_arguments

    add_drellyan_arguments(d)
    d.set_defaults(func=_run_sample_drellyan)


def _run_sample_gjets(args: argparse.Namespace) -> int:
    from hepgan.samples.cli import run_gjets

    return run_gjets(args)


def _run_sample_ttbar(args: argparse.Namespace) -> int:
    from hepgan.samples.ttbar import run_ttbar

    return run_ttbar(args)


def _run_sample_drellyan(args: argparse.Namespace) -> int:
    from hepgan.samples.drellyan import run_drellyan

    return run_drellyan(args)


def add_model_output_arguments(p: argparse.ArgumentParser, run: str, events: str, out: str, formats: Sequence[str]) -> None:
    """The arguments of a command that writes events from a trained model: MODEL, --events, --out, --format, --seed, --device.

    Args:
        p: the command's parser.
        run: the kind of run whose model_best.safetensors it reads (e.g. "generation").
        events: what --events counts (e.g. "number of events").
        out: the help of --out (the formats it writes).
        formats: the --format choices.
    """
    p.add_argument("model", help=f"model file (model_best.safetensors of a {run} run)")
    p.add_argument("--events", type=int, required=True, help=events)
    p.add_argument("--out", required=True, help=out)
    p.add_argument("--format", choices=list(formats), help="output format (default: from the suffix of --out)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default 0)")
    p.add_argument("--device", default="cpu")


# --------------------------------------------------------------------------- train


def parse_overrides(items: Sequence[str]) -> dict:
    """``--set KEY=VALUE`` items as {dotted key: YAML value}."""
    import yaml

    from hepgan.config import yaml_load
    from hepgan.exceptions import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. training.epochs=50")
        key, value = item.split("=", 1)
        try:
            out[key] = yaml_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: the value is not valid YAML") from None
    return out


def print_run_result(run_dir) -> None:
    """Prints a finished run folder's summary.txt and where its report is."""
    from pathlib import Path

    run_dir = Path(run_dir)
    print((run_dir / "summary.txt").read_text(), end="")
    if (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")


def _add_train(sub) -> None:
    from hepgan.methods import method_names

    p = sub.add_parser("train", help="train the model of a run config (any method), evaluate it and write a run folder")
    p.add_argument("config", nargs="?", help=f"YAML run config whose 'method' is one of {', '.join(method_names())} (see configs/)")
    p.add_argument("--run-dir", help="output folder (default runs/<config name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. training.epochs=50")
    p.add_argument("--overwrite", action="store_true", help="train into a run folder that already holds a run (it is replaced)")
    p.add_argument("--no-report", action="store_true", help="skip report.html (make it later with hepgan report RUN_DIR)")
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.exceptions import ConfigError
    from hepgan.runs import load_config

    if args.resume:
        run_dir = Path(args.resume)
        cfg = load_config(run_dir / "config.yaml", parse_overrides(args.set))
    else:
        if not args.config:
            raise ConfigError("hepgan train: give a CONFIG file, or --resume RUN_DIR")
        cfg = load_config(args.config, parse_overrides(args.set))
        run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    return train_and_print(cfg, run_dir, resume=bool(args.resume), progress=not args.quiet, overwrite=args.overwrite, report=not args.no_report)


def train_and_print(cfg, run_dir, **options) -> int:
    """Runs ``hepgan train`` for a loaded config (any method) and prints the summary; returns 0."""
    from hepgan.runs import run_method

    run_method(cfg).train_function()(cfg, run_dir, **options)
    print_run_result(run_dir)
    return 0


# --------------------------------------------------------------------------- evaluate / report


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="compare two event tables: W1, KS, classifier AUC, distance correlation, MMD")
    p.add_argument("reference", help="reference event table (e.g. MC SR): .parquet, .root[:tree] or .csv")
    p.add_argument("test", help="event table under test (e.g. GANed CR)")
    p.add_argument("--columns", nargs="+", metavar="COL", help="observables (default: the common columns)")
    p.add_argument("--x-columns", nargs="+", metavar="COL", help="generated columns for -2lnLambda (default: --columns)")
    p.add_argument("--weight", metavar="COL", help="weight column (default: 'weight' if the tables have it; absent from a table: unit weights)")
    p.add_argument("--drop-nan", action="store_true", help="drop rows with NaN/inf values (their number is logged)")
    p.add_argument("--out", metavar="DIR", help="write metrics.json and figures here")
    p.add_argument("--bootstrap", type=int, default=20, help="bootstrap replicas of the distance correlation")
    p.add_argument("--max-events", type=int, default=100_000, help="subsample size of the distance correlation")
    p.add_argument("--threads", type=int, default=1, help="classifier OpenMP threads (default: 1; 0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from hepgan.exceptions import InputFileError
    from hepgan.io import check_columns, read_table
    from hepgan.report import evaluate_samples, evaluation_figures, metrics_table

    ref, test = read_table(args.reference, drop_nan=args.drop_nan), read_table(args.test, drop_nan=args.drop_nan)
    if args.weight is None and "weight" in ref.columns and "weight" in test.columns:
        args.weight = "weight"
    # the region label is constant within a region: not an observable to compare
    cols = args.columns or [c for c in ref.columns if c in test.columns and c not in (args.weight, "region")]
    if not cols:
        raise InputFileError(f"{args.reference} and {args.test} have no column in common")
    for name, df in ((args.reference, ref), (args.test, test)):
        check_columns(list(df.columns), cols, str(name))  # one clear line naming the missing column
    result = evaluate_samples(
        ref, test, cols, args.x_columns or cols, args.weight,
        n_bootstrap=args.bootstrap, dcor_max_events=args.max_events, seed=args.seed, n_threads=args.threads or None,
    )
    print(metrics_table(result))
    if args.out:
        from hepgan.io import atomic_dir
        from hepgan.report import jsonable

        out = Path(args.out)
        with atomic_dir(out) as tmp:  # the folder appears complete or not at all
            figs = evaluation_figures(ref, test, result, tmp, weight=args.weight, labels=("reference", "test"))
            result["figures"] = [p.name for p in figs]
            (tmp / "metrics.json").write_text(json.dumps(jsonable(result), indent=1))
        log.info("wrote %s and %d figures", out / "metrics.json", len(figs))
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="HTML report and metrics.json of a run folder")
    p.add_argument("run_dir", help="the run folder (config.yaml, history.json, evaluation/roles.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", metavar="RUN_DIR", help="another run to compare with (generation runs: its generated events are overlaid)")
    p.set_defaults(func=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.exceptions import InputFileError
    from hepgan.runs import load_config, run_method

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise InputFileError(f"{run_dir}: no such run folder")
    if not (run_dir / "config.yaml").is_file():
        raise InputFileError(f"{run_dir}: not a run folder (no config.yaml)")
    method = run_method(load_config(run_dir / "config.yaml"))
    out = method.report_function()(run_dir, seed=args.seed, baseline=args.baseline)
    if (run_dir / "summary.txt").is_file():
        print((run_dir / "summary.txt").read_text(), end="")
    log.info("wrote %s", out)
    return 0


# --------------------------------------------------------------------------- main


_COMMANDS: list[Callable] = [_add_sample, _add_train, _add_evaluate, _add_report]


def _method_commands() -> list[Callable]:
    from hepgan.methods import get_method, method_names

    return [add for name in method_names() for add in get_method(name).command_adders()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hepgan", description="Generative adversarial networks for high-energy physics.")
    parser.add_argument("--version", action="version", version=f"hepgan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _COMMANDS + _method_commands():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="hepgan: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except HepganError as err:
        if args.debug:
            raise
        # one line, whatever a library put into the message (uproot's errors span several)
        print("hepgan: error: " + " ".join(str(err).split()), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("hepgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
