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

__all__ = ["replace_objects", "apply_model", "apply_files", "apply_file", "file_seed", "output_name", "OUTSIDE_COLUMN"]

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
    command: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
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
        command: the command line recorded in the provenance (default: this process's).
        metadata: more entries of the output's metadata.

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
            "provenance": record(inputs=[cr_path], models=[model_path] if model_path is not None else [], command=command),
            **(metadata or {})}  # fmt: skip
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


# --------------------------------------------------------------------------- many files


def _file_of(path: str | Path) -> Path:
    """The file of an input path (a ``.root:tree`` suffix stripped)."""
    s = str(path)
    i = s.lower().find(".root:")
    return Path(s[: i + 5] if i >= 0 else s)


def file_seed(seed: int, path: str | Path) -> int:
    """The seed of one input file of :func:`apply_files`: derived from ``seed`` and the file's name (not its
    folder or its place in the list), so that it does not depend on the workers or the order of the files.

    Example:
        >>> file_seed(0, "a/cr_1.parquet") == file_seed(0, "b/cr_1.parquet") != file_seed(0, "a/cr_2.parquet")
        True
    """
    import hashlib

    from hepgan.estimator import seed_from

    digest = hashlib.sha256(_file_of(path).name.encode()).digest()
    return seed_from(int(seed), *(int.from_bytes(digest[i : i + 4], "little") for i in (0, 4)))


def output_name(path: str | Path) -> str:
    """The output file name of one input of :func:`apply_files`: ``<stem>_gan.parquet`` (``.root`` for ROOT inputs).

    Example:
        >>> output_name("data/cr_1.parquet"), output_name("data/nano.root:Events"), output_name("x.csv")
        ('cr_1_gan.parquet', 'nano_gan.root', 'x_gan.parquet')
    """
    f = _file_of(path)
    return f"{f.stem}_gan{'.root' if f.suffix.lower() == '.root' else '.parquet'}"


def apply_file(job: dict[str, Any]) -> dict[str, Any]:
    """One task of :func:`apply_files` (module level: it is pickled to the workers): loads the model and
    applies it to one input file, writing its output atomically. Returns the summary with ``input`` and ``out``."""
    model = ConditionalGAN.load(job["model"], device=job.get("device", "cpu"))
    s = apply_model(model, job["input"], job["out"], seed=job["seed"], progress=False, command=job.get("command"),
                    metadata={"seed_of_file": {"seed": job["base_seed"], "file": _file_of(job["input"]).name}}, **job["options"])  # fmt: skip
    return {**s, "input": str(job["input"]), "out": str(job["out"])}


def expand_inputs(patterns: list[str]) -> list[str]:
    """Input paths with glob patterns (``'data/*.parquet'``) expanded by hepgan, sorted; a pattern that
    matches nothing, or a file that does not exist, is an InputFileError."""
    import glob

    from hepgan.exceptions import InputFileError

    out: list[str] = []
    for p in patterns:
        if any(ch in str(_file_of(p)) for ch in "*?[") and not _file_of(p).exists():
            tree = str(p)[len(str(_file_of(p))) :]
            found = sorted(glob.glob(str(_file_of(p))))
            if not found:
                raise InputFileError(f"{p}: no file matches this pattern")
            out += [f + tree for f in found]
        else:
            if not _file_of(p).is_file():
                raise InputFileError(f"{p}: no such file")
            out.append(str(p))
    return out


def apply_files(
    model: str | Path,
    inputs: list[str | Path],
    out_dir: str | Path,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    device: str = "cpu",
    command: list[str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Applies a saved model to many input files, one task each (:func:`hepgan.executor.map_tasks`).

    Input ``IN`` gets the output ``out_dir/<IN stem>_gan.parquet`` (:func:`output_name`), written atomically.
    An output that exists already is skipped, so a rerun after an interruption resumes. File
    ``IN`` uses the seed :func:`file_seed` (seed, its name), recorded in its metadata: the outputs do
    not depend on ``workers``, ``scheduler`` or the order of the inputs.

    Args:
        model: the saved model's path (each task loads it).
        inputs: input tables (Parquet, ROOT ``file.root[:tree]`` or CSV).
        out_dir: the output folder (made if absent, with hepgan's marker).
        seed: the base seed.
        workers, scheduler: as for :func:`hepgan.executor.map_tasks`.
        progress: a progress bar of finished files.
        device: the device of each task's model.
        command: the command line recorded in the provenance.
        **options: the other arguments of :func:`apply_model` (k, chunk_size, cr_only, id_threshold, ...).

    Returns:
        {"written": summaries of the files written (in input order), "skipped": outputs that existed}.
    """
    from hepgan.exceptions import ConfigError, InputFileError
    from hepgan.executor import check_scheduler, map_tasks
    from hepgan.io import mark_dir

    check_scheduler(scheduler)
    if not inputs:
        raise ConfigError("apply: no input file")
    out_dir = Path(out_dir)
    outs = [out_dir / output_name(i) for i in inputs]
    seen: dict[str, str] = {}
    for i, o in zip(inputs, outs):
        if o.name in seen:
            raise ConfigError(f"{i} and {seen[o.name]}: both would be written to {o}; give inputs with different names")
        seen[o.name] = str(i)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputFileError(f"{out_dir}: cannot make the output folder ({err.strerror})") from None
    mark_dir(out_dir, "apply")
    jobs = [{"model": str(model), "input": str(i), "out": str(o), "seed": file_seed(seed, i), "base_seed": int(seed), "device": device,
             "command": command, "options": options} for i, o in zip(inputs, outs) if not o.exists()]  # fmt: skip
    skipped = [str(o) for o in outs if o.exists()]
    if skipped:
        log.info("apply: skipped %d of %d: outputs exist in %s", len(skipped), len(inputs), out_dir)
    results = map_tasks(apply_file, jobs, workers=workers, scheduler=scheduler, progress=progress, desc="apply")
    order = {str(i): n for n, i in enumerate(inputs)}
    return {"written": sorted(results, key=lambda r: order[r["input"]]), "skipped": skipped}
