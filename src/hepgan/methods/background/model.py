"""Data-driven background estimation with a conditional GAN (seed 002, Lohezic et al.).

A generator g(c, z) -> x learns the observables x of a misidentified object
(``pho2_pt``, ``pho2_eta``, ``pho2_phi``, ``pho2_id``) given the rest of the
event c, on signal-region (SR) simulation. Applied to control-region (CR)
events, it replaces the object that failed the ID by a generated one, so the CR
models the SR background with its correlations.

Both x and c are mapped to Uniform[0, 1] by quantile transforms fitted on the
training sample (discrete columns dequantised), then to [-1, 1] for the
networks; the generator's tanh output maps back exactly.

The figure of merit is eq. (2), -2 ln Lambda, on a regular grid of 10 bins per
dimension in the uniformised space of ``metric_columns`` (fitted on the
training truth), with k generated objects per event; columns derived from the
generated object (``m_gg``, ``ptgg_over_mgg``) are recomputed first. The kept
model is the epoch with the lowest value on the validation sample (history key ``neg2lnL_val``;
the training sample's value is ``neg2lnL_train``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from hepgan.estimator import TRAINING_DEFAULTS, Estimator, check_choice, check_int, check_number, current_device, seed_from
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.metrics.likelihood import neg2_log_lambda
from hepgan.physics import derived_columns, derived_columns_torch
from hepgan.preprocessing import TablePreprocessor
from hepgan.training.device import resolve_device
from hepgan.training.record import Selection
from hepgan.training.task import AdversarialTask, Sample

__all__ = ["ConditionalGAN", "ConditionalGANTask", "fit_scan", "flatten_factor", "DERIVE", "FEATURE_SETS", "X_OBJECT", "MODEL_FORMAT_VERSION", "SELECTION"]

log = logging.getLogger("hepgan")
MODEL_FORMAT_VERSION = 1
#: The kept epoch: the lowest validation -2lnLambda (seed 002, eq. 2).
SELECTION = Selection("neg2lnL_val", "min", "-2lnLambda")

# Functions that recompute columns derived from the generated object, by name (saved with the model).
DERIVE: dict[str, Callable[[Any], dict[str, np.ndarray]]] = {"diphoton": derived_columns}
# The same on torch tensors (the per-epoch metric on the device).
DERIVE_TORCH: dict[str, Callable[[Any], dict[str, Tensor]]] = {"diphoton": derived_columns_torch}

X_OBJECT = ["pho2_pt", "pho2_eta", "pho2_phi", "pho2_id"]
# Section 3.1: vanilla = noise only; partial = the other photon; full = the other photon + event observables.
FEATURE_SETS: dict[str, list[str]] = {
    "vanilla": [],
    "partial": ["pho1_pt", "pho1_eta", "pho1_phi", "pho1_id"],
    "full": ["pho1_pt", "pho1_eta", "pho1_phi", "pho1_id", "n_jets", "n_vtx"],
}


def _as_frame(a: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    if isinstance(a, pd.DataFrame):
        missing = [c for c in columns if c not in a.columns]
        if missing:
            raise SchemaError(f"{what}: missing column '{missing[0]}'")
        return a[list(columns)].reset_index(drop=True)
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1 and len(columns) == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise SchemaError(f"{what}: expected an array of shape (N, {len(columns)}) for columns {list(columns)}, got {arr.shape}")
    return pd.DataFrame(arr, columns=list(columns))


def flatten_factor(v: np.ndarray, w: np.ndarray, bins: int) -> np.ndarray:
    """(N,) the mean |w| of each event's bin, over ``bins`` unweighted quantile bins of v (1 in empty bins).

    Dividing the weights by it flattens the weighted spectrum of v.

    Example:
        >>> v = np.array([1.0, 2.0, 3.0, 4.0]); w = np.array([1.0, 3.0, 10.0, 30.0])
        >>> flatten_factor(v, w, 2)
        array([ 2.,  2., 20., 20.])
    """
    edges = np.quantile(v, np.linspace(0.0, 1.0, bins + 1))
    b = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, bins - 1)
    mean = np.bincount(b, np.abs(w), bins) / np.maximum(np.bincount(b, minlength=bins), 1)
    return np.where(mean[b] > 0, mean[b], 1.0)


def _finite(df: pd.DataFrame, what: str) -> None:
    bad = ~np.isfinite(df.to_numpy(dtype=np.float64))
    if bad.any():
        col = df.columns[np.argmax(bad.any(axis=0))]
        raise SchemaError(f"{what}: column '{col}' has NaN or inf values")


class ConditionalGANTask(AdversarialTask):
    """The conditional GAN's training task: discriminator ``n_critic`` times, then generator, on the sample "sr".

    Every random number of an update is drawn by the step's noise function (latent noise,
    then the label noise of eq. (1)); the losses draw nothing.
    """

    def __init__(self, model: ConditionalGAN, g: nn.Module, d: nn.Module, val: Callable[[int], dict[str, float]] | None):
        super().__init__(g, d, model.n_critic, *model._optimizer_specs(), validate=val)
        self.model = model

    def _z(self, n: int, like: Tensor, gen: torch.Generator) -> Tensor:
        return torch.randn(n, self.model.latent_dim, generator=gen, device=like.device, dtype=like.dtype)

    def d_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        from hepgan.losses import noisy_labels

        x = batch["sr"]["x"]
        n = len(x)
        z = self._z(n, x, gen)
        l_real, l_fake = noisy_labels(n, n, self.model.label_noise, gen, dtype=x.dtype, device=x.device)
        return {"z": z, "l_real": l_real, "l_fake": l_fake}

    def g_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        x = batch["sr"]["x"]
        return {"z": self._z(len(x), x, gen)}

    def d_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import discriminator_bce, gradient_penalty, input_gradient

        b, m = batch["sr"], self.model
        g, d = self.networks["g"], self.networks["d"]
        w = b.get("w")
        with torch.no_grad():
            x_fake = g(b["c"], noise["z"])
        logs = {}
        if m.r1_gamma > 0:  # the logits come with their input gradients: one forward, one dropout mask
            logit_real, grad = input_gradient(lambda v: d(b["c"], v), b["x"])
            logs["r1"] = gradient_penalty(grad, w)
        else:
            logit_real = d(b["c"], b["x"])
        if m.r2_gamma > 0:
            logit_fake, grad = input_gradient(lambda v: d(b["c"], v), x_fake)
            logs["r2"] = gradient_penalty(grad, w)
        else:
            logit_fake = d(b["c"], x_fake)
        loss = discriminator_bce(logit_real, logit_fake, eps=m.label_noise, w_real=w, w_fake=w, labels=(noise["l_real"], noise["l_fake"]))
        if logs:
            loss = loss + 0.5 * (m.r1_gamma * logs.get("r1", 0.0) + m.r2_gamma * logs.get("r2", 0.0))
        return loss, logs

    def g_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import generator_bce

        b = batch["sr"]
        g, d = self.networks["g"], self.networks["d"]
        return generator_bce(d(b["c"], g(b["c"], noise["z"])), w=b.get("w")), {}


class ConditionalGAN(Estimator):
    """Conditional GAN g(c, z) -> x with the paper's training and selection.

    Args:
        x_columns: generated observables, e.g. ["pho2_pt", "pho2_eta", "pho2_phi", "pho2_id"].
        c_columns: conditions (may be empty: the "vanilla" GAN).
        discrete_columns: integer-valued columns among x and c (dequantised).
        arch: "mlp" or "conv" (the paper's networks, see hepgan.nn), or "flow": the conditional
            normalizing-flow baseline, trained by weighted maximum likelihood, kept at its lowest
            validation NLL, sampled, applied and saved like the GAN.
        latent_dim: size of z.
        g_hidden, d_hidden: MLP widths (ignored by "conv").
        dropout: discriminator dropout before the last layer.
        label_noise: eps of the label noise (labels in [0, eps] and [1 - eps, 1]).
        n_quantiles: knots of the quantile transforms.
        metric_columns: columns of eq. (2) (derived ones allowed when ``derive`` makes them).
        metric_bins: bins per dimension of eq. (2).
        metric_k: generated objects per event in the per-epoch metric.
        metric_events: events used for the per-epoch metric on train and validation (None: all val).
        derive: name in DERIVE of the function recomputing derived columns ("diphoton"), or None.
        metric_backend: where the per-epoch eq. (2) runs: "numpy", "torch" (generation, transforms
            and binning on the model's device) or "auto" (torch on CUDA, numpy on a CPU).
        flatten_column: a condition whose weighted spectrum is flattened in the training losses (None:
            off): w'_i = w_i / (mean |w| of the training events in w_i's bin), over ``flatten_bins``
            quantile bins of that column. A function of c only, so the target p_w(x | c) is unchanged,
            while the sparsely weighted regions of c get training signal; the per-epoch metric, the
            selection and the evaluation keep the original weights.
        flatten_bins: quantile bins of ``flatten_column``.
        r1_gamma, r2_gamma: weights of the R1 / R2 gradient penalties on the discriminator (Mescheder
            et al. 2018): (gamma / 2) times the weighted mean of |grad_x logit(c, x)|^2 over the real (R1)
            or generated (R2) batch, the conditions held fixed; logged as ``r1``, ``r2`` (0: off).
        flow_transforms, flow_bins: with ``arch="flow"``, the conditional neural spline flow's
            transforms and spline bins (its hypernetworks' widths are ``g_hidden``); see
            hepgan.methods.background.flow.
        **training: the training hyperparameters of :data:`hepgan.estimator.TRAINING_DEFAULTS`
            (optimizer, default "lamb" as in the paper; lr, lr_d, epochs, batch_size, n_critic, seed,
            device, checkpoint_every, progress, step).

    Example:
        >>> from hepgan.samples.toys import gjets_toy
        >>> sr = gjets_toy(400, seed=1).query("region == 1")
        >>> gan = ConditionalGAN(g_hidden=(16,), d_hidden=(16,), latent_dim=4, epochs=2, batch_size=64,
        ...                      n_quantiles=50, progress=False).fit(sr[X_OBJECT], sr[FEATURE_SETS["full"]], sr["weight"])
        >>> gan.sample(sr[FEATURE_SETS["full"]].iloc[:3], k=2, seed=1).shape
        (6, 4)
    """

    format: ClassVar[str] = "hepgan.ConditionalGAN"
    format_version: ClassVar[int] = MODEL_FORMAT_VERSION
    kept: ClassVar[dict[str, str]] = {"generator": "g"}
    training_defaults: ClassVar[dict[str, Any]] = {**TRAINING_DEFAULTS, "optimizer": "lamb"}
    _repr_params: ClassVar[tuple[str, ...]] = ("x_columns", "c_columns", "arch", "latent_dim")

    def __init__(
        self,
        x_columns: Sequence[str] = tuple(X_OBJECT),
        c_columns: Sequence[str] = tuple(FEATURE_SETS["full"]),
        discrete_columns: Sequence[str] = ("n_jets", "n_vtx"),
        arch: str = "mlp",
        latent_dim: int = 32,
        g_hidden: Sequence[int] = (512, 512, 512),
        d_hidden: Sequence[int] = (256, 256, 256),
        dropout: float = 0.2,
        label_noise: float = 0.15,
        n_quantiles: int = 1000,
        metric_columns: Sequence[str] | None = None,
        metric_bins: int = 10,
        metric_k: int = 10,
        metric_events: int | None = 10_000,
        derive: str | None = None,
        metric_backend: str = "auto",
        flatten_column: str | None = None,
        flatten_bins: int = 20,
        r1_gamma: float = 0.0,
        r2_gamma: float = 0.0,
        flow_transforms: int = 4,
        flow_bins: int = 8,
        **training: Any,
    ):
        self._store_params(locals())
        self.x_columns, self.c_columns, self.discrete_columns = list(x_columns), list(c_columns), list(discrete_columns)
        self.g_hidden, self.d_hidden = list(g_hidden), list(d_hidden)
        self.metric_columns = list(metric_columns) if metric_columns is not None else None

    # ------------------------------------------------------------------ helpers
    def _validate_params(self) -> None:
        super()._validate_params()
        if not self.x_columns:
            raise ConfigError("x_columns: expected at least one generated column")
        overlap = set(self.x_columns) & set(self.c_columns)
        if overlap:
            raise ConfigError(f"c_columns: '{sorted(overlap)[0]}' is also a generated column")
        for name in ("latent_dim", "metric_k", "metric_bins"):
            check_int(name, getattr(self, name))
        check_number("label_noise", self.label_noise, 0.0, 0.5)
        if self.derive is not None and self.derive not in DERIVE:
            raise ConfigError(f"derive: expected one of {', '.join(DERIVE)} or null, got {self.derive!r}")
        check_choice("metric_backend", self.metric_backend, ("auto", "numpy", "torch"))
        check_choice("arch", self.arch, ("mlp", "conv", "flow"))
        if self.arch == "flow":
            if not self.c_columns:
                raise ConfigError("arch: flow needs at least one condition (c_columns)")
            check_int("flow_transforms", self.flow_transforms)
            check_int("flow_bins", self.flow_bins)
        if self.flatten_column is not None and self.flatten_column not in self.c_columns:
            raise ConfigError(f"flatten_column: expected one of the conditions {self.c_columns}, got {self.flatten_column!r}")
        check_int("flatten_bins", self.flatten_bins)
        check_number("r1_gamma", self.r1_gamma, 0.0)
        check_number("r2_gamma", self.r2_gamma, 0.0)

    def _build_networks(self) -> dict[str, nn.Module]:
        from hepgan.nn import build_discriminator, build_generator, init_parameters

        n_c, n_x = len(self.c_columns), len(self.x_columns)
        if self.arch == "flow":
            from hepgan.methods.background.flow import FlowGenerator

            flow = FlowGenerator(n_c, n_x, self.flow_transforms, self.g_hidden, self.flow_bins)
            init_parameters(flow, torch.Generator().manual_seed(seed_from(self.seed, 1)))
            return {"g": flow}
        g = build_generator(self.arch, n_c, self.latent_dim, n_x, hidden=self.g_hidden)
        d = build_discriminator(self.arch, n_c, n_x, hidden=self.d_hidden, dropout=self.dropout)
        gen = torch.Generator().manual_seed(seed_from(self.seed, 1))
        init_parameters(g, gen)
        init_parameters(d, gen)
        return {"g": g, "d": d}

    @property
    def noise_dim(self) -> int:
        """The size of the generator's noise: ``latent_dim``, or the number of generated columns for a flow."""
        return len(self.x_columns) if self.arch == "flow" else self.latent_dim

    def _to_net(self, u: np.ndarray) -> Tensor:
        return torch.as_tensor(2.0 * u - 1.0, dtype=torch.float32)

    def _c_tensor(self, c: pd.DataFrame, rng: np.random.Generator) -> Tensor:
        if not self.c_columns:
            return torch.zeros(len(c), 0)
        return self._to_net(self.c_pre_.transform(c.to_numpy(), rng))

    def metric_table(self, x: pd.DataFrame, c: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        """The columns of eq. (2) for events (x, c): generated, conditions, or derived from both and ``context``."""
        parts = [c.reset_index(drop=True), x.reset_index(drop=True)]
        if context is not None:
            parts.append(context.drop(columns=[k for k in context.columns if k in c or k in x]).reset_index(drop=True))
        t = pd.concat(parts, axis=1)
        if self.derive is not None and any(col not in t for col in self.metric_columns_):
            for k, v in DERIVE[self.derive](t).items():
                t[k] = v
        missing = [col for col in self.metric_columns_ if col not in t]
        if missing:
            raise ConfigError(f"metric_columns: '{missing[0]}' is neither generated, a condition, nor derived")
        return t[self.metric_columns_]

    # ------------------------------------------------------------------ API
    def fit(
        self,
        x: Any,
        c: Any = None,
        w: Any = None,
        validation: tuple[Any, Any, Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        context: pd.DataFrame | None = None,
    ) -> ConditionalGAN:
        """Trains on SR simulation.

        Args:
            x: (N, n_x) generated observables (DataFrame with x_columns, or array in that order).
            c: (N, n_c) conditions (DataFrame or array); None when c_columns is empty.
            w: (N,) event weights or None.
            validation: (x_val, c_val, w_val[, context_val]) for the per-epoch metric and best-epoch
                selection; None: no selection, the last epoch is kept.
            run_dir: folder for checkpoints; needed for ``resume``.
            resume: continue an interrupted fit from run_dir's checkpoint.
            context: (N, ...) other event columns the metric needs to derive its columns
                (e.g. pho1_* for pT_gg/m_gg when they are not conditions); not seen by the networks.

        Returns:
            self, with ``history_`` (per-epoch losses, metric, lr) and ``best_epoch_``.
        """
        task, data, settings = self._prepare(x, c, w, validation, context)
        self._train(task, data, settings, run_dir=run_dir, resume=resume)
        return self

    def _prepare(self, x: Any, c: Any, w: Any, validation: tuple | None, context: pd.DataFrame | None):
        """Checks the inputs, fits the preprocessing, builds the networks: (task, data, settings) for a trainer."""
        self._validate_params()
        x = _as_frame(x, self.x_columns, "x")
        c = _as_frame(c if c is not None else np.zeros((len(x), 0)), self.c_columns, "c")
        if len(x) != len(c):
            raise SchemaError(f"x has {len(x)} rows, c has {len(c)}")
        if len(x) < 2:
            raise SchemaError("fit needs at least 2 training events")
        _finite(x, "x"), _finite(c, "c")
        w_np = None if w is None else np.array(w, dtype=np.float64)  # a copy: the caller's array may be read-only
        if w_np is not None and (w_np.shape != (len(x),) or not np.isfinite(w_np).all()):
            raise SchemaError(f"w: expected {len(x)} finite weights")

        rng = np.random.default_rng(seed_from(self.seed, 2))
        # the quantile transforms and the metric bins are fitted with the event weights (the same as unweighted
        # when all weights are equal)
        self.x_pre_ = TablePreprocessor(self.x_columns, self.discrete_columns, self.n_quantiles).fit(x.to_numpy(), rng, w_np)
        self.c_pre_ = (
            TablePreprocessor(self.c_columns, self.discrete_columns, self.n_quantiles).fit(c.to_numpy(), rng, w_np)
            if self.c_columns
            else None
        )
        self.metric_columns_ = self.metric_columns or list(self.x_columns)
        truth = self.metric_table(x, c, context)
        self.metric_pre_ = TablePreprocessor(self.metric_columns_, (), self.n_quantiles).fit(truth.to_numpy(), rng, w_np)

        sr = {"x": self._to_net(self.x_pre_.transform(x.to_numpy(), rng)), "c": self._c_tensor(c, rng)}
        if w_np is not None:
            w_train = w_np if self.flatten_column is None else w_np / flatten_factor(c[self.flatten_column].to_numpy(), w_np, self.flatten_bins)
            sr["w"] = torch.as_tensor(w_train, dtype=torch.float32)
        nets = self._build_networks()
        self.generator_ = nets["g"]  # the per-epoch metric samples from it during training
        self.device_ = resolve_device(self.device)

        val_fn = None
        if validation is not None:
            x_v, c_v, w_v, ctx_v = (tuple(validation) + (None,))[:4]
            x_v = _as_frame(x_v, self.x_columns, "validation x")
            c_v = _as_frame(c_v if c_v is not None else np.zeros((len(x_v), 0)), self.c_columns, "validation c")
            _finite(x_v, "validation x"), _finite(c_v, "validation c")
            w_v = None if w_v is None else np.asarray(w_v, np.float64)
            if self.arch == "flow":
                val_fn = self._make_nll_validation((sr["x"], sr["c"], w_np), (x_v, c_v, w_v), rng)
            else:
                val_fn = self._make_validation((x, c, w_np, context), (x_v, c_v, w_v, ctx_v))

        if self.arch == "flow":
            from hepgan.methods.background.flow import SELECTION_FLOW, FlowTask

            settings = self._train_settings(SELECTION_FLOW if val_fn is not None else Selection())
            return FlowTask(nets["g"], self._optimizer_specs()[0], val_fn), {"sr": Sample(sr)}, settings
        settings = self._train_settings(SELECTION if val_fn is not None else Selection())
        return ConditionalGANTask(self, nets["g"], nets["d"], val_fn), {"sr": Sample(sr)}, settings

    def _make_nll_validation(self, train: tuple, val: tuple, rng: np.random.Generator) -> Callable[[int], dict[str, float]]:
        """Per-epoch weighted negative log-likelihood of the flow on the validation events and as many training events."""
        from hepgan.methods.background.flow import weighted_nll

        x_v, c_v, w_v = val
        xv, cv = self._to_net(self.x_pre_.transform(x_v.to_numpy(), rng)), self._c_tensor(c_v, rng)
        wv = None if w_v is None else torch.as_tensor(w_v, dtype=torch.float32)
        xt, ct, wt = train
        idx = torch.as_tensor(np.sort(np.random.default_rng(seed_from(self.seed, 4)).choice(len(xt), size=min(len(xt), len(xv)), replace=False)))
        sets = {"val": (cv, xv, wv), "train": (ct[idx], xt[idx], None if wt is None else torch.as_tensor(wt[idx.numpy()], dtype=torch.float32))}

        def validate(epoch: int) -> dict[str, float]:
            device = current_device(self)
            return {f"nll_{k}": weighted_nll(self.generator_, c.to(device), x.to(device), None if w is None else w.to(device)) for k, (c, x, w) in sets.items()}

        return validate

    def _make_validation(self, train: tuple, val: tuple) -> Callable[[int], dict[str, float]]:
        """Per-epoch -2lnLambda on equal-size train and validation subsets (comparable values)."""
        n = min(len(val[0]), self.metric_events or len(val[0]))
        sel_rng = np.random.default_rng(seed_from(self.seed, 4))
        sets = {}
        for name, (xs, cs, ws, ctx) in [("train", train), ("val", val)]:
            idx = np.sort(sel_rng.choice(len(xs), size=min(n, len(xs)), replace=False))
            xs, cs = xs.iloc[idx].reset_index(drop=True), cs.iloc[idx].reset_index(drop=True)
            ctx = None if ctx is None else ctx.iloc[idx].reset_index(drop=True)
            u_truth = self.metric_pre_.transform(self.metric_table(xs, cs, ctx).to_numpy(), sel_rng)
            sets[name] = (cs, ctx, u_truth, None if ws is None else ws[idx])

        if self._metric_on_device():
            return self._make_device_validation(sets)

        def validate(epoch: int) -> dict[str, float]:
            out = {}
            for name, (cs, ctx, u_truth, ws) in sets.items():
                out[f"neg2lnL_{name}"] = self.neg2_log_lambda(cs, u_truth, ws, k=self.metric_k, seed=seed_from(self.seed, 5, epoch), context=ctx)
            return out

        return validate

    def _metric_on_device(self) -> bool:
        if self.metric_backend == "auto":
            return resolve_device(self.device).type == "cuda"
        return self.metric_backend == "torch"

    def _make_device_validation(self, sets: dict[str, tuple]) -> Callable[[int], dict[str, float]]:
        """Eq. (2) per epoch with generation, transforms and binning on the model's device.

        The same numbers as the numpy path up to float rounding: the same conditions, latent
        noise and seeds, float64 transforms (hepgan.preprocessing ``*_torch``), torch binning.
        """
        device = resolve_device(self.device)
        f64 = torch.float64
        prepared = {}
        for name, (cs, ctx, u_truth, ws) in sets.items():
            columns = {col: cs[col] for col in cs.columns}
            if ctx is not None:
                columns.update({col: ctx[col] for col in ctx.columns if col not in columns and col not in self.x_columns})
            physical = {col: torch.as_tensor(v.to_numpy(dtype=np.float64), dtype=f64, device=device) for col, v in columns.items()}
            w_t = None if ws is None else torch.as_tensor(ws, dtype=f64, device=device)
            prepared[name] = (cs, physical, torch.as_tensor(u_truth, dtype=f64, device=device), w_t)

        def validate(epoch: int) -> dict[str, float]:
            seed = seed_from(self.seed, 5, epoch)
            values = [self._neg2_log_lambda_device(*prepared[name], k=self.metric_k, seed=seed) for name in prepared]
            return {f"neg2lnL_{name}": float(v) for name, v in zip(prepared, torch.stack(values).cpu())}

        return validate

    @torch.no_grad()
    def _neg2_log_lambda_device(self, c: pd.DataFrame, physical: dict[str, Tensor], u_truth: Tensor, w: Tensor | None, k: int, seed: int) -> Tensor:
        """Eq. (2) of truth against k generated objects per event of c, on the device (a 0-d tensor)."""
        from hepgan.metrics.likelihood import neg2_log_lambda_torch

        t = self._generate(c, k, seed)
        y = self.x_pre_.inverse_transform_torch(((t + 1.0) / 2.0).clamp(0.0, 1.0))
        table = {col: y[:, j] for j, col in enumerate(self.x_columns)}
        for col, v in physical.items():
            table.setdefault(col, v.repeat_interleave(k))
        if self.derive is not None and any(col not in table for col in self.metric_columns_):
            table.update(DERIVE_TORCH[self.derive](table))
        missing = [col for col in self.metric_columns_ if col not in table]
        if missing:
            raise ConfigError(f"metric_columns: '{missing[0]}' is neither generated, a condition, nor derived")
        u_y = self.metric_pre_.transform_torch(torch.stack([table[col] for col in self.metric_columns_], dim=1))
        w_y = None if w is None else w.repeat_interleave(k) / k
        return neg2_log_lambda_torch(u_truth, u_y, bins=self.metric_bins, w_x=w, w_y=w_y)

    def neg2_log_lambda(
        self, c: pd.DataFrame, u_truth: np.ndarray, w: np.ndarray | None, k: int, seed: int, context: pd.DataFrame | None = None
    ) -> float:
        """Eq. (2) of truth (already uniformised) against k generated objects per event of c."""
        y = self.sample(c, k=k, seed=seed)
        rep = c.index.repeat(k)
        c_rep = c.loc[rep].reset_index(drop=True)
        ctx_rep = None if context is None else context.reset_index(drop=True).loc[rep].reset_index(drop=True)
        u_y = self.metric_pre_.transform(self.metric_table(y, c_rep, ctx_rep).to_numpy(), np.random.default_rng(seed))
        w_y = None if w is None else np.repeat(w, k) / k
        return neg2_log_lambda(u_truth, u_y, bins=self.metric_bins, w_x=w, w_y=w_y)

    def outside_training_range(self, c: Any) -> pd.DataFrame:
        """Which conditions lie outside the range seen in training, per event and column.

        Args:
            c: (N, n_c) conditions (DataFrame with c_columns, or array in that order).

        Returns:
            (N, n_c) boolean DataFrame with the c_columns; the generator extrapolates where it is True.
        """
        self._check_fitted()
        c = _as_frame(c, self.c_columns, "c")
        if not self.c_columns:
            return pd.DataFrame(index=c.index)
        return pd.DataFrame(self.c_pre_.outside(c.to_numpy()), columns=self.c_columns)

    def evaluate_metric(self, x: Any, c: Any, w: Any = None, k: int = 100, seed: int = 0, context: pd.DataFrame | None = None) -> float:
        """Eq. (2) on a sample of truth (x, c, w) with k generated objects per event."""
        self._check_fitted()
        x = _as_frame(x, self.x_columns, "x")
        c = _as_frame(c if c is not None else np.zeros((len(x), 0)), self.c_columns, "c")
        ctx = None if context is None else context.reset_index(drop=True)
        u = self.metric_pre_.transform(self.metric_table(x, c, ctx).to_numpy(), np.random.default_rng(seed))
        return self.neg2_log_lambda(c, u, None if w is None else np.asarray(w, np.float64), k=k, seed=seed, context=ctx)

    @torch.no_grad()
    def sample(self, c: Any, k: int = 1, seed: int | None = None, batch_size: int | None = None) -> pd.DataFrame:
        """Generates k objects per event.

        On a CUDA device everything runs there (quantile transforms included) and only the
        result is copied back; on a CPU the transforms are numpy's.

        Args:
            c: (N, n_c) conditions (DataFrame with c_columns or array); for a vanilla GAN an int N.
            k: objects per event.
            seed: seed of the latent noise and the dequantisation (None: fresh entropy).
            batch_size: rows per forward pass (None: as many as fit a memory budget, at most 65,536 on a
                CPU and 1,048,576 on CUDA; see hepgan.nn.rows_per_batch).

        Returns:
            DataFrame (N * k, n_x) of x_columns in physical units; rows i*k .. i*k+k-1 belong to event i.
        """
        self._check_fitted()
        if isinstance(c, (int, np.integer)):
            c = np.zeros((int(c), 0))
        c = _as_frame(c, self.c_columns, "c")
        _finite(c, "c")
        seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
        t = self._generate(c, k, seed, batch_size)
        if t.device.type == "cuda":
            x = self.x_pre_.inverse_transform_torch(((t + 1.0) / 2.0).clamp(0.0, 1.0)).cpu().numpy()
        else:
            u = ((t.numpy() + 1.0) / 2.0).clip(0.0, 1.0)
            x = self.x_pre_.inverse_transform(u)
        return pd.DataFrame(x, columns=self.x_columns)

    @torch.no_grad()
    def _generate(self, c: pd.DataFrame, k: int, seed: int, batch_size: int | None = None) -> Tensor:
        """The generator's output (N * k, n_x) in [-1, 1], float64, on the model's device."""
        from hepgan.nn import rows_per_batch

        device = current_device(self)
        g = self.generator_.to(device).eval()
        gen = torch.Generator(device=device).manual_seed(seed_from(seed, 7))
        if batch_size is None:  # rows per pass within a memory budget (the conv networks hold ~170 kB per row)
            probe = (torch.zeros(2, len(self.c_columns), device=device), torch.zeros(2, self.noise_dim, device=device))
            batch_size = rows_per_batch(g, probe, device, high=1 << 20 if device.type == "cuda" else 65_536)
        if device.type == "cuda":
            if self.c_columns:
                c_gen = torch.Generator(device=device).manual_seed(seed_from(seed, 6))
                c_dev = torch.as_tensor(c.to_numpy(dtype=np.float64), device=device)
                c_net = (2.0 * self.c_pre_.transform_torch(c_dev, c_gen) - 1.0).float()
            else:
                c_net = torch.zeros(len(c), 0, device=device)
        else:
            c_net = self._c_tensor(c, np.random.default_rng(seed_from(seed, 6)))
        c_net = c_net.repeat_interleave(k, dim=0)
        out = []
        for i in range(0, len(c_net), batch_size):
            cb = c_net[i : i + batch_size].to(device)
            z = torch.randn(len(cb), self.noise_dim, generator=gen, device=device)
            out.append(g(cb, z).double())
        return torch.cat(out) if out else torch.zeros(0, len(self.x_columns), dtype=torch.float64, device=device)

    # ------------------------------------------------------------------ files
    def _fitted_meta(self) -> dict[str, Any]:
        return {
            "x_preprocessing": self.x_pre_.to_dict(),
            "c_preprocessing": self.c_pre_.to_dict() if self.c_pre_ is not None else None,
            "metric_columns": self.metric_columns_,
            "metric_preprocessing": self.metric_pre_.to_dict(),
        }

    def _restore_fitted(self, meta: dict[str, Any]) -> None:
        self.x_pre_ = TablePreprocessor.from_dict(meta["x_preprocessing"])
        self.c_pre_ = TablePreprocessor.from_dict(meta["c_preprocessing"]) if meta["c_preprocessing"] else None
        self.metric_columns_ = meta["metric_columns"]
        self.metric_pre_ = TablePreprocessor.from_dict(meta["metric_preprocessing"])


def fit_scan(
    models: Sequence[ConditionalGAN],
    x: Any,
    c: Any = None,
    w: Any = None,
    validation: tuple[Any, Any, Any] | None = None,
    context: pd.DataFrame | None = None,
    progress: bool = True,
) -> list[ConditionalGAN]:
    """Trains several ConditionalGANs on the same sample at once (hepgan.training.scan).

    Each model is what ``model.fit(x, c, w, validation, context=context)`` would give (up to
    float rounding, and exactly so without dropout); models whose networks or loop settings
    differ in shape are trained in separate vectorised groups.

    Args:
        models: unfitted models, e.g. one per point of a hyperparameter grid.
        x, c, w, validation, context: as for :meth:`ConditionalGAN.fit`.
        progress: progress bars.

    Returns:
        The fitted models (the same objects).
    """
    from hepgan.training.scan import train_scan

    prepared = [m._prepare(x, c, w, validation, context) for m in models]
    histories = train_scan([p[0] for p in prepared], [p[1] for p in prepared], [p[2] for p in prepared], progress=progress)
    for m, p, h in zip(models, prepared, histories):
        m._finish(h, p[0])
    return list(models)
