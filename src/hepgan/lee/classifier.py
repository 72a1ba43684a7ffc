r"""The deep classifier of seed 004: fully supervised, semi-supervised (f_semi) and background-vs-mixture.

Network: an MLP with ReLU hidden layers of 360, 180, 180, 90 and 180 units and a sigmoid output
(the seed's table), on features standardised with the mean and standard deviation of the training
events. Adam, learning rate 1e-3; 8 epochs. The seed's Keras-style decay of 3e-4 per step is replaced by
the engine's schedules (``cosine``, the default, or ``constant``); the seed's batch size of 1 is an option
(``batch_size: 1``), 128 the practical default (a batch of one event makes f_semi meaningless and an epoch
of 10k events takes 10k optimizer steps).

Two labelled samples, "zero" and "one", each with its own batches (:mod:`hepgan.training.task`):

* ``supervised``: zero = labelled background, one = labelled signal; per-event binary cross entropy,
  :math:`f_\mathrm{full} = \arg\min \sum_i \ell(y_i, \hat y_i)`;
* ``cwola``: zero = labelled background, one = the unlabelled mixture (data); the same per-event loss
  (classification without labels, Metodiev, Nachman, Thaler 2017);
* ``semi``: the same samples, the seed's
  :math:`f_\mathrm{semi} = \arg\min \sum_K \ell\big(\tfrac{1}{|K|}\sum_{i\in K}\hat y_i, y_K\big)`: the loss
  is on the batch-averaged prediction of each batch K, with :math:`y_K` = 0 for a background batch and
  ``mixture_label`` (default 1) for a data batch (a label proportion: set it to the expected signal
  fraction for learning from label proportions, Dery et al. 2017).

Training runs on the engine (one step, no noise); the class weights are balanced by giving both samples
the same batch size, the epoch being one pass over the larger sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from hepgan.config import check, choice
from hepgan.exceptions import SchemaError

__all__ = ["SEED_HIDDEN", "CLASSIFIER_MODES", "ClassifierSettings", "ClassifierTask", "ResponseClassifier", "train_classifier"]

#: The seed's hidden layers.
SEED_HIDDEN: tuple[int, ...] = (360, 180, 180, 90, 180)
CLASSIFIER_MODES = ("supervised", "semi", "cwola")


@dataclasses.dataclass(frozen=True)
class ClassifierSettings:
    """The classifier's hyperparameters (see the module docstring)."""

    mode: str = "supervised"
    hidden: tuple[int, ...] = SEED_HIDDEN
    lr: float = 1e-3
    epochs: int = 8
    batch_size: int = 128
    schedule: str = "cosine"
    mixture_label: float = 1.0

    def validate(self, where: str = "classifier") -> ClassifierSettings:
        choice(self.mode, CLASSIFIER_MODES, f"{where}.mode")
        choice(self.schedule, ("cosine", "constant"), f"{where}.schedule")
        check(len(self.hidden) >= 1 and all(isinstance(h, int) and h >= 1 for h in self.hidden), f"{where}.hidden", "a list of integers >= 1", self.hidden)
        check(isinstance(self.lr, (int, float)) and self.lr > 0, f"{where}.lr", "a number > 0", self.lr)
        for key in ("epochs", "batch_size"):
            v = getattr(self, key)
            check(isinstance(v, int) and not isinstance(v, bool) and v >= 1, f"{where}.{key}", "an integer >= 1", v)
        check(0.0 < self.mixture_label <= 1.0, f"{where}.mixture_label", "a number in (0, 1]", self.mixture_label)
        return self


class ResponseClassifier(nn.Module):
    """Standardisation + MLP (ReLU) -> logit; ``response(x)`` gives the sigmoid output in [0, 1]."""

    def __init__(self, n_in: int, hidden: Sequence[int], mean: np.ndarray, std: np.ndarray):
        super().__init__()
        from hepgan.nn import MLP

        self.net = MLP(n_in, 1, tuple(hidden), activation="relu")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)

    @torch.no_grad()
    def response(self, x: np.ndarray, batch: int = 65536) -> np.ndarray:
        self.eval()
        t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        return np.concatenate([torch.sigmoid(self(t[i : i + batch])).numpy() for i in range(0, max(len(t), 1), batch)])[: len(t)]


class ClassifierTask:
    """The classifier's training task: one step on the samples "zero" and "one" (see the module docstring)."""

    def __init__(self, net: ResponseClassifier, s: ClassifierSettings):
        from hepgan.training.task import OptimizerSpec, Step

        self.networks = {"f": net}
        self.settings = s
        self.steps = [Step("f", "f", self.loss, optimizer=OptimizerSpec("adam", lr=float(s.lr)))]

    def loss(self, batch, noise) -> tuple[Tensor, dict[str, Tensor]]:
        f = self.networks["f"]
        l0, l1 = f(batch["zero"]["x"]), f(batch["one"]["x"])
        bce = nn.functional.binary_cross_entropy_with_logits
        if self.settings.mode == "semi":
            p0, p1 = torch.sigmoid(l0).mean(), torch.sigmoid(l1).mean()
            y1 = torch.full_like(p1, self.settings.mixture_label)
            bce_p = nn.functional.binary_cross_entropy
            loss = bce_p(p0, torch.zeros_like(p0)) + bce_p(p1, y1)
        else:
            loss = bce(l0, torch.zeros_like(l0)) + bce(l1, torch.ones_like(l1))
        return loss, {}


def train_classifier(x_zero: np.ndarray, x_one: np.ndarray, settings: ClassifierSettings, seed: int = 0) -> ResponseClassifier:
    """Trains the classifier of ``settings.mode`` on the samples "zero" (label 0) and "one" (label 1).

    Args:
        x_zero, x_one: (N0, D) and (N1, D) features (any D, the same for both).
        settings: the hyperparameters.
        seed: the run's seed (initial weights, batches).

    Returns:
        The trained classifier (on the CPU, in eval mode).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.normal(0, 1, (2000, 2)), rng.normal(1.5, 1, (2000, 2))
        >>> clf = train_classifier(a, b, ClassifierSettings(hidden=(32,), epochs=10), seed=1)
        >>> bool(clf.response(b).mean() > clf.response(a).mean() + 0.1)
        True
    """
    from hepgan.training.loop import Trainer, TrainSettings
    from hepgan.training.task import Sample

    settings.validate()
    x0 = np.asarray(x_zero, dtype=np.float32)
    x1 = np.asarray(x_one, dtype=np.float32)
    if x0.ndim != 2 or x1.ndim != 2 or x0.shape[1] != x1.shape[1] or min(len(x0), len(x1)) < 2:
        raise SchemaError(f"classifier: expected two (N, D) feature arrays with one D and N >= 2, got {x0.shape} and {x1.shape}")
    if not (np.isfinite(x0).all() and np.isfinite(x1).all()):
        raise SchemaError("classifier: the features hold NaN or infinite values")
    both = np.concatenate([x0, x1])
    mean, std = both.mean(0), both.std(0)
    std = np.where(std > 0, std, 1.0)
    torch.manual_seed(seed)
    net = ResponseClassifier(x0.shape[1], settings.hidden, mean, std)
    task = ClassifierTask(net, settings)
    bs = settings.batch_size
    data = {"zero": Sample({"x": torch.from_numpy(x0)}, batch_size=bs), "one": Sample({"x": torch.from_numpy(x1)}, batch_size=bs)}
    ts = TrainSettings(epochs=settings.epochs, batch_size=bs, schedule=settings.schedule, seed=seed, device="cpu", checkpoint_every=0,
                       progress=False, epoch_sample="zero" if len(x0) >= len(x1) else "one")  # fmt: skip
    Trainer(ts).fit(task, data)
    return net.eval()
