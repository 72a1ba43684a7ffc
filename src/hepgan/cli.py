"""The ``hepgan`` command line: parse, load config, call the public API.

Every user error is a :class:`~hepgan.exceptions.HepganError`: printed as one
line ``hepgan: error: ...`` with exit code 2; ``--debug`` shows the traceback.
Each command has an ``_add_<name>`` function (its arguments) and a
``_run_<name>`` function (the call into the library).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence

from hepgan import __version__
from hepgan.exceptions import HepganError

log = logging.getLogger("hepgan")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit code 2 like every other user error.

    Every sub-command also takes the common options ``-q``, ``-v`` and ``--debug`` (after its name,
    as well as before it).
    """

    def __init__(self, *args, common: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if common:  # SUPPRESS: an option not given here keeps what the main parser set
            _add_common(self, argparse.SUPPRESS)

    def error(self, message: str):  # type: ignore[override]
        where = "" if self.prog == "hepgan" else f"{self.prog}: "
        self.exit(2, f"hepgan: error: {where}{message}\n")


def _add_common(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("-q", "--quiet", action="store_true", default=default if default is argparse.SUPPRESS else False,
                   help="no progress bars, warnings and errors only")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", default=default if default is argparse.SUPPRESS else False,
                   help="debug messages too")  # fmt: skip
    p.add_argument("--debug", action="store_true", default=default if default is argparse.SUPPRESS else False,
                   help="show the traceback of an error")  # fmt: skip


# --------------------------------------------------------------------------- what a command writes


@dataclasses.dataclass(frozen=True)
class Output:
    """What a command writes: checked by :func:`check_output` before the command runs.

    The overwrite rule: hepgan never replaces a file, and never writes into a folder holding
    files it did not write, unless ``--overwrite`` is given (and even then it deletes none of a
    user's files); it never writes over an input of the same command, with or without
    ``--overwrite`` (paths compared after resolving symlinks).

    Args:
        dest: the argparse destination of the output path.
        kind: ``"file"`` or ``"dir"``.
        inputs: destinations holding the command's input paths (a path, a list of paths or None).
        example: a valid command line, with ``{placeholders}`` for test fixtures and ``{out}`` for
            the output: the tests run every command's example against the rule.
        default: the output path when the option is not given (``args -> path``), or None: no output.
        skip: a destination whose truth skips the check (``resume``: the folder is the run's own).
    """

    dest: str
    kind: str
    inputs: tuple[str, ...] = ()
    example: tuple[str, ...] = ()
    default: Callable[[argparse.Namespace], object] | None = None
    skip: str | None = None


def add_output(p: argparse.ArgumentParser, output: Output, *flags: str, help: str, required: bool = True) -> None:
    """Adds a command's output option (``-o`` and its long name) and ``--overwrite``, and declares what it writes."""
    p.add_argument("-o", *flags, dest=output.dest, required=required, metavar="FILE" if output.kind == "file" else "DIR", help=help)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output file, or write into a folder holding other files (none of them is deleted)")  # fmt: skip
    p.set_defaults(output=output)


def no_output(p: argparse.ArgumentParser, why: str) -> None:
    """Declares that a command writes no output of its own (``why`` says what it writes, if anything)."""
    p.set_defaults(output=None, output_note=why)


def output_path(args: argparse.Namespace):
    """The output path of a parsed command line (its option, or the command's default), or None."""
    out = getattr(args, "output", None)
    if out is None:
        return None
    path = getattr(args, out.dest, None)
    if path is None and out.default is not None:
        path = out.default(args)
    return path


def check_output(args: argparse.Namespace) -> None:
    """The overwrite rule for a parsed command line (see :class:`Output`); raises a HepganError."""
    from hepgan.io import check_output_dir, check_output_file

    out = getattr(args, "output", None)
    path = output_path(args)
    if out is None or path is None or (out.skip and getattr(args, out.skip, None)):
        return
    inputs = []
    for dest in out.inputs:
        v = getattr(args, dest, None)
        inputs += v if isinstance(v, list) else [v]
    overwrite = bool(getattr(args, "overwrite", False))
    if out.kind == "file":
        check_output_file(path, fmt="", inputs=inputs, overwrite=overwrite, option=f"--{out.dest.replace('_', '-')}")
    else:
        check_output_dir(path, inputs=inputs, overwrite=overwrite, option=f"--{out.dest.replace('_', '-')}")


def add_selection(p: argparse.ArgumentParser) -> None:
    """``--alias NAME=EXPRESSION`` and ``--cut EXPRESSION`` for commands that read event tables."""
    p.add_argument("--alias", action="append", default=[], metavar="NAME=EXPRESSION",
                   help="a column computed from the file's branches, e.g. pho1_pt=Photon_pt[:,0] or n_vtx=PV_npvs (repeatable)")  # fmt: skip
    p.add_argument("--cut", metavar="EXPRESSION", help="keep only events passing this selection, e.g. 'nPhoton >= 2' (before the aliases)")


def aliases_of(args: argparse.Namespace) -> dict[str, str]:
    """The ``--alias`` items of a command line as {name: expression}, checked."""
    from hepgan.expressions import check, parse_alias

    if args.cut:
        check(args.cut)
    return dict(parse_alias(a) for a in args.alias)


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    """Every runnable command of the parser, by its words (``"sample gjets"``)."""
    out = {}
    # argparse keeps sub-commands in a _SubParsersAction; this is the one place that reads it
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {" ".join(prefix): parser}
    for name, sub in subs[0].choices.items():
        out.update(leaf_commands(sub, (*prefix, name)))
    return out


# --------------------------------------------------------------------------- sample


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="make physics samples with Pythia 8 + FastJet")
    kinds = p.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    g = kinds.add_parser("gjets", help="prompt photon + jet events with a jet photon candidate (SR/CR)")
    from hepgan.samples.cli import add_gjets_arguments

    add_gjets_arguments(g)
    add_output(g, Output("out", "file", example=("sample", "gjets", "--events", "50", "--out", "{out}")), "--out", help="output file (.parquet or .root)")
    g.set_defaults(func=_run_sample_gjets)
    t = kinds.add_parser("ttbar", help="top-pair events, hard process + decays (6 partons), for event generation")
    from hepgan.samples.ttbar import add_ttbar_arguments

    add_ttbar_arguments(t)
    add_output(t, Output("out", "file", example=("sample", "ttbar", "--events", "50", "--out", "{out}")), "--out", help="output file (.parquet or .root)")
    t.set_defaults(func=_run_sample_ttbar)
    d = kinds.add_parser("drellyan", help="pp -> gamma*/Z -> e+ e-, hard process (full, photon-only or Z-only), for event subtraction")
    from hepgan.samples.drellyan import add_drellyan_arguments

    add_drellyan_arguments(d)
    add_output(d, Output("out", "file", example=("sample", "drellyan", "--events", "50", "--out", "{out}")), "--out", help="output file (.parquet or .root)")
    d.set_defaults(func=_run_sample_drellyan)
    z = kinds.add_parser("zgamma", help="Z gamma -> l+ l- gamma (or a scalar -> Z gamma signal) with a detector, for the look-elsewhere study")
    from hepgan.samples.zgamma import add_zgamma_arguments

    add_zgamma_arguments(z)
    add_output(z, Output("out", "file", example=("sample", "zgamma", "--events", "50", "--out", "{out}")), "--out", help="output file (.parquet or .root)")
    z.set_defaults(func=_run_sample_zgamma)
    w = kinds.add_parser("zw", help="pp -> ZW -> (l l)(j j) (or via a W'), parton and detector level matched per event, for unfolding")
    from hepgan.samples.zw import add_zw_arguments

    add_zw_arguments(w)
    add_output(w, Output("out", "file", example=("sample", "zw", "--events", "50", "--out", "{out}")), "--out", help="output file (.parquet or .root)")
    w.set_defaults(func=_run_sample_zw)


def _run_sample_gjets(args: argparse.Namespace) -> int:
    from hepgan.samples.cli import run_gjets

    return run_gjets(args)


def _run_sample_ttbar(args: argparse.Namespace) -> int:
    from hepgan.samples.ttbar import run_ttbar

    return run_ttbar(args)


def _run_sample_drellyan(args: argparse.Namespace) -> int:
    from hepgan.samples.drellyan import run_drellyan

    return run_drellyan(args)


def _run_sample_zgamma(args: argparse.Namespace) -> int:
    from hepgan.samples.zgamma import run_zgamma

    return run_zgamma(args)


def _run_sample_zw(args: argparse.Namespace) -> int:
    from hepgan.samples.zw import run_zw

    return run_zw(args)


def add_model_output_arguments(p: argparse.ArgumentParser, run: str, events: str, output: Output, out_help: str, formats: Sequence[str]) -> None:
    """The arguments of a command that writes events from a trained model: MODEL, --events, -o/--out, --format, --seed, --device.

    Args:
        p: the command's parser.
        run: the kind of run whose model_best.safetensors it reads (e.g. "generation").
        events: what --events counts (e.g. "number of events").
        output: what the command writes (the overwrite rule, :class:`Output`).
        out_help: the help of --out (the formats it writes).
        formats: the --format choices.
    """
    p.add_argument("model", help=f"model file (model_best.safetensors of a {run} run)")
    p.add_argument("--events", type=int, required=True, help=events)
    add_output(p, output, "--out", help=out_help)
    p.add_argument("--format", choices=list(formats), help="output format (default: from the suffix of --out)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")


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
    out = Output("run_dir", "dir", inputs=("config",), default=_default_run_dir, skip="resume", example=("train", "{config}", "--run-dir", "{out}"))
    add_output(p, out, "--run-dir", help="output folder (default runs/<config name>); an existing run there is replaced only with --overwrite", required=False)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. training.epochs=50")
    p.add_argument("--no-report", action="store_true", help="skip report.html (make it later with hepgan report RUN_DIR)")
    p.set_defaults(func=_run_train)


def _default_run_dir(args: argparse.Namespace):
    from pathlib import Path

    return Path("runs") / Path(args.config).stem if getattr(args, "config", None) else None


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
        run_dir = Path(output_path(args))
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
    add_selection(p)
    add_output(p, Output("out", "dir", inputs=("reference", "test"), example=("evaluate", "{events}", "{events_b}", "--out", "{out}")),
               "--out", help="write metrics.json and figures into this folder (beside other files, replacing none of them)", required=False)  # fmt: skip
    p.add_argument("--bootstrap", type=int, default=20, help="bootstrap replicas of the distance correlation")
    p.add_argument("--max-events", type=int, default=100_000, help="subsample size of the distance correlation")
    p.add_argument("--threads", type=int, default=1, help="classifier OpenMP threads (default: 1; 0: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of every subsample, split and bootstrap (default 0)")
    p.add_argument("--fail-on-incompatible", action="store_true",
                   help="exit with code 1 when a metric finds the samples incompatible (for batch jobs and CI)")  # fmt: skip
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from hepgan.exceptions import InputFileError, SchemaError
    from hepgan.io import check_table_columns, read_table, table_columns
    from hepgan.report import evaluate_samples, evaluation_figures, metrics_table

    aliases = aliases_of(args)
    names = {path: table_columns(path, aliases, numbers_only=False) for path in (args.reference, args.test)}
    ref_names, test_names = names[args.reference], names[args.test]
    if args.weight is None and "weight" in ref_names and "weight" in test_names:
        args.weight = "weight"
    # the region label is constant within a region: not an observable to compare
    cols = args.columns or [c for c in ref_names if c in test_names and c not in (args.weight, "region")]
    if not cols:
        raise InputFileError(f"{args.reference} and {args.test} have no column in common")
    tables = {}
    for path in (args.reference, args.test):
        wanted = cols + ([args.weight] if args.weight and args.weight in names[path] else [])
        check_table_columns(path, wanted, aliases, args.cut)  # one clear line naming a missing or unusable column
        df = tables[path] = read_table(path, columns=wanted, drop_nan=args.drop_nan, aliases=aliases, cut=args.cut)
        if args.weight and args.weight in df.columns and not df[args.weight].sum() > 0:
            raise SchemaError(
                f"{path}: the weights in column '{args.weight}' sum to {df[args.weight].sum():g}; negative weights are "
                "allowed, but the total weight must be positive"
            )
    ref, test = tables[args.reference], tables[args.test]
    result = evaluate_samples(
        ref, test, cols, args.x_columns or cols, args.weight,
        n_bootstrap=args.bootstrap, dcor_max_events=args.max_events, seed=args.seed, n_threads=args.threads or None,
    )
    print(metrics_table(result))
    failed = [v for v in result["verdicts"] if "NOT compatible" in v]
    if args.out:
        from hepgan.io import atomic_dir
        from hepgan.report import jsonable

        out = Path(args.out)
        with atomic_dir(out) as tmp:  # the files appear when all are complete
            figs = evaluation_figures(ref, test, result, tmp, weight=args.weight, labels=("reference", "test"))
            result["figures"] = [p.name for p in figs]
            (tmp / "metrics.json").write_text(json.dumps(jsonable(result), indent=1))
        log.info("wrote %s and %d figures", out / "metrics.json", len(figs))
    if failed and args.fail_on_incompatible:
        log.warning("evaluate: %d of %d metrics find the samples incompatible", len(failed), len(result["verdicts"]))
        return 1
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="HTML report and metrics.json of a run folder")
    p.add_argument("run_dir", help="the run folder (config.yaml, history.json, evaluation/roles.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the report's subsamples and bootstraps (default 0)")
    p.add_argument("--baseline", metavar="RUN_DIR", help="another run to compare with (generation runs: its generated events are overlaid)")
    no_output(p, "writes hepgan's own report files (report.html, metrics.json, figures/) into a run folder hepgan made")
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
    parser = _Parser(prog="hepgan", description="Generative adversarial networks for high-energy physics.", common=False)
    parser.add_argument("--version", action="version", version=f"hepgan {__version__}", help="print the version and exit")
    _add_common(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for add in _COMMANDS + _method_commands():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # a bare hepgan: what it can do
        print(parser.format_help(), end="")
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # a usage error (one line, already printed), --help or --version
        return int(exit_.code or 0)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO,
        format="hepgan: %(message)s",
        stream=sys.stderr,
    )
    if args.verbose:
        logging.getLogger("hepgan").setLevel(logging.DEBUG)
    try:
        check_output(args)
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
