"""The background method's commands: ``hepgan apply``, ``demo``, ``scan``, ``search``, ``export``.

Each command is an ``add_<name>(subparsers)`` function (its arguments) and a ``run_<name>``
function (the call into the library); :data:`COMMANDS` lists the adders for the registry.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

__all__ = ["COMMANDS", "add_apply", "add_demo", "add_scan", "add_search", "add_export"]

log = logging.getLogger("hepgan")


def add_apply(sub) -> None:
    p = sub.add_parser("apply", help="replace the failing object of each CR event by a generated one")
    p.add_argument("model", help="model file (model_best.safetensors of a run)")
    p.add_argument("cr_file", nargs="+", metavar="IN",
                   help="event table(s): .parquet, .root[:tree] or .csv; several files, or a quoted pattern such as 'data/*.parquet', "
                        "need --out-dir")  # fmt: skip
    from hepgan.cli import Output, add_output

    add_output(p, Output("out", "file", inputs=("model", "cr_file"), example=("apply", "{background_model}", "{events}", "--out", "{out}")),
               "--out", help="output table (.parquet or .root) of one input file", required=False)  # fmt: skip
    p.add_argument("--out-dir", metavar="DIR",
                   help="output folder of one or more inputs: IN gets DIR/<IN stem>_gan.parquet (.root for ROOT inputs); "
                        "outputs that exist are skipped, so a rerun resumes")  # fmt: skip
    p.add_argument("--workers", type=int, default=1, help="with --out-dir: files applied at once, in a local Dask cluster (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="with --out-dir: run the files on a running Dask cluster, e.g. tcp://host:8786 "
                                                         "(needs hepgan[dask] and files the workers can read and write)")  # fmt: skip
    p.add_argument("--k", type=int, default=1, help="generated objects per event, each with weight w/k (default 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the generation; chunk i uses a seed derived from it; with --out-dir, each file one derived from it "
                        "and the file's name (default 0)")  # fmt: skip
    p.add_argument("--chunk-size", type=int, default=100_000, help="events per chunk (bounded memory)")
    p.add_argument("--all-regions", action="store_true", help="apply to every event, not only region == 0")
    p.add_argument("--id-threshold", type=float, help="ID threshold for the new region label (default: the input's metadata)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--drop-nan", action="store_true", help="drop input rows with NaN/inf values (their number is logged)")
    from hepgan.cli import add_selection

    add_selection(p)
    p.add_argument("--strict", action="store_true",
                   help="events whose conditions lie outside the training range are an error (default: a warning, and marked in the output)")  # fmt: skip
    p.set_defaults(func=run_apply)


def run_apply(args: argparse.Namespace) -> int:
    from hepgan.cli import aliases_of
    from hepgan.exceptions import ConfigError

    if args.out_dir is not None:
        if args.out is not None:
            raise ConfigError("apply: give --out FILE (one input) or --out-dir DIR, not both")
        return _run_apply_files(args)
    if args.out is None:
        raise ConfigError("apply: give --out FILE for one input, or --out-dir DIR")
    if len(args.cr_file) > 1:
        raise ConfigError(f"apply: {len(args.cr_file)} input files need --out-dir DIR (--out names one output file)")
    if args.workers != 1 or args.scheduler is not None:
        raise ConfigError("apply: --workers and --scheduler spread several files over workers; they need --out-dir DIR")
    from hepgan.methods.background.apply import apply_model
    from hepgan.methods.background.model import ConditionalGAN

    model = ConditionalGAN.load(args.model, device=args.device)
    s = apply_model(
        model, args.cr_file[0], args.out, k=args.k, seed=args.seed, chunk_size=args.chunk_size,
        cr_only=not args.all_regions, id_threshold=args.id_threshold, progress=not args.quiet, drop_nan=args.drop_nan,
        strict=args.strict, aliases=aliases_of(args), cut=args.cut,
    )  # fmt: skip
    line = f"wrote {args.out}: {s['rows_out']} rows from {s['events_in']} CR events (k = {args.k})"
    if s["pass_fraction"] is not None:
        line += f"; {100 * s['pass_fraction']:.1f} % of generated objects pass the ID threshold"
    print(line)
    return 0


def _run_apply_files(args: argparse.Namespace) -> int:
    """``hepgan apply MODEL IN... --out-dir DIR``: one task per input file (:func:`hepgan.methods.background.apply.apply_files`)."""
    import sys

    from hepgan.cli import aliases_of
    from hepgan.estimator import check_int
    from hepgan.executor import check_scheduler
    from hepgan.io import check_output_dir
    from hepgan.methods.background.apply import apply_files, expand_inputs
    from hepgan.methods.background.model import ConditionalGAN

    check_int("--workers", args.workers)
    check_scheduler(args.scheduler)
    inputs = expand_inputs(args.cr_file)
    check_output_dir(args.out_dir, inputs=[args.model, *inputs], overwrite=args.overwrite, option="--out-dir")
    ConditionalGAN.load(args.model)  # a bad model file: one error line before any task starts
    result = apply_files(
        args.model, inputs, args.out_dir, seed=args.seed, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
        device=args.device, command=list(sys.argv), k=args.k, chunk_size=args.chunk_size, cr_only=not args.all_regions,
        id_threshold=args.id_threshold, drop_nan=args.drop_nan, strict=args.strict, aliases=aliases_of(args), cut=args.cut,
    )  # fmt: skip
    written = result["written"]
    rows = sum(s["rows_out"] for s in written)
    events = sum(s["events_in"] for s in written)
    print(f"wrote {len(written)} of {len(inputs)} files into {args.out_dir}: {rows} rows from {events} CR events (k = {args.k})"
          + (f"; skipped {len(result['skipped'])}: outputs exist" if result["skipped"] else ""))  # fmt: skip
    return 0


def add_demo(sub) -> None:
    from hepgan.cli import Output, add_output

    p = sub.add_parser("demo", help="the main job: train on the shipped gjets sample, apply to the CR, evaluate, report")
    add_output(p, Output("run_dir", "dir", default=lambda a: "runs/demo", example=("demo", "--run-dir", "{out}", "--set", "training.epochs=1")),
               "--run-dir", help="output folder (default runs/demo; an earlier demo there is replaced)", required=False)  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value of configs/demo.yaml")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from hepgan.cli import parse_overrides, train_and_print
    from hepgan.runs import load_config, packaged_config

    log.info("demo: training on the shipped gjets sample, run folder %s", args.run_dir or "runs/demo")
    cfg = load_config(packaged_config("demo"), parse_overrides(args.set))
    # the folder passed the overwrite rule: it is new, empty, hepgan's, or --overwrite was given
    return train_and_print(cfg, Path(args.run_dir or "runs/demo"), progress=not args.quiet, overwrite=True)


def add_scan(sub) -> None:
    p = sub.add_parser("scan", help="train a grid of configurations at once (the config's scan section) and rank them")
    p.add_argument("config", help="YAML run config with a scan section (see configs/scan_demo.yaml)")
    from hepgan.cli import Output, add_output

    add_output(p, Output("run_dir", "dir", inputs=("config",), default=lambda a: Path("runs") / Path(a.config).stem,
                         example=("scan", "{scan_config}", "--run-dir", "{out}")),
               "--run-dir", help="output folder (default runs/<config name>); an earlier scan there is replaced only with --overwrite",
               required=False)  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (not a scanned one)")
    p.set_defaults(func=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    from hepgan.cli import output_path, parse_overrides
    from hepgan.methods.background.scan import describe_best, load_scan_config, scan_run

    scan = load_scan_config(args.config, parse_overrides(args.set))
    run_dir = Path(output_path(args))
    result = scan_run(scan, run_dir, progress=not args.quiet, overwrite=args.overwrite)
    print(f"scan of {len(result['rows'])} configurations, trained in {result['seconds']:.1f} s; -2lnLambda at each member's best epoch (lower is better):")
    print(result["table"])
    print(describe_best(result))
    print(f"results: {run_dir / 'scan_results.csv'}; best model: {run_dir / 'best' / 'model_best.safetensors'}")
    return 0


def add_search(sub) -> None:
    p = sub.add_parser("search", help="an Optuna search over the config's search section (adaptive, prunable, shareable between machines)")
    p.add_argument("config", help="YAML run config (method: background) with a search section")
    from hepgan.cli import Output, add_output

    add_output(p, Output("run_dir", "dir", inputs=("config",), default=lambda a: Path("runs") / Path(a.config).stem,
                         example=("search", "{search_config}", "--trials", "1", "--run-dir", "{out}")),
               "--run-dir", help="output folder: trial_<n>/ folders, search.db, results, best/ (default runs/<config name>); "
                                 "an earlier search there is continued only with --overwrite", required=False)  # fmt: skip
    p.add_argument("--trials", type=int, required=True, help="trials this process runs (the study may hold more)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL shared by several processes or machines, e.g. "
                                                    "postgresql://host/db (default sqlite:///RUN_DIR/search.db)")  # fmt: skip
    p.add_argument("--study-name", help="the study in the storage; an existing one is joined (default: the config file's name)")
    p.add_argument("--seed", type=int, help="seed of the TPE sampler (default: the config's training.seed); give each process of a shared study its own")
    p.add_argument("--no-prune", action="store_true", help="run every trial to its last epoch (default: the median pruner stops poor trials early)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (not a searched one)")
    p.set_defaults(func=run_search)


def run_search(args: argparse.Namespace) -> int:
    from hepgan.cli import output_path, parse_overrides
    from hepgan.methods.background.search import describe_best, import_optuna, load_search_config, search_run

    import_optuna()
    search = load_search_config(args.config, parse_overrides(args.set))
    run_dir = Path(output_path(args))
    result = search_run(
        search, run_dir, args.trials, storage=args.storage, study_name=args.study_name or Path(args.config).stem,
        seed=args.seed, prune=not args.no_prune, progress=not args.quiet, overwrite=args.overwrite,
    )  # fmt: skip
    label = search.selection.label or search.selection.metric
    order = "lower" if result["study"].direction.name.lower() == "minimize" else "higher"
    print(f"search: {len(result['rows'])} trials in study {result['study'].study_name!r} ({args.trials} run here in {result['seconds']:.1f} s); "
          f"validation {label} at each trial's best epoch ({order} is better):")  # fmt: skip
    print(result["table"])
    print(describe_best(result, label))
    print(f"results: {run_dir / 'search_results.csv'}; best config: {run_dir / 'best' / 'config.yaml'}")
    return 0


def add_export(sub) -> None:
    from hepgan.cli import Output, add_output

    p = sub.add_parser("export", help="write a model with its preprocessing as one ONNX graph, for C++ frameworks")
    p.add_argument("model", help="model file (model_best.safetensors of a background run)")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="the exchange format (default onnx)")
    add_output(p, Output("out", "file", inputs=("model",), example=("export", "{background_model}", "-o", "{out}")),
               "--out", help="output file (.onnx)")  # fmt: skip
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from hepgan.export import export_onnx
    from hepgan.methods.background.model import ConditionalGAN

    model = ConditionalGAN.load(args.model)
    out = export_onnx(model, args.out, model_path=args.model)
    print(f"wrote {out}: inputs c ({len(model.c_columns)} conditions: {', '.join(model.c_columns)}), z ({model.latent_dim} normal), "
          f"u (U[0, 1) for the discrete conditions); output x ({', '.join(model.x_columns)})")
    return 0


COMMANDS = [add_apply, add_demo, add_scan, add_search, add_export]
