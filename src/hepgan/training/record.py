"""The epoch recorder: per-epoch history, the best epoch, and the kept weights.

One recorder serves the loop and every member of a scan. The history is a mapping of
per-epoch lists (``epoch``, ``loss_<step>``, the logs, ``lr``, the validation metrics,
``time``); the best epoch is chosen by a named metric, lower or higher being better.

Example:
    >>> from torch import nn
    >>> net = {"g": nn.Linear(1, 1)}
    >>> rec = EpochRecorder(Selection("w1_val", "min"))
    >>> for epoch, value in enumerate([3.0, 1.0, 2.0], start=1):
    ...     _ = rec.record(epoch, {"w1_val": value}, 0.1, net)
    >>> rec.best["epoch"]
    2
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from torch import nn

from hepgan.exceptions import ConfigError

__all__ = ["Selection", "EpochRecorder", "LogSums"]


@dataclasses.dataclass(frozen=True)
class Selection:
    """How the kept model is chosen.

    Args:
        metric: the history key of the selecting metric (a key of the task's ``validate`` output);
            None keeps the last epoch.
        mode: ``"min"`` (lower is better) or ``"max"``.
        label: how reports name the metric, e.g. ``"-2lnLambda"``.
    """

    metric: str | None = None
    mode: str = "min"
    label: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ConfigError(f"selection mode: expected min or max, got {self.mode!r}")

    def better(self, value: float, best: float | None) -> bool:
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "mode": self.mode, "label": self.label or self.metric}


class EpochRecorder:
    """Appends each epoch's numbers to the history and keeps a copy of the best epoch's weights.

    Args:
        selection: the selecting metric and its direction.
        history: a history to continue (from a checkpoint); None starts empty.
        best: the best-epoch record to continue: {"epoch", "value", "networks"}.
    """

    def __init__(self, selection: Selection, history: dict[str, Any] | None = None, best: dict[str, Any] | None = None):
        self.selection = selection
        self.history: dict[str, Any] = history if history is not None else {"epoch": []}
        self.best: dict[str, Any] = best if best is not None else {"epoch": None, "value": None, "networks": None}

    def record(self, epoch: int, values: Mapping[str, float], seconds: float, networks: Mapping[str, nn.Module]) -> float | None:
        """Appends one epoch; returns the selecting metric's value (None without one)."""
        h = self.history
        h.setdefault("epoch", []).append(epoch)
        for k, v in values.items():
            h.setdefault(k, []).append(float(v))
        h.setdefault("time", []).append(float(seconds))
        metric = self.selection.metric
        value = values.get(metric) if metric else None
        if value is not None and self.selection.better(float(value), self.best["value"]):
            self.best = {
                "epoch": epoch,
                "value": float(value),
                "networks": {k: copy.deepcopy(m.state_dict()) for k, m in networks.items()},
            }
        return None if value is None else float(value)

    def finish(self, networks: Mapping[str, nn.Module], last_epoch: int) -> dict[str, Any]:
        """The final history ("best_epoch", "selection", "last_networks" added); loads the best weights.

        Without a selecting metric (or no finite value), the last epoch is kept.
        """
        history = dict(self.history)
        history["best_epoch"] = self.best["epoch"] if self.best["epoch"] is not None else last_epoch
        history["selection"] = self.selection.to_dict()
        history["last_networks"] = {k: copy.deepcopy(m.state_dict()) for k, m in networks.items()}
        if self.best["networks"] is not None:
            for k, m in networks.items():
                m.load_state_dict(self.best["networks"][k])
        return history


class LogSums:
    """Running sums of the losses and logs of one epoch, kept on the device.

    ``add`` sums in place into tensors that are created at their first use, so a step that
    is captured in a CUDA graph keeps updating the same memory. How many values each key
    receives per iteration is counted during the first iteration (the step list is the
    same every iteration), so the means need no host-side counting inside a graph.
    Values may be 0-d (one model) or (K,) (K members of a scan).
    """

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.per_iteration: dict[str, int] = {}
        self._counting = True

    def add(self, key: str, value: Any) -> None:
        value = value.detach()
        if key not in self.sums:
            import torch

            self.sums[key] = torch.zeros(value.shape, dtype=torch.float32, device=value.device)
        self.sums[key] += value
        if self._counting:
            self.per_iteration[key] = self.per_iteration.get(key, 0) + 1

    def end_iteration(self) -> None:
        """Marks the end of an iteration: the counts per iteration are known from now on."""
        self._counting = False

    def zero(self) -> None:
        for t in self.sums.values():
            t.zero_()

    def means(self, iterations: int) -> dict[str, Any]:
        """Per-key means over an epoch of ``iterations`` iterations: floats, or lists for (K,) sums."""
        out = {}
        for k, t in self.sums.items():
            v = t.cpu().double() / (self.per_iteration[k] * iterations)
            out[k] = float(v) if v.ndim == 0 else v.tolist()
        return out
