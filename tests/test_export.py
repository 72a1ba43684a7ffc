"""ONNX export: the generator with its preprocessing as one graph, equal to hepgan's sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hepgan.cli import main
from hepgan.io import write_table
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
from hepgan.samples.toys import gjets_toy

ort = pytest.importorskip("onnxruntime")


class _FixedNoise:
    """Stands in for the numpy generator of the dequantisation: hands out given U[0, 1) columns in order."""

    def __init__(self, u: np.ndarray):
        self.u, self.k = u, 0

    def random(self, n):
        col = self.u[:n, self.k]
        self.k += 1
        return col


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_onnx_round_trip_equals_hepgan(tmp_path, arch, capsys):
    toy = gjets_toy(600, seed=4)
    sr = toy[toy.region == 1]
    c_cols = FEATURE_SETS["full"]
    m = ConditionalGAN(arch=arch, g_hidden=(16,), d_hidden=(16,), latent_dim=4, epochs=1, batch_size=64, n_quantiles=50, progress=False)
    m.fit(sr[X_OBJECT], sr[c_cols]).save(tmp_path / "m.safetensors")
    assert main(["-q", "export", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "m.onnx")]) == 0
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["c_columns"].split(",") == c_cols and meta["x_columns"].split(",") == X_OBJECT and meta["model_digest"] != "None"
    cr = toy[toy.region == 0]
    cr = cr.assign(pho1_pt=cr.pho1_pt * np.where(np.arange(len(cr)) % 7 == 0, 3.0, 1.0))  # some beyond the knots
    c = cr[c_cols].to_numpy(np.float64)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((len(c), m.latent_dim)).astype(np.float32)
    u = rng.random((len(c), 2))
    x_onnx = sess.run(None, {"c": c, "z": z, "u": u})[0]
    # hepgan on the same noise: numpy transforms, the generator, numpy inverse transforms
    c_net = torch.as_tensor(2.0 * m.c_pre_.transform(c, _FixedNoise(u)) - 1.0, dtype=torch.float32)
    with torch.no_grad():
        t = m.generator_(c_net, torch.as_tensor(z)).double().numpy()
    x_ref = m.x_pre_.inverse_transform(((t + 1.0) / 2.0).clip(0.0, 1.0))
    np.testing.assert_allclose(x_onnx, x_ref, rtol=1e-6, atol=1e-6)
    write_table(cr, tmp_path / "cr.parquet")
    capsys.readouterr()
