r"""Optimizer updates and learning-rate schedules as tensor functions.

The update rules of :class:`torch.optim.SGD`, :class:`torch.optim.Adam` and hepgan's
:class:`~hepgan.training.optim.Lamb`, rewritten so that nothing reads a device value back
to Python: the learning rate and the step counter are tensors. This serves two callers:

* the fast training step (:mod:`hepgan.training.fast`), captured whole, optimizer
  included, in a CUDA graph;
* scans (:mod:`hepgan.training.scan`), where K models are updated at once: each parameter
  is stacked along a leading member axis, shape (K, ...), the learning rate has shape
  (K,), and LAMB's norms are taken per member.

The state tensors are the torch optimizers' own (``step``, ``exp_avg``, ``exp_avg_sq``), so
a fast run checkpoints in the torch.optim format and can resume on the plain path. The
arithmetic matches the torch implementations up to float rounding (tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from hepgan.exceptions import ConfigError

__all__ = ["FunctionalOptimizer", "schedule_factor"]


def _per_member(value: Tensor, like: Tensor, members: bool) -> Tensor:
    """A scalar, or a (K,) vector broadcast over a stacked (K, ...) tensor, in like's dtype."""
    value = value.to(like.dtype)
    if members:
        return value.reshape((-1,) + (1,) * (like.ndim - 1))
    return value


class FunctionalOptimizer:
    """The update rule of one optimizer, applied in place to lists of tensors.

    Args:
        kind: "sgd", "adam" or "lamb".
        hyper: the optimizer's hyperparameters (a param group of the torch optimizer).
        members: parameters carry a leading member axis (K, ...) and the learning rate is (K,).

    Raises:
        ConfigError: for options the functional form does not implement (SGD momentum,
            Adam amsgrad, maximize, differentiable).
    """

    def __init__(self, kind: str, hyper: dict[str, Any], members: bool = False):
        self.kind = kind
        self.hyper = dict(hyper)
        self.members = members
        h = self.hyper
        unsupported = [k for k in ("amsgrad", "maximize", "differentiable", "nesterov") if h.get(k)]
        if kind == "sgd" and h.get("momentum", 0.0) != 0.0:
            unsupported.append("momentum")
        if kind not in ("sgd", "adam", "lamb"):
            raise ConfigError(f"optimizer: the fast step implements sgd, adam and lamb, not {kind!r}")
        if unsupported:
            raise ConfigError(f"optimizer '{kind}': the fast step does not implement {unsupported[0]!r} (use training step: eager)")

    @classmethod
    def from_torch(cls, opt: torch.optim.Optimizer, members: bool = False) -> FunctionalOptimizer:
        """The functional form of an optimizer made by :func:`hepgan.training.optim.make_optimizer`."""
        from hepgan.training.optim import Lamb

        if len(opt.param_groups) != 1:
            raise ConfigError("the fast step needs optimizers with a single parameter group")
        if isinstance(opt, Lamb):
            kind = "lamb"
        elif isinstance(opt, torch.optim.Adam):
            kind = "adam"
        elif isinstance(opt, torch.optim.SGD):
            kind = "sgd"
        else:
            raise ConfigError(f"the fast step does not implement {type(opt).__name__}")
        group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
        return cls(kind, group, members)

    # ------------------------------------------------------------------ state
    def init_state(self, params: Sequence[Tensor], device: torch.device | None = None) -> list[dict[str, Tensor]]:
        """Fresh state for ``params``: what torch's optimizers create at their first step."""
        return [self.ensure_state({}, p, device) for p in params]

    def ensure_state(self, state: dict[str, Any], p: Tensor, device: torch.device | None = None) -> dict[str, Any]:
        """Fills a torch optimizer's per-parameter state if empty, and puts it on p's device.

        The step counter becomes a 0-d float32 tensor on the device (as with ``capturable=True``).
        """
        device = device or p.device
        if self.kind in ("adam", "lamb"):
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] = state["step"].to(device=device, dtype=torch.float32)
            for k in ("exp_avg", "exp_avg_sq"):
                state[k] = state[k].to(device)
        return state

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def update(self, params: Sequence[Tensor], grads: Sequence[Tensor], state: Sequence[dict[str, Tensor]], lr: Tensor) -> None:
        """One optimizer step, in place.

        Args:
            params: the parameters, each (...) or, with members, (K, ...).
            grads: their gradients, same shapes.
            state: per-parameter state from :meth:`ensure_state` (updated in place).
            lr: the learning rate, a 0-d tensor or, with members, shape (K,).
        """
        step = getattr(self, f"_{self.kind}")
        for p, g, s in zip(params, grads, state):
            step(p, g, s, lr)

    def _sgd(self, p: Tensor, g: Tensor, s: dict[str, Tensor], lr: Tensor) -> None:
        wd = self.hyper.get("weight_decay", 0.0)
        if wd != 0:
            g = g.add(p, alpha=wd)
        p.sub_(g * _per_member(lr, p, self.members))

    def _adam(self, p: Tensor, g: Tensor, s: dict[str, Tensor], lr: Tensor) -> None:
        beta1, beta2 = self.hyper["betas"]
        eps, wd = self.hyper["eps"], self.hyper.get("weight_decay", 0.0)
        if wd != 0:
            g = g.add(p, alpha=wd)
        s["step"] += 1
        t = s["step"].double()
        m, v = s["exp_avg"], s["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        step_size = lr.double() / (1 - torch.pow(beta1, t))
        bias2_sqrt = torch.sqrt(1 - torch.pow(beta2, t)).to(p.dtype)
        denom = (v.sqrt() / bias2_sqrt).add_(eps)
        p.sub_(m * _per_member(step_size, p, self.members) / denom)

    def _lamb(self, p: Tensor, g: Tensor, s: dict[str, Tensor], lr: Tensor) -> None:
        beta1, beta2 = self.hyper["betas"]
        eps, wd, clamp = self.hyper["eps"], self.hyper.get("weight_decay", 0.0), self.hyper.get("clamp_value")
        s["step"] += 1
        t = s["step"].double()
        m, v = s["exp_avg"], s["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        m_hat = m / (1 - torch.pow(beta1, t)).to(p.dtype)
        v_hat = v / (1 - torch.pow(beta2, t)).to(p.dtype)
        r = m_hat / (v_hat.sqrt() + eps)
        if wd != 0:
            r.add_(p, alpha=wd)
        # norms over each member's whole tensor (LAMB's layer-wise trust ratio)
        dims = tuple(range(1, p.ndim)) if self.members else None
        w_norm = torch.linalg.vector_norm(p, dim=dims, keepdim=self.members)
        r_norm = torch.linalg.vector_norm(r, dim=dims, keepdim=self.members)
        phi = w_norm if clamp is None else w_norm.clamp(max=clamp)
        trust = torch.where((w_norm > 0) & (r_norm > 0), phi / r_norm, torch.ones_like(w_norm))
        p.sub_(r * trust * _per_member(lr, p, self.members))


def schedule_factor(step: Tensor, schedule: str, total_steps: int, warmup_steps: int = 0) -> Tensor:
    r"""The learning-rate factor at optimizer step ``step`` (0-based), as a float64 tensor.

    ``"cosine"`` reproduces :func:`hepgan.training.optim.cosine_schedule` (a warm-up ramp
    :math:`(t + 1)/(W + 1)`, then :math:`\frac12 (1 + \cos \pi (t - W)/(T - W))`, 0 after
    :math:`T`); ``"constant"`` is 1.
    """
    t = step.double()
    if schedule == "constant":
        return torch.ones_like(t)
    if schedule != "cosine":
        raise ConfigError(f"schedule: expected cosine or constant, got {schedule!r}")
    T, W = total_steps, warmup_steps
    ramp = (t + 1) / (W + 1)
    cos = 0.5 * (1.0 + torch.cos(math.pi * (t - W) / max(T - W, 1)))
    return torch.where(t < W, ramp, torch.where(t >= T, torch.zeros_like(t), cos))
