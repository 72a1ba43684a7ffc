"""Analytic tests of the adversarial losses and regularisers."""

from __future__ import annotations

import math

import pytest
import torch

from hepgan.losses import (
    discriminator_bce,
    energy_score,
    generator_bce,
    roth_penalty,
    roth_regularizer,
    wgan_gp_penalty,
)

DTYPE = torch.float64


def _logits(gen: torch.Generator, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(3 * torch.randn(2, n, generator=gen, dtype=DTYPE))  # type: ignore[return-value]


def _bce(logit: torch.Tensor, label: float) -> torch.Tensor:
    # per-event BCE by hand, through probabilities
    d = 1 / (1 + torch.exp(-logit))
    return -(label * torch.log(d) + (1 - label) * torch.log(1 - d))


def test_discriminator_bce_hard_labels(gen: torch.Generator) -> None:
    lr, lf = _logits(gen)
    d_r, d_f = torch.sigmoid(lr), torch.sigmoid(lf)
    expected = 0.5 * (-torch.log(d_r).mean() - torch.log(1 - d_f).mean())
    torch.testing.assert_close(discriminator_bce(lr, lf, eps=0.0), expected, rtol=1e-12, atol=0)
    # equal batch sizes: the pooled mean of eq. (1) over the 2N events
    pooled = torch.cat([_bce(lr, 1.0), _bce(lf, 0.0)]).mean()
    torch.testing.assert_close(discriminator_bce(lr, lf, eps=0.0), pooled, rtol=1e-12, atol=0)


def test_discriminator_bce_label_noise_bounds(gen: torch.Generator) -> None:
    eps = 0.15
    lr, lf = _logits(gen)
    # BCE is linear in the label, so the loss of each event lies between its values
    # at the extreme labels; check per event (batch of one) and for the batch
    for i in range(len(lr)):
        loss = discriminator_bce(lr[i : i + 1], lf[i : i + 1], eps=eps, generator=gen)
        corners = torch.stack(
            [0.5 * (_bce(lr[i], a) + _bce(lf[i], b)) for a in (1 - eps, 1.0) for b in (0.0, eps)]
        )
        assert corners.min() - 1e-12 <= loss <= corners.max() + 1e-12


def test_discriminator_bce_label_distribution() -> None:
    # logit 0: BCE(0, l) = ln 2 whatever l; the derivative in the logit is sigmoid(0) - l,
    # so the gradient reveals each label: real labels in [1 - eps, 1], fake in [0, eps]
    eps, n = 0.15, 20_000
    lr = torch.zeros(n, dtype=DTYPE, requires_grad=True)
    lf = torch.zeros(n, dtype=DTYPE, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    loss = discriminator_bce(lr, lf, eps=eps, generator=g)
    torch.testing.assert_close(loss, torch.tensor(math.log(2), dtype=DTYPE))
    loss.backward()
    l_real = 0.5 - 2 * n * lr.grad
    l_fake = 0.5 - 2 * n * lf.grad
    assert l_real.min() >= 1 - eps - 1e-9 and l_real.max() <= 1 + 1e-9
    assert l_fake.min() >= -1e-9 and l_fake.max() <= eps + 1e-9
    # uniform: mean eps/2 within 5 standard errors (sd of U[0, eps] is eps / sqrt(12))
    tol = 5 * eps / math.sqrt(12 * n)
    assert abs((1 - l_real).mean() - eps / 2) < tol
    assert abs(l_fake.mean() - eps / 2) < tol


def test_discriminator_bce_reproducible(gen: torch.Generator) -> None:
    lr, lf = _logits(gen)
    a = discriminator_bce(lr, lf, generator=torch.Generator().manual_seed(3))
    b = discriminator_bce(lr, lf, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="eps"):
        discriminator_bce(lr, lf, eps=0.6)


def test_discriminator_bce_weights(gen: torch.Generator) -> None:
    lr, lf = _logits(gen)
    w = 2 * torch.ones_like(lr)
    unweighted = discriminator_bce(lr, lf, eps=0.0)
    torch.testing.assert_close(discriminator_bce(lr, lf, eps=0.0, w_real=w, w_fake=w), unweighted)
    # negative weights: the weighted mean by hand
    wr = torch.randn(len(lr), generator=gen, dtype=DTYPE) + 0.5
    wf = torch.randn(len(lf), generator=gen, dtype=DTYPE) + 0.5
    expected = 0.5 * ((wr * _bce(lr, 1.0)).sum() / wr.sum() + (wf * _bce(lf, 0.0)).sum() / wf.sum())
    torch.testing.assert_close(discriminator_bce(lr, lf, 0.0, w_real=wr, w_fake=wf), expected)
    with pytest.raises(ValueError, match="weights"):
        discriminator_bce(lr, lf, w_real=w[:3])


def test_discriminator_bce_stable_at_large_logits() -> None:
    lr = torch.tensor([200.0, -200.0])
    loss = discriminator_bce(lr, -lr, eps=0.0)
    torch.testing.assert_close(loss, torch.tensor(0.5 * (200 / 2 + 200 / 2)))


def test_generator_bce(gen: torch.Generator) -> None:
    lf, _ = _logits(gen)
    torch.testing.assert_close(generator_bce(lf), -torch.log(torch.sigmoid(lf)).mean())
    w = 2 * torch.ones_like(lf)
    torch.testing.assert_close(generator_bce(lf, w), generator_bce(lf))
    w = torch.rand(len(lf), generator=gen, dtype=DTYPE) - 0.2
    expected = (w * -torch.log(torch.sigmoid(lf))).sum() / w.sum()
    torch.testing.assert_close(generator_bce(lf, w), expected)
    assert torch.isfinite(generator_bce(torch.tensor([-500.0])))


def test_wgan_gp_zero_for_unit_gradient(gen: torch.Generator) -> None:
    u = torch.randn(5, generator=gen, dtype=DTYPE)
    u = u / u.norm()
    c = torch.randn(16, 2, generator=gen, dtype=DTYPE)

    def critic(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x @ u + c.sum(dim=1)

    x_real = torch.randn(16, 5, generator=gen, dtype=DTYPE)
    x_fake = torch.randn(16, 5, generator=gen, dtype=DTYPE)
    gp = wgan_gp_penalty(critic, c, x_real, x_fake, generator=gen)
    torch.testing.assert_close(gp, torch.tensor(0.0, dtype=DTYPE), atol=1e-12, rtol=0)


def test_wgan_gp_hand_computation(gen: torch.Generator) -> None:
    # critic f(x) = sum(x^2) / 2: grad = x_hat, penalty = mean (|x_hat| - 1)^2
    n = 16
    x_real = torch.randn(n, 3, generator=gen, dtype=DTYPE)
    x_fake = torch.randn(n, 3, generator=gen, dtype=DTYPE)
    c = torch.zeros(n, 0, dtype=DTYPE)
    critic_weight = torch.tensor(1.0, dtype=DTYPE, requires_grad=True)

    def critic(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return critic_weight * x.square().sum(dim=1) / 2

    gp = wgan_gp_penalty(critic, c, x_real, x_fake, generator=torch.Generator().manual_seed(5))
    alpha = torch.rand(n, 1, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
    x_hat = alpha * x_real + (1 - alpha) * x_fake
    norm = x_hat.norm(dim=1)
    torch.testing.assert_close(gp, ((norm - 1) ** 2).mean())
    # differentiable in the critic's parameters: d/dk mean (k |x| - 1)^2 at k = 1
    gp.backward()
    torch.testing.assert_close(critic_weight.grad, (2 * (norm - 1) * norm).mean())


def _small_discriminator() -> torch.nn.Module:
    torch_gen = torch.Generator().manual_seed(11)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=torch_gen, dtype=DTYPE))
    return net


def test_roth_regularizer_hand_computation(gen: torch.Generator) -> None:
    net = _small_discriminator()

    def disc(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return net(torch.cat([c, x], dim=1)).squeeze(-1)

    c_r, x_r = torch.randn(6, 4, generator=gen, dtype=DTYPE).split([1, 3], dim=1)
    c_f, x_f = torch.randn(5, 4, generator=gen, dtype=DTYPE).split([1, 3], dim=1)

    # by hand: per-event gradient of the logit phi = ln D/(1-D), event by event
    def term(c: torch.Tensor, x: torch.Tensor, real: bool) -> torch.Tensor:
        out = []
        for i in range(len(x)):
            xi = x[i : i + 1].clone().requires_grad_(True)
            phi = disc(c[i : i + 1], xi)[0]
            (g,) = torch.autograd.grad(phi, xi)
            d = 1 / (1 + torch.exp(-phi.detach()))
            out.append(((1 - d) if real else d) ** 2 * (g**2).sum())
        return torch.stack(out).mean()

    expected = term(c_r, x_r, True) + term(c_f, x_f, False)
    omega, logit_r, logit_f = roth_penalty(disc, c_r, x_r, c_f, x_f)
    torch.testing.assert_close(omega, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(logit_r, disc(c_r, x_r))
    torch.testing.assert_close(logit_f, disc(c_f, x_f))

    # the tensor form with gradients from autograd
    xr, xf = x_r.clone().requires_grad_(True), x_f.clone().requires_grad_(True)
    lr, lf = disc(c_r, xr), disc(c_f, xf)
    gr, gf = torch.autograd.grad((lr.sum(), lf.sum()), (xr, xf), create_graph=True)
    torch.testing.assert_close(roth_regularizer(lr, lf, gr, gf), expected, rtol=1e-12, atol=0)

    # unit weights change nothing; the regulariser trains every discriminator parameter
    ones_r, ones_f = torch.ones(6, dtype=DTYPE), 3 * torch.ones(5, dtype=DTYPE)
    omega_w, _, _ = roth_penalty(disc, c_r, x_r, c_f, x_f, w_real=ones_r, w_fake=ones_f)
    torch.testing.assert_close(omega_w, expected)
    omega_w.backward()
    assert all(p.grad is not None and torch.any(p.grad != 0) for p in net.parameters())


def test_energy_score_of_gaussian_forecasts_and_its_minimum_at_the_truth():
    """y ~ N(0, 1), forecasts N(0, s^2): E|X - Y| = sqrt(2/pi) sqrt(1 + s^2), E|X - X'| = sqrt(2/pi) sqrt(2) s, so
    ES(s) = sqrt(2/pi) (sqrt(1 + s^2) - s / sqrt(2)): 0.798, 0.612, 0.564, 0.656 for s = 0, 0.5, 1, 2."""
    gen = torch.Generator().manual_seed(int(torch.seed() % 2**31))
    n = 200_000
    measured = {}
    for s in (0.0, 0.5, 1.0, 2.0):
        y = torch.randn(n, 1, generator=gen, dtype=DTYPE)
        x1, x2 = (s * torch.randn(n, 1, generator=gen, dtype=DTYPE) for _ in range(2))
        measured[s] = float(energy_score(x1, x2, y, floor=1e-30))
        exact = math.sqrt(2 / math.pi) * (math.sqrt(1 + s * s) - s / math.sqrt(2))
        # the per-event score has sd below 1.5: 5 standard errors of the mean of 200k events
        assert abs(measured[s] - exact) < 5 * 1.5 / math.sqrt(n), s
    # a proper score: the true spread scores lowest (the nearest other, s = 0.5, by 0.048 = 20 standard errors)
    assert min(measured, key=measured.get) == 1.0


def test_energy_score_weights_and_gradient():
    x1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=DTYPE, requires_grad=True)
    x2 = torch.tensor([[1.0, 0.0], [0.0, -2.0]], dtype=DTYPE)
    y = torch.zeros(2, 2, dtype=DTYPE)
    w = torch.tensor([3.0, 1.0], dtype=DTYPE)
    # event 1: deterministic at distance 1 -> 1; event 2: 0.5 (2 + 2) - 0.5 x 4 = 0
    es = energy_score(x1, x2, y, w, floor=1e-30)
    assert float(es.detach()) == pytest.approx((3 * 1.0 + 1 * 0.0) / 4, abs=1e-9)
    es.backward()
    assert torch.isfinite(x1.grad).all() and float(x1.grad.abs().sum()) > 0
