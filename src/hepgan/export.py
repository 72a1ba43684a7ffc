r"""A background model as one ONNX graph, for analysis frameworks in C++ (``hepgan export``).

The graph holds everything between physical conditions and physical generated values:
the dequantisation of discrete conditions, the per-column quantile transforms (piecewise
linear between the fitted knots, linear beyond them), the generator network, and the inverse
transforms (discrete columns floored back to integers). Its inputs:

* ``c`` (N, n_c) float64: the conditions in physical units, in the model's ``c_columns`` order;
* ``z`` (N, latent_dim) float32: the latent noise, standard normal;
* ``u`` (N, n_discrete) float64: U[0, 1) noise dequantising the discrete conditions (columns in
  the order they appear in ``c_columns``; shape (N, 0) when there are none);

and its output ``x`` (N, n_x) float64, the generated object in physical units (``x_columns``).
Given the same noise it reproduces :meth:`ConditionalGAN.sample` to float precision (tested
with onnxruntime). The column names and the model's digest are in the graph's metadata.

In C++, with onnxruntime::

    Ort::Env env;  Ort::Session session(env, "model.onnx", Ort::SessionOptions{});
    // c: N x n_c doubles, z: N x latent floats (std::normal_distribution), u: N x n_discrete doubles in [0, 1)
    auto x = session.Run(Ort::RunOptions{}, in_names, inputs, 3, out_names, 1);  // N x n_x doubles
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hepgan.exceptions import ConfigError, MissingExtraError

__all__ = ["PhysicalGenerator", "export_onnx"]


class _Interp(nn.Module):
    """Piecewise-linear interpolation with linear extrapolation, as hepgan.preprocessing's, in ONNX-friendly ops.

    The segment of each value is found by comparing it with every knot (no searchsorted), so the
    graph uses only comparisons, sums and gathers.
    """

    def __init__(self, xp, fp):
        super().__init__()
        self.register_buffer("xp", torch.as_tensor(xp, dtype=torch.float64))
        self.register_buffer("fp", torch.as_tensor(fp, dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        xp, fp = self.xp, self.fp
        j = (x[:, None] >= xp[None, 1:-1]).to(torch.int64).sum(1)  # segment index in [0, K - 2]
        x0, x1, f0, f1 = xp[j], xp[j + 1], fp[j], fp[j + 1]
        y = torch.minimum(torch.maximum((f1 - f0) / (x1 - x0) * (x - x0) + f0, f0), f1)
        hi = fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        lo = fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
        return torch.where(x < xp[0], lo, torch.where(x >= xp[-1], hi, y))


class PhysicalGenerator(nn.Module):
    """A fitted ConditionalGAN's generator with its preprocessing: physical conditions and noise in, physical values out.

    Args:
        model: a fitted or loaded ConditionalGAN.
    """

    def __init__(self, model: Any):
        super().__init__()
        model._check_fitted()
        self.generator = model.generator_.to("cpu").eval()
        c_pre, x_pre = model.c_pre_, model.x_pre_
        c_cols = list(model.c_columns)
        self.c_interp = nn.ModuleList(_Interp(t.knots_, t.probs_) for t in (c_pre.transforms_ if c_pre is not None else []))
        self.c_discrete = [c in (c_pre.discrete if c_pre is not None else []) for c in c_cols]
        self.x_interp = nn.ModuleList(_Interp(t.probs_, t.knots_) for t in x_pre.transforms_)
        self.x_discrete = [c in x_pre.discrete for c in model.x_columns]
        self.n_c, self.n_x, self.latent_dim = len(c_cols), len(model.x_columns), model.latent_dim
        self.n_discrete = sum(self.c_discrete)

    def forward(self, c: Tensor, z: Tensor, u: Tensor) -> Tensor:
        cols, k = [], 0
        for j, interp in enumerate(self.c_interp):
            v = c[:, j]
            if self.c_discrete[j]:
                v = torch.round(v) + u[:, k]
                k += 1
            cols.append(interp(v))
        c_net = (2.0 * torch.stack(cols, dim=1) - 1.0).to(torch.float32) if cols else torch.zeros(c.shape[0], 0)
        t = ((self.generator(c_net, z).to(torch.float64) + 1.0) / 2.0).clamp(0.0, 1.0)
        out = []
        for j, interp in enumerate(self.x_interp):
            v = interp(t[:, j])
            out.append(torch.floor(v) if self.x_discrete[j] else v)
        return torch.stack(out, dim=1)


def export_onnx(model: Any, out: str | Path, model_path: str | Path | None = None) -> Path:
    """Writes a ConditionalGAN with its preprocessing as one ONNX graph (see the module docstring).

    Args:
        model: a fitted or loaded ConditionalGAN.
        out: the .onnx file (written under a temporary name, then renamed).
        model_path: the model file it came from (its digest goes into the graph's metadata).

    Returns:
        The path written.
    """
    try:
        import onnx
    except ImportError as err:
        raise MissingExtraError("onnx", "onnx") from err
    from hepgan.io import atomic_path
    from hepgan.provenance import model_digest

    if model.arch == "flow":
        raise ConfigError("export: a flow (arch: flow) cannot be exported to ONNX yet; export a GAN (arch: mlp or conv)")
    module = PhysicalGenerator(model).eval()
    n = 4
    example = (
        torch.zeros(n, module.n_c, dtype=torch.float64),
        torch.zeros(n, module.latent_dim, dtype=torch.float32),
        torch.zeros(n, module.n_discrete, dtype=torch.float64),
    )
    rows = torch.export.Dim("rows", min=1)
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's exporter warns about its own internals
        onnx_log.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(
                module, example, input_names=["c", "z", "u"], output_names=["x"],
                dynamic_shapes=({0: rows}, {0: rows}, {0: rows}), dynamo=True, verbose=False,
            )  # fmt: skip
        finally:
            onnx_log.setLevel(level)
        proto = program.model_proto
        meta = {
            "producer": "hepgan",
            "c_columns": ",".join(model.c_columns),
            "x_columns": ",".join(model.x_columns),
            "discrete_conditions": ",".join(c for c, d in zip(model.c_columns, module.c_discrete) if d),
            "latent_dim": str(model.latent_dim),
            "model_digest": str(model_digest(model_path) if model_path else None),
        }
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(proto, str(tmp))
    return out
