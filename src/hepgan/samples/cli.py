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
    add_sample_arguments(p, "parton-level Pythia events to generate (the file has the selected ones)", d.chunk_size)
    p.add_argument("--process", default=d.process, help=f"Pythia process switch (default {d.process})")
    p.add_argument("--pt-hat-min", type=float, default=d.pt_hat_min, help=f"PhaseSpace:pTHatMin in GeV (default {d.pt_hat_min:g})")
    p.add_argument("--bias-pow", type=float, default=d.bias_pow,
                   help=f"power of Pythia's pTHat phase-space bias, 0 = off (default {d.bias_pow:g})")  # fmt: skip
    p.add_argument("--pileup-mean", type=float, default=d.pileup_mean,
                   help=f"mean of the pileup profile (default {d.pileup_mean:g}, about CMS 2016-2018)")  # fmt: skip
    p.add_argument("--pileup-sd", type=float, default=d.pileup_sd,
                   help=f"spread of the pileup profile's per-event mean (default {d.pileup_sd:g})")  # fmt: skip
    p.add_argument("--pool-size", type=int, default=d.pool_size,
                   help=f"minimum-bias events in the seeded pileup pool (default {d.pool_size})")  # fmt: skip
    p.add_argument("--rehadronise", type=int, default=d.rehadronise,
                   help=f"hadronisations per parton-level event, weight 1/K each (default {d.rehadronise})")  # fmt: skip
    p.add_argument("--prefilter-eta", type=float, default=d.prefilter_eta,
                   help=f"process-level pre-filter on the hard photon's |eta|, 0 = off; not exact (default {d.prefilter_eta:g})")  # fmt: skip
    p.add_argument("--photon-eta-max", type=float, default=d.photon_eta_max,
                   help=f"parton-level filter on the prompt photon's |eta| after the showers, 0 = off (default {d.photon_eta_max:g})")  # fmt: skip
    p.add_argument("--id-threshold", type=float, default=None,
                   help="tight photon ID working point of the SR (default: the shipped model's tight working point)")  # fmt: skip
    p.add_argument("--loose-threshold", type=float, default=None,
                   help="loose working point: a CR pho2 scores at or below it (default: the shipped model's)")  # fmt: skip
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
        ("--pileup-sd", args.pileup_sd, d.pileup_sd),
        ("--pool-size", args.pool_size, d.pool_size),
        ("--rehadronise", args.rehadronise, d.rehadronise),
        ("--prefilter-eta", args.prefilter_eta, d.prefilter_eta),
        ("--photon-eta-max", args.photon_eta_max, d.photon_eta_max),
        ("--chunk-size", args.chunk_size, d.chunk_size),
    ):
        if value != default:
            out += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.id_threshold is not None:
        out += ["--id-threshold", f"{args.id_threshold:g}"]
    if args.loose_threshold is not None:
        out += ["--loose-threshold", f"{args.loose_threshold:g}"]
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
        loose_threshold=args.loose_threshold,
        compact=args.compact,
        cr_fraction=args.cr_fraction,
        cache_dir=args.cache_dir,
        progress=not getattr(args, "quiet", False),
        command=command_line(argv),
        scheduler=args.scheduler,
        chunk_size=args.chunk_size,
        pileup_sd=args.pileup_sd,
        pool_size=args.pool_size,
        rehadronise=args.rehadronise,
        prefilter_eta=args.prefilter_eta,
        photon_eta_max=args.photon_eta_max,
    )
    n_sr = int(df["region"].sum())
    log.info("gjets: wrote %s: %d events, %d SR (%.1f %%), %d CR", args.out, len(df), n_sr, 100 * n_sr / len(df), len(df) - n_sr)
    return 0
