"""The generation method's command: ``hepgan generate`` (events from a trained event GAN)."""

from __future__ import annotations

import argparse

__all__ = ["COMMANDS", "add_generate"]


def add_generate(sub) -> None:
    p = sub.add_parser("generate", help="generate events with a trained event GAN (Parquet, ROOT or LHE)")
    from hepgan.cli import Output, add_model_output_arguments

    out = Output("out", "file", inputs=("model",), example=("generate", "{generation_model}", "--events", "10", "--out", "{out}"))
    add_model_output_arguments(p, "generation", "number of events", out, "output file: .parquet, .root or .lhe (Les Houches Event file)",
                               ["parquet", "root", "lhe"])  # fmt: skip
    p.add_argument("--batch-size", type=int, default=100_000, help="events generated and written at a time")
    p.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from hepgan.methods.generation.generate import generate_file

    s = generate_file(args.model, args.events, args.out, seed=args.seed, fmt=args.format, batch_size=args.batch_size, device=args.device)
    print(f"wrote {s['path']}: {s['events']} events ({s['format']})")
    return 0


COMMANDS = [add_generate]
