"""The scaling method's commands: ``hepgan lee`` (the look-elsewhere chain of :mod:`hepgan.lee`, whose
pseudo-experiments a trained scaling model draws)."""

from __future__ import annotations

import argparse
import logging

__all__ = ["COMMANDS", "add_lee", "run_lee"]

log = logging.getLogger("hepgan")


def add_lee(sub) -> None:
    from hepgan.cli import Output, add_output

    p = sub.add_parser("lee", help="the look-elsewhere study: pseudo-experiments from a WGAN-GP, classifier, m_llg fits, trials factor")
    p.add_argument("config", help="YAML LEE config (generator: a scaling model, signal: an event file; see hepgan.lee.chain.LeeConfig)")
    add_output(p, Output("out", "dir", inputs=("config",), example=("lee", "{lee_config}", "--out", "{out}")), "--out",
               help="output folder: config.yaml, experiments.json, summary.json, summary.txt, figures/, report.html")  # fmt: skip
    p.add_argument("--workers", type=int, help="worker processes of the pseudo-experiments (default: the config's workers)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the pseudo-experiments on a running Dask cluster (needs hepgan[dask])")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. pseudo_experiments=50")
    p.set_defaults(func=run_lee)


def run_lee(args: argparse.Namespace) -> int:
    from hepgan.cli import parse_overrides
    from hepgan.lee.chain import load_lee_config, run_study
    from hepgan.lee.report import summary_lines

    overrides = parse_overrides(args.set)
    if args.workers is not None:
        overrides["workers"] = args.workers
    cfg = load_lee_config(args.config, overrides)
    summary = run_study(cfg, args.out, progress=not getattr(args, "quiet", False), scheduler=args.scheduler)
    print("\n".join(summary_lines(summary)))
    print(f"report: {args.out}/report.html")
    return 0


COMMANDS = [add_lee]
