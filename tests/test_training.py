"""The engine's step contract (hepgan.training): eager = graph = scan for every kind of step list.

Three step lists, each run three ways (the eager autograd step, the fast step that a CUDA graph
captures, run uncaptured on this CPU, and a vectorised scan of two members with other seeds and
learning rates) must give the same losses, logs, learning rates and weights up to float rounding:

* a BCE step pair (the conditional GAN of seed 002, discriminator then generator);
* a WGAN-GP critic step with its gradient penalty (interpolation weights drawn as noise, input
  gradients through hepgan.losses.input_gradient), five critic updates per generator update,
  Adam with betas (0, 0.9);
* a single classifier step on two named samples of different sizes and batch sizes, with a
  frozen pre-trained network inside the loss.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hepgan.exceptions import ConfigError, HepganError
from hepgan.losses import input_gradient, wasserstein_critic, wasserstein_generator, wgan_gp_penalty
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
from hepgan.nn import MLP, init_parameters
from hepgan.samples.toys import gjets_toy
from hepgan.training.data import Samples
from hepgan.training.loop import Trainer, TrainSettings
from hepgan.training.record import EpochRecorder, LogSums, Selection
from hepgan.training.scan import scan_groups, train_scan
from hepgan.training.task import OptimizerSpec, Sample, Step, check_task, no_noise


def _init(module: nn.Module, seed: int) -> nn.Module:
    init_parameters(module, torch.Generator().manual_seed(seed))
    return module


# --------------------------------------------------------------------------- three toy tasks


class WGANGP:
    """WGAN-GP (Gulrajani et al.): critic f(x) five times with the gradient penalty, then g(z)."""

    def __init__(self, lr: float = 1e-3, n_critic: int = 5, gp: float = 10.0):
        self.networks = {"g": _init(MLP(2, 2, (16, 16)), 1), "f": _init(MLP(2, 1, (16, 16)), 2)}
        self.gp = gp
        opt = OptimizerSpec("adam", lr, {"betas": (0.0, 0.9)})
        self.steps = [
            Step("critic", "f", self.critic_loss, self.critic_noise, repeat=n_critic, optimizer=opt),
            Step("gen", "g", self.gen_loss, self.gen_noise, optimizer=opt),
        ]

    def critic_noise(self, batch, gen):
        n = len(batch["data"]["x"])
        return {"z": torch.randn(n, 2, generator=gen), "alpha": torch.rand(n, 1, generator=gen)}

    def gen_noise(self, batch, gen):
        return {"z": torch.randn(len(batch["data"]["x"]), 2, generator=gen)}

    def _score(self, c, x):
        return self.networks["f"](x).squeeze(-1)

    def critic_loss(self, batch, noise):
        x = batch["data"]["x"]
        with torch.no_grad():
            fake = self.networks["g"](noise["z"])
        w = wasserstein_critic(self._score(None, x), self._score(None, fake))
        penalty = wgan_gp_penalty(self._score, None, x, fake, alpha=noise["alpha"])
        return w + self.gp * penalty, {"gp": penalty, "w_distance": -w}

    def gen_loss(self, batch, noise):
        return wasserstein_generator(self._score(None, self.networks["g"](noise["z"]))), {}


class Classifier:
    """Signal vs background on two samples of different sizes; a frozen embedding feeds the classifier."""

    def __init__(self, lr: float = 0.05):
        self.networks = {"clf": _init(MLP(3, 1, (16,)), 3), "embed": _init(nn.Linear(2, 3), 4)}
        self.steps = [Step("clf", "clf", self.loss, optimizer=OptimizerSpec("lamb", lr))]

    def _logit(self, x):
        return self.networks["clf"](torch.tanh(self.networks["embed"](x))).squeeze(-1)

    def loss(self, batch, noise):
        bce = nn.functional.binary_cross_entropy_with_logits
        s, b = self._logit(batch["signal"]["x"]), self._logit(batch["background"]["x"])
        loss = 0.5 * (bce(s, torch.ones_like(s)) + bce(b, torch.zeros_like(b)))
        return loss, {"separation": s.mean() - b.mean()}


def _wgan_data():
    g = torch.Generator().manual_seed(10)
    return {"data": {"x": torch.randn(320, 2, generator=g) * torch.tensor([1.0, 0.5]) + torch.tensor([2.0, -1.0])}}


def _classifier_data():
    g = torch.Generator().manual_seed(11)
    return {
        "signal": Sample({"x": torch.randn(300, 2, generator=g) + 0.7}, batch_size=40),
        "background": Sample({"x": torch.randn(500, 2, generator=g) - 0.7}, batch_size=100),
    }


def _gan_parts(seed: int, lr: float, **kw):
    """The conditional GAN's task, data and settings (seed 002's BCE step pair)."""
    toy = gjets_toy(900, seed=11)
    sr = toy[toy.region == 1]
    c = FEATURE_SETS["full"]
    m = ConditionalGAN(g_hidden=(32,), d_hidden=(32,), latent_dim=4, epochs=2, batch_size=64, optimizer="adam", lr=lr,
                       dropout=0.0, n_quantiles=50, progress=False, seed=seed, **kw)  # fmt: skip
    return m._prepare(sr[X_OBJECT], sr[c], sr.weight, None, None)


def _weights(task):
    return {k: {n: p.detach().clone() for n, p in net.state_dict().items()} for k, net in task.networks.items()}


def _run_three_ways(make, data, settings_for):
    """Histories and final weights per (way, member): eager and graph fits, and one scan of both members."""
    out = {}
    members = [(1, 1e-3), (2, 3e-3)]
    for way in ("eager", "graph"):
        for i, (seed, lr) in enumerate(members):
            task = make(seed, lr)
            h = Trainer(settings_for(seed, way)).fit(task, data(seed))
            out[way, i] = (h, _weights(task))
    tasks = [make(seed, lr) for seed, lr in members]
    hs = train_scan(tasks, [data(seed) for seed, _ in members], [settings_for(seed, "eager") for seed, _ in members], progress=False)
    for i, (h, t) in enumerate(zip(hs, tasks)):
        out["scan", i] = (h, _weights(t))
    return out


def _assert_same(out, keys, rtol=1e-5, atol=1e-6):
    for i in (0, 1):
        ref_h, ref_w = out["eager", i]
        for k in keys:
            assert k in ref_h and len(ref_h[k]) > 0, k
        for way in ("graph", "scan"):
            h, w = out[way, i]
            for k in keys:
                np.testing.assert_allclose(h[k], ref_h[k], rtol=rtol, atol=atol, err_msg=f"{way} member {i}: {k}")
            np.testing.assert_allclose(h["lr"], ref_h["lr"], rtol=1e-12, atol=1e-15)
            for net in ref_w:
                for n, v in ref_w[net].items():
                    torch.testing.assert_close(w[net][n], v, rtol=rtol, atol=atol)
    # the members really differ (other seed and learning rate)
    assert out["eager", 0][0][keys[0]] != out["eager", 1][0][keys[0]]


@pytest.mark.parametrize("extra", [{}, {"r1_gamma": 1.0, "r2_gamma": 0.5, "n_critic": 2, "flatten_column": "pho1_pt"}], ids=["plain", "r1_r2"])
def test_bce_step_pair_eager_graph_scan_agree(extra):
    def make(seed, lr):
        return _gan_parts(seed, lr, **extra)[0]

    def data(seed):
        return _gan_parts(seed, 1e-3, **extra)[1]

    def settings(seed, way):
        s = _gan_parts(seed, 1e-3, **extra)[2]
        s.step = way
        return s

    out = _run_three_ways(make, data, settings)
    _assert_same(out, ["loss_d", "loss_g", *(["r1", "r2"] if extra else [])])


def test_wgan_gp_critic_step_eager_graph_scan_agree():
    def settings(seed, way):
        return TrainSettings(epochs=3, batch_size=64, seed=seed, step=way, progress=False)

    out = _run_three_ways(lambda seed, lr: WGANGP(lr), lambda seed: _wgan_data(), settings)
    _assert_same(out, ["loss_critic", "loss_gen", "gp", "w_distance"])
    h = out["eager", 0][0]
    assert h["gp"][0] > 0  # the penalty is active


def test_classifier_step_on_two_samples_with_a_frozen_network_eager_graph_scan_agree():
    def settings(seed, way):
        return TrainSettings(epochs=4, batch_size=64, seed=seed, step=way, progress=False, epoch_sample="background")

    before = _weights(Classifier())["embed"]
    out = _run_three_ways(lambda seed, lr: Classifier(50 * lr), lambda seed: _classifier_data(), settings)
    _assert_same(out, ["loss_clf", "separation"])
    for key, (_, w) in out.items():
        for n, v in before.items():
            assert torch.equal(w["embed"][n], v), f"{key}: the frozen network changed"
    h = out["eager", 0][0]
    assert h["loss_clf"][-1] < 0.55 and h["separation"][-1] > 0.8  # it learned (ln 2 = 0.69 and 0 before)
    assert len(h["epoch"]) == 4


def test_scan_groups_split_on_step_lists_and_shapes():
    tasks = [WGANGP(1e-3), WGANGP(3e-3), WGANGP(1e-3, n_critic=2), Classifier()]
    settings = [TrainSettings(epochs=1, progress=False)] * 4
    assert sorted(scan_groups(tasks, settings)) == [[0, 1], [2], [3]]


# --------------------------------------------------------------------------- logs and samples


class _Constant:
    """A step whose loss and logs are known numbers: the epoch means are exact."""

    def __init__(self, repeat: int):
        self.networks = {"w": nn.Linear(1, 1)}
        self.calls = 0
        self.steps = [Step("fit", "w", self.loss, no_noise, repeat=repeat, optimizer=OptimizerSpec("sgd", 1e-9))]

    def loss(self, batch, noise):
        self.calls += 1
        x = batch["a"]["x"]
        loss = 0.0 * self.networks["w"](x).sum() + float(self.calls % 2)  # 1, 0, 1, 0, ...
        return loss, {"two": torch.tensor(2.0), "events": torch.tensor(float(len(x)))}


def test_logs_are_averaged_over_every_update_of_the_epoch():
    task = _Constant(repeat=3)
    h = Trainer(TrainSettings(epochs=2, batch_size=10, step="eager", progress=False)).fit(task, {"a": {"x": torch.zeros(40, 1)}})
    # 4 iterations x 3 repeats = 12 calls per epoch: six 1s and six 0s
    assert h["loss_fit"] == [0.5, 0.5] and h["two"] == [2.0, 2.0] and h["events"] == [10.0, 10.0]
    assert task.calls == 24


def test_samples_of_different_sizes_are_cycled_evenly():
    data = {"big": {"x": torch.arange(100.0)}, "small": Sample({"x": torch.arange(7.0)}, batch_size=5)}
    s = Samples(data, batch_size=20, device=torch.device("cpu"))
    assert s.steps == 5 and s.batch_sizes == {"big": 20, "small": 5}
    idx = s.epoch_indices(torch.Generator().manual_seed(0))
    assert sorted(idx["big"].tolist()) == list(range(100))  # one permutation of the epoch sample
    counts = np.bincount(idx["small"].numpy(), minlength=7)  # 25 draws of 7 events: 3 or 4 each
    assert counts.sum() == 25 and counts.min() >= 3 and counts.max() <= 4
    first = s.batch(idx, 0)
    assert first["big"]["x"].shape == (20,) and first["small"]["x"].shape == (5,)


def test_recorder_selects_by_name_and_direction():
    net = {"m": nn.Linear(1, 1)}
    for mode, best in (("min", 2), ("max", 3)):
        rec = EpochRecorder(Selection("auc", mode))
        for epoch, v in enumerate([0.7, 0.6, 0.9, float("nan")], start=1):
            rec.record(epoch, {"auc": v}, 0.0, net)
        assert rec.finish(net, 4)["best_epoch"] == best
    rec = EpochRecorder(Selection(None))
    rec.record(1, {"auc": 0.1}, 0.0, net)
    assert rec.finish(net, 7)["best_epoch"] == 7  # no selecting metric: the last epoch


def test_log_sums_count_per_iteration_and_reset():
    sums = LogSums()
    for _ in range(3):
        for v in (1.0, 3.0):
            sums.add("a", torch.tensor(v))
        sums.end_iteration()
    assert sums.means(3) == {"a": 2.0}
    sums.zero()
    sums.add("a", torch.tensor(4.0))
    assert sums.means(1) == {"a": 2.0}  # two values per iteration were counted in the first iteration


# --------------------------------------------------------------------------- input gradients and errors


def test_input_gradient_matches_autograd_and_works_inside_vmap():
    torch.manual_seed(0)
    f = MLP(3, 1, (8,))
    x = torch.randn(10, 3)
    xx = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(f(xx).sum(), xx)
    _, got = input_gradient(lambda v: f(v).squeeze(-1), x)
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    batched = torch.func.vmap(lambda v: input_gradient(lambda u: f(u).squeeze(-1), v)[1])(torch.stack([x, 2 * x]))
    torch.testing.assert_close(batched[0], ref)


def test_task_and_data_errors_name_what_is_wrong():
    net = nn.Linear(1, 1)

    def loss(b, n):
        return net(b["a"]["x"]).sum(), {}

    class T:
        def __init__(self):
            self.networks = {"net": net}

    t = T()
    t.steps = [Step("s", "nope", loss)]
    with pytest.raises(ConfigError, match="no network 'nope'"):
        check_task(t)
    t.steps = [Step("s", "net", loss), Step("s", "net", loss)]
    with pytest.raises(ConfigError, match="distinct"):
        check_task(t)
    t.steps = [Step("s", "net", loss)]
    with pytest.raises(ConfigError, match=r"sample 'a'.*different numbers of events \(x: 4, y: 3\)"):
        Trainer(TrainSettings(progress=False)).fit(t, {"a": {"x": torch.zeros(4, 1), "y": torch.zeros(3, 1)}})
    with pytest.raises(HepganError, match="sample 'a': no events"):
        Trainer(TrainSettings(progress=False)).fit(t, {"a": {"x": torch.zeros(0, 1)}})
    with pytest.raises(ConfigError, match="epoch_sample: no training sample 'b'"):
        Trainer(TrainSettings(progress=False, epoch_sample="b")).fit(t, {"a": {"x": torch.zeros(4, 1)}})
    with pytest.raises(ConfigError, match="repeat"):
        Step("s", "net", loss, repeat=0)
    with pytest.raises(ConfigError, match="optimizer"):
        OptimizerSpec("rmsprop")


def _table_wgan_parts(seed: int, lr: float):
    """The scaling method's WGAN-GP task, data and settings (seed 004: critic with gradient penalty, then generator)."""
    from hepgan.methods.scaling.model import TableWGAN

    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(2.0, 1.0, 256), rng.integers(0, 4, 256)])
    m = TableWGAN(["a", "n"], discrete_columns=["n"], g_hidden=[16], d_hidden=[16], gp_lambda=10.0, lr=lr, epochs=2, batch_size=64,
                  n_critic=3, seed=seed, progress=False)  # fmt: skip
    return m._prepare(x)


def test_scaling_wgan_gp_steps_eager_graph_scan_agree():
    def settings(seed, way):
        s = _table_wgan_parts(seed, 1e-3)[2]
        s.step = way
        return s

    out = _run_three_ways(lambda seed, lr: _table_wgan_parts(seed, lr)[0], lambda seed: _table_wgan_parts(seed, 1e-3)[1], settings)
    _assert_same(out, ["loss_d", "loss_g", "gp_train", "w_distance_train"])
    assert out["eager", 0][0]["gp_train"][0] > 0  # the penalty is active


@pytest.mark.parametrize("mode", ["semi", "cwola"])
def test_lee_classifier_step_eager_graph_scan_agree(mode):
    from hepgan.lee.classifier import ClassifierSettings, ClassifierTask, ResponseClassifier

    def make(seed, lr):
        torch.manual_seed(seed)
        net = ResponseClassifier(2, (8, 8), np.zeros(2), np.ones(2))
        return ClassifierTask(net, ClassifierSettings(mode=mode, lr=lr, hidden=(8, 8)))

    def data(seed):
        g = torch.Generator().manual_seed(12)
        return {"zero": Sample({"x": torch.randn(200, 2, generator=g)}, batch_size=32),
                "one": Sample({"x": torch.randn(120, 2, generator=g) + 0.5}, batch_size=32)}  # fmt: skip

    def settings(seed, way):
        return TrainSettings(epochs=3, batch_size=32, seed=seed, step=way, progress=False, epoch_sample="zero")

    _assert_same(_run_three_ways(make, data, settings), ["loss_f"])
