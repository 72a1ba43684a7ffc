r"""Train K configurations of one GAN at once: :mod:`torch.func` over stacked parameters.

A hyperparameter scan (seed 002, section 2.5 and Fig. 4) trains many small models on the
same data. One at a time, each step of each model is a few hundred small kernel launches;
here the K members' parameters are stacked along a leading axis, shape (K, ...), and one
step of all members is one vectorised call:

* gradients: ``vmap(grad_and_value(loss))`` over the stacked parameters, the members'
  batches and their noise, with the losses of the task evaluated by
  :func:`torch.func.functional_call` on the first member's modules;
* optimizer: the functional rules of :mod:`hepgan.training.functional` on the stacked
  tensors, with a learning rate per member (shape (K,)) and per-member LAMB norms;
* the step itself is :func:`hepgan.training.fast.adversarial_step`, the one the loop's
  fast path uses, captured in a CUDA graph on CUDA.

What may differ between members of one vectorised group: the learning rates, the seed
(batching, latent and label noise each come from the member's own generator, exactly as
in a separate run), the label noise and anything else the task puts into its noise or its
data. Members whose parameter shapes (latent size, widths) or loop settings (optimizer,
batch size, epochs) differ are split into groups, trained one group after the other.

With the same seeds, a member's losses, metric and weights equal those of a separate
:class:`~hepgan.training.loop.AdversarialTrainer` run up to float rounding (tested), with
one exception: dropout masks come from torch's global generator, which ``vmap`` draws for
all members at once (``randomness="different"``), so with dropout a member is a
statistically equivalent run, not the bitwise same one.

Scans keep everything in memory: no checkpoints, no ``resume``.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from hepgan.exceptions import HepganError
from hepgan.training.fast import FunctionalTask, StepRunner, adversarial_step, supports_fast_path
from hepgan.training.functional import FunctionalOptimizer, schedule_factor
from hepgan.training.loop import TrainSettings, _resolve_device

__all__ = ["train_scan", "scan_groups", "SHARED_SETTINGS"]

log = logging.getLogger("hepgan")

#: TrainSettings fields that must be equal within a vectorised group (lr, lr_d, seed may differ).
SHARED_SETTINGS = ("epochs", "batch_size", "optimizer", "schedule", "n_critic", "device", "select_metric")


class _Losses(nn.Module):
    """Both networks of a task as one module, so functional_call can swap all parameters at once."""

    def __init__(self, task: FunctionalTask):
        super().__init__()
        self.g, self.d = task.networks["g"], task.networks["d"]
        self._task = (task,)  # a tuple: not registered as a submodule

    def forward(self, which: str, batch: dict[str, Tensor], noise: dict[str, Tensor]) -> Tensor:
        task = self._task[0]
        return task.d_loss_given(batch, noise) if which == "d" else task.g_loss_given(batch, noise)


def _signature(task: FunctionalTask, settings: TrainSettings) -> tuple:
    shapes = tuple((k, name, tuple(p.shape)) for k in ("g", "d") for name, p in task.networks[k].named_parameters())
    return shapes + tuple(getattr(settings, f) for f in SHARED_SETTINGS)


def scan_groups(tasks: Sequence[FunctionalTask], settings: Sequence[TrainSettings]) -> list[list[int]]:
    """Indices of members that can be vectorised together (equal parameter shapes and loop settings)."""
    groups: dict[tuple, list[int]] = {}
    for i, (t, s) in enumerate(zip(tasks, settings)):
        groups.setdefault(_signature(t, s), []).append(i)
    return list(groups.values())


def train_scan(
    tasks: Sequence[FunctionalTask],
    datas: Sequence[dict[str, Tensor]],
    settings: Sequence[TrainSettings],
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Trains K members, vectorising those that share shapes and loop settings.

    Args:
        tasks: one FunctionalTask per member (its networks hold the initial weights).
        datas: one data dict per member (tensors with the same first dimension N within a group).
        settings: one TrainSettings per member.
        progress: show a progress bar per group.

    Returns:
        One history per member, as :meth:`AdversarialTrainer.fit` returns it ("best_epoch",
        "last_networks" included); each task's networks hold its kept (best) weights.
    """
    if not (len(tasks) == len(datas) == len(settings)) or not tasks:
        raise HepganError(f"train_scan: expected equal, non-zero numbers of tasks, datas, settings; got {len(tasks)}, {len(datas)}, {len(settings)}")
    for t in tasks:
        if not supports_fast_path(t):
            raise HepganError("train_scan: every task needs noise_d, noise_g, d_loss_given and g_loss_given")
    histories: list[dict[str, Any] | None] = [None] * len(tasks)
    groups = scan_groups(tasks, settings)
    for gi, idx in enumerate(groups):
        if len(groups) > 1:
            log.info("scan group %d/%d: %d member(s) %s", gi + 1, len(groups), len(idx), idx)
        out = _ScanGroup([tasks[i] for i in idx], [datas[i] for i in idx], [settings[i] for i in idx]).fit(progress)
        for i, h in zip(idx, out):
            histories[i] = h
    return histories  # type: ignore[return-value]


class _ScanGroup:
    """K members with equal shapes and loop settings, trained as one vectorised model."""

    def __init__(self, tasks: Sequence[FunctionalTask], datas: Sequence[dict[str, Tensor]], settings: Sequence[TrainSettings]):
        self.tasks, self.settings = list(tasks), list(settings)
        s = settings[0]
        self.s = s
        self.device = _resolve_device(s.device)
        self.K = len(tasks)
        keys = set(datas[0])
        if any(set(d) != keys for d in datas):
            raise HepganError("train_scan: members' data have different keys")
        self.data = {k: torch.stack([d[k] for d in datas]).to(self.device) for k in datas[0]}
        self.n = next(iter(self.data.values())).shape[1]
        if self.n == 0:
            raise HepganError("no training events")
        self.batch = min(s.batch_size, self.n)
        self.steps = self.n // self.batch

    def fit(self, progress: bool) -> list[dict[str, Any]]:
        from torch.func import functional_call, grad_and_value, vmap

        from hepgan.training.optim import make_optimizer

        s, K, device = self.s, self.K, self.device
        for t in self.tasks:
            for m in t.networks.values():
                m.to(device)
        names = {k: [n for n, _ in self.tasks[0].networks[k].named_parameters()] for k in ("g", "d")}
        params = {
            k: [torch.stack([dict(t.networks[k].named_parameters())[n].detach() for t in self.tasks]).clone() for n in names[k]]
            for k in ("g", "d")
        }
        fopt = {
            k: FunctionalOptimizer.from_torch(make_optimizer(s.optimizer, [torch.zeros(1)], s.lr), members=True) for k in ("g", "d")
        }
        state = {k: fopt[k].init_state(params[k]) for k in ("g", "d")}
        lr0 = {
            "g": torch.tensor([m.lr for m in self.settings], dtype=torch.float64, device=device),
            "d": torch.tensor([m.lr_d or m.lr for m in self.settings], dtype=torch.float64, device=device),
        }
        total = s.epochs * self.steps
        schedule = s.schedule if s.schedule == "cosine" else "constant"
        gens = [torch.Generator(device=device).manual_seed(m.seed) for m in self.settings]

        module = _Losses(self.tasks[0])
        full = {"g": [f"g.{n}" for n in names["g"]], "d": [f"d.{n}" for n in names["d"]]}

        def loss(which: str, own, other, batch, noise):
            mine, theirs = ("d", "g") if which == "d" else ("g", "d")
            p = {**dict(zip(full[mine], own)), **dict(zip(full[theirs], other))}
            return functional_call(module, p, (which, batch, noise))

        vg = {
            w: vmap(grad_and_value(lambda own, other, b, nz, w=w: loss(w, own, other, b, nz)), randomness="different")
            for w in ("d", "g")
        }

        def grad_d(pd, pg, batch, noise):
            grads, value = vg["d"](tuple(pd), tuple(pg), batch, noise)
            return value, grads

        def grad_g(pg, pd, batch, noise):
            grads, value = vg["g"](tuple(pg), tuple(pd), batch, noise)
            return value, grads

        # static tensors of the step
        perm = torch.zeros(K, self.n, dtype=torch.int64, device=device)
        pos = torch.zeros((), dtype=torch.int64, device=device)
        t_step = torch.zeros((), dtype=torch.int64, device=device)
        arange = torch.arange(self.batch, device=device)
        rows = torch.arange(K, device=device)[:, None]
        sums = torch.zeros(2, K, device=device)

        def member(b: dict[str, Tensor], i: int) -> dict[str, Tensor]:
            return {k: v[i] for k, v in b.items()}

        def stack(ds: list[dict[str, Tensor]]) -> dict[str, Tensor]:
            return {k: torch.stack([d[k] for d in ds]) for k in ds[0]}

        def body() -> None:
            idx = perm[:, pos * self.batch + arange]  # (K, B)
            b = {k: v[rows, idx] for k, v in self.data.items()}
            # each member draws from its own generator in a separate run's order: the critic
            # updates' noise, then the generator update's
            nd_each, ng_each = [], []
            for t, bi, gen in zip(self.tasks, (member(b, i) for i in range(K)), gens):
                nd_each.append([t.noise_d(bi, gen) for _ in range(s.n_critic)])
                ng_each.append(t.noise_g(bi, gen))
            noise_d = [stack([nd_each[i][j] for i in range(K)]) for j in range(s.n_critic)]
            noise_g = stack(ng_each)
            f = schedule_factor(t_step, schedule, total)
            loss_d, loss_g = adversarial_step(
                grad_d, grad_g, fopt["d"], fopt["g"], params["d"], params["g"], state["d"], state["g"],
                lr0["d"] * f, lr0["g"] * f, b, noise_d, noise_g,
            )
            sums.add_(torch.stack((loss_d, loss_g)).to(sums.dtype))
            pos.add_(1)
            t_step.add_(1)

        runner = StepRunner(body, capture=device.type == "cuda", generators=gens if device.type == "cuda" else [])
        histories = [{"epoch": [], "loss_d": [], "loss_g": [], "lr": [], "time": []} for _ in range(K)]
        best: list[dict[str, Any]] = [{"epoch": None, "value": None, "networks": None} for _ in range(K)]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=s.epochs, desc=f"scan ({K} members)", unit="epoch", file=sys.stderr, leave=False)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.settings[0].seed)
            for epoch in range(s.epochs):
                t0 = time.perf_counter()
                for t in self.tasks:
                    for m in t.networks.values():
                        m.train()
                module.train()
                perm.copy_(torch.stack([torch.randperm(self.n, generator=gen, device=device) for gen in gens]))
                pos.zero_()
                sums.zero_()
                for _ in range(self.steps):
                    runner()
                self._write_back(names, params)
                mean = (sums / self.steps).cpu().tolist()
                f_end = float(schedule_factor(t_step, schedule, total))
                for t in self.tasks:
                    for m in t.networks.values():
                        m.eval()
                dt = time.perf_counter() - t0
                for i, t in enumerate(self.tasks):
                    h = histories[i]
                    h["epoch"].append(epoch + 1)
                    h["loss_d"].append(mean[0][i])
                    h["loss_g"].append(mean[1][i])
                    h["lr"].append(self.settings[i].lr * f_end)
                    metrics = t.validate(epoch + 1) if hasattr(t, "validate") else {}
                    for k, v in metrics.items():
                        h.setdefault(k, []).append(float(v))
                    h["time"].append(dt / K)
                    value = metrics.get(s.select_metric) if s.select_metric else None
                    if value is not None and (best[i]["value"] is None or value < best[i]["value"]):
                        best[i] = {
                            "epoch": epoch + 1,
                            "value": float(value),
                            "networks": {k: copy.deepcopy(m.state_dict()) for k, m in t.networks.items()},
                        }
                if bar is not None:
                    bar.update(1)
                    values = [b["value"] for b in best if b["value"] is not None]
                    if values:
                        bar.set_postfix({f"best {s.select_metric}": f"{min(values):.1f}"})
        if bar is not None:
            bar.close()
        if runner.captured:
            log.info("scan: the step of %d members ran as a CUDA graph", K)
        for i, t in enumerate(self.tasks):
            h = histories[i]
            h["best_epoch"] = best[i]["epoch"] if best[i]["epoch"] is not None else s.epochs
            h["last_networks"] = {k: copy.deepcopy(m.state_dict()) for k, m in t.networks.items()}
            if best[i]["networks"] is not None:
                for k, m in t.networks.items():
                    m.load_state_dict(best[i]["networks"][k])
        return histories

    @torch.no_grad()
    def _write_back(self, names: dict[str, list[str]], params: dict[str, list[Tensor]]) -> None:
        """Copies member i's slice of the stacked parameters into its own modules."""
        for i, t in enumerate(self.tasks):
            for k in ("g", "d"):
                own = dict(t.networks[k].named_parameters())
                for n, p in zip(names[k], params[k]):
                    own[n].copy_(p[i])
