"""Hyperparameter scans of the background-estimation GAN (seed 002, section 2.5, Fig. 4): ``hepgan scan``.

A scan config is a run config with one more section, ``scan``, mapping config keys to lists
of values; the grid is their Cartesian product::

    scan:
      training.lr: [1.0e-3, 3.0e-4]
      training.label_noise: [0.1, 0.15]
      seed: [0, 1]                 # short for training.seed

Every grid point is a member; all members are trained at once (hepgan.training.scan:
``torch.func`` over stacked parameters), members with different network shapes or loop
settings in separate vectorised groups. The scan folder holds::

    config.yaml                 the scan config as resolved
    scan_results.csv, .json     one row per member: its values, best epoch, validation and
                                training -2lnLambda at the best epoch, last losses
    best/config.yaml            the best member's full run config (hepgan train best/config.yaml)
    best/model_best.safetensors the best member's kept model
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hepgan.config import from_dict, load_yaml, to_dict
from hepgan.exceptions import ConfigError
from hepgan.io import atomic_path, claim_run_dir, run_dir_lock
from hepgan.methods.background.config import BackgroundRunConfig
from hepgan.methods.background.run import build_model, check_trainable, context_columns, load_events, split_sr
from hepgan.runs import apply_overrides, event_weights

__all__ = ["SCAN_KEYS", "ScanConfig", "load_scan_config", "scan_run", "format_value", "aligned_table"]

log = logging.getLogger("hepgan")

#: Keys a scan may vary; lr, lr_d, label_noise and seed vary within one vectorised group,
#: the others split the members into groups of equal shapes and step lists.
SCAN_KEYS = (
    "training.lr",
    "training.lr_d",
    "training.label_noise",
    "training.seed",
    "training.optimizer",
    "training.batch_size",
    "training.n_critic",
    "model.latent_dim",
    "model.g_hidden",
    "model.d_hidden",
    "model.dropout",
)
_ALIASES = {"seed": "training.seed", "lr": "training.lr", "label_noise": "training.label_noise", "latent_dim": "model.latent_dim"}
MAX_MEMBERS = 1024


class ScanConfig:
    """A validated scan: the base run config, the grid, and one run config per member.

    Attributes:
        base: the BackgroundRunConfig without the scan.
        grid: {dotted key: list of values}, keys in SCAN_KEYS.
        points: one {dotted key: value} per member, in grid order (the last key varies fastest).
        members: one BackgroundRunConfig per member.
    """

    def __init__(self, base: BackgroundRunConfig, grid: dict[str, list[Any]], points: list[dict[str, Any]], members: list[BackgroundRunConfig]):
        self.base, self.grid, self.points, self.members = base, grid, points, members


def _parse_grid(scan: Any, where: str) -> dict[str, list[Any]]:
    import difflib

    if not isinstance(scan, dict) or not scan:
        raise ConfigError(f"{where}: expected a mapping of config keys to lists of values, e.g. training.lr: [1.0e-3, 3.0e-4]")
    grid: dict[str, list[Any]] = {}
    for key, values in scan.items():
        full = _ALIASES.get(str(key), str(key))
        if full not in SCAN_KEYS:
            close = difflib.get_close_matches(str(key), list(SCAN_KEYS) + list(_ALIASES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (scannable keys: {', '.join(SCAN_KEYS)})"
            raise ConfigError(f"{where}.{key}: not a scannable key{hint}")
        if full in grid:
            raise ConfigError(f"{where}.{key}: given twice (also as {full})")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.{key}: expected a non-empty list of values, got {values!r}")
        grid[full] = values
    return grid


def load_scan_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ScanConfig:
    """Reads and validates a scan config: the run config, the ``scan`` grid, each member's config.

    ``overrides`` maps dotted keys to values (``training.epochs``), as ``--set`` does; a key
    overridden here must not be scanned.
    """
    data = load_yaml(path)
    if "scan" not in data:
        raise ConfigError(f"{path}: no 'scan' section (a mapping of config keys to lists of values, e.g. training.lr: [1.0e-3, 3.0e-4])")
    scan = data.pop("scan")
    if data.get("method") != "background":
        raise ConfigError(f"{path}: hepgan scan trains background-estimation configs; expected 'method: background', got {data.get('method')!r}")
    try:
        grid = _parse_grid(scan, "scan")
        for dotted in overrides or {}:
            if dotted in grid:
                raise ConfigError(f"--set {dotted}: the key is scanned (scan.{dotted})")
        apply_overrides(data, overrides)
        base = from_dict(BackgroundRunConfig, copy.deepcopy(data))
        points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
        if len(points) > MAX_MEMBERS:
            raise ConfigError(f"scan: the grid has {len(points)} points; at most {MAX_MEMBERS}")
        members = []
        for point in points:
            member = apply_overrides(copy.deepcopy(data), point)
            try:
                members.append(from_dict(BackgroundRunConfig, member))
            except ConfigError as err:
                values = ", ".join(f"{k}={v!r}" for k, v in point.items())
                raise ConfigError(f"scan ({values}): {err}") from None
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return ScanConfig(base, grid, points, members)


def _check_no_scan(run_dir: Path, overwrite: bool) -> None:
    held = [n for n in ("scan_results.json", "scan_results.csv") if (run_dir / n).exists()]
    if held and not overwrite:
        raise ConfigError(f"{run_dir}: already holds a scan ({held[0]}); choose another --run-dir, or pass --overwrite")


def format_value(v: Any) -> str:
    """A configuration value for a results table: floats to 4 digits, widths lists as 128x128.

    Example:
        >>> format_value(0.00123456), format_value([128, 128]), format_value("adam")
        ('0.001235', '128x128', 'adam')
    """
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "x".join(str(i) for i in v)
    return str(v)


def aligned_table(cols: list[str], body: list[list[str]]) -> str:
    """Rows of strings as right-aligned text under their column names (the scan and search tables)."""
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def results_table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    """The scan results as aligned text, best (lowest validation -2lnLambda) first."""
    cols = ["member", *keys, "best_epoch", "neg2lnL_val", "neg2lnL_train", "loss_d", "loss_g"]
    order = sorted(rows, key=lambda r: (r["neg2lnL_val"] is None, r["neg2lnL_val"] if r["neg2lnL_val"] is not None else 0.0))
    body = [[format_value(r[c]) if c not in ("neg2lnL_val", "neg2lnL_train") or r[c] is None else f"{r[c]:.1f}" for c in cols] for r in order]
    return aligned_table(cols, body)


def scan_run(scan: ScanConfig, run_dir: str | Path, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Trains every member of a scan at once and writes the results table and the best model.

    Returns:
        {"rows": [...], "best": row of the best member, "table": the printed table, "seconds": training time}.
    """
    run_dir = Path(run_dir)
    base = scan.base
    d = base.data
    sr, _, _ = load_events(d)
    parts = split_sr(sr, d)
    check_trainable(parts, d)
    claim_run_dir(run_dir, overwrite, command="scan")
    with run_dir_lock(run_dir):
        _check_no_scan(run_dir, overwrite)
        return _scan_in(run_dir, scan, parts, progress)


def _scan_in(run_dir: Path, scan: ScanConfig, parts: dict[str, pd.DataFrame], progress: bool) -> dict[str, Any]:
    from hepgan.methods.background.model import fit_scan

    base = scan.base
    d = base.data
    with atomic_path(run_dir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump({**to_dict(base), "scan": scan.grid}, sort_keys=False))
    tr, va = parts["train"], parts["val"]
    ctx = context_columns(base, tr)
    log.info(
        "scan: %d members (%s) on %d SR training events, %d validation events",
        len(scan.members), ", ".join(f"{k} x {len(v)}" for k, v in scan.grid.items()), len(tr), len(va),
    )
    models = [build_model(cfg, progress=False) for cfg in scan.members]
    t0 = time.perf_counter()
    fit_scan(
        models, tr[d.x_columns], tr[d.conditions], event_weights(tr, d),
        validation=(va[d.x_columns], va[d.conditions], event_weights(va, d), va[ctx]), context=tr[ctx], progress=progress,
    )
    seconds = time.perf_counter() - t0
    keys = list(scan.grid)
    rows = []
    for i, (point, m) in enumerate(zip(scan.points, models)):
        h = m.history_
        b = m.best_epoch_ - 1
        rows.append({
            "member": i,
            **point,
            "best_epoch": m.best_epoch_,
            "neg2lnL_val": h["neg2lnL_val"][b] if "neg2lnL_val" in h else None,
            "neg2lnL_train": h["neg2lnL_train"][b] if "neg2lnL_train" in h else None,
            "loss_d": h["loss_d"][-1],
            "loss_g": h["loss_g"][-1],
        })
    scored = [r for r in rows if r["neg2lnL_val"] is not None]
    best = min(scored, key=lambda r: r["neg2lnL_val"]) if scored else rows[0]
    table = results_table(rows, keys)
    flat = pd.DataFrame([{k: (format_value(v) if isinstance(v, list) else v) for k, v in r.items()} for r in rows])
    with atomic_path(run_dir / "scan_results.csv") as tmp:
        flat.to_csv(tmp, index=False)
    out = {
        "metric_name": "-2lnLambda",
        "grid": scan.grid,
        "rows": rows,
        "best_member": best["member"],
        "train_seconds": round(seconds, 2),
        "histories": [
            {k: m.history_[k] for k in ("loss_d", "loss_g", "neg2lnL_train", "neg2lnL_val") if k in m.history_} for m in models
        ],
    }
    with atomic_path(run_dir / "scan_results.json") as tmp:
        tmp.write_text(json.dumps(out, indent=1))
    best_dir = run_dir / "best"
    best_dir.mkdir(exist_ok=True)
    with atomic_path(best_dir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(to_dict(scan.members[best["member"]]), sort_keys=False))
    models[best["member"]].save(best_dir / "model_best.safetensors", which="best")
    return {"rows": rows, "best": best, "table": table, "seconds": seconds, "keys": keys}


def describe_best(result: dict[str, Any]) -> str:
    """One line naming the best configuration."""
    b = result["best"]
    values = ", ".join(f"{k}={format_value(b[k])}" for k in result["keys"])
    if b["neg2lnL_val"] is None:
        return f"best: member {b['member']} ({values}); no validation metric"
    return f"best: member {b['member']} ({values}): validation -2lnLambda {b['neg2lnL_val']:.1f} at epoch {b['best_epoch']}"
