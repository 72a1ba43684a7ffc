r"""Adversarial losses and regularisers, as pure functions.

Discriminators return logits :math:`\phi`; the probability of being real is
:math:`D = \sigma(\phi)` (see :mod:`hepgan.nn`). Every loss here works on logits
with log-sigmoid identities, which stay finite where :math:`D` rounds to 0 or 1.

Event weights ``w`` (negative allowed) enter as weighted means
:math:`\sum_i w_i l_i / \sum_i w_i`; a batch whose weights sum to zero has no
defined mean and gives inf or NaN. Nothing here synchronises with the device
(no ``.item()``), so the losses can be captured in CUDA graphs or compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "discriminator_bce",
    "noisy_labels",
    "generator_bce",
    "input_gradient",
    "gradient_penalty",
    "wgan_gp_penalty",
    "wasserstein_critic",
    "wasserstein_generator",
    "roth_regularizer",
    "roth_penalty",
    "mmd2",
    "MMD_KERNELS",
    "energy_score",
]


def _mean(v: Tensor, w: Tensor | None) -> Tensor:
    if w is None:
        return v.mean()
    if w.shape != v.shape:
        raise ValueError(f"expected weights of shape {tuple(v.shape)}, got {tuple(w.shape)}")
    return (w * v).sum() / w.sum()


def _uniform(like: Tensor, generator: torch.Generator | None) -> Tensor:
    # Drawn on the generator's device (the logits' device without one), then moved.
    device = like.device if generator is None else generator.device
    u = torch.rand(like.shape, generator=generator, device=device, dtype=like.dtype)
    return u.to(like.device)


def discriminator_bce(
    logit_real: Tensor,
    logit_fake: Tensor,
    eps: float = 0.15,
    generator: torch.Generator | None = None,
    w_real: Tensor | None = None,
    w_fake: Tensor | None = None,
    labels: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    r"""Discriminator loss of eq. (1) of Lohezic et al. (arXiv:2212.03763) with label noise.

    Eq. (1) as a loss to minimise is the binary cross-entropy

    .. math:: L_d = -\frac{1}{N} \sum_i l_i \ln D(y_i) + (1 - l_i) \ln(1 - D(y_i)),
        \qquad D = \sigma(\phi),

    with noisy labels :math:`l_i \sim U[1 - \epsilon, 1]` for real events and
    :math:`l_i \sim U[0, \epsilon]` for generated ones. Each class is averaged on
    its own (weighted mean :math:`\sum w l / \sum w`) and the loss is the average of
    the two class means, so real and generated events count equally whatever their
    total weights; for equal batch sizes and no weights this is exactly the
    pooled mean of eq. (1) over the 2N events.

    Arguments:
        logit_real: The logits of real events, shape (N,).
        logit_fake: The logits of generated events, shape (M,).
        eps: The label noise :math:`\epsilon \in [0, 0.5)`; 0 gives hard labels
            and draws no random numbers.
        generator: The random number generator of the label noise (None: torch's
            global one; pass one for reproducible training).
        w_real: The weights of real events, shape (N,) (None: unit weights).
        w_fake: The weights of generated events, shape (M,) (None: unit weights).
        labels: The labels (l_real, l_fake), shapes (N,) and (M,), drawn beforehand by
            :func:`noisy_labels` (functional training steps); None draws them here.

    Returns:
        The loss, a scalar.

    Example:
        >>> round(float(discriminator_bce(torch.zeros(4), torch.zeros(4), eps=0.0)), 4)  # D = 1/2: ln 2
        0.6931
    """
    if not 0.0 <= eps < 0.5:
        raise ValueError(f"eps: expected a number in [0, 0.5), got {eps!r}")
    if labels is not None:
        l_real, l_fake = labels
    elif eps > 0:
        l_real = 1 - eps * _uniform(logit_real, generator)
        l_fake = eps * _uniform(logit_fake, generator)
    else:
        l_real, l_fake = torch.ones_like(logit_real), torch.zeros_like(logit_fake)
    loss_real = F.binary_cross_entropy_with_logits(logit_real, l_real, reduction="none")
    loss_fake = F.binary_cross_entropy_with_logits(logit_fake, l_fake, reduction="none")
    return 0.5 * (_mean(loss_real, w_real) + _mean(loss_fake, w_fake))


def noisy_labels(
    n_real: int,
    n_fake: int,
    eps: float = 0.15,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    r"""The labels of :func:`discriminator_bce`: :math:`U[1 - \epsilon, 1]` and :math:`U[0, \epsilon]`.

    Draws exactly what :func:`discriminator_bce` draws for logits of shapes (n_real,) and
    (n_fake,), in the same order, so a functional step that draws its noise first gives
    the same numbers as the plain step.

    Arguments:
        n_real: The number of real events.
        n_fake: The number of generated events.
        eps: The label noise :math:`\epsilon \in [0, 0.5)` (0: hard labels, no draws).
        generator: The random number generator (None: torch's global one).
        dtype: The labels' dtype (the logits').
        device: The labels' device (the logits'; None: the generator's).

    Returns:
        (l_real, l_fake), shapes (n_real,) and (n_fake,).
    """
    if not 0.0 <= eps < 0.5:
        raise ValueError(f"eps: expected a number in [0, 0.5), got {eps!r}")
    device = torch.device(device) if device is not None else (generator.device if generator is not None else torch.device("cpu"))
    if eps == 0:
        return torch.ones(n_real, dtype=dtype, device=device), torch.zeros(n_fake, dtype=dtype, device=device)
    like_r = torch.empty(n_real, dtype=dtype, device=device)
    like_f = torch.empty(n_fake, dtype=dtype, device=device)
    return 1 - eps * _uniform(like_r, generator), eps * _uniform(like_f, generator)


def generator_bce(logit_fake: Tensor, w: Tensor | None = None) -> Tensor:
    r"""Non-saturating generator loss of eq. (1) of Lohezic et al. (arXiv:2212.03763).

    .. math:: L_g = -\frac{1}{N} \sum_i \ln D(g(c_i, z_i)) = \frac{1}{N} \sum_i
        \operatorname{softplus}(-\phi_i),

    i.e. eq. (1)'s :math:`L_g` with the sign for minimisation.

    Arguments:
        logit_fake: The discriminator's logits of generated events, shape (N,).
        w: The event weights, shape (N,) (None: unit weights).

    Returns:
        The loss, a scalar.
    """
    return _mean(F.softplus(-logit_fake), w)


def wasserstein_critic(score_real: Tensor, score_fake: Tensor, w_real: Tensor | None = None, w_fake: Tensor | None = None) -> Tensor:
    r"""The critic loss of a Wasserstein GAN (Arjovsky et al., arXiv:1701.07875).

    .. math:: L_f = \mathbb{E}_\text{gen}[f(x)] - \mathbb{E}_\text{real}[f(x)],

    minimised by the critic :math:`f` (unbounded scores, no sigmoid); with the gradient penalty
    (:func:`wgan_gp_penalty`) this is WGAN-GP.

    Arguments:
        score_real: The critic's scores of real events, shape (N,).
        score_fake: The critic's scores of generated events, shape (M,).
        w_real: The weights of real events, shape (N,) (None: unit weights).
        w_fake: The weights of generated events, shape (M,) (None: unit weights).

    Returns:
        The loss, a scalar.

    Example:
        >>> wasserstein_critic(torch.tensor([1.0, 3.0]), torch.tensor([0.5]))
        tensor(-1.5000)
    """
    return _mean(score_fake, w_fake) - _mean(score_real, w_real)


def wasserstein_generator(score_fake: Tensor, w: Tensor | None = None) -> Tensor:
    r"""The generator loss of a Wasserstein GAN: :math:`-\mathbb{E}_\text{gen}[f(x)]`.

    Arguments:
        score_fake: The critic's scores of generated events, shape (N,).
        w: The event weights, shape (N,) (None: unit weights).

    Returns:
        The loss, a scalar.
    """
    return -_mean(score_fake, w)


def input_gradient(f: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    r"""The values :math:`f(x)` and the gradient :math:`\nabla_x \sum_i f(x)_i`, differentiable in f's parameters.

    For a network acting event by event (no batch statistics), row i of the gradient is
    :math:`\nabla_{x_i} f(x_i)`. Built on :func:`torch.func.vjp`, so it works the same in a
    plain autograd step (the result back-propagates into f's parameters, like
    ``torch.autograd.grad(..., create_graph=True)``), inside the fast step and inside
    :func:`torch.func.vmap` / :func:`torch.func.grad` (vectorised scans), where
    :func:`torch.autograd.grad` cannot be used. ``x`` is treated as a constant input.

    Arguments:
        f: The function, (N, ...) -> (N,).
        x: The inputs, shape (N, ...).

    Returns:
        f(x), shape (N,), and the gradient, shape of x.

    Example:
        >>> x = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
        >>> y, g = input_gradient(lambda v: v.square().sum(1), x)
        >>> g
        tensor([[ 2.,  4.],
                [ 6., -2.]])
    """
    y, pullback = torch.func.vjp(f, x.detach())
    (grad,) = pullback(torch.ones_like(y))
    return y, grad


def gradient_penalty(grad: Tensor, w: Tensor | None = None) -> Tensor:
    r"""The weighted mean squared norm of per-event input gradients, :math:`\sum_i w_i \|g_i\|^2 / \sum_i w_i`.

    With the gradients of the discriminator's logit on real events this is the R1 penalty, on
    generated events R2 (Mescheder et al., arXiv:1801.04406); the caller multiplies by gamma / 2.

    Arguments:
        grad: :math:`\nabla_x \phi` per event, shape (N, ...) (from :func:`input_gradient`).
        w: The event weights, shape (N,) (None: unit weights).

    Example:
        >>> gradient_penalty(torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
        tensor(13.)
    """
    return _mean(grad.flatten(1).square().sum(dim=1), w)


def wgan_gp_penalty(
    critic: Callable[[Tensor, Tensor], Tensor],
    c: Tensor,
    x_real: Tensor,
    x_fake: Tensor,
    alpha: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Gradient penalty of WGAN-GP (Gulrajani et al., arXiv:1704.00028).

    .. math:: \Omega = \mathbb{E}_{\hat{x}} \left[
        (\|\nabla_{\hat{x}} f(c, \hat{x})\|_2 - 1)^2 \right],
        \qquad \hat{x} = \alpha x_\text{real} + (1 - \alpha) x_\text{fake},
        \quad \alpha \sim U[0, 1] \text{ per event.}

    The gradient is taken with respect to ``x`` only, the conditions held fixed, with
    :func:`input_gradient` (so the penalty trains the critic in every training path,
    vectorised scans included). The interpolates are detached from the generator. The
    caller multiplies by :math:`\lambda` (10 in the paper).

    Arguments:
        critic: The critic :math:`f(c, x)`, returning shape (N,) or (N, 1).
        c: The conditions, shape (N, C).
        x_real: The real events, shape (N, X).
        x_fake: The generated events, shape (N, X).
        alpha: The interpolation weights, shape (N, 1), drawn beforehand (training steps draw
            all their noise first); None draws them here from ``generator``.
        generator: The random number generator of :math:`\alpha` when it is not given
            (None: torch's global one).

    Returns:
        The penalty, a scalar.
    """
    if alpha is None:
        alpha = _uniform(x_real[:, :1], generator)
    x_hat = alpha * x_real.detach() + (1 - alpha) * x_fake.detach()
    _, grad = input_gradient(lambda v: critic(c, v).reshape(len(v)), x_hat)
    norm = torch.linalg.vector_norm(grad.flatten(1), dim=1)
    return (norm - 1).square().mean()


def roth_regularizer(
    logit_real: Tensor,
    logit_fake: Tensor,
    grad_real: Tensor,
    grad_fake: Tensor,
    w_real: Tensor | None = None,
    w_fake: Tensor | None = None,
) -> Tensor:
    r"""Discriminator regulariser of Roth et al. (arXiv:1705.09367), from logits and gradients.

    As on the regularisation slide of seed 003, with :math:`D = \sigma(\phi)` and
    :math:`\phi = \ln \frac{D}{1 - D}` the logit,

    .. math:: \Omega = \mathbb{E}_{x \sim P_\text{real}} \left[ (1 - D(x))^2
        \|\nabla_x \phi(x)\|^2 \right] + \mathbb{E}_{x \sim P_\text{gen}} \left[
        D(x)^2 \|\nabla_x \phi(x)\|^2 \right],

    and the discriminator minimises :math:`L_D + \lambda \Omega` (Roth et al. write
    :math:`\gamma / 2` for :math:`\lambda`). :math:`(1 - D)^2` and :math:`D^2` are
    computed as :math:`\sigma(-\phi)^2` and :math:`\sigma(\phi)^2`.

    The gradients must be differentiable in the discriminator's parameters
    (:func:`input_gradient`) for :math:`\Omega` to train the discriminator;
    :func:`roth_penalty` does this for you.

    Arguments:
        logit_real: The logits of real events, shape (N,).
        logit_fake: The logits of generated events, shape (M,).
        grad_real: :math:`\nabla_x \phi` at the real events, shape (N, ...).
        grad_fake: :math:`\nabla_x \phi` at the generated events, shape (M, ...).
        w_real: The weights of real events, shape (N,) (None: unit weights).
        w_fake: The weights of generated events, shape (M,) (None: unit weights).

    Returns:
        The regulariser :math:`\Omega`, a scalar.
    """
    sq_real = grad_real.flatten(1).square().sum(dim=1)
    sq_fake = grad_fake.flatten(1).square().sum(dim=1)
    omega_real = torch.sigmoid(-logit_real).square() * sq_real
    omega_fake = torch.sigmoid(logit_fake).square() * sq_fake
    return _mean(omega_real, w_real) + _mean(omega_fake, w_fake)


def roth_penalty(
    discriminator: Callable[[Tensor, Tensor], Tensor],
    c_real: Tensor,
    x_real: Tensor,
    c_fake: Tensor,
    x_fake: Tensor,
    w_real: Tensor | None = None,
    w_fake: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Roth et al. regulariser :math:`\Omega` (see :func:`roth_regularizer`) from a discriminator.

    Evaluates the discriminator once on each class with :func:`input_gradient` (``x`` held
    constant: the regulariser trains the discriminator only; vectorised scans included)
    and returns the logits too, so that the discriminator loss can reuse them.

    Arguments:
        discriminator: The discriminator :math:`\phi(c, x)`, returning logits of shape (N,).
        c_real: The conditions of real events, shape (N, C).
        x_real: The real events, shape (N, X).
        c_fake: The conditions of generated events, shape (M, C).
        x_fake: The generated events, shape (M, X).
        w_real: The weights of real events, shape (N,) (None: unit weights).
        w_fake: The weights of generated events, shape (M,) (None: unit weights).

    Returns:
        The regulariser :math:`\Omega` (a scalar), the logits of real events (N,)
        and the logits of generated events (M,).
    """
    logit_real, grad_real = input_gradient(lambda v: discriminator(c_real, v), x_real)
    logit_fake, grad_fake = input_gradient(lambda v: discriminator(c_fake, v), x_fake)
    omega = roth_regularizer(logit_real, logit_fake, grad_real, grad_fake, w_real, w_fake)
    return omega, logit_real, logit_fake


#: Kernels of :func:`mmd2`, as functions of the squared distance ``d2`` and the width ``s``.
MMD_KERNELS: dict[str, Callable[[Tensor, float], Tensor]] = {
    # exp(-d^2 / (2 s^2)): s is the standard deviation
    "gaussian": lambda d2, s: torch.exp(d2 * (-0.5 / (s * s))),
    # 1 / (1 + (2 d / s)^2): a Breit-Wigner (Cauchy) line shape of full width at half maximum s
    "breit_wigner": lambda d2, s: torch.reciprocal(1.0 + d2 * (4.0 / (s * s))),
}


def _prob(w: Tensor | None, n: int, like: Tensor) -> Tensor:
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    if w.shape != (n,):
        raise ValueError(f"expected weights of shape ({n},), got {tuple(w.shape)}")
    w = w.to(like.dtype)
    return w / w.sum()


def mmd2(
    x: Tensor,
    y: Tensor,
    widths: Sequence[float] | Sequence[Sequence[float]],
    kernel: str = "gaussian",
    w_x: Tensor | None = None,
    w_y: Tensor | None = None,
) -> Tensor:
    r"""Squared maximum mean discrepancy with one-dimensional kernels per column (seed 003).

    .. math:: \mathrm{MMD}^2 = \sum_{ij} p_i p_j k(x_i, x_j) + \sum_{ij} q_i q_j k(y_i, y_j)
        - 2 \sum_{ij} p_i q_j k(x_i, y_j),
        \qquad k(a, b) = \sum_d \sum_{s \in S_d} k_s(a_d - b_d),

    with :math:`p = w_x / \sum w_x`, :math:`q = w_y / \sum w_y` (uniform without weights).
    The kernel is a sum over columns, so this is the sum of the one-dimensional MMDs of the
    columns (e.g. one per resonance mass). Kernels (``k_s(0) = 1``):

    * ``"gaussian"``: :math:`\exp(-\Delta^2 / 2 s^2)`, ``s`` the standard deviation;
    * ``"breit_wigner"``: :math:`1 / (1 + (2 \Delta / s)^2)`, a Breit-Wigner line shape of
      full width at half maximum ``s`` (Butter et al., arXiv:1907.03764: widths of the order
      of the resonance width resolve its peak without knowing its mass or width).

    This is the biased (V-statistic) estimator: the squared distance of the two weighted kernel
    mean embeddings, >= 0 up to rounding and exactly 0 when ``x`` and ``y`` are the same sample.
    Cost: O(N M) per column and width; no ``.item()`` (device-synchronisation free).

    Arguments:
        x: The first sample (e.g. true resonance masses), shape (N, D) or (N,).
        y: The second sample (e.g. generated masses), shape (M, D) or (M,).
        widths: The kernel widths, in the units of the columns: one number (every column),
            D numbers (one per column), or D sequences (a sum of kernels per column).
        kernel: ``"gaussian"`` or ``"breit_wigner"``.
        w_x: The weights of ``x``, shape (N,) (None: unit weights); negative allowed.
        w_y: The weights of ``y``, shape (M,) (None: unit weights).

    Returns:
        :math:`\mathrm{MMD}^2`, a scalar.

    Example:
        >>> m = torch.tensor([80.1, 80.5, 79.8, 80.3])
        >>> float(mmd2(m, m, widths=2.0, kernel="breit_wigner"))
        0.0
        >>> bool(mmd2(m, m + 5.0, widths=2.0) > 0.1)
        True
    """
    if kernel not in MMD_KERNELS:
        raise ValueError(f"kernel: expected one of {', '.join(MMD_KERNELS)}, got {kernel!r}")
    x = x.unsqueeze(-1) if x.ndim == 1 else x
    y = y.unsqueeze(-1) if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected x (N, D) and y (M, D) with the same D, got {tuple(x.shape)} and {tuple(y.shape)}")
    d = x.shape[1]
    if isinstance(widths, (int, float)):
        per_col: list[list[float]] = [[float(widths)]] * d
    else:
        widths = list(widths)
        if len(widths) != d:
            raise ValueError(f"widths: expected one number or {d} entries (one per column), got {len(widths)}")
        per_col = [[float(s)] if isinstance(s, (int, float)) else [float(v) for v in s] for s in widths]
    if any(not s > 0 for col in per_col for s in col) or any(len(col) == 0 for col in per_col):
        raise ValueError(f"widths: expected positive numbers, got {widths!r}")
    k_fn = MMD_KERNELS[kernel]
    p, q = _prob(w_x, len(x), x), _prob(w_y, len(y), y)

    def mean_k(a: Tensor, pa: Tensor, b: Tensor, pb: Tensor) -> Tensor:
        total = torch.zeros((), dtype=a.dtype, device=a.device)
        for c in range(d):
            d2 = (a[:, c, None] - b[None, :, c]).square()
            k = k_fn(d2, per_col[c][0])
            for s in per_col[c][1:]:
                k = k + k_fn(d2, s)
            total = total + pa @ k @ pb
        return total

    return mean_k(x, p, x, p) + mean_k(y, q, y, q) - 2.0 * mean_k(x, p, y, q)


def energy_score(x1: Tensor, x2: Tensor, y: Tensor, w: Tensor | None = None, floor: float = 1e-12, per_component: bool = False) -> Tensor:
    r"""The energy score of a conditional generator from two samples per condition (Gneiting and Raftery 2007).

    .. math:: \mathrm{ES} = \big\langle \tfrac12 (\lVert x_1 - y \rVert + \lVert x_2 - y \rVert) - \tfrac12 \lVert x_1 - x_2 \rVert \big\rangle

    with :math:`x_1, x_2` two independent samples of the model's distribution given the condition of
    the observed :math:`y`. It is a strictly proper scoring rule: its expectation over pairs (c, y) is
    lowest only when the model's conditional distribution is the true one. One truth per condition is
    enough, which is what a matched sample has; a deterministic model (:math:`x_1 = x_2`) pays the
    full :math:`\lVert x - y \rVert`, so spreading its answer over the noise is rewarded exactly as far
    as the truth spreads.

    Args:
        x1, x2: (N, D) two samples per condition.
        y: (N, D) the observed values.
        w: (N,) event weights (None: equal).
        floor: added under the square roots so that the gradient exists at zero distance.
        per_component: the sum over the D components of their one-dimensional scores (each the CRPS of
            that component) instead of one score of the D-dimensional distance: proper for every
            marginal, and far more sensitive to each marginal's width than the joint score in many
            dimensions (it says nothing of the correlations).

    Returns:
        The weighted mean score (a scalar).

    Example:
        >>> y = torch.zeros(1, 2)
        >>> round(float(energy_score(torch.tensor([[3.0, 4.0]]), torch.tensor([[3.0, 4.0]]), y)), 4)  # deterministic: |x - y|
        5.0
        >>> round(float(energy_score(torch.tensor([[1.0, 0.0]]), torch.tensor([[-1.0, 0.0]]), y)), 4)  # 1 - 2 / 2
        0.0
    """

    def norm(a: Tensor) -> Tensor:
        return torch.sqrt(a.square() + floor).sum(-1) if per_component else torch.sqrt(a.square().sum(-1) + floor)

    score = 0.5 * (norm(x1 - y) + norm(x2 - y)) - 0.5 * norm(x1 - x2)
    return _mean(score, w)
