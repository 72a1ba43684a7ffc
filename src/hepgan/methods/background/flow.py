r"""The conditional-flow baseline of the background method (``model.arch: flow``).

The peer a physicist would pick instead of the GAN: a conditional neural spline flow (zuko
``NSF``, Durkan et al. 2019) that models :math:`p(x \mid c)` by weighted maximum likelihood, on
exactly the preprocessing of the GAN (quantile transforms to Uniform[0, 1], discrete columns
dequantised; conditions in [-1, 1]). The generated columns are modelled in normal space,
:math:`\Phi^{-1}(u)`; samples go back through :math:`\Phi`, into the GAN's [-1, 1] output
convention, so that sampling, applying, evaluating, saving and exporting the model go through
the same code as the GAN's (:class:`hepgan.methods.background.model.ConditionalGAN` with
``arch="flow"``).

Training is one step of the engine: :math:`L = -\sum_i w_i \log p(x_i \mid c_i) / \sum_i w_i`
per batch (the event weights, negative ones included), Adam with the run's cosine schedule;
the kept epoch has the lowest validation negative log-likelihood (``nll_val``). Needs the
``flow`` extra (``pip install 'hepgan[flow]'``: zuko).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from hepgan.exceptions import MissingExtraError
from hepgan.training.record import Selection
from hepgan.training.task import OptimizerSpec, Step, no_noise

__all__ = ["FlowGenerator", "FlowTask", "SELECTION_FLOW", "to_normal"]

#: The flow's kept epoch: the lowest weighted negative log-likelihood of the validation events.
SELECTION_FLOW = Selection("nll_val", "min", "validation NLL")

#: u is clipped to [EPS, 1 - EPS] before Phi^-1: the quantile transform's linear tails may reach 0 or 1.
EPS = 1e-6


def to_normal(x_net: Tensor) -> Tensor:
    """The GAN's [-1, 1] space -> the flow's normal space, Phi^-1((x + 1) / 2)."""
    return torch.special.ndtri(((x_net + 1.0) / 2.0).clamp(EPS, 1.0 - EPS))


class FlowGenerator(nn.Module):
    """A conditional NSF that generates like the GAN's generator: ``forward(c, z)`` -> x in [-1, 1].

    Args:
        n_c, n_x: numbers of conditions and of generated columns (the latent size is n_x).
        transforms: autoregressive spline transforms.
        hidden: hidden widths of each transform's hypernetwork.
        bins: spline bins.
    """

    def __init__(self, n_c: int, n_x: int, transforms: int = 4, hidden: Sequence[int] = (128, 128), bins: int = 8):
        super().__init__()
        try:
            import zuko
        except ImportError as err:
            raise MissingExtraError("zuko", "flow") from err
        self.n_c, self.n_x = n_c, n_x
        self.flow = zuko.flows.NSF(n_x, n_c, transforms=transforms, hidden_features=list(hidden), bins=bins)

    def log_prob(self, c: Tensor, x_normal: Tensor) -> Tensor:
        """log p(x | c) of x in normal space, (N,)."""
        return self.flow(c).log_prob(x_normal)

    def forward(self, c: Tensor, z: Tensor) -> Tensor:
        """z ~ N(0, 1) (N, n_x) -> x (N, n_x) in [-1, 1], the GAN generator's output space."""
        x_normal = self.flow(c).transform.inv(z)
        return 2.0 * torch.special.ndtr(x_normal) - 1.0


class FlowTask:
    """The flow's training task: one step, weighted maximum likelihood on the sample "sr"."""

    def __init__(self, flow: FlowGenerator, optimizer: OptimizerSpec, validate: Callable[[int], dict[str, float]] | None = None):
        self.networks = {"g": flow}
        self._validate = validate
        self.steps = [Step("nll", "g", self.nll, no_noise, optimizer=optimizer)]

    def nll(self, batch: Any, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        b = batch["sr"]
        lp = self.networks["g"].log_prob(b["c"], to_normal(b["x"]))
        w = b.get("w")
        return (-(lp.mean()) if w is None else -(w * lp).sum() / w.sum()), {}

    def validate(self, epoch: int) -> dict[str, float]:
        return self._validate(epoch) if self._validate is not None else {}


@torch.no_grad()
def weighted_nll(flow: FlowGenerator, c: Tensor, x_net: Tensor, w: Tensor | None, batch: int = 65_536) -> float:
    """The weighted mean negative log-likelihood of events (c, x in [-1, 1])."""
    lp = torch.cat([flow.log_prob(c[i : i + batch], to_normal(x_net[i : i + batch])) for i in range(0, len(c), batch)])
    return float(-(lp.mean() if w is None else (w * lp).sum() / w.sum()))
