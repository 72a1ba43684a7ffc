"""One estimator base for every hepgan model.

In the style of scikit-learn: hyperparameters are stored unchanged by ``__init__`` and
validated by ``fit``; fitted state ends in ``_``; ``fit`` returns the estimator; ``save`` and
``load`` write and read one safetensors file (network weights) with a JSON header
(hyperparameters, fitted preprocessing, history, a format name and version, a SHA-256 of the
contents checked on load). No pickle anywhere.

A subclass declares:

* ``format`` and ``format_version`` of its model files;
* ``kept``: which networks of its training task are the fitted model, by saved name,
  e.g. ``{"generator": "g"}``; each is stored as the attribute ``<saved name>_``;
* ``_build_networks()``: the task's networks, freshly initialised from the seed;
* ``_fitted_meta()`` / ``_restore_fitted(meta)``: its fitted preprocessing as JSON.

It trains with :meth:`Estimator._train`, which runs the engine (:mod:`hepgan.training`) and
stores ``history_``, ``best_epoch_`` and the last epoch's weights ``last_states_``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from hepgan import __version__
from hepgan.exceptions import ConfigError, ModelFileError

__all__ = ["Estimator", "TRAINING_DEFAULTS", "seed_from", "check_int", "check_number", "check_choice", "current_device"]


def seed_from(*parts: int) -> int:
    """A 63-bit seed derived from integers (stable across runs, platforms and numpy versions).

    Every random stream of a fit has its own seed derived from the user's seed and a fixed
    tag (initial weights 1, preprocessing 2, training 3, ...), so streams never overlap.

    Example:
        >>> seed_from(0, 1) == seed_from(0, 1) != seed_from(0, 2)
        True
    """
    state = np.random.SeedSequence([p & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint32)
    return int(state.view(np.uint64)[0] >> 1)


def check_int(name: str, value: Any, low: int = 1) -> None:
    """Raises ConfigError('name: expected an integer >= low, got ...') unless value is such an integer."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name}: expected an integer >= {low}, got {value!r}")


def check_number(name: str, value: Any, low: float = 0.0, high: float = float("inf"), low_open: bool = False, high_open: bool = True) -> None:
    """Raises ConfigError unless value is a finite number in the interval (brackets as given)."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        if high == float("inf"):
            span = f"a number > {low:g}" if low_open else f"a number >= {low:g}"
        else:
            span = f"a number in {lo}{low:g}, {high:g}{hi}"
        raise ConfigError(f"{name}: expected {span}, got {value!r}")


def check_choice(name: str, value: Any, options: tuple[str, ...] | list[str]) -> None:
    """Raises ConfigError unless value is one of options."""
    if value not in options:
        raise ConfigError(f"{name}: expected one of {', '.join(options)}, got {value!r}")


#: The training hyperparameters every estimator takes as keyword arguments, with their defaults
#: (a subclass may change a default in its own ``training_defaults``).
TRAINING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",  # sgd | adam | lamb (hepgan.training.optim)
    "lr": 1e-3,  # initial learning rate, cosine decay to 0 over the run
    "lr_d": None,  # the discriminator's (None: lr)
    "epochs": 100,
    "batch_size": 1024,
    "n_critic": 1,  # discriminator updates per generator update
    "seed": 0,  # the one seed of the fit
    "device": "cpu",  # cpu | cuda[:N] | auto
    "checkpoint_every": 10,  # epochs between checkpoints when fit gets a run_dir
    "progress": True,  # a progress bar on stderr
    "step": "auto",  # eager | graph (the fast step, a CUDA graph on CUDA) | auto (graph on CUDA)
}


class Estimator:
    """Base class of hepgan's models (see the module docstring for what a subclass declares).

    Every estimator takes the training hyperparameters of :data:`TRAINING_DEFAULTS` as keyword
    arguments (``optimizer``, ``lr``, ``lr_d``, ``epochs``, ``batch_size``, ``n_critic``,
    ``seed``, ``device``, ``checkpoint_every``, ``progress``, ``step``) beside its own, and
    validates them in ``fit``.
    """

    format: ClassVar[str] = ""
    format_version: ClassVar[int] = 1
    kept: ClassVar[dict[str, str]] = {}
    training_defaults: ClassVar[dict[str, Any]] = TRAINING_DEFAULTS
    #: ``callback(epoch, values)`` after each training epoch (TrainSettings.epoch_callback); not a
    #: hyperparameter and never saved: set it on an instance before ``fit`` (hepgan search prunes with it).
    epoch_callback: Any = None

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _own_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__).parameters
        return [k for k, p in sig.items() if k != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]

    @classmethod
    def _param_names(cls) -> list[str]:
        return cls._own_param_names() + list(cls.training_defaults)

    def _store_params(self, values: Mapping[str, Any]) -> None:
        """Stores every ``__init__`` argument unchanged (call with ``locals()``); validation waits for ``fit``.

        The training hyperparameters come in ``values["training"]`` (the ``**training`` keywords);
        an unknown keyword is an error that names it.
        """
        for k in self._own_param_names():
            if k != "training":
                setattr(self, k, values[k])
        given = dict(values.get("training") or {})
        unknown = [k for k in given if k not in self.training_defaults]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], self._param_names(), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{type(self).__name__}: unknown parameter '{unknown[0]}'{hint}")
        for k, default in self.training_defaults.items():
            setattr(self, k, given.get(k, default))

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to ``__init__`` (the training ones included), by name."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Sets hyperparameters by name (unknown names are an error); returns self."""
        known = self._param_names()
        for k, v in params.items():
            if k not in known:
                raise ConfigError(f"{type(self).__name__}: unknown parameter '{k}'")
            setattr(self, k, v)
        return self

    def _validate_params(self) -> None:
        """Checks the training hyperparameters; subclasses extend it for their own."""
        for name in ("epochs", "batch_size", "n_critic"):
            check_int(name, getattr(self, name))
        check_int("checkpoint_every", self.checkpoint_every, 0)
        check_number("lr", self.lr, 0.0, low_open=True)
        if self.lr_d is not None:
            check_number("lr_d", self.lr_d, 0.0, low_open=True)
        check_choice("optimizer", self.optimizer, ("sgd", "adam", "lamb"))
        check_choice("step", self.step, ("auto", "eager", "graph"))

    # ------------------------------------------------------------------ training
    def _train_settings(self, selection: Any, **overrides: Any) -> Any:
        """The loop settings from the common hyperparameters; the seed is derived from ``seed``."""
        from hepgan.training.loop import TrainSettings

        args = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": seed_from(self.seed, 3),
            "device": self.device,
            "checkpoint_every": self.checkpoint_every,
            "selection": selection,
            "progress": self.progress,
            "step": self.step,
            "epoch_callback": self.epoch_callback,
        }
        args.update(overrides)
        return TrainSettings(**args)

    def _optimizer_specs(self) -> tuple[Any, Any]:
        """The generator's and the discriminator's update rules from ``optimizer``, ``lr`` and ``lr_d``."""
        from hepgan.training.task import OptimizerSpec

        return OptimizerSpec(self.optimizer, self.lr), OptimizerSpec(self.optimizer, self.lr_d or self.lr)

    def _train(self, task: Any, data: Mapping[str, Any], settings: Any, run_dir: str | Path | None = None, resume: bool = False) -> None:
        """Runs the engine on ``task`` and stores the result (history, best epoch, kept networks)."""
        from hepgan.training.loop import Trainer

        trainer = Trainer(settings)
        self.device_ = trainer.device
        self._finish(trainer.fit(task, data, run_dir=run_dir, resume=resume), task)

    def _finish(self, history: dict[str, Any], task: Any) -> None:
        """Stores a history (from the loop or a scan); the task's networks hold the kept weights."""
        last = history.pop("last_networks")
        self.last_states_ = {saved: last[net] for saved, net in self.kept.items()}
        self.history_ = history
        self.best_epoch_ = history["best_epoch"]
        for saved, net in self.kept.items():
            setattr(self, f"{saved}_", task.networks[net].eval())

    def _check_fitted(self) -> None:
        if not self.kept or not all(hasattr(self, f"{saved}_") for saved in self.kept):
            name = type(self).__name__
            raise ConfigError(f"this {name} is not fitted: call fit() or {name}.load()")

    # ------------------------------------------------------------------ subclass hooks
    def _build_networks(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _fitted_meta(self) -> dict[str, Any]:
        return {}

    def _restore_fitted(self, meta: dict[str, Any]) -> None:
        """Restores the fitted preprocessing from the JSON of :meth:`_fitted_meta`."""

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path, which: str = "best", extra: dict[str, Any] | None = None) -> Path:
        """Writes one .safetensors file: the kept networks' weights, hyperparameters, preprocessing, history.

        Args:
            path: output file (written under a temporary name and renamed when complete).
            which: "best" (the kept epoch) or "last" (the last epoch's weights).
            extra: JSON-serialisable information stored with the model (e.g. the training sample's metadata).
        """
        from hepgan.training.state import save_state

        self._check_fitted()
        check_choice("which", which, ("best", "last"))
        weights = {saved: (getattr(self, f"{saved}_").state_dict() if which == "best" else self.last_states_[saved]) for saved in self.kept}
        meta = {
            "format": self.format,
            "format_version": self.format_version,
            "hepgan_version": __version__,
            "which": which,
            "params": self.get_params(),
            **self._fitted_meta(),
            "best_epoch": self.best_epoch_,
            "history": self.history_,
            "extra": extra if extra is not None else getattr(self, "extra_", {}),
        }
        return save_state(path, weights, meta=meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Estimator:
        """Reads a model written by :meth:`save`; never executes code from the file.

        Raises:
            ModelFileError: absent, corrupt, tampered, another kind of model, another format version,
                or weights that do not fit the stored architecture.
        """
        from hepgan.training.device import resolve_device
        from hepgan.training.state import load_model_file

        state, meta = load_model_file(path, cls.format, cls.format_version)
        try:
            params = dict(meta["params"])
            params["device"] = device
            model = cls(**params)
            model._restore_fitted(meta)
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"{path}: incomplete {cls.__name__} model record ({type(err).__name__}: {err})") from None
        model.best_epoch_ = meta.get("best_epoch")
        model.history_ = meta.get("history", {})
        model.extra_ = meta.get("extra", {})
        nets = model._build_networks()
        model.last_states_ = {}
        for saved, net in cls.kept.items():
            try:
                nets[net].load_state_dict(state[saved])
            except (RuntimeError, KeyError) as err:
                raise ModelFileError(f"{path}: weights do not fit the stored architecture ({err})") from None
            setattr(model, f"{saved}_", nets[net].eval())
            model.last_states_[saved] = state[saved]
        model.device_ = resolve_device(device)
        model.path_ = Path(path)  # where it was read from (provenance of what it makes)
        model._after_load()
        return model

    def _after_load(self) -> None:
        """Hook: device-side buffers after :meth:`load`."""

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_params().items() if k in self._repr_params}
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    _repr_params: ClassVar[tuple[str, ...]] = ()


def current_device(model: Estimator) -> torch.device:
    """The device a fitted or loaded model computes on (the CPU before it is fitted)."""
    return getattr(model, "device_", torch.device("cpu"))
