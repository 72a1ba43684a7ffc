"""The subtraction method's command: ``hepgan subtract`` (output events, e.g. B - S, from a trained subtraction GAN)."""

from __future__ import annotations

import argparse
import logging

__all__ = ["COMMANDS", "add_subtract", "subtract_file"]

log = logging.getLogger("hepgan")


def add_subtract(sub) -> None:
    from hepgan.cli import Output, add_model_output_arguments

    p = sub.add_parser("subtract", help="generate output events (e.g. B - S) with a trained subtraction GAN")
    out = Output("out", "file", inputs=("model",), example=("subtract", "{subtraction_model}", "--events", "10", "--out", "{out}"))
    add_model_output_arguments(p, "subtraction", "number of output events", out, "output file: .parquet, .root or .csv", ["parquet", "root", "csv"])
    p.set_defaults(func=run_subtract)


def subtract_file(model_path: str, events: int, out: str, seed: int = 0, fmt: str | None = None, device: str = "cpu") -> dict:
    """Writes ``events`` output events of a subtraction GAN to ``out``; checks everything before generating.

    Returns:
        {"path", "events", "sigma_output"} (the output cross section from the generated class counts,
        in the units of the training cross sections; each event carries sigma_output / events).
    """
    from pathlib import Path

    from hepgan.exceptions import ConfigError
    from hepgan.io import check_output_file, format_of, write_table
    from hepgan.methods.subtraction.model import SubtractionGAN
    from hepgan.provenance import record

    if isinstance(events, bool) or not isinstance(events, int) or events < 1:
        raise ConfigError(f"--events: expected an integer >= 1, got {events!r}")
    out_path = Path(out)
    fmt = format_of(out_path, fmt)
    check_output_file(out_path, fmt, inputs=[model_path])
    model = SubtractionGAN.load(model_path, device=device)
    df = model.subtract(events, seed=seed)
    sigma = model.output_cross_section(seed=seed + 1)
    meta = {"role": "subtraction GAN output", "model": str(model_path), "seed": seed, "output": model.output,
            "components": model.components, "samples": model.samples, "sigma_inputs": model.sigma_,
            "sigma_output": sigma, "weight": "1 per event; cross section per event = sigma_output / events",
            "provenance": record(models=[model_path])}  # fmt: skip
    write_table(df, out_path, metadata=meta, fmt=fmt)
    return {"path": str(out_path), "events": len(df), "sigma_output": sigma}


def run_subtract(args: argparse.Namespace) -> int:
    s = subtract_file(args.model, args.events, args.out, seed=args.seed, fmt=args.format, device=args.device)
    print(f"wrote {s['path']}: {s['events']} output events; output cross section {s['sigma_output']:.6g} (units of the inputs' sigma)")
    return 0


COMMANDS = [add_subtract]
