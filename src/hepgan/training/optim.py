r"""Optimizers (SGD, Adam, LAMB) and the cosine learning-rate schedule.

Lohezic et al. (arXiv:2212.03763, section 2.3) compare SGD, Adam and LAMB and
train with LAMB at lr 1e-3, decayed by a cosine from lr0 to 0 over the epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LambdaLR

from hepgan.config import check, choice
from hepgan.exceptions import ConfigError

__all__ = ["Lamb", "make_optimizer", "cosine_schedule", "OPTIMIZERS"]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Lamb(torch.optim.Optimizer):
    r"""LAMB: layer-wise adaptive moments (You et al., arXiv:1904.00962, Algorithm 2).

    For each parameter tensor :math:`w` with gradient :math:`g` at step :math:`t`:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2, \\
        r_t &= \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}
            + \lambda w, \\
        w &\leftarrow w - \eta \, \frac{\phi(\|w\|)}{\|r_t\|} \, r_t,
        \qquad \phi(a) = \min(a, \text{clamp\_value}),

    with norms over the whole tensor; the trust ratio :math:`\phi(\|w\|)/\|r_t\|` is
    1 when either norm is 0 (e.g. biases initialised to zero). The step counter is
    kept per tensor as a 0-d float tensor, as in :class:`torch.optim.Adam`, so
    :meth:`state_dict` holds tensors only.

    Arguments:
        params: The parameters or parameter groups.
        lr: The learning rate :math:`\eta`.
        betas: The moment decay rates :math:`(\beta_1, \beta_2)`.
        eps: The term :math:`\epsilon` added to the denominator.
        weight_decay: The decoupled weight decay :math:`\lambda`.
        clamp_value: The upper bound of :math:`\phi(\|w\|)` (None: no bound).
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        clamp_value: float | None = 10.0,
    ):
        if not lr >= 0:
            raise ValueError(f"lr: expected a number >= 0, got {lr!r}")
        if not all(0 <= b < 1 for b in betas) or len(betas) != 2:
            raise ValueError(f"betas: expected two numbers in [0, 1), got {betas!r}")
        if not eps >= 0:
            raise ValueError(f"eps: expected a number >= 0, got {eps!r}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay: expected a number >= 0, got {weight_decay!r}")
        if clamp_value is not None and not clamp_value > 0:
            raise ValueError(f"clamp_value: expected a number > 0 or None, got {clamp_value!r}")
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, clamp_value=clamp_value
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(  # type: ignore[override]
        self, closure: Callable[[], float] | None = None
    ) -> float | None:
        r"""Performs one optimisation step.

        Arguments:
            closure: Re-evaluates the model and returns the loss (optional).

        Returns:
            The loss returned by ``closure``, if any.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            clamp = group["clamp_value"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = w.grad
                if g.is_sparse:
                    raise RuntimeError("Lamb does not support sparse gradients")

                state = self.state[w]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(w, memory_format=torch.preserve_format)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                t = state["step"].item()  # a CPU tensor: no device synchronisation

                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                r = m_hat / (v_hat.sqrt() + eps)
                if wd != 0:
                    r.add_(w, alpha=wd)

                # trust ratio without .item(): stays on the device
                w_norm = torch.linalg.vector_norm(w)
                r_norm = torch.linalg.vector_norm(r)
                phi = w_norm if clamp is None else w_norm.clamp(max=clamp)
                trust = torch.where(
                    (w_norm > 0) & (r_norm > 0), phi / r_norm, torch.ones_like(w_norm)
                )
                w.add_(r * trust, alpha=-lr)
        return loss


#: Default hyperparameters of :func:`make_optimizer`, by name.
OPTIMIZERS: dict[str, dict[str, Any]] = {
    # plain SGD as in the paper's reference [19]; momentum on request
    "sgd": dict(momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False),
    # beta1 = 0.5: the DC-GAN setting (Radford et al.), more stable for GANs than 0.9
    "adam": dict(
        betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, foreach=None, fused=None
    ),
    # You et al.'s defaults
    "lamb": dict(betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, clamp_value=10.0),
}


def make_optimizer(name: str, params: Params, lr: float, **kwargs: Any) -> torch.optim.Optimizer:
    r"""Builds an optimizer by name.

    ========  =============================  =============================================
    name      class                          defaults (override with ``kwargs``)
    ========  =============================  =============================================
    ``sgd``   :class:`torch.optim.SGD`       momentum 0, weight_decay 0, dampening 0,
                                             nesterov False
    ``adam``  :class:`torch.optim.Adam`      betas (0.5, 0.999) (DC-GAN), eps 1e-8,
                                             weight_decay 0, amsgrad False, foreach None,
                                             fused None (torch picks what the device
                                             supports: CPU and CUDA both work)
    ``lamb``  :class:`Lamb`                  betas (0.9, 0.999), eps 1e-6, weight_decay 0,
                                             clamp_value 10
    ========  =============================  =============================================

    Arguments:
        name: ``"sgd"``, ``"adam"`` or ``"lamb"``.
        params: The parameters or parameter groups.
        lr: The learning rate, > 0.
        kwargs: Hyperparameters overriding the defaults above.

    Raises:
        ConfigError: If the name, a keyword or the learning rate is invalid.
    """
    choice(name, OPTIMIZERS, "optimizer")
    check(isinstance(lr, (int, float)) and lr > 0, "lr", "a number > 0", lr)
    options = dict(OPTIMIZERS[name])
    for key, value in kwargs.items():
        choice(key, options, f"optimizer '{name}' option")
        options[key] = tuple(value) if key == "betas" else value
    try:
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, **options)
        if name == "adam":
            return torch.optim.Adam(params, lr=lr, **options)
        return Lamb(params, lr=lr, **options)
    except ValueError as err:  # torch's range checks, e.g. "Invalid beta parameter"
        raise ConfigError(f"optimizer '{name}': {err}") from err


class _CosineFactor:
    # A callable object, not a closure: LambdaLR.state_dict stores its (int) attributes.
    def __init__(self, total_steps: int, warmup_steps: int):
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if step >= self.total_steps:
            return 0.0
        s = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * s))


def cosine_schedule(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
) -> LambdaLR:
    r"""Cosine decay of the learning rate from lr0 to 0 (Loshchilov & Hutter, no restarts).

    With :math:`W` warm-up steps and :math:`T` total steps, the learning rate at
    step :math:`t` (the number of ``scheduler.step()`` calls so far) is

    .. math::
        \eta_t = \eta_0 \frac{t + 1}{W + 1} \quad (t < W), \qquad
        \eta_t = \frac{\eta_0}{2} \left(1 + \cos \frac{\pi (t - W)}{T - W}\right)
        \quad (W \le t \le T),

    and 0 after :math:`T`. Without warm-up the first step uses :math:`\eta_0` and
    step :math:`T` reaches exactly 0; the warm-up ramp never uses a zero rate.
    Call ``scheduler.step()`` once per epoch (the paper: :math:`T` = 5000 epochs)
    or once per batch with :math:`T` counted in batches.

    Arguments:
        optimizer: The optimizer; each group's current ``lr`` is its :math:`\eta_0`.
        total_steps: The step :math:`T \ge 1` at which the rate reaches 0.
        warmup_steps: The number :math:`W \in [0, T)` of linear warm-up steps.

    Raises:
        ConfigError: If the step counts are invalid.
    """
    check(
        isinstance(total_steps, int) and total_steps >= 1,
        "total_steps",
        "an integer >= 1",
        total_steps,
    )
    check(
        isinstance(warmup_steps, int) and 0 <= warmup_steps < total_steps,
        "warmup_steps",
        f"an integer in [0, {total_steps})",
        warmup_steps,
    )
    return LambdaLR(optimizer, _CosineFactor(total_steps, warmup_steps))
