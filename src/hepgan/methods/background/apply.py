"""Applying a background model: each CR event gets generated objects in place of the one that failed.

:func:`replace_objects` works on a table in memory; :func:`apply_model` streams a file in
chunks (bounded memory) and writes the result atomically, Parquet or ROOT.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.estimator import seed_from
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.io import ChunkedTableWriter, check_columns, check_table_columns, iter_table, read_metadata
from hepgan.methods.background.model import DERIVE, ConditionalGAN

__all__ = ["replace_objects", "apply_model", "OUTSIDE_COLUMN"]

log = logging.getLogger("hepgan")


def replace_objects(
    model: ConditionalGAN, events: pd.DataFrame, k: int, seed: int, id_threshold: float | None, weight: str | None = "weight"
) -> pd.DataFrame:
    """Replaces the generated columns of each event by k generated objects (weight w/k each).

    Every other column is kept; columns derived from the object (m_gg, pt_gg, ptgg_over_mgg) are
    recomputed; ``region`` becomes 1 where the generated ID passes ``id_threshold`` (if known).
    """
    y = model.sample(events[model.c_columns] if model.c_columns else len(events), k=k, seed=seed)
    out = events.loc[events.index.repeat(k)].reset_index(drop=True)
    for col in model.x_columns:
        out[col] = y[col].to_numpy().astype(out[col].dtype if col in out else np.float64)
    if model.derive is not None and all(f"pho{i}_{v}" in out for i in (1, 2) for v in ("pt", "eta", "phi")):
        for col, v in DERIVE[model.derive](out).items():
            if col in out:
                out[col] = v.astype(out[col].dtype)
    if weight and weight in out and k > 1:
        out[weight] = out[weight] / k
    if "region" in out:
        out["region"] = (out["pho2_id"] > id_threshold).astype(out["region"].dtype) if id_threshold is not None and "pho2_id" in out else 1
    return out


#: The output column that marks events whose conditions lie outside the training range (1) or not (0).
OUTSIDE_COLUMN = "outside_training_range"


def apply_model(
    model: ConditionalGAN | str | Path,
    cr_path: str | Path,
    out_path: str | Path,
    k: int = 1,
    seed: int = 0,
    chunk_size: int = 100_000,
    cr_only: bool = True,
    id_threshold: float | None = None,
    progress: bool = True,
    drop_nan: bool = False,
    strict: bool = False,
    aliases: dict[str, str] | None = None,
    cut: str | None = None,
) -> dict[str, Any]:
    """Streams a CR file in chunks, replacing the failing object by generated ones.

    Events whose conditions lie outside the range the model saw in training are counted per
    column, logged as a warning and marked in the output column ``outside_training_range``
    (the generator extrapolates there); ``strict`` makes them an error, before anything is written.

    Args:
        model: a fitted ConditionalGAN or the path of a saved one.
        cr_path: input event table (Parquet, ROOT ``file.root[:tree]`` or CSV).
        out_path: output (.parquet or .root), written atomically.
        k: generated objects per event, weight w/k each.
        seed: seed of the generation; chunk i uses a seed derived from (seed, i).
        chunk_size: events per chunk (memory is bounded by chunk_size * k rows).
        cr_only: with a ``region`` column, keep only CR events (region == 0).
        id_threshold: photon-ID threshold for the new region label (default: the input's metadata).
        progress: a progress bar with the total and the remaining time.
        drop_nan: drop input rows with NaN/inf values (logged, with their number) instead of stopping.
        strict: conditions outside the training range are an error, not a warning.
        aliases: output column -> expression over the input's columns (:mod:`hepgan.expressions`), e.g.
            ``{"pho1_pt": "Photon_pt[:, 0]"}`` for a NanoAOD-like tree; the aliases join the output.
        cut: an event selection applied before the aliases, e.g. ``"nPhoton >= 2"``.

    Returns:
        Summary: events in, rows out, fraction of generated objects passing the ID threshold,
        events outside the training range (in all and per column).
    """
    if k < 1:
        raise ConfigError(f"k: expected an integer >= 1, got {k}")
    model_path = getattr(model, "path_", None)
    if isinstance(model, (str, Path)):
        model_path = model
        model = ConditionalGAN.load(model)
    model.progress = progress
    meta_in = read_metadata(cr_path) if str(cr_path).split(":")[0].endswith((".parquet", ".root")) else {}
    if id_threshold is None:
        id_threshold = meta_in.get("id_threshold")
    check_table_columns(cr_path, model.c_columns, aliases, cut)  # before anything is written
    n_in = n_out = n_pass = n_outside = 0
    per_column = dict.fromkeys(model.c_columns, 0)
    from hepgan.provenance import record

    meta = {"input": str(cr_path), "k": k, "seed": seed, "model": str(model), "id_threshold": id_threshold, "source_metadata": meta_in,
            "aliases": aliases or {}, "cut": cut,
            "provenance": record(inputs=[cr_path], models=[model_path] if model_path is not None else [])}  # fmt: skip
    with contextlib.ExitStack() as stack:
        bar = None
        w = stack.enter_context(ChunkedTableWriter(out_path, metadata=meta))
        for i, chunk in enumerate(iter_table(cr_path, chunk_size=chunk_size, drop_nan=drop_nan, aliases=aliases, cut=cut)):
            check_columns(list(chunk.columns), model.c_columns, str(cr_path))
            if cr_only and "region" in chunk:
                chunk = chunk[chunk["region"] == 0].reset_index(drop=True)
            if len(chunk) == 0:
                continue
            if id_threshold is None and "region" in chunk:
                raise SchemaError(
                    f"{cr_path}: its metadata records no photon-ID threshold, so the region of the new objects cannot be "
                    "decided; give it with --id-threshold"
                )
            outside = model.outside_training_range(chunk[model.c_columns])
            if strict and outside.to_numpy().any():
                col = outside.columns[int(np.argmax(outside.to_numpy().any(axis=0)))]
                raise SchemaError(
                    f"{cr_path}: {int(outside.to_numpy().any(axis=1).sum())} events of chunk {i} have conditions outside the range "
                    f"seen in training (first: '{col}'); nothing was written (without --strict they are marked in '{OUTSIDE_COLUMN}')"
                )
            out = replace_objects(model, chunk, k, seed_from(seed, i), id_threshold)
            out[OUTSIDE_COLUMN] = np.repeat(outside.to_numpy().any(axis=1).astype(np.int8), k)
            w.write(out)
            n_in += len(chunk)
            n_out += len(out)
            n_outside += int(outside.to_numpy().any(axis=1).sum())
            for col in model.c_columns:
                per_column[col] += int(outside[col].sum())
            if id_threshold is not None and "pho2_id" in out:
                n_pass += int((out["pho2_id"] > id_threshold).sum())
            if progress and bar is None:  # made once the first chunk went through: a failure leaves no bar behind
                bar = _progress_bar(cr_path, cr_only and not aliases and not cut)
                stack.callback(bar.close)
            if bar is not None:
                bar.update(len(chunk))
        if n_in == 0:
            raise SchemaError(f"{cr_path}: no CR events (region == 0) to apply the model to")
    if n_outside:
        cols = ", ".join(f"{c}: {n}" for c, n in per_column.items() if n)
        log.warning(
            "apply: %d of %d events have conditions outside the range seen in training (%s); the generator extrapolates "
            "there: they are marked %s = 1 (--strict makes this an error)", n_outside, n_in, cols, OUTSIDE_COLUMN,
        )  # fmt: skip
    return {"events_in": n_in, "rows_out": n_out, "pass_fraction": n_pass / n_out if id_threshold is not None else None,
            "outside_training_range": n_outside, "outside_by_column": per_column}  # fmt: skip


def _progress_bar(path: str | Path, cr_only: bool):
    import sys

    from tqdm.auto import tqdm

    from hepgan.exceptions import HepganError
    from hepgan.io import count_rows, read_table

    total = count_rows(path)
    if cr_only and total is not None:  # the CR events: read the region column alone (cheap in Parquet and ROOT)
        try:
            total = int((read_table(path, columns=["region"])["region"] == 0).sum())
        except HepganError:
            total = None
    return tqdm(desc="apply", unit="event", total=total, file=sys.stderr, leave=False)
