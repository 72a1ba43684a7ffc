r"""The step contract: what a method gives the training engine.

A method describes its training as a :class:`Task`:

* ``networks``: every network by name. A network that no step updates is *frozen*
  (a pre-trained classifier inside a generator's loss, say): the engine never updates it,
  keeps it in ``eval()`` mode and switches off its gradients.
* ``steps``: the updates of one iteration, in order, as :class:`Step` objects: which network
  is updated, by which loss, how many times per iteration and with which optimizer. A GAN
  is ``[Step("d", "d", ..., repeat=n_critic), Step("g", "g", ...)]``; a classifier is one step.
* ``validate(epoch)`` (optional): per-epoch metrics, e.g. the validation -2lnLambda.

A step's randomness comes in through its ``noise`` function, ``noise(batch, generator) -> dict``,
which draws every random number of one update (latent noise, label noise, interpolation
weights) from the run's :class:`torch.Generator`; the ``loss`` function,
``loss(batch, noise) -> (loss, logs)``, draws nothing. That is what lets the eager step, the
CUDA-graph step and vectorised scans (:mod:`hepgan.training.loop`, :mod:`~hepgan.training.fast`,
:mod:`~hepgan.training.scan`) run the same step list and agree: they differ only in how the
gradient and the optimizer update are computed. (Dropout masks are the one exception: they come
from torch's global generator, which the engine seeds and checkpoints.)

Data are named samples (:class:`Sample`), each with its own size and batch size; an iteration
sees one batch of every sample, ``batch[sample][tensor]``.

``logs`` are named 0-d tensors (a regulariser's value, say) that the engine averages over the
epoch and records in the history next to ``loss_<step name>``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Linear(2, 1)
    >>> def loss(batch, noise):
    ...     b = batch["train"]
    ...     l = (net(b["x"]).squeeze(-1) - b["y"]).square().mean()
    ...     return l, {}
    >>> step = Step("fit", "net", loss, optimizer=OptimizerSpec("sgd", lr=0.1))
    >>> step.noise({}, torch.Generator())
    {}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from hepgan.exceptions import ConfigError

__all__ = [
    "Batch",
    "Noise",
    "Logs",
    "OptimizerSpec",
    "Step",
    "Sample",
    "Task",
    "no_noise",
    "check_task",
    "updated_networks",
    "frozen_networks",
    "AdversarialTask",
]

#: One batch: sample name -> tensor name -> (B, ...) tensor.
Batch = Mapping[str, Mapping[str, Tensor]]
#: The random numbers of one update, by name.
Noise = dict[str, Tensor]
#: Named 0-d tensors a loss reports (averaged per epoch by the engine).
Logs = dict[str, Tensor]

OPTIMIZER_NAMES = ("sgd", "adam", "lamb")
SCHEDULES = ("cosine", "constant")


def no_noise(batch: Batch, generator: torch.Generator) -> Noise:
    """The noise function of a deterministic loss (a supervised classifier, say): draws nothing."""
    return {}


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """How one step updates its network.

    Args:
        name: ``"sgd"``, ``"adam"`` or ``"lamb"`` (:func:`hepgan.training.optim.make_optimizer`).
        lr: the initial learning rate; the run's schedule (cosine to 0, or constant) scales it.
        options: further optimizer arguments, e.g. ``{"betas": (0.0, 0.9)}`` for WGAN-GP's Adam.
    """

    name: str = "adam"
    lr: float = 1e-3
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZER_NAMES:
            raise ConfigError(f"optimizer: expected one of {', '.join(OPTIMIZER_NAMES)}, got {self.name!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr: expected a number > 0, got {self.lr!r}")
        if "betas" in self.options:  # hashable and comparable, whatever the config gave
            object.__setattr__(self, "options", {**self.options, "betas": tuple(self.options["betas"])})

    def signature(self) -> tuple:
        """Everything but the learning rate: members of a scan with equal signatures share one update rule."""
        return (self.name, tuple(sorted((k, repr(v)) for k, v in self.options.items())))


@dataclasses.dataclass(frozen=True)
class Step:
    """One update of an iteration.

    Args:
        name: names the optimizer (and its checkpointed state) and the logged loss ``loss_<name>``.
        network: the key in ``Task.networks`` of the network this step updates.
        loss: ``loss(batch, noise) -> (loss, logs)``: a scalar to minimise and named 0-d tensors.
        noise: ``noise(batch, generator) -> dict`` of every random number of one update.
        repeat: updates per iteration (e.g. ``n_critic`` discriminator updates per generator update);
            every repeat sees the iteration's batch and draws its own noise.
        optimizer: the update rule and initial learning rate.
    """

    name: str
    network: str
    loss: Callable[[Batch, Noise], tuple[Tensor, Logs]]
    noise: Callable[[Batch, torch.Generator], Noise] = no_noise
    repeat: int = 1
    optimizer: OptimizerSpec = dataclasses.field(default_factory=OptimizerSpec)

    def __post_init__(self) -> None:
        if not isinstance(self.repeat, int) or isinstance(self.repeat, bool) or self.repeat < 1:
            raise ConfigError(f"step '{self.name}': repeat expected an integer >= 1, got {self.repeat!r}")


@dataclasses.dataclass
class Sample:
    """A named training sample: tensors with one first dimension N, and the batch size drawn from it.

    Args:
        tensors: name -> (N, ...) tensor.
        batch_size: events of this sample per iteration (None: the run's batch size); capped at N.
    """

    tensors: dict[str, Tensor]
    batch_size: int | None = None

    def __len__(self) -> int:
        return next(iter(self.tensors.values())).shape[0] if self.tensors else 0


@runtime_checkable
class Task(Protocol):
    """What a method gives the engine: its networks and its step list (and optionally ``validate``)."""

    networks: dict[str, nn.Module]
    steps: Sequence[Step]


def check_task(task: Any) -> None:
    """Raises ConfigError naming what is wrong with a task's networks and steps."""
    networks = getattr(task, "networks", None)
    steps = getattr(task, "steps", None)
    if not isinstance(networks, Mapping) or not networks:
        raise ConfigError("task: expected a non-empty mapping 'networks' of name -> torch.nn.Module")
    if not steps:
        raise ConfigError("task: expected a non-empty list 'steps'")
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ConfigError(f"task: step names must be distinct, got {names}")
    for s in steps:
        if not isinstance(s, Step):
            raise ConfigError(f"task: steps must be hepgan.training.task.Step objects, got {type(s).__name__}")
        if s.network not in networks:
            raise ConfigError(f"step '{s.name}': no network '{s.network}' (networks: {', '.join(networks)})")
        if not any(True for _ in networks[s.network].parameters()):
            raise ConfigError(f"step '{s.name}': network '{s.network}' has no parameters to update")


def updated_networks(task: Task) -> list[str]:
    """Names of the networks some step updates, in the order of their first step."""
    return list(dict.fromkeys(s.network for s in task.steps))


def frozen_networks(task: Task) -> list[str]:
    """Names of the networks no step updates."""
    updated = set(updated_networks(task))
    return [k for k in task.networks if k not in updated]


class AdversarialTask:
    """The step list of a two-network GAN: the discriminator (or critic) ``n_critic`` times, then the generator.

    A subclass defines ``d_noise``, ``d_loss``, ``g_noise`` and ``g_loss`` (the contract of
    :class:`Step`); ``validate`` calls the function given here, if any.

    Args:
        g, d: the generator and the discriminator (networks ``"g"`` and ``"d"``).
        n_critic: discriminator updates per generator update.
        optimizer_g, optimizer_d: the two update rules.
        validate: ``validate(epoch) -> dict`` of per-epoch metrics, or None.
    """

    def __init__(
        self,
        g: nn.Module,
        d: nn.Module,
        n_critic: int,
        optimizer_g: OptimizerSpec,
        optimizer_d: OptimizerSpec,
        validate: Callable[[int], dict[str, float]] | None = None,
    ):
        self.networks = {"g": g, "d": d}
        self._validate = validate
        self.steps = [
            Step("d", "d", self.d_loss, self.d_noise, repeat=n_critic, optimizer=optimizer_d),
            Step("g", "g", self.g_loss, self.g_noise, optimizer=optimizer_g),
        ]

    def validate(self, epoch: int) -> dict[str, float]:
        return self._validate(epoch) if self._validate is not None else {}

    def d_noise(self, batch: Batch, generator: torch.Generator) -> Noise:
        raise NotImplementedError

    def d_loss(self, batch: Batch, noise: Noise) -> tuple[Tensor, Logs]:
        raise NotImplementedError

    def g_noise(self, batch: Batch, generator: torch.Generator) -> Noise:
        raise NotImplementedError

    def g_loss(self, batch: Batch, noise: Noise) -> tuple[Tensor, Logs]:
        raise NotImplementedError
