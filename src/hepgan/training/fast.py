r"""The fast training step: one function for the whole adversarial step, captured in a CUDA graph.

At the paper's sizes (batch 1024, MLPs of 3 x 512) a training step is a few hundred small
kernels: on a GPU its time is the launch overhead, not the arithmetic. The fast path
removes it by writing the step as a function of static tensors only,

    (params, optimizer state, batch, noise, learning rate) -> updated params and state, losses,

with no value read back to Python and no Python-side state, and by capturing that function
once in a :class:`torch.cuda.CUDAGraph` that is then replayed step after step. Inside the
graph are: the batch gather (from a device-side permutation and step counter), the latent
and label noise (drawn from the run's ``torch.Generator``, registered with the graph),
``n_critic`` discriminator updates and one generator update (forward, backward, optimizer),
the cosine learning rate computed from a device-side step counter, and the loss sums.

On a CPU there is nothing to capture: the same function runs eagerly, which is how its logic
is tested. The pieces:

* :func:`adversarial_step`: the step, given gradient functions and functional optimizers;
  shared by the single-model path here and by scans (:mod:`hepgan.training.scan`).
* :class:`StepRunner`: runs a step body eagerly or as a captured graph.
* :class:`FastPath`: the loop's fast epoch, on the loop's own optimizers, schedulers and
  generator, so checkpoints, ``resume`` and the history are those of the plain path.

A task that supports the fast path provides its losses with explicit noise
(:class:`FunctionalTask`): ``noise_d``/``noise_g`` draw every random number of one
discriminator / generator update, in the order the plain ``d_loss``/``g_loss`` draw them,
and ``d_loss_given``/``g_loss_given`` compute the losses from them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from hepgan.training.functional import FunctionalOptimizer, schedule_factor

__all__ = ["FunctionalTask", "adversarial_step", "module_gradients", "StepRunner", "FastPath", "supports_fast_path"]

log = logging.getLogger("hepgan")

GradFn = Callable[[Sequence[Tensor], Sequence[Tensor], dict[str, Tensor], dict[str, Tensor]], tuple[Tensor, Sequence[Tensor]]]


class FunctionalTask(Protocol):
    """A GANTask whose losses take their random numbers as inputs."""

    networks: dict[str, nn.Module]

    def noise_d(self, batch: dict[str, Tensor], gen: torch.Generator) -> dict[str, Tensor]: ...

    def noise_g(self, batch: dict[str, Tensor], gen: torch.Generator) -> dict[str, Tensor]: ...

    def d_loss_given(self, batch: dict[str, Tensor], noise: dict[str, Tensor]) -> Tensor: ...

    def g_loss_given(self, batch: dict[str, Tensor], noise: dict[str, Tensor]) -> Tensor: ...


def supports_fast_path(task: Any) -> bool:
    return all(callable(getattr(task, k, None)) for k in ("noise_d", "noise_g", "d_loss_given", "g_loss_given"))


def adversarial_step(
    grad_d: GradFn,
    grad_g: GradFn,
    opt_d: FunctionalOptimizer,
    opt_g: FunctionalOptimizer,
    params_d: Sequence[Tensor],
    params_g: Sequence[Tensor],
    state_d: Sequence[dict[str, Tensor]],
    state_g: Sequence[dict[str, Tensor]],
    lr_d: Tensor,
    lr_g: Tensor,
    batch: dict[str, Tensor],
    noise_d: Sequence[dict[str, Tensor]],
    noise_g: dict[str, Tensor],
) -> tuple[Tensor, Tensor]:
    """One step of the game: ``len(noise_d)`` discriminator updates, then one generator update.

    Parameters and optimizer state are updated in place (static memory, as a CUDA graph needs).

    Args:
        grad_d: (params_d, params_g, batch, noise) -> (loss_d, gradients w.r.t. params_d).
        grad_g: (params_g, params_d, batch, noise) -> (loss_g, gradients w.r.t. params_g).
        opt_d, opt_g: the update rules.
        params_d, params_g: parameter tensors (stacked (K, ...) in a scan).
        state_d, state_g: per-parameter optimizer state.
        lr_d, lr_g: learning rates, 0-d (or (K,) in a scan).
        batch: the batch tensors.
        noise_d: one noise dict per discriminator update.
        noise_g: the noise of the generator update.

    Returns:
        (loss of the last discriminator update, generator loss), detached.
    """
    loss_d = None
    for nd in noise_d:
        loss_d, grads = grad_d(params_d, params_g, batch, nd)
        opt_d.update(params_d, grads, state_d, lr_d)
    loss_g, grads = grad_g(params_g, params_d, batch, noise_g)
    opt_g.update(params_g, grads, state_g, lr_g)
    return loss_d.detach(), loss_g.detach()


def module_gradients(task: FunctionalTask) -> tuple[GradFn, GradFn]:
    """Gradient functions of one model, by autograd on the task's own module parameters.

    The parameters passed to the returned functions must be the modules' parameters
    (updated in place by the optimizer); the losses read them through the modules.
    """

    def grad_d(params_d, params_g, batch, noise):
        loss = task.d_loss_given(batch, noise)
        return loss, torch.autograd.grad(loss, params_d)

    def grad_g(params_g, params_d, batch, noise):
        loss = task.g_loss_given(batch, noise)
        return loss, torch.autograd.grad(loss, params_g)

    return grad_d, grad_g


class StepRunner:
    """Runs ``body()`` eagerly, or on CUDA captured once in a CUDA graph and replayed.

    The body must read and write static tensors only (allocated before the first call) and
    never synchronise with the host. The first ``warmup`` calls run eagerly on a side stream
    (as torch's CUDA-graph recipe asks: lazy initialisation, cuBLAS workspaces), the next
    call captures the body and replays it; every call performs exactly one step. If the
    capture fails, the runner logs why and keeps running eagerly.

    Args:
        body: the step.
        capture: capture on CUDA (False: always eager).
        generators: user ``torch.Generator`` objects the body draws from (registered with the graph).
        warmup: eager calls before the capture.
    """

    def __init__(self, body: Callable[[], None], capture: bool, generators: Sequence[torch.Generator] = (), warmup: int = 3):
        self.body = body
        self.capture = capture and torch.cuda.is_available()
        self.generators = list(generators)
        self.warmup = warmup
        self.graph: Any = None
        self._calls = 0

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self) -> None:
        if self.graph is not None:
            self.graph.replay()
            return
        if not self.capture:
            self.body()
            return
        self._calls += 1
        if self._calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.body()
            torch.cuda.current_stream().wait_stream(side)
            return
        try:
            graph = torch.cuda.CUDAGraph()
            for g in self.generators:
                graph.register_generator_state(g)
            with torch.cuda.graph(graph):
                self.body()
        except Exception as err:  # a failed capture must not lose the run: go on eagerly
            log.warning("CUDA graph capture failed (%s: %s); continuing with the uncaptured fast step", type(err).__name__, err)
            self.capture = False
            torch.cuda.synchronize()
            self.body()
            return
        self.graph = graph
        self.graph.replay()


class FastPath:
    """The loop's epoch on the fast path, sharing the loop's optimizers, schedulers and generator.

    The torch optimizers keep the state (their state tensors are updated in place by the
    functional rules), the schedulers' counters are advanced after each epoch, so a
    checkpoint holds exactly what the plain path would hold.

    Args:
        task: a FunctionalTask.
        data: the training tensors on the device, (N, ...) each.
        opts: {"d": ..., "g": ...} torch optimizers (from make_optimizer).
        scheds: {"d": ..., "g": ...} LambdaLR schedulers (empty for a constant rate).
        gen: the run's generator (batching and noise).
        batch: batch size; n_critic: discriminator updates per step.
        schedule, total_steps: the learning-rate schedule.
        capture: capture the step in a CUDA graph (on CUDA).
    """

    def __init__(
        self,
        task: FunctionalTask,
        data: dict[str, Tensor],
        opts: dict[str, torch.optim.Optimizer],
        scheds: dict[str, Any],
        gen: torch.Generator,
        batch: int,
        n_critic: int,
        schedule: str,
        total_steps: int,
        capture: bool,
    ):
        self.task, self.data, self.opts, self.scheds, self.gen = task, data, opts, scheds, gen
        self.batch, self.n_critic = batch, n_critic
        self.schedule = schedule if scheds else "constant"
        self.total_steps = total_steps
        n = next(iter(data.values())).shape[0]
        device = next(iter(data.values())).device
        self.device = device
        self.params = {k: list(task.networks[k].parameters()) for k in ("d", "g")}
        self.fopt = {k: FunctionalOptimizer.from_torch(opts[k]) for k in ("d", "g")}
        for k in ("d", "g"):
            for p in self.params[k]:
                opts[k].state[p] = self.fopt[k].ensure_state(opts[k].state[p], p)
        self.state = {k: [opts[k].state[p] for p in self.params[k]] for k in ("d", "g")}
        # base learning rates: the schedulers' lr0, or the groups' constant rate
        self.lr0 = {
            k: torch.tensor(scheds[k].base_lrs[0] if k in scheds else opts[k].param_groups[0]["lr"], dtype=torch.float64, device=device)
            for k in ("d", "g")
        }
        start = scheds["g"].last_epoch if scheds else 0
        self.t = torch.tensor(start, dtype=torch.int64, device=device)  # global step counter
        self.perm = torch.zeros(n, dtype=torch.int64, device=device)
        self.pos = torch.zeros((), dtype=torch.int64, device=device)
        self.arange = torch.arange(batch, device=device)
        self.sums = torch.zeros(2, device=device)
        self.grad_d, self.grad_g = module_gradients(task)
        self.runner = StepRunner(self._body, capture=capture and device.type == "cuda", generators=[gen] if device.type == "cuda" else [])

    def _body(self) -> None:
        idx = self.perm[self.pos * self.batch + self.arange]
        b = {k: v[idx] for k, v in self.data.items()}
        noise_d = [self.task.noise_d(b, self.gen) for _ in range(self.n_critic)]
        noise_g = self.task.noise_g(b, self.gen)
        f = schedule_factor(self.t, self.schedule, self.total_steps)
        loss_d, loss_g = adversarial_step(
            self.grad_d, self.grad_g, self.fopt["d"], self.fopt["g"], self.params["d"], self.params["g"],
            self.state["d"], self.state["g"], self.lr0["d"] * f, self.lr0["g"] * f, b, noise_d, noise_g,
        )
        self.sums += torch.stack((loss_d, loss_g)).to(self.sums.dtype)
        self.pos += 1
        self.t += 1

    def epoch(self, perm: Tensor, steps: int) -> tuple[Tensor, Tensor]:
        """Runs ``steps`` steps over the permutation ``perm``; returns the summed (loss_d, loss_g)."""
        self.perm.copy_(perm)
        self.pos.zero_()
        self.sums.zero_()
        for _ in range(steps):
            self.runner()
        # advance the schedulers as the plain path does (one scheduler step per optimizer step)
        for k, sch in self.scheds.items():
            sch.last_epoch += steps
            lrs = [base * fn(sch.last_epoch) for base, fn in zip(sch.base_lrs, sch.lr_lambdas)]
            for group, lr in zip(self.opts[k].param_groups, lrs):
                group["lr"] = lr
            sch._last_lr = lrs
        return self.sums[0].clone(), self.sums[1].clone()
