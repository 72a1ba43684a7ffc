"""The one training loop of hepgan: any step list, eager or as a CUDA graph.

A method supplies a :class:`~hepgan.training.task.Task` (networks, a step list, optionally
``validate``) and named training samples; the loop owns the device, one optimizer per step
and its cosine schedule, the batching (by index, on the device), the history and best-epoch
selection (:class:`~hepgan.training.record.EpochRecorder`), logging, checkpoints and
``resume``.

Two ways to run an iteration, one loop: ``step="eager"`` is the plain autograd step (the
step's loss, ``backward``, a torch optimizer, LambdaLR); ``step="graph"`` is the fast step of
:mod:`hepgan.training.fast` (the same losses and update rules as one function of static
tensors, captured in a CUDA graph on CUDA, run uncaptured on a CPU); ``"auto"`` takes the
fast step on CUDA. Both keep the same optimizer and scheduler state, so checkpoints and
``resume`` are shared.

Randomness: one ``torch.Generator`` (seeded from ``seed``) draws the batches and every step's
noise; modules that draw from torch's global RNG (dropout) run inside
``torch.random.fork_rng`` seeded from the same seed, so the caller's global state is
untouched. Checkpoints hold the run's generator and the global states (the CPU's, and the
CUDA device's on a GPU), so a resumed run continues the same noise and dropout masks: on a
CPU it ends bit for bit where an uninterrupted one does (tested); on a GPU the same holds
for the eager step, and the fast step's kernels may differ in their last bits.

On CUDA the whole loop runs under a device guard for the run's device, so streams and CUDA
graphs belong to ``cuda:N`` even when another device is current.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hepgan.config import choice
from hepgan.exceptions import ConfigError, HepganError
from hepgan.training.data import Samples
from hepgan.training.device import resolve_device
from hepgan.training.fast import device_guard
from hepgan.training.record import EpochRecorder, LogSums, Selection
from hepgan.training.state import load_state, save_state
from hepgan.training.task import Sample, Task, check_task, frozen_networks

__all__ = ["TrainSettings", "Trainer", "StopTraining", "CHECKPOINT_NAME", "write_history", "global_rng_state", "set_global_rng_state"]

log = logging.getLogger("hepgan")
CHECKPOINT_NAME = "checkpoint.safetensors"


@dataclasses.dataclass
class TrainSettings:
    """Loop settings (a method's parameters fill them).

    Args:
        epochs: passes over the epoch sample.
        batch_size: events per iteration of each sample (a Sample's own batch_size overrides it).
        schedule: ``"cosine"`` (every step's learning rate decays to 0 over the run) or ``"constant"``.
        seed: seed of the run's generator (batches, noise) and of torch's global RNG (dropout).
        device: ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``.
        checkpoint_every: epochs between checkpoints when a run folder is given (0: only at the end).
        selection: the metric that picks the kept epoch (None: the last epoch).
        progress: a progress bar on stderr.
        step: ``"eager"``, ``"graph"`` (the fast step, a CUDA graph on CUDA) or ``"auto"`` (graph on CUDA).
        epoch_sample: the sample whose size sets the epoch (None: the first).
        epoch_callback: ``callback(epoch, values)`` after each epoch is recorded (``values``: that
            epoch's losses and validation metrics); it may raise (e.g. :class:`StopTraining`) to
            end the run early: the exception reaches the caller of ``fit``. None: no callback.
    """

    epochs: int = 100
    batch_size: int = 1024
    schedule: str = "cosine"
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 10
    selection: Selection = dataclasses.field(default_factory=Selection)
    progress: bool = True
    step: str = "auto"
    epoch_sample: str | None = None
    epoch_callback: Callable[[int, dict[str, float]], None] | None = None

    def validate(self) -> None:
        choice(self.step, ["auto", "eager", "graph"], "step")
        choice(self.schedule, ["cosine", "constant"], "schedule")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name}: expected an integer >= 1, got {v!r}")


def global_rng_state(device: torch.device) -> dict[str, Tensor]:
    """torch's global generator states that dropout draws from: the CPU's, and the device's on CUDA.

    Saved in checkpoints so that a resumed run continues the same dropout masks, on a GPU as on a CPU.
    """
    out = {"global_rng": torch.get_rng_state()}
    if device.type == "cuda":
        out["cuda_rng"] = torch.cuda.get_rng_state(device)
    return out


def set_global_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    """Restores what :func:`global_rng_state` saved (a checkpoint written on a CPU has no CUDA state)."""
    torch.set_rng_state(state["global_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)


class StopTraining(Exception):
    """Raised by an ``epoch_callback`` to end a run early (e.g. a pruned trial of ``hepgan search``)."""


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop checkpoints at the end of the epoch and stops."""

    def __init__(self) -> None:
        self.raised: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.raised is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self.raised = signum
        log.warning("signal %d: finishing this epoch, writing a checkpoint, then stopping", signum)

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class Trainer:
    """Trains a Task.

    Args:
        settings: loop settings.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from hepgan.training.task import OptimizerSpec, Step
        >>> class Regression:
        ...     def __init__(self):
        ...         self.networks = {"f": nn.Linear(1, 1)}
        ...         self.steps = [Step("fit", "f", self.loss, optimizer=OptimizerSpec("adam", lr=0.1))]
        ...     def loss(self, batch, noise):
        ...         b = batch["train"]
        ...         return (self.networks["f"](b["x"]) - 3 * b["x"]).square().mean(), {}
        >>> x = torch.linspace(-1, 1, 64)[:, None]
        >>> task = Regression()
        >>> h = Trainer(TrainSettings(epochs=60, batch_size=16, progress=False)).fit(task, {"train": {"x": x}})
        >>> round(task.networks["f"].weight.item(), 1)
        3.0
    """

    def __init__(self, settings: TrainSettings):
        settings.validate()
        self.settings = settings
        self.device = resolve_device(settings.device)

    def _use_fast_path(self) -> bool:
        if self.settings.step == "auto":
            return self.device.type == "cuda"
        return self.settings.step == "graph"

    # ------------------------------------------------------------------ state
    def _state(self, task: Task, opts, scheds, gen, epoch: int, recorder: EpochRecorder) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "networks": {k: m.state_dict() for k, m in task.networks.items()},
            "optimizers": {k: o.state_dict() for k, o in opts.items()},
            "schedulers": {k: s.state_dict() for k, s in scheds.items()},
            "generator": gen.get_state(),
            **global_rng_state(self.device),
            "history": recorder.history,
            "best": recorder.best,
        }

    def _restore(self, run_dir: Path | None, task: Task, opts, scheds, gen) -> tuple[int, dict, dict]:
        if run_dir is None or not (run_dir / CHECKPOINT_NAME).is_file():
            raise HepganError(f"nothing to resume: no {CHECKPOINT_NAME} in {run_dir}")
        state, _ = load_state(run_dir / CHECKPOINT_NAME)
        for k, m in task.networks.items():
            m.load_state_dict(state["networks"][k])
        for k, o in opts.items():
            o.load_state_dict(state["optimizers"][k])
        for k, sch in scheds.items():
            sch.load_state_dict(state["schedulers"][k])
        gen.set_state(state["generator"])
        set_global_rng_state(state, self.device)
        log.info("resuming from epoch %d of %s", state["epoch"], run_dir)
        return state["epoch"], state["history"], state["best"]

    # ------------------------------------------------------------------ iteration
    @staticmethod
    def _eager_iteration(task: Task, batch, opts, params, gen: torch.Generator, sums: LogSums) -> None:
        for step in task.steps:
            opt, own = opts[step.name], params[step.network]
            for _ in range(step.repeat):
                opt.zero_grad(set_to_none=True)
                noise = step.noise(batch, gen)
                loss, logs = step.loss(batch, noise)
                loss.backward(inputs=own)
                for p in own:  # a parameter the loss does not reach gets a zero gradient (as on the fast path)
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                opt.step()
                sums.add(f"loss_{step.name}", loss)
                for k, v in logs.items():
                    sums.add(k, v)
        sums.end_iteration()

    # ------------------------------------------------------------------ loop
    def fit(
        self,
        task: Task,
        data: Mapping[str, Sample | Mapping[str, Tensor]],
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Runs the loop.

        Args:
            task: the method's networks and step list (and optionally ``validate(epoch) -> dict``).
            data: named training samples: name -> Sample, or name -> {tensor name: (N, ...) tensor}.
            run_dir: where checkpoints go; None keeps everything in memory.
            resume: continue from ``run_dir``'s checkpoint.

        Returns:
            The history: per-epoch lists ("epoch", "loss_<step>" for every step, the steps' logs,
            "lr" (the last step's), the validation metrics, "time"), "best_epoch", "selection"
            and "last_networks"; the task's networks hold the kept (best) weights on return.
        """
        from hepgan.training.optim import cosine_schedule, make_optimizer

        s = self.settings
        check_task(task)
        run_dir = Path(run_dir) if run_dir is not None else None
        samples = Samples(data, s.batch_size, self.device, s.epoch_sample)
        for m in task.networks.values():
            m.to(self.device)
        frozen = frozen_networks(task)
        frozen_grad = {k: [p.requires_grad for p in task.networks[k].parameters()] for k in frozen}
        for k in frozen:
            task.networks[k].eval().requires_grad_(False)
        trained = [m for k, m in task.networks.items() if k not in frozen]
        params = {k: list(m.parameters()) for k, m in task.networks.items()}
        opts = {
            step.name: make_optimizer(step.optimizer.name, params[step.network], step.optimizer.lr, **step.optimizer.options)
            for step in task.steps
        }
        total = s.epochs * samples.steps
        scheds = {k: cosine_schedule(o, total) for k, o in opts.items()} if s.schedule == "cosine" else {}
        gen = torch.Generator(device=self.device).manual_seed(s.seed)
        last_opt = opts[task.steps[-1].name]
        validate = getattr(task, "validate", None)
        start = 0
        recorder = EpochRecorder(s.selection)

        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), device_guard(self.device), _StopFlag() as stop:
            torch.manual_seed(s.seed)
            if resume:
                start, history, best = self._restore(run_dir, task, opts, scheds, gen)
                recorder = EpochRecorder(s.selection, history, best)
            fast = None
            if self._use_fast_path():
                from hepgan.training.fast import FastPath

                fast = FastPath(task, samples, opts, scheds, gen, s.schedule, total, capture=self.device.type == "cuda")
            how = "eager" if fast is None else ("graph, captured in a CUDA graph" if self.device.type == "cuda" else "graph, uncaptured on a CPU")
            log.info("training on %s: %d iterations per epoch, step %s", self.device, samples.steps, how)
            sums = LogSums()
            bar = None
            if s.progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=s.epochs, initial=start, desc="training", unit="epoch", file=sys.stderr, leave=False)
            for epoch in range(start, s.epochs):
                t0 = time.perf_counter()
                for m in trained:
                    m.train()
                indices = samples.epoch_indices(gen)
                if fast is not None:  # the fast step (captured in a CUDA graph on CUDA)
                    values = fast.epoch(indices)
                else:  # the plain step
                    sums.zero()
                    for i in range(samples.steps):
                        self._eager_iteration(task, samples.batch(indices, i), opts, params, gen, sums)
                        for sch in scheds.values():
                            sch.step()
                    values = sums.means(samples.steps)
                values["lr"] = last_opt.param_groups[0]["lr"]
                for m in trained:
                    m.eval()
                if validate is not None:
                    values.update({k: float(v) for k, v in validate(epoch + 1).items()})
                value = recorder.record(epoch + 1, values, time.perf_counter() - t0, task.networks)
                if s.epoch_callback is not None:
                    s.epoch_callback(epoch + 1, dict(values))
                if bar is not None:
                    bar.update(1)
                    post = {k: f"{v:.3f}" for k, v in values.items() if k.startswith("loss_")}
                    if value is not None:
                        post[s.selection.label or s.selection.metric] = f"{value:.4g}"
                    bar.set_postfix(post)
                last = epoch + 1 == s.epochs
                periodic = s.checkpoint_every and (epoch + 1) % s.checkpoint_every == 0
                if run_dir is not None and (periodic or last or stop.raised):
                    save_state(run_dir / CHECKPOINT_NAME, self._state(task, opts, scheds, gen, epoch + 1, recorder), meta={"kind": "checkpoint"})
                if stop.raised and not last:
                    if bar is not None:
                        bar.close()
                    where = f"; continue with --resume {run_dir}" if run_dir is not None else ""
                    raise KeyboardInterrupt(f"stopped after epoch {epoch + 1}{where}")
            if bar is not None:
                bar.close()
            if fast is not None and fast.captured:
                log.info("training: the iteration ran as a CUDA graph")
        for k, flags in frozen_grad.items():  # as the caller gave them
            for p, flag in zip(task.networks[k].parameters(), flags):
                p.requires_grad_(flag)
        return recorder.finish(task.networks, s.epochs)


def write_history(path: str | Path, history: Mapping[str, Any]) -> None:
    """history.json of the run-folder contract (everything but the weights)."""
    from hepgan.io import atomic_path

    out = {k: v for k, v in history.items() if k != "last_networks"}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(out, indent=1))
