r"""Dataset scaling with a WGAN-GP (seed 004; Gulrajani et al., arXiv:1704.00028): many events from few.

A generator maps latent noise :math:`z \sim N(0, 1)` (16 dimensions) to the event's features
(18 for the Z gamma study); a critic scores events. Losses (seed 004):

.. math::
    L_C = \mathbb{E}[C(G(z))] - \mathbb{E}[C(x)] + \lambda\,\mathbb{E}_{\hat x}\big[(\lVert\nabla_{\hat x} C(\hat x)\rVert_2 - 1)^2\big],
    \qquad L_G = -\mathbb{E}[C(G(z))],

the critic updated ``n_critic`` times per generator update, Adam with betas (0, 0.9). The seed's
networks: generator 16 -> 512 -> 1024 -> 512 -> 18, critic 18 -> 512 -> 512 -> 512 -> 1, ReLU; its
gradient-penalty weight :math:`\lambda = 0.001` (the paper of WGAN-GP uses 10; both are configs).

Preprocessing (``scaling``): ``minmax`` (the seed's) maps each feature to [0, 1] with the training
sample's minimum and maximum; ``quantile`` maps it through its empirical CDF and the inverse normal CDF
to N(0, 1) (:class:`hepgan.preprocessing.TablePreprocessor`). Integer features (``discrete_columns``,
e.g. the jet counts) are dequantised (k -> k + U[0, 1)) before either, and floored back after
generation, as in the background method. With ``minmax``, generated events with a feature outside the
training range are dropped and redrawn: the range is a selection (the m_llg window is one), and clipping
would pile such events up at its edges; ``sample`` records the share kept in ``acceptance_``. (``quantile``
cannot leave the range.)

Every epoch the generator makes ``val_events`` events from fixed noise; the kept epoch has the lowest
``w1_val``, the mean over the features of the Wasserstein-1 distance to the validation events divided
by their standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from hepgan.estimator import Estimator, check_choice, check_int, check_number, current_device, seed_from
from hepgan.exceptions import ConfigError, SampleError, SchemaError
from hepgan.training.record import Selection
from hepgan.training.task import AdversarialTask, OptimizerSpec, Sample

__all__ = ["TableWGAN", "TableWGANTask", "SELECTION", "MODEL_FORMAT_VERSION", "SCALINGS", "w1_over_std"]

MODEL_FORMAT_VERSION = 1
SELECTION = Selection("w1_val", "min", "mean W1/std")
SCALINGS = ("minmax", "quantile")


def w1_over_std(a: np.ndarray, b: np.ndarray, columns: Sequence[str]) -> dict[str, float]:
    """Per column: the Wasserstein-1 distance between samples ``a`` (reference) and ``b``, over the reference's std.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = w1_over_std(rng.normal(0, 2, (20000, 1)), rng.normal(1, 2, (20000, 1)), ["x"])
        >>> round(d["x"], 1)
        0.5
    """
    from scipy.stats import wasserstein_distance

    out = {}
    for j, c in enumerate(columns):
        sd = float(np.std(a[:, j]))
        out[c] = float(wasserstein_distance(a[:, j], b[:, j])) / (sd if sd > 0 else 1.0)
    return out


class TableWGANTask(AdversarialTask):
    """Critic ``n_critic`` times (Wasserstein loss + gradient penalty), then generator, on the sample "train"."""

    def __init__(self, model: TableWGAN, g: nn.Module, d: nn.Module, val: Callable[[int], dict[str, float]] | None):
        spec_g = OptimizerSpec("adam", model.lr, {"betas": tuple(model.betas)})
        spec_d = OptimizerSpec("adam", model.lr_d or model.lr, {"betas": tuple(model.betas)})
        super().__init__(g, d, model.n_critic, spec_g, spec_d, validate=val)
        self.model = model

    def _z(self, like: Tensor, gen: torch.Generator) -> Tensor:
        return torch.randn(len(like), self.model.latent_dim, generator=gen, device=like.device, dtype=like.dtype)

    def _score(self, c, x: Tensor) -> Tensor:
        return self.networks["d"](x).squeeze(-1)

    def d_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        x = batch["train"]["x"]
        return {"z": self._z(x, gen), "alpha": torch.rand(len(x), 1, generator=gen, device=x.device, dtype=x.dtype)}

    def d_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import wasserstein_critic, wgan_gp_penalty

        x = batch["train"]["x"]
        with torch.no_grad():
            fake = self.networks["g"](noise["z"])
        w = wasserstein_critic(self._score(None, x), self._score(None, fake))
        gp = wgan_gp_penalty(self._score, None, x, fake, alpha=noise["alpha"])
        return w + self.model.gp_lambda * gp, {"gp_train": gp, "w_distance_train": -w}

    def g_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        return {"z": self._z(batch["train"]["x"], gen)}

    def g_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import wasserstein_generator

        return wasserstein_generator(self._score(None, self.networks["g"](noise["z"]))), {}


class TableWGAN(Estimator):
    """A WGAN-GP that learns a table of event features and makes as many events as asked.

    Args:
        columns: the feature columns, in order.
        discrete_columns: integer-valued columns among them (dequantised in training, floored when generated).
        scaling: ``minmax`` (the seed's) or ``quantile`` (see the module docstring).
        latent_dim, g_hidden, d_hidden: the networks (ReLU).
        gp_lambda: the gradient-penalty weight.
        betas: Adam's betas of both networks.
        val_events: generated events per epoch for ``w1_val``.
        **training: ``lr`` (1e-4), ``batch_size`` (128), ``n_critic`` (5), ``epochs``, ``seed`` and the
            other keywords of :data:`hepgan.estimator.TRAINING_DEFAULTS`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"a": rng.normal(5, 1, 512), "n": rng.integers(0, 3, 512).astype(float)})
        >>> gan = TableWGAN(["a", "n"], discrete_columns=["n"], g_hidden=[16], d_hidden=[16], epochs=2, progress=False).fit(df)
        >>> out = gan.sample(100, seed=1)
        >>> list(out.columns), bool(np.all(out.n == np.floor(out.n)))
        (['a', 'n'], True)
    """

    format: ClassVar[str] = "hepgan.TableWGAN"
    format_version: ClassVar[int] = MODEL_FORMAT_VERSION
    kept: ClassVar[dict[str, str]] = {"generator": "g"}
    training_defaults: ClassVar[dict[str, Any]] = {**Estimator.training_defaults, "lr": 1e-4, "batch_size": 128, "n_critic": 5}
    _repr_params: ClassVar[tuple[str, ...]] = ("columns", "scaling", "gp_lambda", "latent_dim")

    def __init__(
        self,
        columns: Sequence[str],
        discrete_columns: Sequence[str] = (),
        scaling: str = "minmax",
        latent_dim: int = 16,
        g_hidden: Sequence[int] = (512, 1024, 512),
        d_hidden: Sequence[int] = (512, 512, 512),
        gp_lambda: float = 0.001,
        betas: Sequence[float] = (0.0, 0.9),
        val_events: int = 10_000,
        **training: Any,
    ):
        self._store_params(locals())
        self.columns, self.discrete_columns = list(columns), list(discrete_columns)
        self.g_hidden, self.d_hidden, self.betas = list(g_hidden), list(d_hidden), [float(b) for b in betas]

    def _validate_params(self) -> None:
        super()._validate_params()
        if not self.columns or len(set(self.columns)) != len(self.columns):
            raise ConfigError(f"columns: expected distinct column names, got {self.columns}")
        bad = [c for c in self.discrete_columns if c not in self.columns]
        if bad:
            raise ConfigError(f"discrete_columns: '{bad[0]}' is not among the columns ({', '.join(self.columns)})")
        check_choice("scaling", self.scaling, SCALINGS)
        for name in ("latent_dim", "val_events"):
            check_int(name, getattr(self, name))
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            if not v or any(not isinstance(h, int) or h < 1 for h in v):
                raise ConfigError(f"{name}: expected a non-empty list of widths >= 1, got {v}")
        check_number("gp_lambda", self.gp_lambda, 0.0)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas: expected two numbers in [0, 1), got {self.betas}")

    def _build_networks(self) -> dict[str, nn.Module]:
        from hepgan.nn import MLP, init_parameters

        d = len(self.columns)
        g = MLP(self.latent_dim, d, self.g_hidden, activation="relu")
        c = MLP(d, 1, self.d_hidden, activation="relu")
        gen = torch.Generator().manual_seed(seed_from(self.seed, 1))
        init_parameters(g, gen)
        init_parameters(c, gen)
        return {"g": g, "d": c}

    # ------------------------------------------------------------------ preprocessing
    def _table(self, events: Any, what: str) -> np.ndarray:
        if isinstance(events, pd.DataFrame):
            missing = [c for c in self.columns if c not in events.columns]
            if missing:
                raise SchemaError(f"{what}: missing column '{missing[0]}'")
            x = events[self.columns].to_numpy(np.float64)
        else:
            x = np.asarray(events, dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != len(self.columns):
                raise SchemaError(f"{what}: expected shape (N, {len(self.columns)}), got {x.shape}")
        if not np.isfinite(x).all():
            bad = self.columns[int(np.flatnonzero(~np.isfinite(x).all(0))[0])]
            raise SchemaError(f"{what}: column '{bad}' has NaN or inf values")
        for j, c in enumerate(self.columns):
            if c in self.discrete_columns and np.any(x[:, j] != np.round(x[:, j])):
                raise SchemaError(f"{what}: column '{c}' is declared discrete but holds non-integer values")
        return x

    def _fit_scaling(self, x: np.ndarray, rng: np.random.Generator) -> None:
        disc = np.array([c in self.discrete_columns for c in self.columns])
        self.lo_ = x.min(0)
        self.hi_ = x.max(0) + disc  # a discrete k is dequantised into [k, k + 1)
        if self.scaling == "quantile":
            from hepgan.preprocessing import TablePreprocessor

            self.pre_ = TablePreprocessor(self.columns, self.discrete_columns, n_quantiles=1000).fit(x, rng)

    def _scaled(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Physical (N, D) -> the networks' space (discrete columns dequantised, once per fit)."""
        from scipy.special import ndtri

        if self.scaling == "quantile":
            u = self.pre_.transform(x, rng)
            return ndtri(np.clip(u, 1e-6, 1 - 1e-6))
        disc = np.array([c in self.discrete_columns for c in self.columns])
        x = x + disc * rng.random(x.shape)
        return (x - self.lo_) / np.where(self.hi_ > self.lo_, self.hi_ - self.lo_, 1.0)

    def _physical(self, y: np.ndarray) -> np.ndarray:
        """The networks' space -> physical (clipped to the training range; discrete columns floored)."""
        from scipy.special import ndtr

        if self.scaling == "quantile":
            return self.pre_.inverse_transform(np.clip(ndtr(y), 0.0, 1.0))
        x = self.lo_ + np.clip(y, 0.0, 1.0) * (self.hi_ - self.lo_)
        disc = np.array([c in self.discrete_columns for c in self.columns])
        x[:, disc] = np.minimum(np.floor(x[:, disc]), self.hi_[disc] - 1)
        return x

    # ------------------------------------------------------------------ API
    def fit(self, events: Any, validation: Any = None, run_dir: str | Path | None = None, resume: bool = False) -> TableWGAN:
        """Trains on ``events`` (a DataFrame with the columns, or an (N, D) array); ``validation`` (same form)
        picks the kept epoch by ``w1_val`` (None: the last epoch)."""
        task, data, settings = self._prepare(events, validation)
        self._train(task, data, settings, run_dir=run_dir, resume=resume)
        return self

    def _prepare(self, events: Any, validation: Any = None) -> tuple[TableWGANTask, dict[str, Sample], Any]:
        """The training task, data and loop settings of a fit (the preprocessing is fitted here)."""
        self._validate_params()
        x = self._table(events, "training events")
        if len(x) < 2:
            raise SchemaError(f"training events: expected at least 2 events, got {len(x)}")
        rng = np.random.default_rng(seed_from(self.seed, 2))
        self._fit_scaling(x, rng)
        nets = self._build_networks()
        data = {"x": torch.as_tensor(self._scaled(x, rng), dtype=torch.float32)}
        val_fn = None
        if validation is not None:
            xv = self._table(validation, "validation events")
            val_fn = self._make_validation(nets["g"], xv)
        settings = self._train_settings(SELECTION if val_fn is not None else Selection(), epoch_sample="train")
        return TableWGANTask(self, nets["g"], nets["d"], val_fn), {"train": Sample(data)}, settings

    def _make_validation(self, g: nn.Module, xv: np.ndarray) -> Callable[[int], dict[str, float]]:
        n = self.val_events
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed_from(self.seed, 4)))

        def validate(epoch: int) -> dict[str, float]:
            was = g.training
            g.eval()
            with torch.no_grad():
                y = g(z.to(next(g.parameters()).device)).cpu().numpy().astype(np.float64)
            g.train(was)
            if self.scaling == "minmax":  # as sample(): events outside the training range are dropped
                y = y[np.all((y >= 0.0) & (y <= 1.0), axis=1)]
            if len(y) < 2:  # an untrained generator can put every event outside the range: the worst score
                return {"w1_val": float("inf"), "w1_max_val": float("inf")}
            d = w1_over_std(xv, self._physical(y), self.columns)
            return {"w1_val": float(np.mean(list(d.values()))), "w1_max_val": float(max(d.values()))}

        return validate

    def sample(self, n: int, seed: int | None = None, batch_size: int = 65_536) -> pd.DataFrame:
        """``n`` generated events as a table of the columns (seeded: the same seed gives the same events)."""
        self._check_fitted()
        check_int("events", n, 0)
        g = self.generator_
        dev = current_device(self)
        gen = torch.Generator(device=dev).manual_seed(seed_from(self.seed if seed is None else seed, 5))
        out = []
        with torch.no_grad():
            for i in range(0, n, batch_size):
                m = min(batch_size, n - i)
                z = torch.randn(m, self.latent_dim, generator=gen, device=dev)
                out.append(g(z).cpu().numpy().astype(np.float64))
            y = np.concatenate(out) if out else np.zeros((0, len(self.columns)))
            if self.scaling == "minmax":  # events outside the training range are dropped and redrawn (see the module docstring)
                y = y[np.all((y >= 0.0) & (y <= 1.0), axis=1)]
                drawn, kept = n, len(y)
                while len(y) < n:
                    if drawn > 100 * max(n, 1000):
                        raise SampleError(f"the generator puts fewer than 1 % of its events inside the training range ({len(y)} of {drawn})")
                    z = torch.randn(min(batch_size, 2 * (n - len(y)) + 64), self.latent_dim, generator=gen, device=dev)
                    more = g(z).cpu().numpy().astype(np.float64)
                    drawn += len(more)
                    more = more[np.all((more >= 0.0) & (more <= 1.0), axis=1)]
                    kept += len(more)
                    y = np.concatenate([y, more])
                self.acceptance_ = kept / drawn if drawn else 1.0
                y = y[:n]
        return pd.DataFrame(self._physical(y), columns=self.columns)

    def _fitted_meta(self) -> dict[str, Any]:
        meta = {"lo": self.lo_.tolist(), "hi": self.hi_.tolist()}
        if self.scaling == "quantile":
            meta["pre"] = self.pre_.to_dict()
        return meta

    def _restore_fitted(self, meta: dict[str, Any]) -> None:
        self.lo_, self.hi_ = np.asarray(meta["lo"]), np.asarray(meta["hi"])
        if "pre" in meta:
            from hepgan.preprocessing import TablePreprocessor

            self.pre_ = TablePreprocessor.from_dict(meta["pre"])
