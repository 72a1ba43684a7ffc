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


def _run_sample_gjets(args: argparse.Namespace) -> int:
    from hepgan.samples.cli import run_gjets

    return run_gjets(args)


def _run_sample_ttbar(args: argparse.Namespace) -> int:
    from hepgan.samples.ttbar import run_ttbar

    return run_ttbar(args)


# --------------------------------------------------------------------------- train / apply / demo


def _parse_overrides(items: Sequence[str]) -> dict:
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


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the conditional GAN of a run config, evaluate it and write a run folder")
    p.add_argument("config", nargs="?", help="YAML run config (see configs/demo.yaml)")
    p.add_argument("--run-dir", help="output folder (default runs/<config name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. training.epochs=50")
    p.add_argument("--overwrite", action="store_true", help="train into a run folder that already holds a run (it is replaced)")
    p.add_argument("--no-report", action="store_true", help="skip report.html (make it later with hepgan report RUN_DIR)")
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.exceptions import ConfigError
    from hepgan.methods.background_run import load_config, train_run
    from hepgan.methods.generation_run import is_generation_config

    config_path = Path(args.resume) / "config.yaml" if args.resume else args.config
    if config_path and is_generation_config(config_path):  # method: generation (event GAN)
        return _run_train_generation(args)
    if args.resume:
        run_dir = Path(args.resume)
        cfg = load_config(run_dir / "config.yaml", _parse_overrides(args.set))
    else:
        if not args.config:
            raise ConfigError("hepgan train: give a CONFIG file, or --resume RUN_DIR")
        cfg = load_config(args.config, _parse_overrides(args.set))
        run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    summary = train_run(cfg, run_dir, resume=bool(args.resume), progress=not args.quiet, overwrite=args.overwrite, report=not args.no_report)
    print((run_dir / "summary.txt").read_text(), end="")
    if (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")
    return 0 if summary else 1


def _run_train_generation(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.methods.generation_run import load_config, train_run

    if args.resume:
        run_dir = Path(args.resume)
        cfg = load_config(run_dir / "config.yaml", _parse_overrides(args.set))
    else:
        cfg = load_config(args.config, _parse_overrides(args.set))
        run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    train_run(cfg, run_dir, resume=bool(args.resume), progress=not args.quiet, overwrite=args.overwrite, report=not args.no_report)
    print((run_dir / "summary.txt").read_text(), end="")
    if (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")
    return 0


def _add_generate(sub) -> None:
    p = sub.add_parser("generate", help="generate events with a trained event GAN (Parquet, ROOT or LHE)")
    p.add_argument("model", help="model file (model_best.safetensors of a generation run)")
    p.add_argument("--events", type=int, required=True, help="number of events")
    p.add_argument("--out", required=True, help="output file: .parquet, .root or .lhe (Les Houches Event file)")
    p.add_argument("--format", choices=["parquet", "root", "lhe"], help="output format (default: from the suffix of --out)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default 0)")
    p.add_argument("--batch-size", type=int, default=100_000, help="events generated and written at a time")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from hepgan.methods.generation_run import generate_file

    s = generate_file(args.model, args.events, args.out, seed=args.seed, fmt=args.format, batch_size=args.batch_size, device=args.device)
    print(f"wrote {s['path']}: {s['events']} events ({s['format']})")
    return 0


def _add_apply(sub) -> None:
    p = sub.add_parser("apply", help="replace the failing object of each CR event by a generated one")
    p.add_argument("model", help="model file (model_best.safetensors of a run)")
    p.add_argument("cr_file", help="event table: .parquet, .root[:tree] or .csv")
    p.add_argument("--out", required=True, help="output table (.parquet or .root)")
    p.add_argument("--k", type=int, default=1, help="generated objects per event, each with weight w/k (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-size", type=int, default=100_000, help="events per chunk (bounded memory)")
    p.add_argument("--all-regions", action="store_true", help="apply to every event, not only region == 0")
    p.add_argument("--id-threshold", type=float, help="ID threshold for the new region label (default: the input's metadata)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--drop-nan", action="store_true", help="drop input rows with NaN/inf values (their number is logged)")
    p.set_defaults(func=_run_apply)


def _run_apply(args: argparse.Namespace) -> int:
    from hepgan.methods.background import ConditionalGAN
    from hepgan.methods.background_run import apply_model

    model = ConditionalGAN.load(args.model, device=args.device)
    s = apply_model(
        model, args.cr_file, args.out, k=args.k, seed=args.seed, chunk_size=args.chunk_size,
        cr_only=not args.all_regions, id_threshold=args.id_threshold, progress=not args.quiet, drop_nan=args.drop_nan,
    )
    line = f"wrote {args.out}: {s['rows_out']} rows from {s['events_in']} CR events (k = {args.k})"
    if s["pass_fraction"] is not None:
        line += f"; {100 * s['pass_fraction']:.1f} % of generated objects pass the ID threshold"
    print(line)
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the main job: train on the shipped gjets sample, apply to the CR, evaluate, report")
    p.add_argument("--run-dir", default="runs/demo", help="output folder (default runs/demo; an earlier demo there is replaced)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value of configs/demo.yaml")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.methods.background_run import load_config, packaged_config, train_run

    cfg = load_config(packaged_config("demo"), _parse_overrides(args.set))
    run_dir = Path(args.run_dir)
    log.info("demo: training on the shipped gjets sample, run folder %s", run_dir)
    train_run(cfg, run_dir, progress=not args.quiet, overwrite=True)
    print((run_dir / "summary.txt").read_text(), end="")
    if (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")
    return 0


def _add_scan(sub) -> None:
    p = sub.add_parser("scan", help="train a grid of configurations at once (the config's scan section) and rank them")
    p.add_argument("config", help="YAML run config with a scan section (see configs/scan_demo.yaml)")
    p.add_argument("--run-dir", help="output folder (default runs/<config name>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (not a scanned one)")
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier scan in the folder")
    p.set_defaults(func=_run_scan)


def _run_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.methods.background_scan import describe_best, load_scan_config, scan_run

    scan = load_scan_config(args.config, _parse_overrides(args.set))
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    result = scan_run(scan, run_dir, progress=not args.quiet, overwrite=args.overwrite)
    print(f"scan of {len(result['rows'])} configurations, trained in {result['seconds']:.1f} s; -2lnLambda at each member's best epoch (lower is better):")
    print(result["table"])
    print(describe_best(result))
    print(f"results: {run_dir / 'scan_results.csv'}; best model: {run_dir / 'best' / 'model_best.safetensors'}")
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
        from hepgan.report import _jsonable

        out = Path(args.out)
        with atomic_dir(out) as tmp:  # the folder appears complete or not at all
            figs = evaluation_figures(ref, test, result, tmp, weight=args.weight, labels=("reference", "test"))
            result["figures"] = [p.name for p in figs]
            (tmp / "metrics.json").write_text(json.dumps(_jsonable(result), indent=1))
        log.info("wrote %s and %d figures", out / "metrics.json", len(figs))
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="HTML report and metrics.json of a run folder")
    p.add_argument("run_dir", help="the run folder (config.yaml, history.json, evaluation/roles.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", metavar="RUN_DIR", help="generation runs: overlay another run's generated events (e.g. without MMD)")
    p.set_defaults(func=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepgan.exceptions import ConfigError
    from hepgan.methods.generation_run import is_generation_config, write_evaluation
    from hepgan.report import write_report

    if is_generation_config(Path(args.run_dir) / "config.yaml"):
        write_evaluation(args.run_dir, baseline=args.baseline)
        print((Path(args.run_dir) / "summary.txt").read_text(), end="")
        return 0
    if args.baseline:
        raise ConfigError(f"--baseline: {args.run_dir} is not a generation run (its config.yaml has no 'method: generation')")
    out = write_report(args.run_dir, seed=args.seed)
    log.info("wrote %s", out)
    return 0


# --------------------------------------------------------------------------- main


_COMMANDS: list[Callable] = [_add_sample, _add_train, _add_generate, _add_apply, _add_demo, _add_scan, _add_evaluate, _add_report]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hepgan", description="Generative adversarial networks for high-energy physics.")
    parser.add_argument("--version", action="version", version=f"hepgan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _COMMANDS:
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
