r"""The fast training step: one function for a whole iteration, captured in a CUDA graph.

At the paper's sizes (batch 1024, MLPs of 3 x 512) a training step is a few hundred small
kernels: on a GPU its time is the launch overhead, not the arithmetic. The fast path
removes it by writing an iteration of the step list as a function of static tensors only,

    (params, optimizer state, batch, noise, learning rates) -> updated params and state, log sums,

with no value read back to Python and no Python-side state, and by capturing that function
once in a :class:`torch.cuda.CUDAGraph` that is then replayed. Inside the graph are: the
batch gather (from device-side index streams and a step counter), every step's noise
(drawn from the run's ``torch.Generator``, registered with the graph), each step's updates
(loss, gradient, optimizer), the cosine learning rate from a device-side step counter, and
the sums of the losses and logs.

On a CPU there is nothing to capture: the same function runs eagerly, which is how its logic
is tested. The pieces:

* :func:`functional_iteration`: one iteration of a step list, given gradient functions and
  functional optimizers; shared by the single-model path here and by scans
  (:mod:`hepgan.training.scan`).
* :class:`StepRunner`: runs a body eagerly or as a captured graph.
* :class:`FastPath`: the loop's fast epoch, on the loop's own optimizers, schedulers and
  generator, so checkpoints, ``resume`` and the history are those of the eager path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from hepgan.exceptions import HepganError
from hepgan.training.data import Samples
from hepgan.training.functional import FunctionalOptimizer, schedule_factor
from hepgan.training.record import LogSums
from hepgan.training.task import Batch, Logs, Noise, Step, Task

__all__ = ["GradFn", "functional_iteration", "module_gradient", "StepRunner", "FastPath", "device_guard"]

log = logging.getLogger("hepgan")

#: (params by network, batch, noise) -> (loss, gradients of the step's network's params, logs).
GradFn = Callable[[Mapping[str, Sequence[Tensor]], Batch, Noise], tuple[Tensor, Sequence[Tensor], Logs]]


def functional_iteration(
    steps: Sequence[Step],
    grad_fns: Mapping[str, GradFn],
    optimizers: Mapping[str, FunctionalOptimizer],
    params: Mapping[str, Sequence[Tensor]],
    states: Mapping[str, Sequence[dict[str, Tensor]]],
    lrs: Mapping[str, Tensor],
    batch: Batch,
    draw_noise: Callable[[Step], Noise],
    sums: LogSums,
) -> None:
    """One iteration of a step list: for each step, ``repeat`` times: noise, gradient, update.

    Parameters and optimizer state are updated in place (static memory, as a CUDA graph needs).

    Args:
        steps: the task's step list.
        grad_fns: step name -> gradient function.
        optimizers: step name -> update rule.
        params: network name -> its parameter tensors (stacked (K, ...) in a scan).
        states: step name -> per-parameter optimizer state.
        lrs: step name -> learning rate, 0-d (or (K,) in a scan).
        batch: the iteration's batch.
        draw_noise: step -> the noise of one of its updates.
        sums: where the losses (``loss_<step>``) and logs are summed.
    """
    for step in steps:
        for _ in range(step.repeat):
            noise = draw_noise(step)
            loss, grads, logs = grad_fns[step.name](params, batch, noise)
            optimizers[step.name].update(params[step.network], grads, states[step.name], lrs[step.name])
            sums.add(f"loss_{step.name}", loss)
            for k, v in logs.items():
                sums.add(k, v)
    sums.end_iteration()


def module_gradient(step: Step) -> GradFn:
    """A step's gradient function on the modules' own parameters (one model: no member axis).

    The parameters passed in must be the modules' parameters (updated in place by the
    optimizer); the loss reads them through the modules. Parameters the loss does not use
    get zero gradients, as the eager path gives them (see :mod:`hepgan.training.loop`).
    """

    def grad(params, batch, noise):
        loss, logs = step.loss(batch, noise)
        grads = torch.autograd.grad(loss, params[step.network], allow_unused=True, materialize_grads=True)
        return loss.detach(), grads, {k: v.detach() for k, v in logs.items()}

    return grad


def device_guard(device: torch.device | None) -> contextlib.AbstractContextManager:
    """``torch.cuda.device(device)`` for a CUDA device, a no-op otherwise.

    Streams, captures and replays made inside it belong to ``device`` even when it is not the
    current device (``cuda:1`` while the current device is 0), so kernels and graphs agree.
    """
    if device is not None and device.type == "cuda":
        return torch.cuda.device(device)
    return contextlib.nullcontext()


class StepRunner:
    """Runs ``body()`` eagerly, or on CUDA captured once in a CUDA graph and replayed.

    The body must read and write static tensors only (allocated before the first call) and
    never synchronise with the host. The first ``warmup`` calls run eagerly on a side stream
    (as torch's CUDA-graph recipe asks: lazy initialisation, cuBLAS workspaces), the next
    call captures the body and replays it; every call performs exactly one step. Streams,
    capture and replays happen under a device guard for ``device``.

    A capture that fails is an error (:class:`~hepgan.exceptions.HepganError`) that names the
    way out, ``training.step: eager``: the capture stream is left and the capture ended
    whatever failed, but torch does not promise that a failed capture leaves its generators
    and caching allocator as before, so the run does not go on as if nothing happened.

    Args:
        body: the step.
        capture: capture on CUDA (False: always eager).
        generators: user ``torch.Generator`` objects the body draws from (registered with the graph).
        warmup: eager calls before the capture.
        device: the CUDA device of the body's tensors (None: the current device).
    """

    def __init__(
        self,
        body: Callable[[], None],
        capture: bool,
        generators: Sequence[torch.Generator] = (),
        warmup: int = 3,
        device: torch.device | None = None,
    ):
        self.body = body
        self.capture = capture and torch.cuda.is_available()
        self.generators = list(generators)
        self.warmup = warmup
        self.device = device if device is not None else (torch.device("cuda", torch.cuda.current_device()) if self.capture else None)
        self.graph: Any = None
        self._calls = 0

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self) -> None:
        if self.graph is not None:
            with device_guard(self.device):
                self.graph.replay()
            return
        if not self.capture:
            self.body()
            return
        self._calls += 1
        with device_guard(self.device):
            if self._calls <= self.warmup:
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    self.body()
                torch.cuda.current_stream().wait_stream(side)
                return
            try:
                graph = self._capture()
            except Exception as err:
                torch.cuda.synchronize()
                raise HepganError(
                    f"CUDA graph capture of the training step failed ({type(err).__name__}: {' '.join(str(err).split())}); "
                    "run with training.step: eager (the plain autograd step)"
                ) from err
            log.info("training step captured in a CUDA graph on %s", self.device)
            self.graph = graph
            self.graph.replay()

    def _capture(self) -> Any:
        """Captures one call of the body; the stream context is left and the capture ended even if the body fails."""
        graph = torch.cuda.CUDAGraph()
        for g in self.generators:
            graph.register_generator_state(g)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            graph.capture_begin()
            try:
                self.body()
            finally:
                graph.capture_end()
        torch.cuda.current_stream().wait_stream(stream)
        return graph


class FastPath:
    """The loop's epoch on the fast path, sharing the loop's optimizers, schedulers and generator.

    The torch optimizers keep the state (their state tensors are updated in place by the
    functional rules) and the schedulers' counters are advanced after each epoch, so a
    checkpoint holds exactly what the eager path would hold.

    Args:
        task: the task (its step list and networks).
        samples: the training samples on the device.
        opts: step name -> torch optimizer (from make_optimizer).
        scheds: step name -> LambdaLR scheduler (empty for a constant rate).
        gen: the run's generator (batching and noise).
        schedule, total_steps: the learning-rate schedule.
        capture: capture the iteration in a CUDA graph (on CUDA).
    """

    def __init__(
        self,
        task: Task,
        samples: Samples,
        opts: Mapping[str, torch.optim.Optimizer],
        scheds: Mapping[str, Any],
        gen: torch.Generator,
        schedule: str,
        total_steps: int,
        capture: bool,
    ):
        self.task, self.samples, self.opts, self.scheds, self.gen = task, samples, opts, scheds, gen
        self.steps = list(task.steps)
        self.schedule = schedule if scheds else "constant"
        self.total_steps = total_steps
        device = samples.device
        self.params = {k: list(m.parameters()) for k, m in task.networks.items()}
        self.fopt = {s.name: FunctionalOptimizer.from_torch(opts[s.name]) for s in self.steps}
        self.state = {}
        for s in self.steps:
            opt = opts[s.name]
            for p in self.params[s.network]:
                opt.state[p] = self.fopt[s.name].ensure_state(opt.state[p], p)
            self.state[s.name] = [opt.state[p] for p in self.params[s.network]]
        # base learning rates: the schedulers' lr0, or the groups' constant rate
        self.lr0 = {
            s.name: torch.tensor(
                scheds[s.name].base_lrs[0] if s.name in scheds else opts[s.name].param_groups[0]["lr"], dtype=torch.float64, device=device
            )
            for s in self.steps
        }
        first = self.steps[0].name
        start = scheds[first].last_epoch if scheds else 0
        self.t = torch.tensor(start, dtype=torch.int64, device=device)  # global iteration counter
        self.indices = {k: torch.zeros(samples.stream_length(k), dtype=torch.int64, device=device) for k in samples.names}
        self.arange = {k: torch.arange(samples.batch_sizes[k], device=device) for k in samples.names}
        self.pos = torch.zeros((), dtype=torch.int64, device=device)
        self.sums = LogSums()
        self.grad_fns = {s.name: module_gradient(s) for s in self.steps}
        cuda = device.type == "cuda"
        self.runner = StepRunner(self._body, capture=capture and cuda, generators=[gen] if cuda else [], device=device if cuda else None)

    def _batch(self) -> Batch:
        out = {}
        for k in self.samples.names:
            idx = self.indices[k][self.pos * self.samples.batch_sizes[k] + self.arange[k]]
            out[k] = {n: t[idx] for n, t in self.samples.tensors[k].items()}
        return out

    def _body(self) -> None:
        batch = self._batch()
        f = schedule_factor(self.t, self.schedule, self.total_steps)
        lrs = {s.name: self.lr0[s.name] * f for s in self.steps}
        functional_iteration(
            self.steps, self.grad_fns, self.fopt, self.params, self.state, lrs, batch,
            lambda step: step.noise(batch, self.gen), self.sums,
        )  # fmt: skip
        self.pos += 1
        self.t += 1

    def epoch(self, indices: Mapping[str, Tensor]) -> dict[str, float]:
        """Runs one epoch over the index streams ``indices``; returns the means of the losses and logs."""
        for k, v in indices.items():
            self.indices[k].copy_(v)
        self.pos.zero_()
        self.sums.zero()
        for _ in range(self.samples.steps):
            self.runner()
        # advance the schedulers as the eager path does (one scheduler step per iteration)
        for k, sch in self.scheds.items():
            sch.last_epoch += self.samples.steps
            lrs = [base * fn(sch.last_epoch) for base, fn in zip(sch.base_lrs, sch.lr_lambdas)]
            for group, lr in zip(self.opts[k].param_groups, lrs):
                group["lr"] = lr
            sch._last_lr = lrs
        return self.sums.means(self.samples.steps)

    @property
    def captured(self) -> bool:
        return self.runner.captured


def stacked_noise(steps_noise: Sequence[Noise]) -> Noise:
    """K members' noise dicts stacked along a leading member axis."""
    return {k: torch.stack([n[k] for n in steps_noise]) for k in steps_noise[0]} if steps_noise else {}


class NetworkSet(nn.Module):
    """A task's networks as one module, so that ``torch.func.functional_call`` swaps all parameters at once.

    ``forward(i, batch, noise)`` evaluates the loss of step ``i`` of the task's step list.
    """

    def __init__(self, task: Task):
        super().__init__()
        self.nets = nn.ModuleDict(task.networks)
        self._steps = tuple(task.steps)  # a tuple: the steps' bound methods are not submodules

    def forward(self, i: int, batch: Batch, noise: Noise) -> tuple[Tensor, Logs]:
        return self._steps[i].loss(batch, noise)
