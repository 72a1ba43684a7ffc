"""The photon ID score: a small MLP that separates prompt photons from jet photon candidates.

hepgan trains it once on prompt (``pho1``) and jet (``pho2``) candidates of an
independent Pythia sample and ships it in ``hepgan/data/photon_id.safetensors``
(weights) and ``photon_id.json`` (feature names, normalisation, working point,
measured performance), so that every later sample gets the same score. No pickle.

Inputs per candidate (prefix ``pho1`` or ``pho2``): log(1 + iso/pT) for the charged,
neutral-hadron and photon isolation sums, the cluster width, the core energy
fraction, |eta| and n_vtx (the pileup level, as rho in a real ID). The candidate
pT itself is not an input, so the ID does not learn the pT spectra of the two classes.
The score is 2 sigmoid(logit) - 1, in [-1, 1]; prompt photons peak near +1.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hepgan.exceptions import ModelFileError

__all__ = ["FEATURES", "PhotonID", "candidate_features", "train_photon_id", "load_default", "default_model_path"]

FORMAT_VERSION = 1
FEATURES = ("log_rel_iso_ch", "log_rel_iso_neu", "log_rel_iso_pho", "width", "core_frac", "abs_eta", "n_vtx")


def candidate_features(table: pd.DataFrame, prefix: str) -> np.ndarray:
    """ID inputs of one candidate.

    Args:
        table: event table with ``{prefix}_pt``, ``_eta``, ``_iso_*``, ``_width``, ``_core_frac`` and ``n_vtx``.
        prefix: "pho1" or "pho2".

    Returns:
        (N, 7) float64 array in the order of :data:`FEATURES`.
    """
    pt = np.maximum(np.asarray(table[f"{prefix}_pt"], dtype=np.float64), 1e-3)
    cols = [np.log1p(np.asarray(table[f"{prefix}_iso_{k}"], dtype=np.float64) / pt) for k in ("ch", "neu", "pho")]
    cols += [
        np.asarray(table[f"{prefix}_width"], dtype=np.float64) * 100.0,  # in units of 0.01
        np.asarray(table[f"{prefix}_core_frac"], dtype=np.float64),
        np.abs(np.asarray(table[f"{prefix}_eta"], dtype=np.float64)),
        np.asarray(table["n_vtx"], dtype=np.float64),
    ]
    return np.stack(cols, axis=1)


def _mlp(n_in: int, hidden: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, hidden), torch.nn.SiLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
        torch.nn.Linear(hidden, 1),
    )  # fmt: skip


class PhotonID:
    """A trained photon ID: ``score(table, prefix) -> (N,)`` in [-1, 1].

    Args:
        net: the MLP, (N, 7) standardised features -> (N, 1) logit.
        mean, std: feature standardisation, (7,).
        working_point: recommended threshold on the score.
        info: measured performance and training record.
    """

    def __init__(self, net: torch.nn.Module, mean: np.ndarray, std: np.ndarray, working_point: float, info: dict[str, Any]):
        self.net = net.eval()
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.working_point = float(working_point)
        self.info = dict(info)

    def score_features(self, f: np.ndarray) -> np.ndarray:
        x = torch.as_tensor((f - self.mean) / self.std, dtype=torch.float32)
        with torch.no_grad():
            logit = self.net(x)[:, 0].double().numpy()
        return np.tanh(0.5 * logit)  # = 2 sigmoid(logit) - 1

    def score(self, table: pd.DataFrame, prefix: str) -> np.ndarray:
        return self.score_features(candidate_features(table, prefix))

    def describe(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "working_point": self.working_point, **self.info}

    def save(self, path: str | Path) -> None:
        """Writes ``path.safetensors`` and ``path.json`` (path without suffix)."""
        from safetensors.torch import save_file

        path = Path(path)
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        from hepgan.io import atomic_path

        with atomic_path(path.with_suffix(".safetensors")) as tmp:
            save_file(state, str(tmp))
        record = {
            "format_version": FORMAT_VERSION,
            "features": list(FEATURES),
            "hidden": int(self.net[0].out_features),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "working_point": self.working_point,
            "info": self.info,
        }
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(record, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> PhotonID:
        from safetensors.torch import load_file

        path = Path(path)
        try:
            record = json.loads(path.with_suffix(".json").read_text())
            state = load_file(str(path.with_suffix(".safetensors")))
        except FileNotFoundError:
            raise ModelFileError(
                f"{path.with_suffix('.json')}: no photon ID model; train one with hepgan.samples.photon_id.train_photon_id"
            ) from None
        except Exception as err:
            raise ModelFileError(f"{path}: unreadable photon ID model ({type(err).__name__}: {err})") from None
        if record.get("format_version") != FORMAT_VERSION or record.get("features") != list(FEATURES):
            raise ModelFileError(f"{path}: photon ID model of another format version or feature set")
        net = _mlp(len(FEATURES), int(record["hidden"]))
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise ModelFileError(f"{path}: photon ID weights do not match the model ({err})") from None
        return cls(net, np.array(record["mean"]), np.array(record["std"]), record["working_point"], record["info"])


def default_model_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "photon_id"


@functools.lru_cache(maxsize=1)
def load_default() -> PhotonID:
    """The shipped photon ID model."""
    return PhotonID.load(default_model_path())


def train_photon_id(
    table: pd.DataFrame,
    seed: int = 0,
    epochs: int = 60,
    hidden: int = 32,
    working_point: float = -0.9,
    info: dict[str, Any] | None = None,
) -> PhotonID:
    """Trains the ID on the prompt (pho1, label 1) and jet (pho2, label 0) candidates of a raw table.

    The two classes get equal total weight (unweighted events: the ID separates objects, it
    does not learn the generator's pT bias), so the score is a calibrated odds ratio with equal
    priors: score > -0.9 means P(prompt) > 5 %.

    Args:
        table: rows from :func:`hepgan.samples.gjets.generate_raw`.
        seed: torch seed of the initialisation and the batches.
        epochs, hidden: training length and width of the two hidden layers.
        working_point: the recommended threshold; -0.9 is a loose working point like the
            CMS H->gg preselection (photon ID MVA > -0.9).
        info: extra record stored with the model (training command, sample).

    Returns:
        The fitted PhotonID.
    """
    f1, f2 = candidate_features(table, "pho1"), candidate_features(table, "pho2")
    x = np.concatenate([f1, f2])
    y = np.concatenate([np.ones(len(f1)), np.zeros(len(f2))])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    g = torch.Generator().manual_seed(seed)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # nn.Linear initialisation has no generator argument
    net = _mlp(x.shape[1], hidden)
    torch.random.set_rng_state(torch_state)
    xt = torch.as_tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    batch = 512
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss_fn(net(xt[idx])[:, 0], yt[idx]).backward()
            opt.step()
        sched.step()
    return PhotonID(net, mean, std, working_point, info or {})


def roc_auc(score_signal: np.ndarray, score_background: np.ndarray) -> float:
    """Area under the ROC curve (probability that a signal scores above a background), ties counted half."""
    from scipy.stats import rankdata

    s = np.concatenate([score_signal, score_background])
    r = rankdata(s)
    n1, n0 = len(score_signal), len(score_background)
    return float((r[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def train_default(n_events: int = 16000, seed: int = 1001, workers: int = 2, out: str | Path | None = None) -> PhotonID:
    """Retrains the shipped model exactly as it was made: ``python -m hepgan.samples.photon_id``.

    Trains on the first 3/4 of the events of an independent sample (seed 1001), measures the
    AUC, prompt efficiency and fake pass rate at the working point on the last quarter.
    """
    from hepgan.samples.gjets import GjetsSettings, generate_raw

    raw, summary = generate_raw(n_events, seed, GjetsSettings(), workers=workers)
    n_train = (3 * len(raw)) // 4
    train, test = raw.iloc[:n_train], raw.iloc[n_train:]
    info = {
        "training": f"python -m hepgan.samples.photon_id (train_default(n_events={n_events}, seed={seed}))",
        "training_sample": {"n_events": n_events, "seed": seed, "n_candidates_per_class": n_train,
                            "settings": "GjetsSettings() defaults", "cache": summary["cache"]},  # fmt: skip
        "working_point_definition": "loose, like the CMS H->gg preselection cut photon ID MVA > -0.9",
    }
    model = train_photon_id(train, seed=0, info=info)
    s1, s2 = model.score(test, "pho1"), model.score(test, "pho2")
    model.info["test"] = {
        "n_candidates_per_class": len(test),
        "auc": roc_auc(s1, s2),
        "prompt_efficiency": float(np.mean(s1 > model.working_point)),
        "fake_pass_rate": float(np.mean(s2 > model.working_point)),
    }
    model.save(out if out is not None else default_model_path())
    return model


if __name__ == "__main__":  # pragma: no cover
    m = train_default()
    print(json.dumps(m.describe(), indent=1))
