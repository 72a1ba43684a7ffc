"""The one adversarial training loop of hepgan.

A method supplies a :class:`GANTask`: its networks (``"g"`` and ``"d"``), its
two losses on a batch, and optionally a per-epoch validation. The loop owns the
device, the optimizers and their cosine schedules, the batching (by index, on
the device), logging, checkpoints, ``resume`` and best-epoch selection.

Two steps, one loop: ``step="eager"`` is the plain autograd step (the task's
``d_loss``/``g_loss``, torch optimizers, LambdaLR); ``step="graph"`` is the fast step of
:mod:`hepgan.training.fast` (the same losses and update rules as one function of static
tensors, captured in a CUDA graph on CUDA, run uncaptured on a CPU); ``"auto"`` takes the
fast step on CUDA when the task supports it. Both keep the same optimizer and scheduler
state, so checkpoints and ``resume`` are shared.

Randomness: one ``torch.Generator`` (seeded from ``seed``) drives batching, the
latent noise and the label noise; modules that draw from torch's global RNG
(dropout) run inside ``torch.random.fork_rng`` seeded from the same seed, so the
caller's global state is untouched and a resumed run restores both.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from hepgan.exceptions import HepganError
from hepgan.training.state import load_state, save_state

__all__ = ["GANTask", "TrainSettings", "AdversarialTrainer", "CHECKPOINT_NAME"]

log = logging.getLogger("hepgan")
CHECKPOINT_NAME = "checkpoint.safetensors"


class GANTask(Protocol):
    """What a method gives the loop."""

    networks: dict[str, nn.Module]  # at least "g" and "d"

    def d_loss(self, batch: dict[str, Tensor], gen: torch.Generator) -> Tensor: ...

    def g_loss(self, batch: dict[str, Tensor], gen: torch.Generator) -> Tensor: ...

    def validate(self, epoch: int) -> dict[str, float]: ...


@dataclasses.dataclass
class TrainSettings:
    """Loop settings (the method's config fills them)."""

    epochs: int = 100
    batch_size: int = 1024
    optimizer: str = "lamb"
    lr: float = 1e-3
    lr_d: float | None = None  # None: same as lr
    schedule: str = "cosine"  # "cosine" (to 0 over the run) or "constant"
    n_critic: int = 1
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 10  # epochs; 0 disables periodic checkpoints
    select_metric: str | None = "metric_val"  # lowest value picks the kept model
    progress: bool = True
    # "eager": the plain autograd step; "graph": the fast step of hepgan.training.fast, captured
    # in a CUDA graph on CUDA (run uncaptured on a CPU); "auto": graph on CUDA when the task
    # supports it, eager otherwise
    step: str = "auto"


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HepganError(f"device '{name}' asked for, but torch sees no CUDA GPU (use device: cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise HepganError(f"device '{name}': unknown device (expected cpu, cuda, cuda:N or auto)") from None


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


class AdversarialTrainer:
    """Trains a GANTask.

    Args:
        settings: loop settings.
        make_optimizer: (name, params, lr) -> optimizer; defaults to hepgan.training.optim.make_optimizer.
    """

    def __init__(self, settings: TrainSettings, make_optimizer: Callable | None = None):
        self.settings = settings
        if make_optimizer is None:
            from hepgan.training.optim import make_optimizer
        self._make_optimizer = make_optimizer
        self.device = _resolve_device(settings.device)

    def _use_fast_path(self, task: GANTask) -> bool:
        from hepgan.config import choice
        from hepgan.training.fast import supports_fast_path

        choice(self.settings.step, ["auto", "eager", "graph"], "step")
        ok = supports_fast_path(task)
        if self.settings.step == "graph" and not ok:
            raise HepganError("step: graph needs a task with noise_d, noise_g, d_loss_given and g_loss_given (use step: eager)")
        if self.settings.step == "auto":
            return ok and self.device.type == "cuda"
        return self.settings.step == "graph"

    # ------------------------------------------------------------------ state
    def _schedulers(self, opts: dict[str, torch.optim.Optimizer], total_steps: int) -> dict[str, Any]:
        if self.settings.schedule == "cosine":
            from hepgan.training.optim import cosine_schedule

            return {k: cosine_schedule(o, total_steps) for k, o in opts.items()}
        return {}

    def _state(self, task, opts, scheds, gen, epoch, history, best) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "networks": {k: m.state_dict() for k, m in task.networks.items()},
            "optimizers": {k: o.state_dict() for k, o in opts.items()},
            "schedulers": {k: s.state_dict() for k, s in scheds.items()},
            "generator": gen.get_state(),
            "global_rng": torch.get_rng_state(),
            "history": history,
            "best": best,
        }

    def _checkpoint(self, run_dir: Path | None, state: dict[str, Any]) -> None:
        if run_dir is not None:
            save_state(run_dir / CHECKPOINT_NAME, state, meta={"kind": "checkpoint"})

    # ------------------------------------------------------------------ loop
    def fit(
        self,
        task: GANTask,
        data: dict[str, Tensor],
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Runs the loop.

        Args:
            task: the method's networks and losses.
            data: tensors with the same first dimension N (moved to the device); batches are
                dicts with the same keys.
            run_dir: where checkpoints (and history.json) go; None keeps everything in memory.
            resume: continue from ``run_dir``'s checkpoint.

        Returns:
            The history: per-epoch lists ("epoch", "loss_d", "loss_g", "lr", the validation metrics,
            "time") and "best_epoch"; the task's networks hold the kept (best) weights on return.
        """
        s = self.settings
        run_dir = Path(run_dir) if run_dir is not None else None
        data = {k: v.to(self.device) for k, v in data.items()}
        n = next(iter(data.values())).shape[0]
        if n == 0:
            raise HepganError("no training events")
        batch = min(s.batch_size, n)
        steps_per_epoch = n // batch  # drop the last partial batch
        for m in task.networks.values():
            m.to(self.device)
        g, d = task.networks["g"], task.networks["d"]
        opts = {
            "d": self._make_optimizer(s.optimizer, d.parameters(), s.lr_d or s.lr),
            "g": self._make_optimizer(s.optimizer, g.parameters(), s.lr),
        }
        scheds = self._schedulers(opts, s.epochs * steps_per_epoch)
        gen = torch.Generator(device=self.device).manual_seed(s.seed)
        use_fast = self._use_fast_path(task)
        history: dict[str, Any] = {"epoch": [], "loss_d": [], "loss_g": [], "lr": [], "time": []}
        best: dict[str, Any] = {"epoch": None, "value": None, "networks": None}
        start = 0

        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []), _StopFlag() as stop:
            torch.manual_seed(s.seed)
            if resume:
                start, history, best = self._restore(run_dir, task, opts, scheds, gen)
            fast = None
            if use_fast:
                from hepgan.training.fast import FastPath

                fast = FastPath(
                    task, data, opts, scheds, gen, batch, s.n_critic, s.schedule if scheds else "constant",
                    s.epochs * steps_per_epoch, capture=self.device.type == "cuda",
                )
            bar = None
            if s.progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=s.epochs, initial=start, desc="training", unit="epoch", file=sys.stderr, leave=False)
            for epoch in range(start, s.epochs):
                t0 = time.perf_counter()
                g.train(), d.train()
                perm = torch.randperm(n, generator=gen, device=self.device)
                sum_d = torch.zeros((), device=self.device)
                sum_g = torch.zeros((), device=self.device)
                if fast is not None:  # the fast step (captured in a CUDA graph on CUDA)
                    sum_d, sum_g = fast.epoch(perm, steps_per_epoch)
                else:  # the plain step
                    for i in range(steps_per_epoch):
                        idx = perm[i * batch : (i + 1) * batch]
                        b = {k: v[idx] for k, v in data.items()}
                        for _ in range(s.n_critic):
                            opts["d"].zero_grad(set_to_none=True)
                            loss_d = task.d_loss(b, gen)
                            loss_d.backward()
                            opts["d"].step()
                        opts["g"].zero_grad(set_to_none=True)
                        loss_g = task.g_loss(b, gen)
                        loss_g.backward()
                        opts["g"].step()
                        for sch in scheds.values():
                            sch.step()
                        sum_d += loss_d.detach()
                        sum_g += loss_g.detach()
                history["epoch"].append(epoch + 1)
                history["loss_d"].append(float(sum_d) / steps_per_epoch)
                history["loss_g"].append(float(sum_g) / steps_per_epoch)
                history["lr"].append(opts["g"].param_groups[0]["lr"])
                g.eval(), d.eval()
                metrics = task.validate(epoch + 1) if hasattr(task, "validate") else {}
                for k, v in metrics.items():
                    history.setdefault(k, []).append(float(v))
                history["time"].append(time.perf_counter() - t0)
                value = metrics.get(s.select_metric) if s.select_metric else None
                if value is not None and (best["value"] is None or value < best["value"]):
                    best = {
                        "epoch": epoch + 1,
                        "value": float(value),
                        "networks": {k: copy.deepcopy(m.state_dict()) for k, m in task.networks.items()},
                    }
                if bar is not None:
                    bar.update(1)
                    post = {"L_d": f"{history['loss_d'][-1]:.3f}", "L_g": f"{history['loss_g'][-1]:.3f}"}
                    if value is not None:
                        post[s.select_metric] = f"{value:.1f}"
                    bar.set_postfix(post)
                last = epoch + 1 == s.epochs
                periodic = s.checkpoint_every and (epoch + 1) % s.checkpoint_every == 0
                if run_dir is not None and (periodic or last or stop.raised):
                    self._checkpoint(run_dir, self._state(task, opts, scheds, gen, epoch + 1, history, best))
                if stop.raised and not last:
                    if bar is not None:
                        bar.close()
                    where = f"; continue with --resume {run_dir}" if run_dir is not None else ""
                    raise KeyboardInterrupt(f"stopped after epoch {epoch + 1}{where}")
            if bar is not None:
                bar.close()

        history["best_epoch"] = best["epoch"] if best["epoch"] is not None else s.epochs
        history["last_networks"] = {k: copy.deepcopy(m.state_dict()) for k, m in task.networks.items()}
        if best["networks"] is not None:
            for k, m in task.networks.items():
                m.load_state_dict(best["networks"][k])
        return history

    def _restore(self, run_dir, task, opts, scheds, gen):
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
        torch.set_rng_state(state["global_rng"])
        log.info("resuming from epoch %d of %s", state["epoch"], run_dir)
        return state["epoch"], state["history"], state["best"]


def write_history(path: str | Path, history: dict[str, Any], metric_name: str = "-2lnLambda") -> None:
    """history.json of the run-folder contract."""
    from hepgan.io import atomic_path

    out = {k: v for k, v in history.items() if k != "last_networks"}
    out["metric_name"] = metric_name
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(out, indent=1))
