"""Tests of the optimizers and the cosine schedule."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from hepgan.exceptions import ConfigError
from hepgan.training.optim import Lamb, cosine_schedule, make_optimizer

DTYPE = torch.float64


def _lamb_by_hand(
    w: torch.Tensor,
    grads: list[torch.Tensor],
    lr: float,
    b1: float,
    b2: float,
    eps: float,
    wd: float,
    clamp: float | None,
) -> torch.Tensor:
    # Algorithm 2 of You et al., written out with python floats per element
    w = w.clone()
    m = [0.0] * len(w)
    v = [0.0] * len(w)
    for t, g in enumerate(grads, start=1):
        r = []
        for i in range(len(w)):
            m[i] = b1 * m[i] + (1 - b1) * float(g[i])
            v[i] = b2 * v[i] + (1 - b2) * float(g[i]) ** 2
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            r.append(m_hat / (math.sqrt(v_hat) + eps) + wd * float(w[i]))
        w_norm = math.sqrt(sum(float(x) ** 2 for x in w))
        r_norm = math.sqrt(sum(x**2 for x in r))
        phi = w_norm if clamp is None else min(w_norm, clamp)
        trust = phi / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        w = w - lr * trust * torch.tensor(r, dtype=DTYPE)
    return w


@pytest.mark.parametrize(
    "wd,clamp,scale", [(0.0, 10.0, 1.0), (0.01, 10.0, 1.0), (0.1, None, 30.0), (0.0, 2.0, 30.0)]
)
def test_lamb_matches_hand_computation(wd: float, clamp: float | None, scale: float) -> None:
    w0 = scale * torch.tensor([0.5, -1.5, 2.0], dtype=DTYPE)
    grads = list(torch.tensor([[0.3, -0.2, 0.1], [-0.1, 0.4, 0.2]], dtype=DTYPE))
    w = w0.clone().requires_grad_(True)
    opt = Lamb([w], lr=0.1, betas=(0.8, 0.9), eps=1e-6, weight_decay=wd, clamp_value=clamp)
    for g in grads:
        w.grad = g.clone()
        opt.step()
    expected = _lamb_by_hand(w0, grads, 0.1, 0.8, 0.9, 1e-6, wd, clamp)
    torch.testing.assert_close(w.detach(), expected, rtol=1e-12, atol=1e-14)


def test_lamb_trust_ratio_one_for_zero_weights() -> None:
    # zero-initialised biases: ||w|| = 0, trust ratio 1, an Adam-like first step of size lr
    b = torch.zeros(3, dtype=DTYPE, requires_grad=True)
    opt = Lamb([b], lr=0.01, eps=0.0)
    b.grad = torch.tensor([1.0, -2.0, 0.5], dtype=DTYPE)
    opt.step()
    torch.testing.assert_close(b.detach(), -0.01 * torch.sign(b.grad))
    # zero gradient on nonzero weights: r = 0, no move and no NaN
    w = torch.ones(2, dtype=DTYPE, requires_grad=True)
    opt = Lamb([w])
    w.grad = torch.zeros(2, dtype=DTYPE)
    opt.step()
    assert torch.equal(w.detach(), torch.ones(2, dtype=DTYPE))


@pytest.mark.parametrize(
    "name,lr,kwargs",
    [("sgd", 0.1, {}), ("sgd", 0.05, {"momentum": 0.9}), ("adam", 0.05, {}), ("lamb", 0.05, {})],
)
def test_optimizers_minimise_a_quadratic(name: str, lr: float, kwargs: dict) -> None:
    # f(w) = sum_i a_i (w_i - t_i)^2, minimum at t
    a = torch.tensor([[1.0, 3.0], [2.0, 0.5]])
    target = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    w = torch.nn.Parameter(torch.tensor([[2.0, 1.0], [-1.0, 1.0]]))
    opt = make_optimizer(name, [w], lr=lr, **kwargs)
    sched = cosine_schedule(opt, total_steps=600)
    f0 = (a * (w - target) ** 2).sum().item()
    for _ in range(600):
        opt.zero_grad()
        (a * (w - target) ** 2).sum().backward()
        opt.step()
        sched.step()
    assert (a * (w - target) ** 2).sum().item() < 1e-4 * f0
    torch.testing.assert_close(w.detach(), target, atol=1e-2, rtol=0)


def _train(opt_steps: int, model: torch.nn.Module, opt: torch.optim.Optimizer, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(opt_steps):
        x = torch.randn(16, 3, generator=g)
        opt.zero_grad()
        (model(x) - x.sum(dim=1, keepdim=True)).square().mean().backward()
        opt.step()


def test_lamb_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = Lamb(model.parameters(), lr=0.01, weight_decay=0.01)
    _train(5, model, opt, seed=1)

    clone = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    clone.load_state_dict(model.state_dict())
    opt_clone = Lamb(clone.parameters(), lr=0.5)  # hyperparameters come from the state dict
    state = copy.deepcopy(opt.state_dict())  # as if saved: state_dict() shares the tensors
    assert all(isinstance(v, torch.Tensor) for s in state["state"].values() for v in s.values())
    opt_clone.load_state_dict(state)
    assert opt_clone.param_groups[0]["lr"] == 0.01

    _train(5, model, opt, seed=2)
    _train(5, clone, opt_clone, seed=2)
    for p, q in zip(model.parameters(), clone.parameters()):
        assert torch.equal(p, q)


def test_make_optimizer_defaults_and_errors() -> None:
    w = [torch.nn.Parameter(torch.zeros(2))]
    adam = make_optimizer("adam", w, lr=1e-3)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["betas"] == (0.5, 0.999)
    assert make_optimizer("adam", w, lr=1e-3, betas=[0.9, 0.99]).defaults["betas"] == (0.9, 0.99)
    lamb = make_optimizer("lamb", w, lr=1e-3, weight_decay=0.01)
    assert isinstance(lamb, Lamb) and lamb.defaults["weight_decay"] == 0.01
    assert isinstance(make_optimizer("sgd", w, lr=1e-3, momentum=0.9), torch.optim.SGD)
    with pytest.raises(ConfigError, match="'rmsprop'"):
        make_optimizer("rmsprop", w, lr=1e-3)
    with pytest.raises(ConfigError, match="'momentum'"):
        make_optimizer("adam", w, lr=1e-3, momentum=0.9)
    with pytest.raises(ConfigError, match="lr"):
        make_optimizer("sgd", w, lr=-1.0)
    with pytest.raises(ConfigError, match="lamb"):
        make_optimizer("lamb", w, lr=1e-3, betas=(1.5, 0.9))


def _lrs(total: int, warmup: int = 0, lr0: float = 0.4) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr0)
    sched = cosine_schedule(opt, total_steps=total, warmup_steps=warmup)
    lrs = []
    for _ in range(total + 3):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_cosine_schedule() -> None:
    lrs = _lrs(100)
    assert lrs[0] == pytest.approx(0.4, abs=1e-15)
    assert lrs[50] == pytest.approx(0.2, abs=1e-15)
    assert lrs[25] == pytest.approx(0.2 * (1 + math.cos(math.pi / 4)), abs=1e-15)
    assert lrs[100] == 0.0 and lrs[-1] == 0.0
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_cosine_schedule_warmup() -> None:
    lrs = _lrs(110, warmup=10)
    assert lrs[0] == pytest.approx(0.4 / 11)
    assert all(0 < a < b for a, b in zip(lrs[:10], lrs[1:11]))
    assert lrs[10] == pytest.approx(0.4)
    assert lrs[60] == pytest.approx(0.2)
    assert lrs[110] == 0.0
    with pytest.raises(ConfigError, match="warmup_steps"):
        _lrs(10, warmup=10)
    with pytest.raises(ConfigError, match="total_steps"):
        _lrs(0)


def test_cosine_schedule_state_dict() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = cosine_schedule(opt, total_steps=10, warmup_steps=2)
    for _ in range(4):
        opt.step()
        sched.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched2 = cosine_schedule(opt2, total_steps=10, warmup_steps=2)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    opt.step(), sched.step(), opt2.step(), sched2.step()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
