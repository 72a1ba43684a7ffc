"""The run layer, written once for every method: run configs, overrides, splits, run folders.

A run config is a YAML mapping whose ``method`` key names the method
(:mod:`hepgan.methods`); the method's config dataclass extends :class:`RunConfig`, its data
section :class:`DataConfig` and its training section :class:`TrainingConfig`, so the keys
they share are checked in one place. :func:`load_config` reads any run config, applies
dotted ``--set`` overrides (:func:`apply_overrides`) and validates it; :func:`split_events`
makes the seeded train / validation / test split; :func:`event_weights` reads the weight
column; :func:`open_run_dir` and :func:`save_fit` write what every run folder holds
(``config.yaml``, ``history.json``, ``model_best.safetensors``, ``model_last.safetensors``), and
:func:`execute_run` runs any method's part of a run in its locked run folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.config import check, choice, from_dict, load_yaml, to_dict
from hepgan.exceptions import ConfigError, SchemaError

__all__ = [
    "DataConfig",
    "TrainingConfig",
    "RunConfig",
    "load_config",
    "config_from_mapping",
    "apply_overrides",
    "split_events",
    "event_weights",
    "open_run_dir",
    "check_resumable",
    "save_fit",
    "torch_threads",
    "packaged_config",
    "run_method",
    "run_config_class",
    "MethodRun",
    "execute_run",
]


@dataclasses.dataclass
class DataConfig:
    """The data section every method shares."""

    train: str = "default"  # the event table (Parquet, ROOT file.root[:tree] or CSV)
    weight: str | None = "weight"  # weight column (null: unit weights)
    validation_fraction: float = 0.2
    test_fraction: float = 0.2  # held-out events of the final evaluation
    max_events: int | None = None  # cap on events used (after shuffling)
    split_seed: int = 1
    group: str | None = None  # rows sharing this column's value stay in one split (e.g. parton_event: K hadronisations)
    drop_nan: bool = False  # drop rows with NaN/inf values (logged) instead of stopping
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)  # column -> expression (hepgan.expressions)
    cut: str | None = None  # event selection before the aliases, e.g. "nPhoton >= 2"

    def validate(self, where: str) -> None:
        from hepgan.expressions import check as check_expression

        for name, expr in self.aliases.items():
            check(str(name).isidentifier(), f"{where}.aliases", "column names that are identifiers", name)
            try:
                check_expression(str(expr))
            except ConfigError as err:
                raise ConfigError(f"{where}.aliases.{name}: {err}") from None
        if self.cut is not None:
            try:
                check_expression(self.cut)
            except ConfigError as err:
                raise ConfigError(f"{where}.cut: {err}") from None
        check(0 < self.validation_fraction < 1, f"{where}.validation_fraction", "a number in (0, 1)", self.validation_fraction)
        check(0 <= self.test_fraction < 1, f"{where}.test_fraction", "a number in [0, 1)", self.test_fraction)
        check(self.validation_fraction + self.test_fraction < 0.9, f"{where}.test_fraction", "validation + test fractions < 0.9", self.test_fraction)
        check(self.max_events is None or self.max_events >= 10, f"{where}.max_events", "an integer >= 10 or null", self.max_events)


@dataclasses.dataclass
class TrainingConfig:
    """The training section every method shares."""

    optimizer: str = "adam"  # sgd | adam | lamb
    lr: float = 1e-3  # cosine decay to 0 over the run
    lr_d: float | None = None  # discriminator / critic (null: lr)
    epochs: int = 100
    batch_size: int = 1024
    n_critic: int = 1  # discriminator updates per generator update
    seed: int = 0
    device: str = "cpu"  # cpu | cuda[:N] | auto
    threads: int | None = None  # torch CPU threads (null: torch's default)
    checkpoint_every: int = 10  # epochs
    step: str = "auto"  # eager | graph (the fast step, a CUDA graph on CUDA) | auto (graph on CUDA)

    def validate(self, where: str) -> None:
        choice(self.optimizer, ["sgd", "adam", "lamb"], f"{where}.optimizer")
        choice(self.step, ["auto", "eager", "graph"], f"{where}.step")
        check(self.lr > 0, f"{where}.lr", "a number > 0", self.lr)
        check(self.lr_d is None or self.lr_d > 0, f"{where}.lr_d", "a number > 0 or null", self.lr_d)
        check(self.epochs >= 1, f"{where}.epochs", "an integer >= 1", self.epochs)
        check(self.batch_size >= 2, f"{where}.batch_size", "an integer >= 2", self.batch_size)
        check(self.n_critic >= 1, f"{where}.n_critic", "an integer >= 1", self.n_critic)
        check(self.threads is None or self.threads >= 1, f"{where}.threads", "an integer >= 1 or null", self.threads)
        check(self.checkpoint_every >= 0, f"{where}.checkpoint_every", "an integer >= 0", self.checkpoint_every)
        check(self.device in ("cpu", "auto") or self.device.startswith("cuda"), f"{where}.device", "cpu, auto or cuda[:N]", self.device)


@dataclasses.dataclass
class RunConfig:
    """The top level every method's run config extends: the method's name, data and training."""

    method: str = ""
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    #: the method this config class belongs to (set by each subclass)
    METHOD = ""

    def validate(self, where: str) -> None:
        choice(self.method, [self.METHOD], f"{where}.method" if where else "method")


def run_config_class(
    name: str, method: str, doc: str, validate: Callable[[Any, str], None] | None = None, **sections: type
) -> type[RunConfig]:
    """A method's run-config dataclass: ``method``, then one section per keyword (each a dataclass).

    ``data`` and ``training`` should extend :class:`DataConfig` and :class:`TrainingConfig`;
    ``validate(cfg, where)`` adds checks across sections (after the method's name is checked).

    Example:
        >>> Toy = run_config_class("ToyRunConfig", "toy", "A toy.", data=DataConfig, training=TrainingConfig)
        >>> Toy().method, Toy().training.lr
        ('toy', 0.001)
    """
    fields = [("method", str, dataclasses.field(default=method))]
    fields += [(k, t, dataclasses.field(default_factory=t)) for k, t in sections.items()]

    def check_all(self, where: str) -> None:
        RunConfig.validate(self, where)
        if validate is not None:
            validate(self, where)

    cls = dataclasses.make_dataclass(name, fields, bases=(RunConfig,), namespace={"METHOD": method, "validate": check_all})
    cls.__doc__ = doc
    return cls


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Sets dotted keys (``training.epochs``) of a config mapping in place; returns it.

    Raises:
        ConfigError: when a dotted key passes through a value that is not a section.

    Example:
        >>> apply_overrides({"training": {"lr": 0.1}}, {"training.epochs": 5})
        {'training': {'lr': 0.1, 'epochs': 5}}
    """
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = str(dotted).split(".")
        for p in parents:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {dotted}: '{p}' is not a section")
            node = child
        node[leaf] = value
    return data


def config_from_mapping(data: dict[str, Any], where: str = "config") -> RunConfig:
    """Builds and validates the run config of the method that ``data['method']`` names."""
    from hepgan.methods import get_method, method_names

    name = data.get("method")
    if name is None:
        raise ConfigError(f"{where}: no 'method' key; add e.g. 'method: background' (methods: {', '.join(method_names())})")
    cls = get_method(str(name)).config_class()
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Reads a YAML run config of any method; ``overrides`` maps dotted keys to values."""
    data = apply_overrides(load_yaml(path), overrides)
    return config_from_mapping(data, str(path))


def packaged_config(name: str) -> Path:
    """Path of a config shipped with hepgan (``demo``, ``paper``, ``ttbar``, ...)."""
    p = Path(__file__).resolve().parent / "configs" / f"{name}.yaml"
    if not p.is_file():
        raise ConfigError(f"no packaged config '{name}'")
    return p


def run_method(cfg: RunConfig):
    """The registered method of a run config."""
    from hepgan.methods import get_method

    return get_method(cfg.method)


# --------------------------------------------------------------------------- data


def split_events(df: pd.DataFrame, cfg: DataConfig, what: str = "events", min_events: int = 1) -> dict[str, pd.DataFrame]:
    """Shuffled train / validation / test split (seeded by ``data.split_seed``; capped at ``data.max_events``).

    Raises:
        SchemaError: a split with fewer than ``min_events`` events (the test split may be empty
            when ``data.test_fraction`` is 0).
    """
    rng = np.random.default_rng(cfg.split_seed)
    if cfg.group is None:
        idx = rng.permutation(len(df))
        if cfg.max_events is not None:
            idx = idx[: cfg.max_events]
        n = len(idx)
        n_val, n_test = round(cfg.validation_fraction * n), round(cfg.test_fraction * n)
        parts = {"val": idx[:n_val], "test": idx[n_val : n_val + n_test], "train": idx[n_val + n_test :]}
    else:
        if cfg.group not in df.columns:
            raise SchemaError(f"{cfg.train}: data.group names the column '{cfg.group}', which the {what} do not have")
        # whole groups, in a shuffled order, fill validation, then test, then training
        _, inverse = np.unique(df[cfg.group].to_numpy(), return_inverse=True)
        order = rng.permutation(inverse.max() + 1 if len(inverse) else 0)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        idx = np.lexsort((np.arange(len(df)), rank[inverse]))  # rows ordered by their group's place in the shuffle
        if cfg.max_events is not None:
            idx = idx[: cfg.max_events]
        n = len(idx)
        g = rank[inverse[idx]]
        cut_val = g[min(round(cfg.validation_fraction * n), n - 1)] if n else 0
        cut_test = g[min(round((cfg.validation_fraction + cfg.test_fraction) * n), n - 1)] if n else 0
        parts = {"val": idx[g < cut_val], "test": idx[(g >= cut_val) & (g < cut_test)], "train": idx[g >= cut_test]}
    out = {k: df.iloc[np.sort(v)].reset_index(drop=True) for k, v in parts.items()}
    for k in ("train", "val") + (("test",) if cfg.test_fraction > 0 else ()):
        if len(out[k]) < min_events:
            raise SchemaError(
                f"{cfg.train}: the {what} {k} split has {len(out[k])} events; give more events or change data.validation_fraction / test_fraction"
            )
    return out


def event_weights(df: pd.DataFrame, cfg: DataConfig) -> np.ndarray | None:
    """The weight column as float64 (None when the config has no weight column)."""
    return df[cfg.weight].to_numpy(dtype=np.float64) if cfg.weight else None


# --------------------------------------------------------------------------- run folder


@contextlib.contextmanager
def open_run_dir(run_dir: str | Path, cfg: RunConfig, resume: bool, overwrite: bool, command: str = "train") -> Iterator[Path]:
    """The run folder for the block, locked against a second hepgan process.

    A new run: the folder is created, or an existing one taken (hepgan's own, or with
    ``overwrite`` a user's, whose files are left alone), a run already there is refused unless
    ``overwrite``, and config.yaml is written. ``resume``: the folder must hold a run. Call it
    after every input check: bad input must leave nothing behind.
    """
    import yaml

    from hepgan.io import atomic_path, claim_run_dir, clear_run, run_dir_lock

    run_dir = Path(run_dir)
    if resume:
        check_resumable(run_dir)
        with run_dir_lock(run_dir):
            for stale in run_dir.glob(".*.tmp"):  # left by a process killed while writing (kill -9)
                stale.unlink()
            yield run_dir
        return
    claim_run_dir(run_dir, overwrite, command)
    with run_dir_lock(run_dir):
        clear_run(run_dir, overwrite)
        with atomic_path(run_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        yield run_dir


def check_resumable(run_dir: str | Path) -> None:
    """Raises ConfigError unless ``run_dir`` holds a config.yaml to resume from."""
    if not (Path(run_dir) / "config.yaml").is_file():
        raise ConfigError(f"{run_dir}: no config.yaml to resume from")


def save_fit(run_dir: str | Path, model: Any, extra: dict[str, Any] | None = None) -> None:
    """history.json, model_best.safetensors and model_last.safetensors of a fitted model."""
    from hepgan.training.loop import write_history

    run_dir = Path(run_dir)
    write_history(run_dir / "history.json", model.history_)
    model.save(run_dir / "model_best.safetensors", which="best", extra=extra)
    model.save(run_dir / "model_last.safetensors", which="last", extra=extra)


def write_provenance(run_dir: str | Path, inputs: list[Path]) -> None:
    """RUN_DIR/provenance.json: versions, command, time, the inputs' hashes and the model files' digests."""
    import json

    from hepgan.io import atomic_path
    from hepgan.provenance import record

    run_dir = Path(run_dir)
    rec = record(inputs=[p for p in inputs if p.is_file()], models=[run_dir / "model_best.safetensors", run_dir / "model_last.safetensors"])
    with atomic_path(run_dir / "provenance.json") as tmp:
        tmp.write_text(json.dumps(rec, indent=1))


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Sets torch's CPU threads for the block (None: unchanged)."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --------------------------------------------------------------------------- the run


class MethodRun:
    """A method's part of ``hepgan train``; :func:`execute_run` does the rest, the same for every method.

    ``load`` must raise on bad input before anything is written (the run folder is claimed
    after it); ``evaluate`` writes ``evaluation/``, ``summary.json`` and ``summary.txt`` and
    returns the summary; ``report`` writes ``report.html``.
    """

    def load(self, cfg: Any) -> Any:
        raise NotImplementedError

    def fit(self, cfg: Any, data: Any, run_dir: Path, resume: bool, progress: bool) -> Any:
        raise NotImplementedError

    def model_extra(self, cfg: Any, data: Any) -> dict[str, Any] | None:
        """JSON stored with the model files (e.g. the training sample's cross-section)."""
        return None

    def evaluate(self, cfg: Any, data: Any, model: Any, run_dir: Path, train_seconds: float) -> dict[str, Any]:
        raise NotImplementedError

    def report(self, cfg: Any, run_dir: Path) -> Path:
        raise NotImplementedError

    def input_files(self, cfg: Any) -> list[Path]:
        """The files the run reads (hashed into its provenance.json)."""
        return [Path(str(cfg.data.train).split(".root:")[0] + ".root") if ".root:" in str(cfg.data.train) else Path(cfg.data.train)]


def execute_run(
    method: MethodRun,
    cfg: RunConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """One run of any method: load and check the data, claim the folder, train, save, evaluate, report.

    Bad input raises before the run folder is created or touched. Without ``overwrite``, a folder
    that already holds a run is refused rather than lost; ``resume`` continues it from its
    checkpoint. ``training.threads`` holds for training and evaluation. With ``report=False`` the
    HTML report is left for a later ``hepgan report RUN_DIR``.

    Returns:
        The summary (also in run_dir/summary.json and summary.txt).
    """
    import time

    data = method.load(cfg)
    with open_run_dir(run_dir, cfg, resume, overwrite) as run_dir, torch_threads(cfg.training.threads):
        t0 = time.perf_counter()
        model = method.fit(cfg, data, run_dir, resume, progress)
        seconds = time.perf_counter() - t0
        save_fit(run_dir, model, extra=method.model_extra(cfg, data))
        write_provenance(run_dir, method.input_files(cfg))
        summary = method.evaluate(cfg, data, model, run_dir, seconds)
        if report:
            method.report(cfg, run_dir)
    return summary
