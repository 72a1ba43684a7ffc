r"""Train K configurations of one task at once: :mod:`torch.func` over stacked parameters.

A hyperparameter scan (seed 002, section 2.5 and Fig. 4), an ensemble or a set of
pseudo-experiments trains many small models on data of one layout. One at a time, each step
of each model is a few hundred small kernel launches; here the K members' parameters are
stacked along a leading axis, shape (K, ...), and one step of all members is one vectorised
call:

* gradients: for each step of the step list, ``vmap(grad_and_value(loss))`` over the stacked
  parameters, the members' batches and their noise, with the step's loss evaluated by
  :func:`torch.func.functional_call` on the first member's modules (a loss that needs input
  gradients, such as a gradient penalty, takes them with :func:`hepgan.losses.input_gradient`,
  which works inside ``vmap``);
* optimizer: the functional rules of :mod:`hepgan.training.functional` on the stacked
  tensors, with a learning rate per member and step (shape (K,)) and per-member LAMB norms;
* the iteration itself is :func:`hepgan.training.fast.functional_iteration`, the one the
  loop's fast path uses, captured in a CUDA graph on CUDA.

What may differ between members of one vectorised group: the learning rates, the seed
(batching and every step's noise come from the member's own generator, exactly as in a
separate run), the training data's values, and anything else the task puts into its noise
(label noise, say). Members whose parameter shapes, step lists (optimizer kinds and options,
repeats), data layout or loop settings differ are split into groups, trained one after the other.

With the same seeds, a member's losses, logs, metrics and weights equal those of a separate
:class:`~hepgan.training.loop.Trainer` run up to float rounding (tested), with one exception:
dropout masks come from torch's global generator, which ``vmap`` draws for all members at once
(``randomness="different"``), so with dropout a member is a statistically equivalent run,
not the bitwise same one.

Scans keep everything in memory: no checkpoints, no ``resume``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from hepgan.exceptions import HepganError
from hepgan.training.data import Samples, check_same_layout
from hepgan.training.device import resolve_device
from hepgan.training.fast import NetworkSet, StepRunner, device_guard, functional_iteration, stacked_noise
from hepgan.training.functional import FunctionalOptimizer, schedule_factor
from hepgan.training.loop import TrainSettings
from hepgan.training.record import EpochRecorder, LogSums
from hepgan.training.task import Sample, Task, check_task

__all__ = ["train_scan", "scan_groups", "SHARED_SETTINGS"]

log = logging.getLogger("hepgan")

#: TrainSettings fields that must be equal within a vectorised group (the seed may differ).
SHARED_SETTINGS = ("epochs", "batch_size", "schedule", "device", "selection", "epoch_sample")


def _signature(task: Task, settings: TrainSettings) -> tuple:
    shapes = tuple((k, name, tuple(p.shape)) for k, net in task.networks.items() for name, p in net.named_parameters())
    steps = tuple((s.name, s.network, s.repeat, s.optimizer.signature()) for s in task.steps)
    return shapes + steps + tuple(getattr(settings, f) for f in SHARED_SETTINGS)


def scan_groups(tasks: Sequence[Task], settings: Sequence[TrainSettings]) -> list[list[int]]:
    """Indices of members that can be vectorised together (equal shapes, step lists and loop settings)."""
    groups: dict[tuple, list[int]] = {}
    for i, (t, s) in enumerate(zip(tasks, settings)):
        groups.setdefault(_signature(t, s), []).append(i)
    return list(groups.values())


def train_scan(
    tasks: Sequence[Task],
    datas: Sequence[Mapping[str, Sample | Mapping[str, Tensor]]],
    settings: Sequence[TrainSettings],
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Trains K members, vectorising those that share shapes, step lists and loop settings.

    Args:
        tasks: one task per member (its networks hold the initial weights).
        datas: one set of named training samples per member (the same layout within a group).
        settings: one TrainSettings per member.
        progress: show a progress bar per group.

    Returns:
        One history per member, as :meth:`Trainer.fit` returns it ("best_epoch",
        "last_networks" included); each task's networks hold its kept (best) weights.
    """
    if not (len(tasks) == len(datas) == len(settings)) or not tasks:
        raise HepganError(f"train_scan: expected equal, non-zero numbers of tasks, datas, settings; got {len(tasks)}, {len(datas)}, {len(settings)}")
    for t, s in zip(tasks, settings):
        check_task(t)
        s.validate()
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
    """K members with equal shapes, step lists and loop settings, trained as one vectorised model."""

    def __init__(self, tasks: Sequence[Task], datas: Sequence[Mapping[str, Any]], settings: Sequence[TrainSettings]):
        self.tasks, self.settings = list(tasks), list(settings)
        self.s = settings[0]
        self.device = resolve_device(self.s.device)
        self.K = len(tasks)
        members = [Samples(d, self.s.batch_size, torch.device("cpu"), self.s.epoch_sample) for d in datas]
        check_same_layout(members)
        self.layout = members[0]
        self.data = {
            k: {n: torch.stack([m.tensors[k][n] for m in members]).to(self.device) for n in members[0].tensors[k]}
            for k in self.layout.names
        }

    def fit(self, progress: bool) -> list[dict[str, Any]]:
        from torch.func import functional_call, grad_and_value, vmap

        from hepgan.training.optim import make_optimizer

        s, K, device, layout = self.s, self.K, self.device, self.layout
        task0 = self.tasks[0]
        steps = list(task0.steps)
        for t in self.tasks:
            for m in t.networks.values():
                m.to(device)
        module = NetworkSet(task0)
        # parameter names of each network inside the NetworkSet, and the stacked parameters
        names = {k: [n for n, _ in net.named_parameters()] for k, net in task0.networks.items()}
        params = {
            k: [torch.stack([dict(t.networks[k].named_parameters())[n].detach() for t in self.tasks]).clone() for n in names[k]]
            for k in names
        }
        full = {k: [f"nets.{k}.{n}" for n in names[k]] for k in names}
        fopt, state, lr0 = {}, {}, {}
        for i, st in enumerate(steps):
            probe = make_optimizer(st.optimizer.name, [torch.zeros(1, requires_grad=True)], st.optimizer.lr, **st.optimizer.options)
            fopt[st.name] = FunctionalOptimizer.from_torch(probe, members=True)
            state[st.name] = fopt[st.name].init_state(params[st.network])
            lr0[st.name] = torch.tensor([t.steps[i].optimizer.lr for t in self.tasks], dtype=torch.float64, device=device)

        def make_grad(i: int):
            own_net = steps[i].network

            def loss(own, others, batch, noise):
                p = dict(zip(full[own_net], own))
                for k, values in others.items():
                    p.update(zip(full[k], values))
                return functional_call(module, p, (i, batch, noise))

            vg = vmap(grad_and_value(loss, has_aux=True), randomness="different")

            def grad(ps, batch, noise):
                others = {k: tuple(v) for k, v in ps.items() if k != own_net}
                grads, (value, logs) = vg(tuple(ps[own_net]), others, batch, noise)
                return value.detach(), grads, {k: v.detach() for k, v in logs.items()}

            return grad

        grad_fns = {st.name: make_grad(i) for i, st in enumerate(steps)}
        total = s.epochs * layout.steps
        gens = [torch.Generator(device=device).manual_seed(m.seed) for m in self.settings]

        # static tensors of the iteration
        indices = {k: torch.zeros(K, layout.stream_length(k), dtype=torch.int64, device=device) for k in layout.names}
        aranges = {k: torch.arange(layout.batch_sizes[k], device=device) for k in layout.names}
        rows = torch.arange(K, device=device)[:, None]
        pos = torch.zeros((), dtype=torch.int64, device=device)
        t_step = torch.zeros((), dtype=torch.int64, device=device)
        sums = LogSums()

        def member(b: Mapping[str, Mapping[str, Tensor]], i: int):
            return {k: {n: v[i] for n, v in d.items()} for k, d in b.items()}

        def body() -> None:
            batch = {}
            for k in layout.names:
                idx = indices[k][:, pos * layout.batch_sizes[k] + aranges[k]]  # (K, B)
                batch[k] = {n: v[rows, idx] for n, v in self.data[k].items()}
            per_member = [member(batch, i) for i in range(K)]
            # each member draws from its own generator, in a separate run's order
            index = {st.name: i for i, st in enumerate(steps)}

            def draw(step):
                return stacked_noise([t.steps[index[step.name]].noise(b, g) for t, b, g in zip(self.tasks, per_member, gens)])

            f = schedule_factor(t_step, s.schedule, total)
            lrs = {st.name: lr0[st.name] * f for st in steps}
            functional_iteration(steps, grad_fns, fopt, params, state, lrs, batch, draw, sums)
            pos.add_(1)
            t_step.add_(1)

        cuda = device.type == "cuda"
        runner = StepRunner(body, capture=cuda, generators=gens if cuda else [], device=device if cuda else None)
        recorders = [EpochRecorder(m.selection) for m in self.settings]
        trained = {st.network for st in steps}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=s.epochs, desc=f"scan ({K} members)", unit="epoch", file=sys.stderr, leave=False)
        with torch.random.fork_rng(devices=[device] if cuda else []), device_guard(device):
            torch.manual_seed(self.settings[0].seed)
            for epoch in range(s.epochs):
                t0 = time.perf_counter()
                module.train()
                for k, net in module.nets.items():
                    if k not in trained:
                        net.eval()
                streams = [layout.epoch_indices(g) for g in gens]
                for k in layout.names:
                    indices[k].copy_(torch.stack([st[k] for st in streams]))
                pos.zero_()
                sums.zero()
                for _ in range(layout.steps):
                    runner()
                self._write_back(names, params)
                means = sums.means(layout.steps)
                f_end = float(schedule_factor(t_step, s.schedule, total))
                for t in self.tasks:
                    for m in t.networks.values():
                        m.eval()
                dt = time.perf_counter() - t0
                for i, t in enumerate(self.tasks):
                    values = {k: v[i] for k, v in means.items()}
                    values["lr"] = t.steps[-1].optimizer.lr * f_end
                    validate = getattr(t, "validate", None)
                    if validate is not None:
                        values.update({k: float(v) for k, v in validate(epoch + 1).items()})
                    recorders[i].record(epoch + 1, values, dt / K, t.networks)
                if bar is not None:
                    bar.update(1)
                    sel = s.selection
                    best = [r.best["value"] for r in recorders if r.best["value"] is not None]
                    if best:
                        pick = min(best) if sel.mode == "min" else max(best)
                        bar.set_postfix({f"best {sel.label or sel.metric}": f"{pick:.4g}"})
        if bar is not None:
            bar.close()
        if runner.captured:
            log.info("scan: the iteration of %d members ran as a CUDA graph", K)
        return [r.finish(t.networks, s.epochs) for r, t in zip(recorders, self.tasks)]

    @torch.no_grad()
    def _write_back(self, names: dict[str, list[str]], params: dict[str, list[Tensor]]) -> None:
        """Copies member i's slice of the stacked parameters into its own modules."""
        for i, t in enumerate(self.tasks):
            for k in names:
                own = dict(t.networks[k].named_parameters())
                for n, p in zip(names[k], params[k]):
                    own[n].copy_(p[i])
