"""The fast path (hepgan.training.fast) with the conditional GAN: functional optimizers, the fast step
equals the plain step, resume on the fast path; the device metric equals numpy's.

The engine's contract itself (eager = graph = scan for several step lists) is tested in test_training.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hepgan.exceptions import ConfigError
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN, ConditionalGANTask
from hepgan.metrics.likelihood import neg2_log_lambda, neg2_log_lambda_torch
from hepgan.physics import derived_columns, derived_columns_torch
from hepgan.preprocessing import TablePreprocessor
from hepgan.samples.toys import gjets_toy
from hepgan.training.fast import StepRunner, functional_iteration, module_gradient
from hepgan.training.functional import FunctionalOptimizer, schedule_factor
from hepgan.training.loop import Trainer, TrainSettings
from hepgan.training.optim import cosine_schedule, make_optimizer
from hepgan.training.record import LogSums

C_FULL = FEATURE_SETS["full"]


# --------------------------------------------------------------------------- functional optimizers


@pytest.mark.parametrize("name", ["sgd", "adam", "lamb"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_functional_optimizer_equals_torch_optimizer(name, weight_decay, gen):
    params = [torch.randn(5, 3, generator=gen), torch.randn(3, generator=gen), torch.zeros(4)]  # a zero tensor: LAMB's trust ratio 1
    grads = [[torch.randn(p.shape, generator=gen) for p in params] for _ in range(4)]
    ref = [p.clone().requires_grad_(True) for p in params]
    opt = make_optimizer(name, ref, lr=0.01, weight_decay=weight_decay)
    fopt = FunctionalOptimizer.from_torch(opt)
    mine = [p.clone() for p in params]
    state = fopt.init_state(mine)
    for gs in grads:
        for p, g in zip(ref, gs):
            p.grad = g.clone()
        opt.step()
        fopt.update(mine, gs, state, torch.tensor(0.01, dtype=torch.float64))
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a, b.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sgd", "adam", "lamb"])
def test_functional_optimizer_members_equal_separate_updates(name, gen):
    """K stacked members with their own learning rates = K separate updates (LAMB norms per member)."""
    lrs = [0.01, 0.003, 0.05]
    members = [[torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen)] for _ in lrs]
    grads = [[[torch.randn(p.shape, generator=gen) for p in m] for m in members] for _ in range(3)]
    hyper = {k: v for k, v in make_optimizer(name, [torch.zeros(1)], lr=1.0).param_groups[0].items() if k != "params"}
    stacked = [torch.stack([m[j] for m in members]) for j in range(2)]
    fk = FunctionalOptimizer(name, hyper, members=True)
    sk = fk.init_state(stacked)
    singles = [[p.clone() for p in m] for m in members]
    f1 = FunctionalOptimizer(name, hyper)
    s1 = [f1.init_state(m) for m in singles]
    for gs in grads:
        fk.update(stacked, [torch.stack([gs[i][j] for i in range(3)]) for j in range(2)], sk, torch.tensor(lrs, dtype=torch.float64))
        for i, lr in enumerate(lrs):
            f1.update(singles[i], gs[i], s1[i], torch.tensor(lr, dtype=torch.float64))
    for i in range(3):
        for j in range(2):
            torch.testing.assert_close(stacked[j][i], singles[i][j], rtol=1e-6, atol=1e-7)


def test_functional_optimizer_rejects_what_it_does_not_implement():
    with pytest.raises(ConfigError, match="momentum"):
        FunctionalOptimizer.from_torch(make_optimizer("sgd", [torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9))
    with pytest.raises(ConfigError, match="amsgrad"):
        FunctionalOptimizer.from_torch(make_optimizer("adam", [torch.zeros(2, requires_grad=True)], lr=0.1, amsgrad=True))


@pytest.mark.parametrize("warmup", [0, 3])
def test_schedule_factor_equals_cosine_schedule(warmup):
    total = 17
    ref = cosine_schedule(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), total, warmup).lr_lambdas[0]
    steps = torch.arange(total + 3)
    got = schedule_factor(steps, "cosine", total, warmup)
    np.testing.assert_allclose(got.numpy(), [ref(int(t)) for t in steps], rtol=0, atol=1e-15)
    assert torch.equal(schedule_factor(steps, "constant", total), torch.ones(len(steps), dtype=torch.float64))


# --------------------------------------------------------------------------- the step


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    return gjets_toy(1500, seed=11)


def _model(**kw) -> ConditionalGAN:
    args = dict(
        g_hidden=(32, 32), d_hidden=(32, 32), latent_dim=4, epochs=3, batch_size=64, optimizer="adam",
        metric_events=200, metric_k=3, n_quantiles=100, derive="diphoton", progress=False, seed=3,
    )
    args.update(kw)
    return ConditionalGAN(**args)


@pytest.mark.parametrize("optimizer", ["adam", "lamb", "sgd"])
def test_fast_step_equals_plain_step(toy, optimizer):
    """One iteration, same batch, same weights, same generator state: same losses and weights."""
    sr = toy[toy.region == 1].iloc[:300]
    m = _model(optimizer=optimizer, dropout=0.2)
    task, data, _ = m._prepare(sr[X_OBJECT], sr[C_FULL], sr.weight, None, None)
    batch = {"sr": {k: v[:64] for k, v in data["sr"].tensors.items()}}
    copy = {k: {n: p.detach().clone() for n, p in net.state_dict().items()} for k, net in task.networks.items()}

    def run(fast: bool):
        for k, net in task.networks.items():
            net.load_state_dict(copy[k])
            net.train()
        params = {k: list(net.parameters()) for k, net in task.networks.items()}
        opts = {s.name: make_optimizer(optimizer, params[s.network], 2e-3) for s in task.steps}
        gen = torch.Generator().manual_seed(5)
        sums = LogSums()
        with torch.random.fork_rng():
            torch.manual_seed(7)  # dropout masks
            if fast:
                fo = {k: FunctionalOptimizer.from_torch(o) for k, o in opts.items()}
                state = {s.name: fo[s.name].init_state(params[s.network]) for s in task.steps}
                lr = {s.name: torch.tensor(2e-3, dtype=torch.float64) for s in task.steps}
                grads = {s.name: module_gradient(s) for s in task.steps}
                functional_iteration(task.steps, grads, fo, params, state, lr, batch, lambda s: s.noise(batch, gen), sums)
            else:
                Trainer._eager_iteration(task, batch, opts, params, gen, sums)
        losses = sums.means(1)
        return losses, {k: {n: p.detach().clone() for n, p in net.state_dict().items()} for k, net in task.networks.items()}

    l0, w0 = run(False)
    l1, w1 = run(True)
    assert set(l0) == {"loss_d", "loss_g"}
    for k in l0:
        assert l1[k] == pytest.approx(l0[k], rel=1e-6)
    for k in w0:
        for n in w0[k]:
            assert not torch.equal(w0[k][n], copy[k][n])  # the step changed every tensor
            torch.testing.assert_close(w1[k][n], w0[k][n], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimizer", ["adam", "lamb"])
def test_loop_fast_path_equals_plain_path(toy, optimizer, tmp_path):
    """Whole fits (2 epochs, cosine schedule, per-epoch metric): step graph (uncaptured on a CPU) vs eager."""
    sr = toy[toy.region == 1]
    tr, va = sr.iloc[:300], sr.iloc[300:600]
    fits = {}
    for step in ("eager", "graph"):
        fits[step] = _model(optimizer=optimizer, step=step, epochs=2).fit(tr[X_OBJECT], tr[C_FULL], tr.weight, validation=(va[X_OBJECT], va[C_FULL], va.weight))
    e, f = fits["eager"].history_, fits["graph"].history_
    np.testing.assert_allclose(f["loss_d"], e["loss_d"], rtol=1e-5)
    np.testing.assert_allclose(f["loss_g"], e["loss_g"], rtol=1e-5)
    np.testing.assert_allclose(f["lr"], e["lr"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f["neg2lnL_val"], e["neg2lnL_val"], rtol=1e-6)
    for k, v in fits["eager"].last_states_["generator"].items():
        torch.testing.assert_close(fits["graph"].last_states_["generator"][k], v, rtol=1e-4, atol=1e-6)


def test_fast_path_resume_continues_to_the_same_result(toy, tmp_path):
    """A fast run stopped after 2 epochs and resumed equals the uninterrupted fast run exactly."""
    sr = toy[toy.region == 1].iloc[:300]
    m = _model(optimizer="lamb", step="graph")
    task, data, settings = m._prepare(sr[X_OBJECT], sr[C_FULL], sr.weight, None, None)
    ref = Trainer(settings).fit(task, data)

    m2 = _model(optimizer="lamb", step="graph")
    task2, data2, settings2 = m2._prepare(sr[X_OBJECT], sr[C_FULL], sr.weight, None, None)
    orig = task2.validate

    def stop_after_two(epoch):
        if epoch == 2:
            import signal

            signal.raise_signal(signal.SIGINT)
        return orig(epoch)

    task2.validate = stop_after_two
    with pytest.raises(KeyboardInterrupt, match="stopped after epoch 2"):
        Trainer(settings2).fit(task2, data2, run_dir=tmp_path)
    m3 = _model(optimizer="lamb", step="graph")
    task3, data3, settings3 = m3._prepare(sr[X_OBJECT], sr[C_FULL], sr.weight, None, None)
    h = Trainer(settings3).fit(task3, data3, run_dir=tmp_path, resume=True)
    assert h["loss_d"] == ref["loss_d"] and h["loss_g"] == ref["loss_g"] and h["lr"] == ref["lr"]
    for k, v in ref["last_networks"]["g"].items():
        torch.testing.assert_close(h["last_networks"]["g"][k], v, rtol=0, atol=0)


def test_unknown_step_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="step"):
        Trainer(TrainSettings(step="fast", progress=False))


def test_step_runner_without_cuda_runs_eagerly():
    calls = []
    r = StepRunner(lambda: calls.append(1), capture=True)
    for _ in range(5):
        r()
    assert len(calls) == 5 and not r.captured  # no CUDA here: every call runs the body


# --------------------------------------------------------------------------- device metric


def test_neg2_log_lambda_torch_equals_numpy(rng):
    for d in (1, 2, 4):
        u_x = rng.random((3000, d))
        u_y = rng.random((5000, d)) ** 1.3  # a different density: empty bins and a floor
        u_x[:5] = [[0.0] * d, [1.0] * d, [-0.2] * d, [1.3] * d, [0.1 * k for k in range(d)]]  # edges and outside
        w_x, w_y = rng.normal(1.0, 0.5, 3000), rng.normal(1.0, 0.5, 5000)
        for wx, wy in ((None, None), (w_x, w_y)):
            ref = neg2_log_lambda(u_x, u_y, bins=7, w_x=wx, w_y=wy)
            t = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
            got = neg2_log_lambda_torch(torch.as_tensor(u_x), torch.as_tensor(u_y), bins=7, w_x=t(wx), w_y=t(wy))
            assert float(got) == pytest.approx(ref, rel=1e-12)


def test_torch_transforms_equal_numpy(rng):
    x = np.stack([rng.exponential(30.0, 4000), rng.normal(0, 1.5, 4000), rng.integers(0, 6, 4000).astype(float)], axis=1)
    pre = TablePreprocessor(["pt", "eta", "n_jets"], ["n_jets"], 200).fit(x, np.random.default_rng(1))
    probe = np.concatenate([x[:500], [[x[:, 0].max() * 2, 9.0, 2.0], [-1.0, -9.0, 0.0]]])
    u_np = pre.transform(probe, np.random.default_rng(2))
    u_t = pre.transform_torch(torch.as_tensor(probe), torch.Generator().manual_seed(2)).numpy()
    np.testing.assert_allclose(u_t[:, :2], u_np[:, :2], rtol=1e-12, atol=1e-14)  # continuous: the same numbers
    # discrete: other noise, the same integer: the inverse floors it back
    assert np.array_equal(pre.inverse_transform_torch(torch.as_tensor(u_t)).numpy()[:, 2], probe[:, 2])
    u = rng.random((1000, 3))
    np.testing.assert_allclose(pre.inverse_transform_torch(torch.as_tensor(u)).numpy(), pre.inverse_transform(u), rtol=1e-12, atol=1e-12)


def test_derived_columns_torch_equal_numpy(toy):
    ref = derived_columns(toy)
    got = derived_columns_torch({c: torch.as_tensor(toy[c].to_numpy(np.float64)) for c in toy.columns})
    for k, v in ref.items():
        np.testing.assert_allclose(got[k].numpy(), v, rtol=1e-12, atol=1e-12)


def test_per_epoch_metric_on_the_device_equals_numpy(toy):
    sr = toy[toy.region == 1]
    tr, va = sr.iloc[:300], sr.iloc[300:]
    h = {}
    for backend in ("numpy", "torch"):
        m = _model(metric_backend=backend, epochs=2)
        h[backend] = m.fit(tr[X_OBJECT], tr[C_FULL], tr.weight, validation=(va[X_OBJECT], va[C_FULL], va.weight)).history_
    for key in ("neg2lnL_val", "neg2lnL_train"):
        np.testing.assert_allclose(h["torch"][key], h["numpy"][key], rtol=1e-10)
    assert h["torch"]["loss_d"] == h["numpy"]["loss_d"]  # the metric does not touch training


def test_task_noise_holds_every_random_number_of_an_update(toy):
    """The losses draw nothing: the same noise gives the same loss, other noise another (dropout off)."""
    sr = toy[toy.region == 1].iloc[:200]
    m = _model(dropout=0.0)
    task, data, _ = m._prepare(sr[X_OBJECT], sr[C_FULL], sr.weight, None, None)
    assert isinstance(task, ConditionalGANTask)
    batch = {"sr": {k: v[:50] for k, v in data["sr"].tensors.items()}}
    d_step = task.steps[0]
    noise = d_step.noise(batch, torch.Generator().manual_seed(1))
    assert torch.equal(d_step.loss(batch, noise)[0], d_step.loss(batch, noise)[0])
    other = d_step.noise(batch, torch.Generator().manual_seed(2))
    assert not torch.equal(d_step.loss(batch, noise)[0], d_step.loss(batch, other)[0])
    assert noise["l_real"].min() >= 1 - m.label_noise and noise["l_fake"].max() <= m.label_noise


def test_r1_penalty_is_half_gamma_times_the_mean_squared_input_gradient(toy):
    """d_loss with r1_gamma equals BCE + gamma / 2 * mean |grad_x logit|^2, computed here with plain autograd."""
    from hepgan.losses import discriminator_bce

    sr = toy[toy.region == 1].iloc[:200]
    m = _model(dropout=0.0, r1_gamma=2.0)
    task, data, _ = m._prepare(sr[X_OBJECT], sr[C_FULL], None, None, None)
    batch = {"sr": {k: v[:40] for k, v in data["sr"].tensors.items()}}
    noise = task.steps[0].noise(batch, torch.Generator().manual_seed(3))
    loss, logs = task.steps[0].loss(batch, noise)
    g, d = task.networks["g"], task.networks["d"]
    b = batch["sr"]
    x = b["x"].clone().requires_grad_(True)
    logit = d(b["c"], x)
    (grad,) = torch.autograd.grad(logit.sum(), x)
    penalty = grad.square().sum(1).mean()
    with torch.no_grad():
        fake = g(b["c"], noise["z"])
    bce = discriminator_bce(logit.detach(), d(b["c"], fake).detach(), eps=m.label_noise, labels=(noise["l_real"], noise["l_fake"]))
    torch.testing.assert_close(logs["r1"], penalty, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(loss.detach(), bce + 1.0 * penalty, rtol=1e-5, atol=1e-6)
