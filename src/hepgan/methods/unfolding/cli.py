"""The unfolding method's command: ``hepgan unfold MODEL DETECTOR_EVENTS --k K --out FILE``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "add_unfold", "unfold_file"]

log = logging.getLogger("hepgan")


def add_unfold(sub) -> None:
    from hepgan.cli import Output, add_output

    p = sub.add_parser("unfold", help="unfold detector events to parton events with a trained unfolding GAN (K per event)")
    p.add_argument("model", help="model file (model_best.safetensors of an unfolding run)")
    p.add_argument("events", metavar="DETECTOR_EVENTS", help="detector events (.parquet, .root or .csv) with the model's detector columns")
    p.add_argument("--k", type=int, default=1, help="parton events per detector event (posterior samples; default 1)")
    out = Output("out", "file", inputs=("model", "events"), example=("unfold", "{unfolding_model}", "{unfolding_events}", "--k", "2", "--out", "{out}"))
    add_output(p, out, "--out", help="output file: .parquet, .root or .csv")
    p.add_argument("--format", choices=["parquet", "root", "csv"], help="output format (default: from the suffix of --out)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.set_defaults(func=run_unfold)


def unfold_file(model_path: str, events_path: str, k: int, out: str, seed: int = 0, fmt: str | None = None, device: str = "cpu") -> dict[str, Any]:
    """Writes ``k`` parton events per detector event of ``events_path`` to ``out``; checks everything before unfolding.

    Returns:
        {"path", "events" (detector events), "rows" (written rows, events x k)}.
    """
    import numpy as np

    from hepgan.exceptions import ConfigError
    from hepgan.io import check_output_file, check_table_columns, format_of, read_table, table_columns, write_table
    from hepgan.kinematics import momenta_columns
    from hepgan.methods.unfolding.model import UnfoldingGAN
    from hepgan.provenance import record

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"--k: expected an integer >= 1, got {k!r}")
    out_path = Path(out)
    fmt = format_of(out_path, fmt)
    check_output_file(out_path, fmt, inputs=[model_path, events_path])
    model = UnfoldingGAN.load(model_path, device=device)
    needed = momenta_columns(model.detector)
    check_table_columns(events_path, needed)
    weight = ["weight"] if "weight" in table_columns(events_path) else []
    det = read_table(events_path, columns=needed + weight)
    w = det["weight"].to_numpy(np.float64) if weight else None
    df = model.unfold(det, k=k, seed=seed, w=w)
    meta = {"role": f"unfolded parton events ({model.mode})", "model": str(model_path), "detector_events": str(events_path), "k": k,
            "seed": seed, "weight": "the detector event's weight (or 1) divided by k",
            "provenance": record(inputs=[events_path], models=[model_path])}  # fmt: skip
    write_table(df, out_path, metadata=meta, fmt=fmt)
    return {"path": str(out_path), "events": len(det), "rows": len(df)}


def run_unfold(args: argparse.Namespace) -> int:
    s = unfold_file(args.model, args.events, args.k, args.out, seed=args.seed, fmt=args.format, device=args.device)
    print(f"wrote {s['path']}: {s['rows']} parton events ({args.k} per detector event, {s['events']} detector events)")
    return 0


COMMANDS = [add_unfold]
