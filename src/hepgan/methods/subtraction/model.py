r"""The subtraction GAN: samples of :math:`P_B - P_S` from samples of :math:`P_B` and :math:`P_S`
(seed 003; Butter, Plehn, Winterhalder, "How to GAN event subtraction", arXiv:1912.08824).

One generator maps latent noise :math:`z \sim N(0, 1)` to an event :math:`x` and a label vector
:math:`c` (softmax: :math:`0 \le c_j \le 1`, :math:`\sum_j c_j = 1`) over the *components*, e.g.
``B-S`` and ``S``. Each input sample is a sum of components (the seed's label table):

=========  ===========  =======
sample     C_{B-S}      C_S
=========  ===========  =======
data B     1            1
data S     0            1
output     1            0
=========  ===========  =======

with addition (a third input A and its component ``A``) B = (1, 1, 0), S = (0, 1, 0), A = (0, 0, 1)
and the output B - S + A = (1, 0, 1); any number of inputs works the same way ("allowing for more
datasets", e.g. B - S1 - S2). There is one discriminator per input sample, ``d_<sample>``.

**Which generated events each discriminator sees** (the seed shows the assignment only as a
picture): D_i sees the generated events whose class (the largest entry of :math:`c`) is one of
sample i's components: D_B the events labelled B-S or S, D_S those labelled S. To let the labels
learn, this 0/1 weight carries the gradient of the label share :math:`w_i(c) = \sum_{j \in C_i} c_j`
(a straight-through estimator, :func:`class_shares`); the weighted means are
:math:`\sum w l / \sum w`. ``counting="soft"`` uses the share itself as the weight; it admits a
degenerate solution (a small share of S in every event, weighted like P_S) that only
:math:`L^{(norm)}` holds off, and in our toy runs it settled there with 2 % instead of 21 % S
events. Each discriminator has the standard GAN loss (binary cross-entropy on logits,
non-saturating generator loss) plus the Roth et al. regulariser :math:`\lambda_D \Omega`
(:func:`hepgan.losses.roth_penalty`), evaluated with the same event weights.

**Counting and normalisation** (the seed's formulas):

.. math::
    f(c) = \exp\left(-\alpha\, (\max_j c_j^2 - 1)^{2\beta}\right) \in [0, 1],
    \qquad L_G^{(class)} = \left(1 - \frac{1}{b} \sum_{c \in \text{batch}} f(c)\right)^2,

.. math::
    L_{G,i}^{(norm)} = \left(\frac{\sum_{c \in C_i} f(c)}{\sum_{c \in C_0} f(c)} - \frac{\sigma_i}{\sigma_0}\right)^2,

with sample 0 (the first, B) as the reference, :math:`c \in C_i` again the event's class, with
the gradient of the label share (with a plain hard count a generator that labels every event S
has the ratio 1 whatever f, and we saw training stay there). The seed gives no :math:`\beta`; we
take :math:`\beta = 1`. The generator minimises
:math:`\sum_i L_{G,i}^{(GAN)} + \lambda_{class} L_G^{(class)} + \lambda_{norm} \sum_{i>0} L_{G,i}^{(norm)}`.

**The output**: generated events whose class is an output component (argmax of :math:`c`),
unweighted; its cross section is :math:`\sigma_0 N_{out} / N_{C_0}` from the generated class
counts (:meth:`SubtractionGAN.output_cross_section`).

**Preprocessing** (smooth and exactly invertible, so no knot noise of an empirical transform
enters the generated densities): a column with a range ``[lo, hi]`` (optionally in log) is mapped
to ``[-1, 1]`` and the generator's output is folded into it (:func:`fold`, a reflection at the edges),
so generated events never leave the range and a density that is largest at an edge stays easy to
make (through tanh it fell by a third in the last 5 % of the toy's range); other columns (optionally in log) are standardised and generated linearly. With
``particles`` (massless, e.g. the e+ and e- of Drell-Yan) the columns are their
``px, py, pz``; the discriminators also see the standardised log invariant mass of all particles,
and ``pt_balance: exact`` projects the generated transverse momenta onto
:math:`\sum \vec p_T = 0`.

**Model selection**: per epoch ``val_events`` events are generated with fixed noise; for every
input sample the events of its classes are compared with its validation sample (W1 over the
interquartile range of each column, and of the invariant mass with ``particles``), and the
class ratios with :math:`\sigma_i / \sigma_0`. ``metric_val`` = mean W1/IQR + mean
:math:`|r_i - \sigma_i/\sigma_0| / (\sigma_i/\sigma_0)`; the kept epoch has the lowest. Only the
input samples are used: no knowledge of the answer.

**Ensembles**: :func:`fit_ensemble` trains K members at once (:func:`hepgan.training.scan.train_scan`),
each with its own seed; by default member 0 trains on the input samples themselves and every
other member on a bootstrap replica of each of them, so that the spread of the replica members is
the bootstrap standard error of member 0's output: the statistical uncertainty of the inputs and
the noise of one training together.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from hepgan.estimator import Estimator, check_choice, check_int, check_number, current_device, seed_from
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.training.device import resolve_device
from hepgan.training.record import Selection
from hepgan.training.task import OptimizerSpec, Sample, Step

__all__ = [
    "SubtractionGAN",
    "SubtractionTask",
    "count_weight",
    "class_loss",
    "norm_loss",
    "class_shares",
    "fold",
    "fit_ensemble",
    "label_table",
    "MODEL_FORMAT_VERSION",
    "SELECTION",
]

MODEL_FORMAT_VERSION = 1
#: The kept epoch: the lowest validation metric (shapes of every input sample and class ratios).
SELECTION = Selection("metric_val", "min", "W1/IQR + ratio error")
#: Weights of generated events are floored here so that a weighted mean is always defined.
WEIGHT_FLOOR = 1e-12
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- the seed's formulas


def count_weight(c: Tensor, alpha: float, beta: float = 1.0) -> Tensor:
    r"""The differentiable event count of seed 003, :math:`f(c) = \exp(-\alpha (\max_j c_j^2 - 1)^{2\beta})`.

    1 for a clear label (one entry 1), :math:`\exp(-\alpha (1/K^2 - 1)^{2\beta})` for the uniform
    label of K classes.

    Args:
        c: label vectors, shape (N, K), entries in [0, 1] summing to 1.
        alpha: :math:`\alpha > 0`.
        beta: :math:`\beta > 0` (1 here: the seed gives none).

    Returns:
        f(c), shape (N,).

    Example:
        >>> count_weight(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), alpha=10.0)
        tensor([1.0000, 0.0036])
    """
    m = c.amax(dim=-1)
    return torch.exp(-alpha * (1.0 - m.square()).pow(2.0 * beta))


def class_loss(f: Tensor) -> Tensor:
    r""":math:`L_G^{(class)} = (1 - \frac{1}{b} \sum_{batch} f(c))^2`: rewards clear class assignments.

    Args:
        f: :func:`count_weight` of a batch, shape (b,).

    Returns:
        The loss, a scalar.

    Example:
        >>> class_loss(torch.tensor([1.0, 0.5]))
        tensor(0.0625)
    """
    return (1.0 - f.mean()).square()


def class_shares(c: Tensor, membership: Tensor, hard: bool = True) -> Tensor:
    r"""How much each generated event belongs to each input sample.

    ``hard`` (the seed's reading): 1 when the event's class (the largest entry of c) is one of the
    sample's components, else 0, with the gradient of the soft share
    :math:`w_i(c) = \sum_{j \in C_i} c_j` (a straight-through estimator: the value is the hard
    assignment, the derivative that of the label share, so the labels can learn). ``hard=False``:
    the soft share itself, value and gradient.

    Args:
        c: label vectors, shape (b, K).
        membership: (K, M) 0/1 matrix: component j is part of sample i (the label table).
        hard: hard values with soft gradients, or soft.

    Returns:
        The shares, shape (b, M).

    Example:
        >>> c = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
        >>> table = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # B = (B-S) + S, S = S
        >>> class_shares(c, table)
        tensor([[1., 0.],
                [1., 1.]])
        >>> class_shares(c, table, hard=False)
        tensor([[1.0000, 0.1000],
                [1.0000, 0.8000]])
    """
    soft = c @ membership
    if not hard:
        return soft
    h = ((c == c.amax(dim=-1, keepdim=True)).to(c.dtype) @ membership).clamp_max(1.0)
    return h + (soft - soft.detach())


def norm_loss(f: Tensor, shares: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    r""":math:`L_{G,i}^{(norm)} = (\sum_{c \in C_i} f(c) / \sum_{c \in C_0} f(c) - \sigma_i / \sigma_0)^2` for i > 0.

    An event counts for sample i with its share (:func:`class_shares`): 1 or 0 by its class
    (the seed), with the gradient of its label share.

    Args:
        f: :func:`count_weight` of the labels, shape (b,).
        shares: :func:`class_shares`, shape (b, M).
        targets: :math:`\sigma_i / \sigma_0` for the samples i = 1..M-1, shape (M - 1,).

    Returns:
        The losses (M - 1,) and the ratios :math:`\sum_{C_i} f / \sum_{C_0} f` (M - 1,).

    Example:
        >>> c = torch.tensor([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0], [0.0, 1.0]])
        >>> table = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
        >>> loss, ratio = norm_loss(torch.ones(4), class_shares(c, table), torch.tensor([0.25]))
        >>> ratio, loss  # two of four events are labelled S
        (tensor([0.5000]), tensor([0.0625]))
    """
    counts = (shares * f[:, None]).sum(0)  # (M,)
    ratio = counts[1:] / counts[0].clamp_min(WEIGHT_FLOOR)
    return (ratio - targets).square(), ratio


def fold(u: Tensor) -> Tensor:
    """Reflects values into [-1, 1] (a triangle wave of slope +-1): piecewise linear, so densities keep their shape.

    Example:
        >>> fold(torch.tensor([0.5, 1.25, -1.5, 3.5]))
        tensor([ 0.5000,  0.7500, -0.5000, -0.5000])
    """
    return torch.remainder(u - 1.0, 4.0).sub(2.0).abs().sub(1.0)


def label_table(components: Sequence[str], samples: Mapping[str, Sequence[str]], output: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The seed's label table as matrices.

    Returns:
        membership (K, M): 1 where component j is part of sample i; output (K,): 1 for the output's components.

    Example:
        >>> m, o = label_table(["B-S", "S"], {"B": ["B-S", "S"], "S": ["S"]}, ["B-S"])
        >>> m.tolist(), o.tolist()
        ([[1.0, 0.0], [1.0, 1.0]], [1.0, 0.0])
    """
    comps = list(components)
    m = np.zeros((len(comps), len(samples)))
    for i, parts in enumerate(samples.values()):
        for p in parts:
            m[comps.index(p), i] = 1.0
    o = np.array([1.0 if k in output else 0.0 for k in comps])
    return m, o


# --------------------------------------------------------------------------- networks and task


class _Critic(nn.Module):
    """MLP on the discriminator's features, returning logits (N,)."""

    def __init__(self, n_in: int, hidden: Sequence[int]):
        super().__init__()
        from hepgan.nn import MLP

        self.net = MLP(n_in, 1, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


class SubtractionTask:
    """The subtraction GAN's step list: each discriminator ``n_critic`` times on its own sample, then the generator.

    Networks ``g`` and ``d_<sample>``; steps ``d_<sample>`` (one per input sample, in order) and
    ``g``. Every update draws its own latent noise. Logs: ``roth_<sample>`` (discriminator
    steps); ``adv_<sample>`` (the generator's GAN loss against each discriminator), ``l_class``,
    ``l_norm`` (the sum over samples) and ``ratio_<sample>`` (the counted class ratio of each
    sample i > 0, to be compared with sigma_i / sigma_0).

    Args:
        model: the estimator (hyperparameters, preprocessing, constants on the device).
        networks: ``{"g": ..., "d_<sample>": ...}``.
        validate: ``validate(epoch) -> dict`` of per-epoch metrics, or None.
    """

    def __init__(self, model: SubtractionGAN, networks: dict[str, nn.Module], validate: Callable[[int], dict[str, float]] | None = None):
        self.model = model
        self.networks = networks
        self._validate = validate
        opt_g, opt_d = model._optimizer_specs()
        names = list(model.samples)
        self.first = names[0]
        self.steps = [
            Step(f"d_{s}", f"d_{s}", functools.partial(self.d_loss, s), self.noise, repeat=model.n_critic, optimizer=opt_d) for s in names
        ] + [Step("g", "g", self.g_loss, self.noise, optimizer=opt_g)]

    def validate(self, epoch: int) -> dict[str, float]:
        return self._validate(epoch) if self._validate is not None else {}

    def noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        like = batch[self.first]["x"]
        return {"z": torch.randn(len(like), self.model.latent_dim, generator=gen, device=like.device, dtype=like.dtype)}

    def d_loss(self, sample: str, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import discriminator_bce, roth_penalty

        m, d, b = self.model, self.networks[f"d_{sample}"], batch[sample]
        i = list(m.samples).index(sample)
        w_real = b.get("w")
        with torch.no_grad():
            x_fake, c, _ = m._fake(self.networks["g"], noise["z"])
        w_fake = class_shares(c, m._t["membership"], m.counting == "hard")[:, i].clamp_min(WEIGHT_FLOOR)
        if m.roth_lambda > 0:
            omega, logit_real, logit_fake = roth_penalty(lambda _, v: d(v), None, b["x"], None, x_fake, w_real=w_real, w_fake=w_fake)
            loss = discriminator_bce(logit_real, logit_fake, eps=0.0, w_real=w_real, w_fake=w_fake) + m.roth_lambda * omega
            return loss, {f"roth_{sample}": omega}
        return discriminator_bce(d(b["x"]), d(x_fake), eps=0.0, w_real=w_real, w_fake=w_fake), {}

    def g_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import generator_bce, mmd2

        m = self.model
        x_fake, c, mass = m._fake(self.networks["g"], noise["z"])
        logs: dict[str, Tensor] = {}
        loss = x_fake.new_zeros(())
        shares = class_shares(c, m._t["membership"], m.counting == "hard")
        for i, s in enumerate(m.samples):
            w = shares[:, i].clamp_min(WEIGHT_FLOOR)
            adv = generator_bce(self.networks[f"d_{s}"](x_fake), w)
            logs[f"adv_{s}"] = adv
            loss = loss + adv
            if m.mmd_lambda > 0:
                # the invariant mass of each sample against the generated events of its classes (a narrow resonance)
                mmd = mmd2(batch[s]["m"], mass, [m.mmd_widths], m.mmd_kernel, w_x=batch[s].get("w"), w_y=w)
                logs[f"mmd_{s}"] = mmd
                loss = loss + m.mmd_lambda * mmd
        f = count_weight(c, m.alpha, m.beta)
        l_class = class_loss(f)
        logs["l_class"] = l_class
        loss = loss + m.class_lambda * l_class
        if len(m.samples) > 1:
            l_norm, ratio = norm_loss(f, shares, m._t["targets"])
            logs["l_norm"] = l_norm.sum()
            for s, r in zip(list(m.samples)[1:], ratio):
                logs[f"ratio_{s}"] = r
            loss = loss + m.norm_lambda * l_norm.sum()
        return loss, logs


# --------------------------------------------------------------------------- the estimator


class SubtractionGAN(Estimator):
    r"""A GAN whose output events follow a sum of input samples with signs, e.g. :math:`P_B - P_S` (see the module docstring).

    Args:
        columns: the event columns (generated and compared), e.g. ``["x"]``.
        components: the generator's label classes, e.g. ``["B-S", "S"]``.
        samples: input sample name -> its components (the label table), in order; the first is the
            reference of the normalisation. Names are identifiers (``B``, ``S1``).
        output: the components of the output, e.g. ``["B-S"]``.
        ranges: column -> (lo, hi): generated inside the range (:func:`fold`); others unbounded.
        log_columns: columns transformed by log before the range map or standardisation (> 0).
        particles: names of massless particles whose ``px, py, pz`` are the columns (enables the
            invariant-mass feature of the discriminators and ``pt_balance``); None: generic columns.
        mass_column: with particles, the name of their invariant mass in output tables.
        representation: with particles, what the generator makes: ``momenta`` (the literal output: the
            standardised px, py, pz, with ``pt_balance``; the discriminators also see log m) or
            ``dilepton`` (two massless particles at leading order, zero pair pT: the generator makes
            log m, rapidity, cos theta and phi of the first particle in the pair frame, from which the
            six momenta follow exactly; the discriminators see the same four numbers).
        pt_balance: ``learned`` or ``exact`` (generated transverse momenta projected onto sum pT = 0).
        latent_dim: latent dimension.
        g_hidden, d_hidden: hidden widths of the generator and of every discriminator.
        alpha, beta: of :func:`count_weight`.
        class_lambda, norm_lambda: weights of :math:`L^{(class)}` and :math:`L^{(norm)}`.
        roth_lambda: :math:`\lambda_D` of the Roth et al. regulariser (0: off).
        counting: how a generated event belongs to a sample, in the discriminators' weights and in
            :math:`L^{(norm)}`: ``hard`` (by its class, with soft gradients) or ``soft`` (its label
            share), see :func:`class_shares`.
        mmd_lambda: with particles, the weight of an MMD term (:func:`hepgan.losses.mmd2`) between the
            invariant mass of each input sample and of the generated events of its classes (0: off).
        mmd_widths, mmd_kernel: its kernel widths (GeV) and kernel.
        val_events: generated events per epoch for the validation metric.
        **training: the training hyperparameters of :data:`hepgan.estimator.TRAINING_DEFAULTS`.

    Example:
        >>> from hepgan.samples.toys import subtraction_toy
        >>> data = subtraction_toy("subtraction", 512, seed=1)
        >>> gan = SubtractionGAN(ranges={"x": (1.0, 200.0)}, log_columns=["x"], g_hidden=(8,), d_hidden=(8,),
        ...                      epochs=1, batch_size=256, progress=False, val_events=200)
        >>> gan = gan.fit(data, sigma={"B": 25.2, "S": 5.3})
        >>> gan.subtract(10, seed=1).shape
        (10, 2)
    """

    format: ClassVar[str] = "hepgan.SubtractionGAN"
    format_version: ClassVar[int] = MODEL_FORMAT_VERSION
    kept: ClassVar[dict[str, str]] = {"generator": "g"}
    _repr_params: ClassVar[tuple[str, ...]] = ("columns", "components", "samples", "output", "alpha")

    def __init__(
        self,
        # the events and the seed's label table
        columns: Sequence[str] = ("x",),
        components: Sequence[str] = ("B-S", "S"),
        samples: Mapping[str, Sequence[str]] | None = None,
        output: Sequence[str] = ("B-S",),
        # preprocessing and kinematics
        ranges: Mapping[str, Sequence[float]] | None = None,
        log_columns: Sequence[str] = (),
        particles: Sequence[str] | None = None,
        mass_column: str = "m_ee",
        pt_balance: str = "learned",
        representation: str = "momenta",
        # networks
        latent_dim: int = 4,
        g_hidden: Sequence[int] = (128, 128, 128),
        d_hidden: Sequence[int] = (128, 128, 128),
        # the seed's losses
        alpha: float = 10.0,
        beta: float = 1.0,
        class_lambda: float = 1.0,
        norm_lambda: float = 10.0,
        roth_lambda: float = 5e-5,
        counting: str = "hard",
        mmd_lambda: float = 0.0,
        mmd_widths: Sequence[float] = (2.5, 10.0, 50.0),
        mmd_kernel: str = "breit_wigner",
        val_events: int = 20_000,
        **training: Any,
    ):
        self._store_params(locals())
        self.columns = list(columns)
        self.components = list(components)
        self.samples = {str(k): list(v) for k, v in (samples if samples is not None else {"B": ["B-S", "S"], "S": ["S"]}).items()}
        self.output = list(output)
        self.ranges = {str(k): [float(v) for v in r] for k, r in (ranges or {}).items()}
        self.log_columns = list(log_columns)
        self.particles = None if particles is None else list(particles)
        self.g_hidden, self.d_hidden = list(g_hidden), list(d_hidden)
        self.mmd_widths = [float(w) for w in mmd_widths]

    # ------------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        from hepgan.kinematics import momenta_columns

        super()._validate_params()
        if not self.columns or len(set(self.columns)) != len(self.columns):
            raise ConfigError(f"columns: expected distinct column names, got {self.columns}")
        if len(self.components) < 1 or len(set(self.components)) != len(self.components):
            raise ConfigError(f"components: expected distinct names, got {self.components}")
        if not self.samples:
            raise ConfigError("samples: expected at least one input sample with its components")
        for s, parts in self.samples.items():
            if not _NAME.match(s):
                raise ConfigError(f"samples: '{s}' is not a valid sample name (letters, digits, _; a letter first)")
            bad = [p for p in parts if p not in self.components]
            if not parts or bad:
                raise ConfigError(f"samples.{s}: expected components among {', '.join(self.components)}, got {parts}")
        unused = [k for k in self.components if not any(k in p for p in self.samples.values())]
        if unused:
            raise ConfigError(f"components: '{unused[0]}' is part of no input sample, so nothing constrains it")
        if not self.output or any(k not in self.components for k in self.output):
            raise ConfigError(f"output: expected components among {', '.join(self.components)}, got {self.output}")
        for col, r in self.ranges.items():
            if col not in self.columns:
                raise ConfigError(f"ranges: '{col}' is not one of the columns {self.columns}")
            if len(r) != 2 or not (np.isfinite(r).all() and r[0] < r[1]) or (col in self.log_columns and r[0] <= 0):
                raise ConfigError(f"ranges.{col}: expected [lo, hi] with lo < hi (lo > 0 for a log column), got {r}")
        for col in self.log_columns:
            if col not in self.columns:
                raise ConfigError(f"log_columns: '{col}' is not one of the columns {self.columns}")
        if self.particles is not None:
            want = momenta_columns(self.particles, "pxpypz")
            if self.columns != want:
                raise ConfigError(f"columns: with particles {self.particles} expected {want}, got {self.columns}")
            if any(c in self.ranges or c in self.log_columns for c in self.columns):
                raise ConfigError("ranges, log_columns: momentum columns of particles are standardised, not mapped")
        check_choice("pt_balance", self.pt_balance, ("learned", "exact"))
        check_choice("representation", self.representation, ("momenta", "dilepton"))
        if self.representation == "dilepton" and (self.particles is None or len(self.particles) != 2):
            raise ConfigError(f"representation: dilepton needs two particles, got {self.particles}")
        if self.pt_balance == "exact" and self.particles is None:
            raise ConfigError("pt_balance: exact needs particles (whose transverse momenta are balanced)")
        check_choice("counting", self.counting, ("soft", "hard"))
        check_number("mmd_lambda", self.mmd_lambda, 0.0)
        check_choice("mmd_kernel", self.mmd_kernel, ("gaussian", "breit_wigner"))
        if self.mmd_lambda > 0:
            if self.particles is None:
                raise ConfigError("mmd_lambda: the MMD term compares invariant masses and needs particles")
            if not self.mmd_widths or any(not (isinstance(w, (int, float)) and w > 0) for w in self.mmd_widths):
                raise ConfigError(f"mmd_widths: expected kernel widths > 0 (GeV), got {list(self.mmd_widths)}")
        check_int("latent_dim", self.latent_dim)
        check_int("val_events", self.val_events, 10)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            if not v or any(not isinstance(h, (int, np.integer)) or h < 1 for h in v):
                raise ConfigError(f"{name}: expected a non-empty list of positive widths, got {v}")
        check_number("alpha", self.alpha, 0.0, low_open=True)
        check_number("beta", self.beta, 0.0, low_open=True)
        for name in ("class_lambda", "norm_lambda", "roth_lambda"):
            check_number(name, getattr(self, name), 0.0)

    # ------------------------------------------------------------------ preprocessing
    @property
    def _dilepton(self) -> bool:
        return self.particles is not None and self.representation == "dilepton"

    def _fit_preprocessing(self, frames: Mapping[str, pd.DataFrame]) -> None:
        """Per-column maps to the discriminators' space, fitted on all input samples together."""
        pooled = np.concatenate([self._columns_of(df, s) for s, df in frames.items()])
        self.mass_ = None
        if self._dilepton:
            r = self._represent(pooled, "the input samples")
            std = float(r[:, 1].std()) or 1.0
            self.pre_ = [
                {"kind": "range", "log": False, "lo": float(r[:, 0].min()), "hi": float(r[:, 0].max())},  # log m
                {"kind": "standard", "log": False, "mean": float(r[:, 1].mean()), "std": std},  # rapidity
                {"kind": "range", "log": False, "lo": -1.0, "hi": 1.0},  # cos theta
                {"kind": "range", "log": False, "lo": -float(np.pi), "hi": float(np.pi)},  # phi
            ]
            return
        pre = []
        for j, col in enumerate(self.columns):
            v = pooled[:, j]
            log_ = col in self.log_columns
            if log_:
                if (v <= 0).any():
                    raise SchemaError(f"column '{col}': log_columns needs values > 0")
                v = np.log(v)
            if col in self.ranges:
                lo, hi = self.ranges[col]
                pre.append({"kind": "range", "log": log_, "lo": float(np.log(lo) if log_ else lo), "hi": float(np.log(hi) if log_ else hi)})
            else:
                std = float(v.std())
                pre.append({"kind": "standard", "log": log_, "mean": float(v.mean()), "std": std if std > 0 else 1.0})
        self.pre_ = pre
        if self.particles is not None:
            lm = np.log(np.maximum(self._mass_np(pooled), 1e-6))
            self.mass_ = {"mean": float(lm.mean()), "std": float(lm.std()) or 1.0}

    def _columns_of(self, df: Any, what: str) -> np.ndarray:
        if isinstance(df, pd.DataFrame):
            missing = [c for c in self.columns if c not in df.columns]
            if missing:
                raise SchemaError(f"sample {what}: missing column '{missing[0]}'")
            x = df[self.columns].to_numpy(np.float64)
        else:
            x = np.asarray(df, dtype=np.float64)
            if x.ndim == 1 and len(self.columns) == 1:
                x = x[:, None]
            if x.ndim != 2 or x.shape[1] != len(self.columns):
                raise SchemaError(f"sample {what}: expected an array of shape (N, {len(self.columns)}), got {x.shape}")
        if not np.isfinite(x).all():
            raise SchemaError(f"sample {what}: NaN or inf values")
        return x

    def _mass_np(self, x: np.ndarray) -> np.ndarray:
        p = x.reshape(len(x), -1, 3)
        e = np.linalg.norm(p, axis=-1).sum(1)
        return np.sqrt(np.maximum(e**2 - np.square(p.sum(1)).sum(-1), 0.0))

    def _represent(self, x: np.ndarray, what: str) -> np.ndarray:
        """(N, 6) momenta of two massless particles with no pair pT -> (N, 4) log m, y, cos theta, phi of
        the first particle in the pair rest frame (reached by a boost along z)."""
        p1, p2 = x[:, :3], x[:, 3:]
        e1 = np.linalg.norm(p1, axis=1)
        e, pz = e1 + np.linalg.norm(p2, axis=1), p1[:, 2] + p2[:, 2]
        if (np.hypot(p1[:, 0] + p2[:, 0], p1[:, 1] + p2[:, 1]) > 1e-6 * np.maximum(e, 1.0)).any():
            raise SchemaError(f"{what}: representation dilepton needs pairs without transverse momentum (leading order)")
        m = np.sqrt(np.maximum(e**2 - pz**2, 1e-12))
        y = 0.5 * np.log((e + pz) / (e - pz))
        pz_star = (e * p1[:, 2] - pz * e1) / m  # the boost along z with beta = pz / e
        cos = np.clip(pz_star / np.maximum(np.sqrt(np.square(p1[:, :2]).sum(1) + pz_star**2), 1e-12), -1.0, 1.0)
        return np.column_stack([np.log(m), y, cos, np.arctan2(p1[:, 1], p1[:, 0])])

    @staticmethod
    def _momenta(r: np.ndarray) -> np.ndarray:
        """(N, 4) log m, y, cos theta, phi -> (N, 6) px, py, pz of both massless particles (the inverse of _represent)."""
        half, y, cos, phi = np.exp(r[:, 0]) / 2, r[:, 1], np.clip(r[:, 2], -1.0, 1.0), r[:, 3]
        sin = np.sqrt(1.0 - cos**2)
        px, py = half * sin * np.cos(phi), half * sin * np.sin(phi)
        ch, sh = np.cosh(y), np.sinh(y)
        return np.column_stack([px, py, half * (cos * ch + sh), -px, -py, half * (-cos * ch + sh)])

    def _to_features(self, x: np.ndarray, what: str) -> np.ndarray:
        """(N, X) physical -> (N, F) the discriminators' features (float64)."""
        out = []
        names = ["log m", "rapidity", "cos theta", "phi"] if self._dilepton else self.columns
        if self._dilepton:
            x = self._represent(x, f"sample {what}")
        for j, p in enumerate(self.pre_):
            v = np.log(x[:, j]) if p["log"] else x[:, j]
            if p["kind"] == "range":
                if ((v < p["lo"] - 1e-9) | (v > p["hi"] + 1e-9)).any():
                    span = self.ranges.get(names[j], [float(np.exp(p["lo"])), float(np.exp(p["hi"]))] if p["log"] else [p["lo"], p["hi"]])
                    raise SchemaError(f"sample {what}: column '{names[j]}' has values outside its range {span}")
                out.append(2.0 * (v - p["lo"]) / (p["hi"] - p["lo"]) - 1.0)
            else:
                out.append((v - p["mean"]) / p["std"])
        if self.mass_ is not None:
            out.append((np.log(np.maximum(self._mass_np(x), 1e-6)) - self.mass_["mean"]) / self.mass_["std"])
        return np.column_stack(out)

    def _buffers(self, device: torch.device) -> None:
        f = torch.float32
        membership, output = label_table(self.components, self.samples, self.output)
        sig = [self.sigma_[s] for s in self.samples]
        std = [p.get("std", 1.0) for p in self.pre_]
        mean = [p.get("mean", 0.0) for p in self.pre_]
        self._t = {
            "membership": torch.as_tensor(membership, dtype=f, device=device),
            "output": torch.as_tensor(output, dtype=torch.bool, device=device),
            "targets": torch.as_tensor([s / sig[0] for s in sig[1:]], dtype=f, device=device),
            "ranged": torch.as_tensor([p["kind"] == "range" for p in self.pre_], device=device),
            "mean": torch.as_tensor(mean, dtype=f, device=device),
            "std": torch.as_tensor(std, dtype=f, device=device),
        }

    def _fake(self, g: nn.Module, z: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Latent noise (b, latent_dim) -> the discriminators' features (b, F), the labels c (b, K) and,
        with particles, their invariant mass in GeV (b,) (None without)."""
        o = g(z)
        n = len(self.pre_)
        u, c = o[:, :n], torch.softmax(o[:, n:], dim=-1)
        t = self._t
        u = torch.where(t["ranged"], fold(u), u)
        if self.particles is None:
            return u, c, None
        if self._dilepton:
            lo, hi = self.pre_[0]["lo"], self.pre_[0]["hi"]
            return u, c, torch.exp(lo + (u[:, 0] + 1.0) / 2.0 * (hi - lo))
        p = (u * t["std"].to(u.dtype) + t["mean"].to(u.dtype)).view(len(u), -1, 3)
        if self.pt_balance == "exact":
            p = torch.cat([p[..., :2] - p[..., :2].mean(dim=1, keepdim=True), p[..., 2:]], dim=-1)
        u = (p.flatten(1) - t["mean"].to(u.dtype)) / t["std"].to(u.dtype)
        e = torch.sqrt(p.square().sum(-1).clamp_min(1e-12)).sum(1)
        m2 = e.square() - p.sum(1).square().sum(-1)
        lm = 0.5 * torch.log(m2.clamp_min(1e-12))
        return torch.cat([u, ((lm - self.mass_["mean"]) / self.mass_["std"]).unsqueeze(-1)], dim=1), c, torch.exp(lm)

    def _from_features(self, u: np.ndarray) -> np.ndarray:
        """(N, F) features -> (N, X) physical columns (float64)."""
        out = []
        for j, p in enumerate(self.pre_):
            if p["kind"] == "range":
                v = p["lo"] + (np.clip(u[:, j], -1.0, 1.0) + 1.0) / 2.0 * (p["hi"] - p["lo"])
            else:
                v = u[:, j] * p["std"] + p["mean"]
            out.append(np.exp(v) if p["log"] else v)
        return self._momenta(np.column_stack(out)) if self._dilepton else np.column_stack(out)

    def _build_networks(self) -> dict[str, nn.Module]:
        from hepgan.nn import MLP, init_parameters

        n_gen = len(self.pre_)  # the generated columns (four with the dilepton representation)
        n_feat = n_gen + (1 if self.particles is not None and not self._dilepton else 0)
        nets: dict[str, nn.Module] = {"g": MLP(self.latent_dim, n_gen + len(self.components), self.g_hidden)}
        for s in self.samples:
            nets[f"d_{s}"] = _Critic(n_feat, self.d_hidden)
        gen = torch.Generator().manual_seed(seed_from(self.seed, 1))
        for net in nets.values():
            init_parameters(net, gen)
        return nets

    def _optimizer_specs(self) -> tuple[OptimizerSpec, OptimizerSpec]:
        # Adam with beta1 = 0.5, the usual GAN setting (the paper used Adam)
        opts = {"betas": (0.5, 0.9)} if self.optimizer == "adam" else {}
        return OptimizerSpec(self.optimizer, self.lr, opts), OptimizerSpec(self.optimizer, self.lr_d or self.lr, opts)

    # ------------------------------------------------------------------ fit
    def _check_inputs(self, samples: Mapping[str, Any], sigma: Mapping[str, float]) -> None:
        missing = [s for s in self.samples if s not in samples]
        if missing:
            raise SchemaError(f"fit: no events for input sample '{missing[0]}' (samples: {', '.join(self.samples)})")
        for s in self.samples:
            if s not in sigma or not (isinstance(sigma[s], (int, float, np.floating)) and np.isfinite(sigma[s]) and sigma[s] > 0):
                raise ConfigError(f"sigma.{s}: expected a cross section > 0, got {sigma.get(s)!r}")

    def check_inputs(self, samples: Mapping[str, Any], sigma: Mapping[str, float]) -> dict[str, np.ndarray]:
        """Checks the hyperparameters, the input samples and cross sections and fits the preprocessing
        (what :meth:`fit` does before it trains; a run calls it before it writes anything).

        Returns:
            sample name -> (N, X) physical columns.

        Raises:
            ConfigError: a bad hyperparameter or cross section.
            SchemaError: a missing column, NaN or inf, too few events, values outside a range.
        """
        return self._checked(samples, sigma)[0]

    def _checked(self, samples: Mapping[str, Any], sigma: Mapping[str, float]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """:meth:`check_inputs`, returning the physical columns and the discriminators' features of every sample."""
        self._validate_params()
        self._check_inputs(samples, sigma)
        self.sigma_ = {s: float(sigma[s]) for s in self.samples}
        x = {s: self._columns_of(samples[s], s) for s in self.samples}
        for s, v in x.items():
            if len(v) < 2:
                raise SchemaError(f"sample {s}: fit needs at least 2 events, got {len(v)}")
        self._fit_preprocessing(x)
        return x, {s: self._to_features(v, s) for s, v in x.items()}

    def _prepare(
        self,
        samples: Mapping[str, Any],
        sigma: Mapping[str, float],
        weights: Mapping[str, Any] | None = None,
        validation: Mapping[str, Any] | None = None,
        bootstrap: int | None = None,
    ) -> tuple[SubtractionTask, dict[str, Sample], Any]:
        """Checks the inputs, fits the preprocessing and builds (task, data, loop settings).

        ``bootstrap``: a seed; each sample's training events are then a bootstrap replica
        (drawn with replacement, same size). The preprocessing is fitted on the given events.
        """
        x, features = self._checked(samples, sigma)
        data = {}
        for k, s in enumerate(self.samples):
            feats = features[s]
            w = None if weights is None or weights.get(s) is None else np.array(weights[s], dtype=np.float64)
            if w is not None and (w.shape != (len(feats),) or not np.isfinite(w).all()):
                raise SchemaError(f"weights.{s}: expected {len(feats)} finite weights")
            if bootstrap is not None:
                idx = np.random.default_rng([bootstrap, k]).integers(0, len(feats), len(feats))
                feats, w = feats[idx], (None if w is None else w[idx])
            tensors = {"x": torch.as_tensor(feats, dtype=torch.float32)}
            if self.mmd_lambda > 0:
                tensors["m"] = torch.as_tensor(self._mass_np(x[s] if bootstrap is None else x[s][idx]), dtype=torch.float32)
            if w is not None:
                tensors["w"] = torch.as_tensor(w, dtype=torch.float32)
            data[s] = Sample(tensors)
        nets = self._build_networks()
        self.device_ = resolve_device(self.device)
        self._buffers(self.device_)
        self.generator_ = nets["g"]  # the validation samples from it during training
        val_fn = None
        if validation is not None:
            val_fn = self._make_validation({s: self._columns_of(validation[s], f"{s} (validation)") for s in self.samples})
        settings = self._train_settings(SELECTION if val_fn is not None else Selection())
        return SubtractionTask(self, nets, val_fn), data, settings

    def fit(
        self,
        samples: Mapping[str, Any],
        sigma: Mapping[str, float],
        weights: Mapping[str, Any] | None = None,
        validation: Mapping[str, Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> SubtractionGAN:
        """Trains on the input samples.

        Args:
            samples: sample name -> events: a DataFrame with the columns, or an array (N, X).
            sigma: sample name -> cross section (any unit, the same for all; only the ratios enter).
            weights: sample name -> (N,) event weights, or None.
            validation: sample name -> validation events, for the per-epoch metric and the kept epoch
                (None: the last epoch is kept).
            run_dir: folder for checkpoints; needed for ``resume``.
            resume: continue an interrupted fit from run_dir's checkpoint.

        Returns:
            self, with ``history_`` and ``best_epoch_``.
        """
        task, data, settings = self._prepare(samples, sigma, weights, validation)
        self._train(task, data, settings, run_dir=run_dir, resume=resume)
        return self

    def _make_validation(self, val: Mapping[str, np.ndarray]) -> Callable[[int], dict[str, float]]:
        """Per-epoch metric of val_events generated events (fixed noise) against the validation samples."""
        from hepgan.metrics.distances import wasserstein_1d

        obs = {s: self._observables(v) for s, v in val.items()}
        scale = {s: {k: max(float(np.subtract(*np.quantile(v, [0.75, 0.25]))), 1e-9) for k, v in o.items()} for s, o in obs.items()}
        seed = seed_from(self.seed, 4)
        membership, _ = label_table(self.components, self.samples, self.output)
        targets = {s: self.sigma_[s] / self.sigma_[next(iter(self.samples))] for s in self.samples}

        def validate(epoch: int) -> dict[str, float]:
            x, k = self._generate(self.val_events, seed)
            member = membership[k] > 0  # (N, M)
            out: dict[str, float] = {}
            w1s, errs = [], []
            for i, s in enumerate(self.samples):
                sel = member[:, i]
                if sel.sum() < 2:
                    w1s.append(1.0)
                    continue
                gen = self._observables(x[sel])
                w1s += [wasserstein_1d(obs[s][c], gen[c]) / scale[s][c] for c in obs[s]]
                if i > 0:
                    r = sel.sum() / max(member[:, 0].sum(), 1)
                    out[f"ratio_{s}_val"] = float(r)
                    errs.append(abs(r - targets[s]) / targets[s])
            out["w1_val"] = float(np.mean(w1s))
            out["ratio_err_val"] = float(np.mean(errs)) if errs else 0.0
            out["metric_val"] = out["w1_val"] + out["ratio_err_val"]
            return out

        return validate

    def _observables(self, x: np.ndarray) -> dict[str, np.ndarray]:
        obs = {c: x[:, j] for j, c in enumerate(self.columns)}
        if self.particles is not None:
            obs["mass"] = self._mass_np(x)
        return obs

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def _generate(self, n: int, seed: int, batch_size: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
        """n generated events: (n, X) physical columns and (n,) class index (argmax of c)."""
        self._check_fitted()
        device = current_device(self)
        if getattr(self, "_t", {}).get("membership") is None or self._t["membership"].device != device:
            self._buffers(device)
        # no dropout and no batch statistics: the network is the same in train and eval mode
        g, gen = self.generator_.to(device), torch.Generator(device=device).manual_seed(seed_from(seed, 7))
        xs, ks = [], []
        for i in range(0, int(n), batch_size):
            u, c, _ = self._fake(g, torch.randn(min(batch_size, int(n) - i), self.latent_dim, generator=gen, device=device))
            xs.append(u[:, : len(self.pre_)].double().cpu().numpy())
            ks.append(c.argmax(dim=-1).cpu().numpy())
        u = np.concatenate(xs) if xs else np.zeros((0, len(self.pre_)))
        return self._from_features(u), (np.concatenate(ks) if ks else np.zeros(0, dtype=np.int64))

    def _check_n(self, n: Any) -> None:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"events: expected an integer >= 0, got {n!r}")

    def table(self, x: np.ndarray) -> pd.DataFrame:
        """The event table of physical columns (N, X): the columns and ``weight`` (1); with particles every
        four-momentum column, pT, eta, phi and the invariant mass ``mass_column``."""
        if self.particles is None:
            df = pd.DataFrame(x, columns=self.columns)
            df["weight"] = 1.0
            return df
        from hepgan.kinematics import event_table, on_shell

        p4 = on_shell(x.reshape(len(x), -1, 3), np.zeros(len(self.particles)))
        return event_table(p4, self.particles, {self.mass_column: tuple(range(len(self.particles)))})

    def generate(self, n: int, seed: int | None = None) -> pd.DataFrame:
        """n generated events of every class: the columns and ``component`` (the name of the event's class).

        Args:
            n: number of events.
            seed: seed of the latent noise (None: fresh entropy).
        """
        self._check_n(n)
        seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
        x, k = self._generate(n, seed)
        df = self.table(x)
        df["component"] = np.asarray(self.components, dtype=object)[k] if len(k) else np.zeros(0, dtype=object)
        return df

    def subtract(self, n: int, seed: int | None = None, batch_size: int = 262_144) -> pd.DataFrame:
        """n unweighted events of the output (e.g. B - S): generated events whose class is an output component.

        Args:
            n: number of output events.
            seed: seed of the latent noise (None: fresh entropy).
            batch_size: events generated per round (rounds repeat until n output events exist).

        Returns:
            DataFrame (n rows): the columns (with particles: every four-momentum column and the
            invariant mass) and ``weight`` (1). The output cross section is
            :meth:`output_cross_section`.
        """
        self._check_n(n)
        seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
        out_mask = label_table(self.components, self.samples, self.output)[1] > 0
        kept, have, r = [], 0, 0
        while have < n:
            x, k = self._generate(batch_size, seed_from(seed, 100 + r))
            sel = x[out_mask[k]]
            kept.append(sel)
            have += len(sel)
            r += 1
            if r == 20 and have == 0:
                raise ConfigError("subtract: the generator labels no event as an output component")
        x = np.concatenate(kept)[:n] if kept else np.zeros((0, len(self.columns)))
        return self.table(x)

    def class_counts(self, n: int = 1_000_000, seed: int = 0) -> dict[str, int]:
        """Generated events per class (argmax of c) among n."""
        _, k = self._generate(n, seed)
        return {c: int(v) for c, v in zip(self.components, np.bincount(k, minlength=len(self.components)))}

    def output_cross_section(self, n: int = 1_000_000, seed: int = 0) -> float:
        r"""The output's cross section from the generated class counts, :math:`\sigma_0 N_{out} / N_{C_0}` (units of ``sigma``)."""
        counts = self.class_counts(n, seed)
        first = next(iter(self.samples))
        n_ref = sum(counts[k] for k in self.samples[first])
        return self.sigma_[first] * sum(counts[k] for k in self.output) / max(n_ref, 1)

    # ------------------------------------------------------------------ files
    def _fitted_meta(self) -> dict[str, Any]:
        return {"preprocessing": {"columns": self.pre_, "mass": self.mass_}, "sigma": self.sigma_}

    def _restore_fitted(self, meta: dict[str, Any]) -> None:
        self.pre_ = list(meta["preprocessing"]["columns"])
        self.mass_ = meta["preprocessing"]["mass"]
        self.sigma_ = {str(k): float(v) for k, v in meta["sigma"].items()}

    def _after_load(self) -> None:
        self._buffers(self.device_)


def fit_ensemble(
    models: Sequence[SubtractionGAN],
    samples: Mapping[str, Any],
    sigma: Mapping[str, float],
    weights: Mapping[str, Any] | None = None,
    validation: Mapping[str, Any] | None = None,
    bootstrap: bool = True,
    progress: bool = True,
) -> list[SubtractionGAN]:
    """Trains K subtraction GANs at once (:func:`hepgan.training.scan.train_scan`): an ensemble.

    Members should differ in ``seed`` (initial weights, batches, noise); with ``bootstrap`` member 0
    trains on the samples themselves and every other member on its own bootstrap replica of each
    input sample (seeded from its seed), so that the spread of members 1..K-1 estimates the
    statistical uncertainty of member 0's output (inputs and training noise).
    Members with equal hyperparameters are vectorised together.

    Args:
        models: unfitted models.
        samples, sigma, weights, validation: as for :meth:`SubtractionGAN.fit`.
        bootstrap: bootstrap replicas of the inputs for members 1..K-1 (False: every member sees the same events).
        progress: progress bars.

    Returns:
        The fitted models (the same objects).
    """
    from hepgan.training.scan import train_scan

    prepared = [m._prepare(samples, sigma, weights, validation, bootstrap=seed_from(m.seed, 9) if bootstrap and i > 0 else None)
                for i, m in enumerate(models)]  # fmt: skip
    histories = train_scan([p[0] for p in prepared], [p[1] for p in prepared], [p[2] for p in prepared], progress=progress)
    for m, p, h in zip(models, prepared, histories):
        m._finish(h, p[0])
    return list(models)
