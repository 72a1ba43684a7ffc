"""The methods of hepgan and their registry.

Each method lives in its own folder, ``hepgan/methods/<name>/``, whose ``__init__`` defines
``METHOD``, a :class:`Method`: its run-config class, how a run trains and how its report is
made, its model classes (by model-file format) and the command-line commands it adds. The
registry below maps the ``method:`` key of a run config to that folder; ``hepgan train`` and
``hepgan report`` ask it. Adding a method is a new folder and one line in ``_FOLDERS``.

Everything is named by ``"module:attribute"`` strings and imported on first use, so that the
command line starts without importing torch.

Example:
    >>> from hepgan.methods import get_method, method_names
    >>> method_names()
    ['background', 'generation']
    >>> get_method("background").config_class().__name__
    'BackgroundRunConfig'
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from typing import Any

from hepgan.exceptions import ConfigError

__all__ = ["Method", "get_method", "method_names", "estimator_class", "resolve", "lazy_attributes"]

#: method name -> the package that defines its METHOD
_FOLDERS: dict[str, str] = {
    "background": "hepgan.methods.background",
    "generation": "hepgan.methods.generation",
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
    return list(_FOLDERS)


def get_method(name: str) -> Method:
    """The registered method ``name``; a ConfigError names the known ones otherwise."""
    if name not in _FOLDERS:
        close = difflib.get_close_matches(str(name), list(_FOLDERS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"method: expected one of {', '.join(_FOLDERS)}, got {name!r}{hint}")
    return importlib.import_module(_FOLDERS[name]).METHOD


def estimator_class(fmt: str) -> type:
    """The model class that reads model files of format ``fmt`` (e.g. ``hepgan.ConditionalGAN``)."""
    for name in _FOLDERS:
        m = get_method(name)
        if fmt in m.formats:
            return resolve(m.formats[fmt])
    known = [f for name in _FOLDERS for f in get_method(name).formats]
    raise ConfigError(f"model format {fmt!r} is not one of hepgan's ({', '.join(known)})")


def lazy_attributes(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<table[name]>`` on first access of ``name``.

    A method's ``__init__`` uses it so that its public names are importable from the folder
    without importing torch when the command line only needs the registry.
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
