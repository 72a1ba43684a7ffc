"""Command-line glue for ``hepgan sample gjets``: parse, then call :func:`hepgan.samples.gjets.make_gjets`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("hepgan")


def add_gjets_arguments(p: argparse.ArgumentParser) -> None:
    from hepgan.samples.chunks import add_sample_arguments
    from hepgan.samples.gjets import GjetsSettings

    d = GjetsSettings()
    add_sample_arguments(p, "Pythia events to generate (the file has the selected ones)", d.chunk_size)
    p.add_argument("--process", default=d.process, help=f"Pythia process switch (default {d.process})")
    p.add_argument("--pt-hat-min", type=float, default=d.pt_hat_min, help=f"PhaseSpace:pTHatMin in GeV (default {d.pt_hat_min:g})")
    p.add_argument("--bias-pow", type=float, default=d.bias_pow,
                   help=f"power of Pythia's pTHat phase-space bias, 0 = off (default {d.bias_pow:g})")  # fmt: skip
    p.add_argument("--pileup-mean", type=float, default=d.pileup_mean,
                   help=f"mean number of pileup interactions (default {d.pileup_mean:g})")  # fmt: skip
    p.add_argument("--id-threshold", type=float, default=None,
                   help="photon ID working point (default: the shipped model's working point)")  # fmt: skip
    p.add_argument("--cr-fraction", type=float, default=1.0,
                   help="keep each CR event with this probability, weight divided by it (default 1: all)")  # fmt: skip
    p.add_argument("--compact", action="store_true", help="keep only the columns the methods use (no ID inputs)")


def _format(args: argparse.Namespace) -> str:
    if args.format is not None:
        return str(args.format)
    return "root" if Path(args.out).suffix.lower() == ".root" else "parquet"


def _argv(args: argparse.Namespace) -> list[str]:
    """The command as parsed (not sys.argv, which is the caller's when main() is called from Python)."""
    from hepgan.samples.gjets import GjetsSettings

    d = GjetsSettings()
    out = ["sample", "gjets", "--events", str(args.events), "--seed", str(args.seed), "--out", str(args.out)]
    if args.workers != 1:
        out += ["--workers", str(args.workers)]
    if args.format is not None:
        out += ["--format", str(args.format)]
    for flag, value, default in (
        ("--process", args.process, d.process),
        ("--pt-hat-min", args.pt_hat_min, d.pt_hat_min),
        ("--bias-pow", args.bias_pow, d.bias_pow),
        ("--pileup-mean", args.pileup_mean, d.pileup_mean),
        ("--chunk-size", args.chunk_size, d.chunk_size),
    ):
        if value != default:
            out += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.id_threshold is not None:
        out += ["--id-threshold", f"{args.id_threshold:g}"]
    if args.cr_fraction != 1.0:
        out += ["--cr-fraction", f"{args.cr_fraction:g}"]
    if args.compact:
        out.append("--compact")
    return out


def run_gjets(args: argparse.Namespace) -> int:
    from hepgan.samples.gjets import command_line, make_gjets

    argv = _argv(args)
    df = make_gjets(
        args.events,
        seed=args.seed,
        out=args.out,
        workers=args.workers,
        fmt=_format(args),
        pt_hat_min=args.pt_hat_min,
        pileup_mean=args.pileup_mean,
        bias_pow=args.bias_pow,
        process=args.process,
        id_threshold=args.id_threshold,
        compact=args.compact,
        cr_fraction=args.cr_fraction,
        cache_dir=args.cache_dir,
        progress=not getattr(args, "quiet", False),
        command=command_line(argv),
        scheduler=args.scheduler,
        chunk_size=args.chunk_size,
    )
    n_sr = int(df["region"].sum())
    log.info("gjets: wrote %s: %d events, %d SR (%.1f %%), %d CR", args.out, len(df), n_sr, 100 * n_sr / len(df), len(df) - n_sr)
    return 0
