"""The methods of hepgan and their registry.

Each method lives in its own folder, ``hepgan/methods/<name>/``, with one layout:
``model.py`` (its estimators), ``config.py`` (its run-config class), ``run.py``
(``train_run`` and ``write_run_report``) and ``cli.py`` (``COMMANDS``, the adders of the
command-line commands it brings). The registry below maps the ``method:`` key of a run config
to a :class:`Method` built from that layout and the entry's summary, config class and model
formats; ``hepgan train``, ``hepgan report``, ``hepgan.load`` and the command line ask it.
Adding a method is a new folder and a registry entry.

Everything is named by ``"module:attribute"`` strings and imported on first use, so that the
command line starts without importing torch.

Example:
    >>> from hepgan.methods import get_method, method_names
    >>> method_names()
    ['background', 'generation', 'subtraction', 'scaling', 'unfolding']
    >>> get_method("background").config_class().__name__
    'BackgroundRunConfig'
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Sequence
from typing import Any

from hepgan.exceptions import ConfigError

__all__ = ["Method", "get_method", "method_names", "estimator_class", "resolve", "lazy_attributes"]

#: The registry: method name -> what differs between folders (the rest follows the layout).
_REGISTRY: dict[str, dict[str, Any]] = {
    "background": {
        "summary": "data-driven background estimation: a conditional GAN replaces the object that fails the ID in CR events",
        "config": "BackgroundRunConfig",
        "formats": {"hepgan.ConditionalGAN": "ConditionalGAN"},
    },
    "generation": {
        "summary": "event generation: a GAN with an MMD term on resonance masses (top pairs)",
        "config": "GenerationRunConfig",
        "formats": {"hepgan.EventGAN": "EventGAN"},
    },
    "subtraction": {
        "summary": "event subtraction: a GAN whose events follow P_B - P_S (or any signed sum) of its input samples",
        "config": "SubtractionRunConfig",
        "formats": {"hepgan.SubtractionGAN": "SubtractionGAN"},
    },
    "scaling": {
        "summary": "dataset scaling: a WGAN-GP makes many events from few (pseudo-experiments of the look-elsewhere study, hepgan lee)",
        "config": "ScalingRunConfig",
        "formats": {"hepgan.TableWGAN": "TableWGAN"},
    },
    "unfolding": {
        "summary": "unfolding detector effects: a fully conditional GAN (or the naive GAN) maps detector events to parton events",
        "config": "UnfoldingRunConfig",
        "formats": {"hepgan.UnfoldingGAN": "UnfoldingGAN"},
    },
}


def resolve(ref: str) -> Any:
    """Imports ``"package.module:attribute"`` and returns the attribute."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclasses.dataclass(frozen=True)
class Method:
    """What a method registers (every reference is a ``"module:attribute"`` string).

    Args:
        name: the ``method:`` key of its run configs.
        summary: one line for ``hepgan --help``.
        config: its run-config dataclass (a :class:`hepgan.runs.RunConfig`).
        train: ``train(cfg, run_dir, resume=, progress=, overwrite=, report=) -> summary dict``.
        report: ``report(run_dir, seed=, baseline=) -> path of report.html``.
        formats: model-file format -> its estimator class (for :func:`hepgan.load`).
        commands: a list of ``add(subparsers)`` functions adding the method's own commands.
    """

    name: str
    summary: str
    config: str
    train: str
    report: str
    formats: dict[str, str] = dataclasses.field(default_factory=dict)
    commands: str | None = None

    @classmethod
    def in_folder(cls, package: str, summary: str, config: str, formats: dict[str, str]) -> Method:
        """The method of a folder with the standard layout.

        Args:
            package: the folder's package (its ``__name__``); the method's name is its last part.
            summary: one line for ``hepgan --help``.
            config: the run-config class in ``config.py``.
            formats: model-file format -> estimator class in ``model.py``.
        """
        return cls(
            name=package.rsplit(".", 1)[-1],
            summary=summary,
            config=f"{package}.config:{config}",
            train=f"{package}.run:train_run",
            report=f"{package}.run:write_run_report",
            formats={fmt: f"{package}.model:{name}" for fmt, name in formats.items()},
            commands=f"{package}.cli:COMMANDS",
        )

    def config_class(self) -> type:
        return resolve(self.config)

    def train_function(self) -> Callable[..., dict[str, Any]]:
        return resolve(self.train)

    def report_function(self) -> Callable[..., Any]:
        return resolve(self.report)

    def command_adders(self) -> list[Callable[[Any], None]]:
        return list(resolve(self.commands)) if self.commands else []


def method_names() -> list[str]:
    """The registered methods."""
    return list(_REGISTRY)


def get_method(name: str) -> Method:
    """The registered method ``name``; a ConfigError names the known ones otherwise."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"method: expected one of {', '.join(_REGISTRY)}, got {name!r}{hint}")
    return Method.in_folder(f"{__name__}.{name}", **_REGISTRY[name])


def estimator_class(fmt: str) -> type:
    """The model class that reads model files of format ``fmt`` (e.g. ``hepgan.ConditionalGAN``)."""
    for name in _REGISTRY:
        m = get_method(name)
        if fmt in m.formats:
            return resolve(m.formats[fmt])
    known = [f for name in _REGISTRY for f in get_method(name).formats]
    raise ConfigError(f"model format {fmt!r} is not one of hepgan's ({', '.join(known)})")


def lazy_attributes(package: str, modules: Sequence[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds a public name in the ``__all__`` of ``package.<module>``.

    A method's ``__init__`` uses it so that its public names are importable from the folder
    (``from hepgan.methods.background import ConditionalGAN``) without importing torch when the
    command line only needs the registry.
    """

    def __getattr__(name: str) -> Any:
        for m in modules:
            module = importlib.import_module(f"{package}.{m}")
            if name in getattr(module, "__all__", ()):
                return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
