"""``hepgan generate``: events from a trained event GAN, as Parquet, ROOT or LHE, in bounded memory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.config import check, choice
from hepgan.estimator import seed_from
from hepgan.exceptions import ConfigError, InputFileError
from hepgan.methods.generation.model import EventGAN
from hepgan.samples.ttbar import TTBAR_PARTONS, TTBAR_RESONANCES

__all__ = ["generate_file"]

log = logging.getLogger("hepgan")


def generate_file(model_path: str | Path, n_events: int, out: str | Path, seed: int = 0, fmt: str | None = None,
                  batch_size: int = 100_000, device: str = "cpu") -> dict[str, Any]:  # fmt: skip
    """Generates events with a saved EventGAN and writes them (Parquet, ROOT or LHE), atomically.

    Args:
        model_path: model file (model_best.safetensors of a run).
        n_events: number of events (>= 1).
        out: output file; the suffix picks the format (.parquet, .root, .lhe) unless ``fmt`` is given.
        seed: seed of the latent noise; batch i uses a seed derived from (seed, i).
        fmt: "parquet", "root" or "lhe".
        batch_size: events generated and written at a time (bounded memory).
        device: "cpu", "cuda" or "auto".

    Returns:
        Summary: events, path, format.
    """
    from hepgan.io import ChunkedTableWriter
    from hepgan.kinematics import event_table

    check(isinstance(n_events, int) and not isinstance(n_events, bool) and n_events >= 1, "--events", "an integer >= 1", n_events)
    check(isinstance(batch_size, int) and batch_size >= 1, "--batch-size", "an integer >= 1", batch_size)
    out = Path(out)
    if fmt is None:
        suffix = out.suffix.lower()
        fmt = {".parquet": "parquet", ".pq": "parquet", ".root": "root", ".lhe": "lhe"}.get(suffix)
        if fmt is None:
            raise InputFileError(f"{out}: cannot tell the format from the suffix '{suffix}' (expected .parquet, .root or .lhe)")
    choice(fmt, ["parquet", "root", "lhe"], "--format")
    if out.is_dir():
        raise InputFileError(f"{out}: is a folder, expected a file name")
    model = EventGAN.load(model_path, device=device)
    extra = getattr(model, "extra_", {}) or {}
    from hepgan.provenance import record

    meta = {"model": str(model_path), "seed": seed, "n_events": n_events, "best_epoch": model.best_epoch_, "provenance": record(models=[model_path]),
            "params": model.get_params(), "training_sample": extra.get("training_sample")}  # fmt: skip

    def batches():
        for i, start in enumerate(range(0, n_events, batch_size)):
            yield model.sample_p4(min(batch_size, n_events - start), seed=seed_from(seed, i))

    if fmt == "lhe":
        if list(model.particles) != list(TTBAR_PARTONS) or {k: list(v) for k, v in model.resonances.items()} != {
            k: list(v) for k, v in TTBAR_RESONANCES.items()
        }:
            raise ConfigError(f"{model_path}: LHE output is written for the top-pair layout {list(TTBAR_PARTONS)} only")
        from hepgan.kinematics import pt_balance
        from hepgan.lhe import write_lhe_ttbar

        if model.pt_balance != "exact":
            r = float(np.mean(pt_balance(model.sample_p4(min(n_events, 10_000), seed=seed_from(seed, 99)))))
            log.warning(
                "%s: this model learned transverse-momentum balance (mean |sum pT| / sum |pT| = %.3g); a shower program "
                "rejects events that do not conserve momentum closely enough (Pythia 8 refused 2 of 500 events at 3e-4 and "
                "499 of 500 at 0.08; count yours with scripts/ttbar_lhe_shower.py). For exact conservation, train with "
                "model.pt_balance: exact.", model_path, r,
            )  # fmt: skip
        sqrt_s = extra.get("sqrt_s_gev") or 13000.0
        write_lhe_ttbar(out, batches(), sqrt_s=float(sqrt_s), sigma_pb=extra.get("sigma_gen_pb"), metadata=meta)
    else:
        with ChunkedTableWriter(out, metadata=meta, fmt=fmt) as wr:
            for p4 in batches():
                wr.write(event_table(p4, model.particles, model.resonances))
    return {"events": n_events, "path": str(out), "format": fmt}
