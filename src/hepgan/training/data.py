"""Named training samples on the device, and the batches of an epoch.

Every sample has its own size N_s and batch size B_s. One sample sets the length of an epoch
(the *epoch sample*, by default the first): an epoch is ``N_e // B_e`` iterations (the last
partial batch is dropped), and each iteration takes one batch of every sample. A sample's
index stream for an epoch is a random permutation of its events, followed by further fresh
permutations when the epoch needs more than N_s of its events (a small sample beside a big
one is cycled, each pass in a new order).

Batches are drawn by index on the device from the run's :class:`torch.Generator`, so the
same seed gives the same batches on every path (eager, CUDA graph, scans).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from hepgan.exceptions import ConfigError, HepganError
from hepgan.training.task import Batch, Sample

__all__ = ["Samples", "as_samples"]


def as_samples(data: Mapping[str, Sample | Mapping[str, Tensor]]) -> dict[str, Sample]:
    """Wraps plain ``{name: {tensor name: tensor}}`` mappings as :class:`Sample` objects, checking sizes.

    Raises:
        ConfigError: no samples, a sample without tensors, or tensors of different lengths.
        HepganError: a sample without events.
    """
    if not isinstance(data, Mapping) or not data:
        raise ConfigError("training data: expected a non-empty mapping of sample name -> tensors")
    out = {}
    for name, s in data.items():
        s = s if isinstance(s, Sample) else Sample(dict(s))
        if not s.tensors:
            raise ConfigError(f"training sample '{name}': no tensors")
        sizes = {k: v.shape[0] for k, v in s.tensors.items()}
        if len(set(sizes.values())) != 1:
            detail = ", ".join(f"{k}: {n}" for k, n in sizes.items())
            raise ConfigError(f"training sample '{name}': its tensors have different numbers of events ({detail})")
        if len(s) == 0:
            raise HepganError(f"training sample '{name}': no events")
        if s.batch_size is not None and (not isinstance(s.batch_size, int) or s.batch_size < 1):
            raise ConfigError(f"training sample '{name}': batch_size expected an integer >= 1, got {s.batch_size!r}")
        out[name] = s
    return out


class Samples:
    """Named samples on a device with their batch sizes and the per-epoch index streams.

    Args:
        data: sample name -> :class:`Sample` (or a mapping of tensors).
        batch_size: the run's batch size (a sample's own ``batch_size`` overrides it); capped at N_s.
        device: where the tensors live.
        epoch_sample: the sample whose size sets the epoch (None: the first).

    Attributes:
        tensors: name -> tensor name -> (N_s, ...) on the device.
        sizes, batch_sizes: N_s and B_s per sample.
        steps: iterations per epoch.
    """

    def __init__(
        self,
        data: Mapping[str, Sample | Mapping[str, Tensor]],
        batch_size: int,
        device: torch.device,
        epoch_sample: str | None = None,
    ):
        samples = as_samples(data)
        if epoch_sample is not None and epoch_sample not in samples:
            raise ConfigError(f"epoch_sample: no training sample '{epoch_sample}' (samples: {', '.join(samples)})")
        self.names = list(samples)
        self.epoch_sample = epoch_sample or self.names[0]
        self.tensors = {k: {n: t.to(device) for n, t in s.tensors.items()} for k, s in samples.items()}
        self.sizes = {k: len(s) for k, s in samples.items()}
        self.batch_sizes = {k: min(s.batch_size or batch_size, len(s)) for k, s in samples.items()}
        self.steps = self.sizes[self.epoch_sample] // self.batch_sizes[self.epoch_sample]
        self.device = device

    def stream_length(self, name: str) -> int:
        """Events of sample ``name`` drawn per epoch."""
        return self.steps * self.batch_sizes[name]

    def epoch_indices(self, generator: torch.Generator) -> dict[str, Tensor]:
        """Each sample's index stream for one epoch, (steps * B_s,) int64 on the generator's device."""
        out = {}
        for k in self.names:
            n, length = self.sizes[k], self.stream_length(k)
            perms = [torch.randperm(n, generator=generator, device=generator.device) for _ in range(math.ceil(length / n))]
            out[k] = (perms[0] if len(perms) == 1 else torch.cat(perms))[:length]
        return out

    def batch(self, indices: Mapping[str, Tensor], i: int) -> Batch:
        """The batch of iteration ``i`` from an epoch's index streams."""
        out = {}
        for k in self.names:
            b = self.batch_sizes[k]
            idx = indices[k][i * b : (i + 1) * b]
            out[k] = {n: t[idx] for n, t in self.tensors[k].items()}
        return out

    def signature(self) -> tuple:
        """Sample names, sizes, batch sizes and tensor shapes: what members of a vectorised scan must share."""
        return tuple(
            (k, self.sizes[k], self.batch_sizes[k], tuple((n, tuple(t.shape[1:]), t.dtype) for n, t in self.tensors[k].items()))
            for k in self.names
        ) + (self.epoch_sample,)


def check_same_layout(samples: list[Samples]) -> None:
    """Raises HepganError unless every member's samples have the same names, sizes and shapes."""
    first = samples[0].signature()
    for s in samples[1:]:
        if s.signature() != first:
            raise HepganError("train_scan: members of one group have training samples of different names, sizes or shapes")
