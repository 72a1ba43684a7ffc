"""Adaptive hyperparameter searches of the background-estimation GAN with Optuna: ``hepgan search``.

A search config is a run config with one more section, ``search``, mapping dotted config keys
to ranges::

    search:
      training.lr: {low: 1.0e-4, high: 3.0e-3, log: true}   # a float (log-uniform)
      training.n_critic: {choices: [1, 2, 3]}               # a choice
      model.latent_dim: {low: 8, high: 64, step: 8}         # an integer (both bounds integers)

Each trial is one ordinary training run (the run machinery of ``hepgan train``, without the
HTML report) in ``RUN_DIR/trial_<n>/``; its value is the run's selection metric at its best
epoch (the validation -2lnLambda, lower is better; the validation NLL for ``model.arch: flow``).
The per-epoch metric is reported to Optuna, whose pruner (the median rule by default) may stop
a trial early. The study lives in an Optuna storage (``sqlite:///RUN_DIR/search.db`` by
default, or any RDB URL), so several processes or machines can share one study. The folder::

    search.db                      the study (default storage)
    trial_<n>/                     each trial's run folder (config.yaml, history.json, models)
    search_results.csv, .json      one row per trial of the study: number, state, parameters,
                                   value, best epoch
    best/config.yaml               the best trial's full run config (hepgan train best/config.yaml)
    best/model_best.safetensors    the best trial's kept model (when its folder is on this machine)
"""

from __future__ import annotations

import copy
import difflib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hepgan.config import from_dict, load_yaml, to_dict
from hepgan.exceptions import ConfigError, MissingExtraError
from hepgan.io import atomic_path, claim_run_dir, run_dir_lock
from hepgan.methods.background.config import BackgroundRunConfig
from hepgan.methods.background.run import BackgroundRun, build_model, check_trainable, context_columns, load_events, split_sr
from hepgan.methods.background.scan import aligned_table, format_value
from hepgan.runs import apply_overrides, event_weights, execute_run

__all__ = ["SearchConfig", "load_search_config", "search_run", "import_optuna"]

log = logging.getLogger("hepgan")

_SPEC_KEYS = {"low", "high", "log", "step", "choices"}


def import_optuna() -> Any:
    """optuna, or a MissingExtraError naming the extra to install."""
    try:
        import optuna
    except ImportError as err:
        raise MissingExtraError("optuna", "search") from err
    return optuna


class SearchConfig:
    """A validated search: the base run config (as a mapping and validated), the space, the selection.

    Attributes:
        data: the run config mapping without the search section (overrides applied).
        base: its BackgroundRunConfig.
        space: {dotted key: spec} with spec {"kind": "float"|"int"|"categorical", ...}.
        selection: the metric a trial is scored by (hepgan.training.record.Selection).
    """

    def __init__(self, data: dict[str, Any], base: BackgroundRunConfig, space: dict[str, dict[str, Any]], selection: Any):
        self.data, self.base, self.space, self.selection = data, base, space, selection

    def trial_config(self, params: dict[str, Any]) -> BackgroundRunConfig:
        """The run config of one point of the space."""
        return from_dict(BackgroundRunConfig, apply_overrides(copy.deepcopy(self.data), params))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_spec(key: str, spec: Any, where: str) -> dict[str, Any]:
    w = f"{where}.{key}"
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(f"{w}: expected a mapping {{low: .., high: ..[, log: true][, step: ..]}} or {{choices: [..]}}, got {spec!r}")
    unknown = [k for k in spec if k not in _SPEC_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), sorted(_SPEC_KEYS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(_SPEC_KEYS))})"
        raise ConfigError(f"{w}.{unknown[0]}: unknown key{hint}")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise ConfigError(f"{w}: choices cannot be combined with {', '.join(sorted(set(spec) - {'choices'}))}")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{w}.choices: expected a non-empty list, got {choices!r}")
        for c in choices:
            if c is not None and not isinstance(c, (bool, int, float, str)):
                raise ConfigError(f"{w}.choices: each choice must be a number, string, boolean or null, got {c!r}")
        return {"kind": "categorical", "choices": choices}
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{w}: expected both low and high (or choices)")
    low, high, log_, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    if not _number(low) or not _number(high):
        raise ConfigError(f"{w}: low and high must be numbers, got {low!r} and {high!r}")
    if not low < high:
        raise ConfigError(f"{w}: expected low < high, got low {low!r}, high {high!r}")
    if not isinstance(log_, bool):
        raise ConfigError(f"{w}.log: expected true or false, got {log_!r}")
    if log_ and low <= 0:
        raise ConfigError(f"{w}: log: true needs low > 0, got {low!r}")
    if step is not None and (not _number(step) or step <= 0):
        raise ConfigError(f"{w}.step: expected a number > 0, got {step!r}")
    if step is not None and log_:
        raise ConfigError(f"{w}: step and log: true cannot be combined")
    is_int = isinstance(low, int) and isinstance(high, int) and (step is None or isinstance(step, int))
    return {"kind": "int" if is_int else "float", "low": low, "high": high, "log": log_, "step": step}


def _corners(spec: dict[str, Any]) -> list[Any]:
    return list(spec["choices"]) if spec["kind"] == "categorical" else [spec["low"], spec["high"]]


def load_search_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SearchConfig:
    """Reads and validates a search config: the run config, the ``search`` space, every bound of it.

    Every key must be a key of the run config, and the config must be valid at every bound (each
    choice) of each key, so that a bad space fails here, before any training. ``overrides`` (as
    ``--set``) must not name a searched key.
    """
    from hepgan.methods.background.model import SELECTION

    data = load_yaml(path)
    if data.get("method") != "background":
        raise ConfigError(f"{path}: hepgan search trains background-estimation configs only; expected 'method: background', got {data.get('method')!r}")
    if "search" not in data:
        raise ConfigError(f"{path}: no 'search' section (a mapping of config keys to ranges, e.g. training.lr: {{low: 1.0e-4, high: 3.0e-3, log: true}})")
    raw = data.pop("search")
    try:
        if not isinstance(raw, dict) or not raw:
            raise ConfigError("search: expected a non-empty mapping of config keys to ranges, e.g. training.lr: {low: 1.0e-4, high: 3.0e-3, log: true}")
        space = {str(k): _parse_spec(str(k), v, "search") for k, v in raw.items()}
        for dotted in overrides or {}:
            if dotted in space:
                raise ConfigError(f"--set {dotted}: the key is searched (search.{dotted})")
        if "model.arch" in space:
            raise ConfigError("search.model.arch: the architecture cannot be searched (the GAN and the flow are scored by different metrics)")
        apply_overrides(data, overrides)
        base = from_dict(BackgroundRunConfig, copy.deepcopy(data))
        for key, spec in space.items():
            for value in _corners(spec):
                try:
                    from_dict(BackgroundRunConfig, apply_overrides(copy.deepcopy(data), {key: value}))
                except ConfigError as err:
                    raise ConfigError(f"search.{key} = {value!r}: {err}") from None
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    selection = SELECTION
    if base.model.arch == "flow":
        from hepgan.methods.background.flow import SELECTION_FLOW

        selection = SELECTION_FLOW
    return SearchConfig(data, base, space, selection)


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One point of the space from an Optuna trial."""
    params = {}
    for key, spec in space.items():
        if spec["kind"] == "categorical":
            params[key] = trial.suggest_categorical(key, spec["choices"])
        elif spec["kind"] == "int":
            params[key] = trial.suggest_int(key, spec["low"], spec["high"], step=spec["step"] or 1, log=spec["log"])
        else:
            params[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]), step=spec["step"], log=spec["log"])
    return params


class _TrialRun(BackgroundRun):
    """A background run whose fit reports each epoch's selection metric to a trial (and may be pruned)."""

    def __init__(self, callback: Any):
        self.callback = callback

    def fit(self, cfg, data, run_dir, resume, progress):
        d = cfg.data
        tr, va = data["parts"]["train"], data["parts"]["val"]
        ctx = context_columns(cfg, tr)
        model = build_model(cfg, progress=progress)
        model.epoch_callback = self.callback
        return model.fit(
            tr[d.x_columns], tr[d.conditions], event_weights(tr, d),
            validation=(va[d.x_columns], va[d.conditions], event_weights(va, d), va[ctx]),
            run_dir=run_dir, resume=resume, context=tr[ctx],
        )  # fmt: skip


def default_storage(run_dir: str | Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / 'search.db'}"


def _check_no_search(run_dir: Path, overwrite: bool) -> None:
    held = [n for n in ("search_results.json", "search_results.csv") if (run_dir / n).exists()]
    if held and not overwrite:
        raise ConfigError(f"{run_dir}: already holds a search ({held[0]}); choose another --run-dir, or pass --overwrite (the study continues)")


def search_run(
    search: SearchConfig,
    run_dir: str | Path,
    trials: int,
    storage: str | None = None,
    study_name: str = "hepgan",
    seed: int | None = None,
    prune: bool = True,
    pruner: Any = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Runs ``trials`` more trials of the study and writes the results of every trial in it.

    Args:
        search: the validated search config.
        run_dir: the search folder (trial folders, results, best/).
        trials: trials run by this call (the study may hold more, from earlier calls or other processes).
        storage: an Optuna storage URL (default: ``sqlite:///RUN_DIR/search.db``).
        study_name: the study in the storage; an existing one is joined.
        seed: the TPE sampler's seed (default: the config's training.seed).
        prune: prune trials by the median rule (``pruner`` replaces it).

    Returns:
        {"rows", "best" (row or None), "table", "seconds", "keys", "best_model" (path or None), "study"}.
    """
    optuna = import_optuna()
    if trials < 1:
        raise ConfigError(f"--trials: expected an integer >= 1, got {trials}")
    run_dir = Path(run_dir)
    d = search.base.data
    sr, _, _ = load_events(d)
    check_trainable(split_sr(sr, d), d)
    claim_run_dir(run_dir, overwrite, command="search")
    with run_dir_lock(run_dir):
        _check_no_search(run_dir, overwrite)
        storage = storage or default_storage(run_dir)
        seed = search.base.training.seed if seed is None else seed
        if pruner is None:
            pruner = optuna.pruners.MedianPruner() if prune else optuna.pruners.NopPruner()
        direction = "minimize" if search.selection.mode == "min" else "maximize"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = _open_study(optuna, storage, study_name, optuna.samplers.TPESampler(seed=seed), pruner, direction)
        if study.direction.name.lower() != direction:
            raise ConfigError(f"study {study_name!r} in {storage}: its direction is {study.direction.name.lower()}, this search's {direction}")
        with atomic_path(run_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump({**to_dict(search.base), "search": _plain_space(search.space)}, sort_keys=False))
        metric = search.selection.metric
        t0 = time.perf_counter()

        def objective(trial: Any) -> float:
            params = suggest(trial, search.space)
            cfg = search.trial_config(params)
            trial_dir = run_dir / f"trial_{trial.number}"
            trial.set_user_attr("run_dir", str(trial_dir.resolve()))
            log.info("trial %d: %s", trial.number, ", ".join(f"{k}={format_value(v)}" for k, v in params.items()))

            def report(epoch: int, values: dict[str, float]) -> None:
                if metric in values:
                    trial.report(float(values[metric]), epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after epoch {epoch}")

            summary = execute_run(_TrialRun(report), cfg, trial_dir, progress=progress, overwrite=overwrite, report=False)
            history = json.loads((trial_dir / "history.json").read_text())
            best = summary["best_epoch"]
            trial.set_user_attr("best_epoch", best)
            values = history.get(metric)
            if not values:
                raise ConfigError(f"trial {trial.number}: no validation metric {metric!r} (is the validation split empty?)")
            return float(values[best - 1])

        study.optimize(objective, n_trials=trials, catch=())
        seconds = time.perf_counter() - t0
        return _write_results(study, search, run_dir, seconds)


def _open_study(optuna: Any, storage: str, name: str, sampler: Any, pruner: Any, direction: str) -> Any:
    """Creates or joins the study; retries while another process is creating the same storage's tables."""
    for attempt in range(6):
        try:
            return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner, direction=direction, load_if_exists=True)
        except (ValueError, ImportError, optuna.exceptions.OptunaError) as err:
            raise ConfigError(f"--storage {storage}: {err}") from None
        except Exception as err:  # sqlalchemy: two processes creating the schema at once
            if not type(err).__module__.startswith("sqlalchemy") or attempt == 5:
                raise ConfigError(f"--storage {storage}: {' '.join(str(err).split())[:300]}") from None
            log.info("storage %s: busy (%s); retrying", storage, type(err).__name__)
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _plain_space(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for k, s in space.items():
        if s["kind"] == "categorical":
            out[k] = {"choices": s["choices"]}
        else:
            out[k] = {"low": s["low"], "high": s["high"], **({"log": True} if s["log"] else {}), **({"step": s["step"]} if s["step"] is not None else {})}
    return out


def _rank(rows: list[dict[str, Any]], minimize: bool) -> list[dict[str, Any]]:
    done = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    rest = [r for r in rows if r not in done]
    return sorted(done, key=lambda r: r["value"] if minimize else -r["value"]) + sorted(rest, key=lambda r: r["number"])


def results_table(rows: list[dict[str, Any]], keys: list[str], minimize: bool = True) -> str:
    """The trials as aligned text, completed ones best first, then pruned and failed ones."""
    cols = ["trial", "state", *keys, "best_epoch", "value"]
    body = []
    for r in _rank(rows, minimize):
        body.append([str(r["number"]), r["state"].lower(), *(format_value(r["params"].get(k, "")) for k in keys),
                     "" if r["best_epoch"] is None else str(r["best_epoch"]), "" if r["value"] is None else f"{r['value']:.4g}"])  # fmt: skip
    return aligned_table(cols, body)


def _write_results(study: Any, search: SearchConfig, run_dir: Path, seconds: float) -> dict[str, Any]:
    minimize = study.direction.name.lower() == "minimize"
    keys = list(search.space)
    rows = []
    for t in study.get_trials(deepcopy=False):
        value = t.value if t.state.name == "COMPLETE" else (t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None)
        rows.append({
            "number": t.number,
            "state": t.state.name,
            "params": dict(t.params),
            "value": None if value is None else float(value),
            "best_epoch": t.user_attrs.get("best_epoch"),
            "epochs_run": max(t.intermediate_values) if t.intermediate_values else 0,
            "run_dir": t.user_attrs.get("run_dir"),
        })
    done = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    best = _rank(done, minimize)[0] if done else None
    flat = pd.DataFrame([{**{k: v for k, v in r.items() if k != "params"}, **{k: r["params"].get(k) for k in keys}} for r in rows])
    with atomic_path(run_dir / "search_results.csv") as tmp:
        flat.to_csv(tmp, index=False)
    out = {
        "metric_name": search.selection.label or search.selection.metric,
        "direction": study.direction.name.lower(),
        "study_name": study.study_name,
        "space": _plain_space(search.space),
        "rows": rows,
        "best_trial": None if best is None else best["number"],
        "seconds": round(seconds, 2),
    }
    with atomic_path(run_dir / "search_results.json") as tmp:
        tmp.write_text(json.dumps(out, indent=1))
    best_model = None
    if best is not None:
        best_dir = run_dir / "best"
        best_dir.mkdir(exist_ok=True)
        with atomic_path(best_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(to_dict(search.trial_config(best["params"])), sort_keys=False))
        src = Path(best["run_dir"]) / "model_best.safetensors" if best["run_dir"] else None
        if src is not None and src.is_file():
            with atomic_path(best_dir / "model_best.safetensors") as tmp:
                shutil.copyfile(src, tmp)
            best_model = best_dir / "model_best.safetensors"
    return {"rows": rows, "best": best, "table": results_table(rows, keys, minimize), "seconds": seconds, "keys": keys,
            "best_model": best_model, "study": study}  # fmt: skip


def describe_best(result: dict[str, Any], label: str) -> str:
    """One line naming the best trial (or saying that none completed)."""
    b = result["best"]
    if b is None:
        return "best: no trial completed"
    values = ", ".join(f"{k}={format_value(b['params'].get(k))}" for k in result["keys"])
    line = f"best: trial {b['number']} ({values}): validation {label} {b['value']:.4g} at epoch {b['best_epoch']}"
    if result["best_model"] is None:
        line += f"; its model is not on this machine (trial folder {b['run_dir']})"
    return line
