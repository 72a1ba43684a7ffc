"""The photon ID score: a small MLP that separates prompt photons from jet photon candidates.

hepgan trains it once on prompt (``pho1``) and jet (``pho2``) candidates of an independent
Pythia sample and ships it in ``hepgan/data/photon_id.safetensors`` (weights) and
``photon_id.json`` (feature names, normalisation, effective areas, working points, measured
performance), so that every later sample gets the same score. No pickle.

Inputs per candidate (prefix ``pho1`` or ``pho2``): log(1 + iso/pT) for the charged, neutral-hadron
and photon isolation sums, each corrected for pileup with the event's median pT density rho
(iso - EA x rho, at least 0, as CMS and ATLAS do; the effective areas EA are the slopes of the
prompt candidates' mean isolation against rho), the cluster width, the core energy fraction, H/E
corrected the same way (the transverse hadronic energy behind the cluster, H/E x pT, less EA_H x rho,
at least 0, over pT; CMS corrects H/E so since Run 3) and |eta|. Neither the candidate pT nor the
number of vertices is an input. The two classes are reweighted to the same flat distribution in (pT, |eta|) bins, so the ID separates objects and does
not learn the spectra of its training sample. The score is 2 sigmoid(logit) - 1, in [-1, 1]; prompt
photons peak near +1. Two working points: tight (about 90 % prompt efficiency, the signal region's)
and loose (about 99 %; a control-region candidate fails it).
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

__all__ = ["FEATURES", "ISO_TYPES", "PU_TYPES", "PhotonID", "read_cache", "candidate_features", "effective_areas", "flat_weights", "train_photon_id",
           "load_default", "default_model_path", "roc_auc", "threshold_at_efficiency"]  # fmt: skip

FORMAT_VERSION = 3
ISO_TYPES = ("ch", "neu", "pho")
# the pileup-corrected sums: the three isolations and "h", the transverse hadronic energy behind the cluster (H/E x pT)
PU_TYPES = (*ISO_TYPES, "h")
FEATURES = ("log_rel_iso_ch", "log_rel_iso_neu", "log_rel_iso_pho", "width", "core_frac", "hoe_rho_corr", "abs_eta")
# (pT, |eta|) bins in which the two classes are made flat for the training
PT_EDGES = (20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0, 250.0, np.inf)
ETA_EDGES = (0.0, 0.5, 1.0, 1.4442, 1.566, 2.0, 2.5)


def candidate_features(table: pd.DataFrame, prefix: str, ea: dict[str, float]) -> np.ndarray:
    """ID inputs of one candidate.

    Args:
        table: event table with ``{prefix}_pt``, ``_eta``, ``_iso_*``, ``_width``, ``_core_frac``, ``_hoe`` and ``rho``.
        prefix: "pho1" or "pho2".
        ea: effective area per pileup-corrected sum (``ch``, ``neu``, ``pho``, ``h``), in units of eta-phi area.

    Returns:
        (N, 7) float64 array in the order of :data:`FEATURES`.
    """
    pt = np.maximum(np.asarray(table[f"{prefix}_pt"], dtype=np.float64), 1e-3)
    rho = np.asarray(table["rho"], dtype=np.float64)
    cols = [np.log1p(np.maximum(np.asarray(table[f"{prefix}_iso_{k}"], dtype=np.float64) - ea[k] * rho, 0.0) / pt) for k in ISO_TYPES]
    cols += [
        np.asarray(table[f"{prefix}_width"], dtype=np.float64) * 100.0,  # in units of 0.01
        np.asarray(table[f"{prefix}_core_frac"], dtype=np.float64),
        np.maximum(_pu_sums(table, prefix)["h"] - ea["h"] * rho, 0.0) / pt,
        np.abs(np.asarray(table[f"{prefix}_eta"], dtype=np.float64)),
    ]
    return np.stack(cols, axis=1)


def _pu_sums(table: pd.DataFrame, prefix: str) -> dict[str, np.ndarray]:
    """The sums of one candidate that pileup raises, in GeV: the isolations and H_T = H/E x pT."""
    out = {k: np.asarray(table[f"{prefix}_iso_{k}"], dtype=np.float64) for k in ISO_TYPES}
    out["h"] = np.asarray(table[f"{prefix}_hoe"], dtype=np.float64) * np.asarray(table[f"{prefix}_pt"], dtype=np.float64)
    return out


def effective_areas(table: pd.DataFrame, prefix: str = "pho1") -> dict[str, float]:
    """Effective areas: the least-squares slope of each pileup-raised sum against rho, on (prompt) candidates.

    The sums are the three isolations and ``h``, the transverse hadronic energy behind the cluster (H/E x pT).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> rho = rng.uniform(10, 50, 20000)
        >>> t = pd.DataFrame({"rho": rho, "pho1_pt": 50.0, "pho1_hoe": (0.3 + 0.05 * rho + rng.exponential(0.2, 20000)) / 50,
        ...                   **{f"pho1_iso_{k}": a + 0.1 * rho + rng.exponential(1, 20000) for k, a in zip(ISO_TYPES, (1.0, 2.0, 0.5))}})
        >>> {k: round(v, 2) for k, v in effective_areas(t).items()}
        {'ch': 0.1, 'neu': 0.1, 'pho': 0.1, 'h': 0.05}
    """
    rho = np.asarray(table["rho"], dtype=np.float64)
    return {k: float(np.cov(rho, v)[0, 1] / np.var(rho, ddof=1)) for k, v in _pu_sums(table, prefix).items()}


def flat_weights(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """Weights that make a class flat in the (pT, |eta|) bins of :data:`PT_EDGES`, :data:`ETA_EDGES`; mean 1.

    Example:
        >>> w = flat_weights(np.array([22.0, 22.0, 22.0, 45.0]), np.array([0.1, 0.2, 0.3, 0.1]))
        >>> [round(float(v), 3) for v in w]
        [0.667, 0.667, 0.667, 2.0]
    """
    ip = np.clip(np.searchsorted(PT_EDGES, pt, side="right") - 1, 0, len(PT_EDGES) - 2)
    ie = np.clip(np.searchsorted(ETA_EDGES, abs_eta, side="right") - 1, 0, len(ETA_EDGES) - 2)
    cell = ip * (len(ETA_EDGES) - 1) + ie
    counts = np.bincount(cell, minlength=(len(PT_EDGES) - 1) * (len(ETA_EDGES) - 1))
    w = 1.0 / counts[cell]
    return w * len(w) / w.sum()


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
        ea: effective areas of the pileup-corrected sums (``ch``, ``neu``, ``pho`` isolation and ``h``, H/E x pT).
        working_point: the tight threshold on the score (the signal region's).
        loose_point: the loose threshold (a control-region candidate fails it).
        info: measured performance and training record.
    """

    def __init__(self, net: torch.nn.Module, mean: np.ndarray, std: np.ndarray, ea: dict[str, float], working_point: float,
                 loose_point: float, info: dict[str, Any]):  # fmt: skip
        self.net = net.eval()
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.ea = {k: float(ea[k]) for k in PU_TYPES}
        self.working_point = float(working_point)
        self.loose_point = float(loose_point)
        self.info = dict(info)

    def score_features(self, f: np.ndarray) -> np.ndarray:
        x = torch.as_tensor((f - self.mean) / self.std, dtype=torch.float32)
        with torch.no_grad():
            logit = self.net(x)[:, 0].double().numpy()
        return np.tanh(0.5 * logit)  # = 2 sigmoid(logit) - 1

    def score(self, table: pd.DataFrame, prefix: str) -> np.ndarray:
        return self.score_features(candidate_features(table, prefix, self.ea))

    def describe(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "effective_areas": self.ea, "working_point": self.working_point,
                "loose_point": self.loose_point, **self.info}  # fmt: skip

    def save(self, path: str | Path) -> None:
        """Writes ``path.safetensors`` and ``path.json`` (path without suffix)."""
        from safetensors.torch import save_file

        from hepgan.io import atomic_path

        path = Path(path)
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        with atomic_path(path.with_suffix(".safetensors")) as tmp:
            save_file(state, str(tmp))
        record = {
            "format_version": FORMAT_VERSION,
            "features": list(FEATURES),
            "hidden": int(self.net[0].out_features),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "effective_areas": self.ea,
            "working_point": self.working_point,
            "loose_point": self.loose_point,
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
        return cls(net, np.array(record["mean"]), np.array(record["std"]), record["effective_areas"], record["working_point"],
                   record["loose_point"], record["info"])  # fmt: skip


def default_model_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "photon_id"


@functools.lru_cache(maxsize=1)
def load_default() -> PhotonID:
    """The shipped photon ID model."""
    return PhotonID.load(default_model_path())


def threshold_at_efficiency(scores: np.ndarray, efficiency: float) -> float:
    """The score threshold that keeps at least the fraction ``efficiency`` of ``scores`` (score > threshold).

    Example:
        >>> s = np.linspace(0, 1, 101)
        >>> round(float(np.mean(s > threshold_at_efficiency(s, 0.9))), 3)
        0.901
    """
    return float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - efficiency, method="lower"))


def train_photon_id(
    table: pd.DataFrame,
    seed: int = 0,
    epochs: int = 40,
    hidden: int = 32,
    tight_efficiency: float = 0.90,
    loose_efficiency: float = 0.99,
    info: dict[str, Any] | None = None,
) -> PhotonID:
    """Trains the ID on the prompt (pho1, label 1) and jet (pho2, label 0) candidates of a raw table.

    Effective areas from the prompt candidates; each class reweighted flat in (pT, |eta|) and the two
    classes given equal total weight. The working points are set on the training candidates'
    prompt scores at ``tight_efficiency`` and ``loose_efficiency`` (flat-weighted quantiles are not
    used: the efficiency stated is that of the sample's own spectrum; measure it on independent events).

    Args:
        table: rows from :func:`hepgan.samples.gjets.generate_raw`.
        seed: torch seed of the initialisation and the batches.
        epochs, hidden: training length and width of the two hidden layers.
        tight_efficiency, loose_efficiency: prompt efficiencies that define the two working points.
        info: extra record stored with the model (training command, sample).

    Returns:
        The fitted PhotonID.
    """
    ea = effective_areas(table, "pho1")
    f1, f2 = candidate_features(table, "pho1", ea), candidate_features(table, "pho2", ea)
    w1 = flat_weights(np.asarray(table["pho1_pt"], dtype=np.float64), np.abs(np.asarray(table["pho1_eta"], dtype=np.float64)))
    w2 = flat_weights(np.asarray(table["pho2_pt"], dtype=np.float64), np.abs(np.asarray(table["pho2_eta"], dtype=np.float64)))
    x = np.concatenate([f1, f2])
    y = np.concatenate([np.ones(len(f1)), np.zeros(len(f2))])
    w = np.concatenate([w1 / w1.sum(), w2 / w2.sum()]) * len(x) / 2
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    g = torch.Generator().manual_seed(seed)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # nn.Linear initialisation has no generator argument
    net = _mlp(x.shape[1], hidden)
    torch.random.set_rng_state(torch_state)
    xt = torch.as_tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    wt = torch.as_tensor(w, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    batch = 512
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt[idx])[:, 0], yt[idx], weight=wt[idx])
            loss.backward()
            opt.step()
        sched.step()
    model = PhotonID(net, mean, std, ea, 0.0, 0.0, info or {})
    s1 = model.score(table, "pho1")
    model.working_point = threshold_at_efficiency(s1, tight_efficiency)
    model.loose_point = threshold_at_efficiency(s1, loose_efficiency)
    model.info.setdefault("working_point_definition", {"tight": f"prompt efficiency {tight_efficiency:.0%} on the training candidates",
                                                       "loose": f"prompt efficiency {loose_efficiency:.0%} on the training candidates"})  # fmt: skip
    return model


def roc_auc(score_signal: np.ndarray, score_background: np.ndarray) -> float:
    """Area under the ROC curve (probability that a signal scores above a background), ties counted half."""
    from scipy.stats import rankdata

    s = np.concatenate([score_signal, score_background])
    r = rankdata(s)
    n1, n0 = len(score_signal), len(score_background)
    return float((r[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def binomial(k: int, n: int) -> dict[str, float]:
    """A measured fraction with its binomial standard error."""
    p = k / n if n else float("nan")
    return {"value": p, "error": float(np.sqrt(p * (1 - p) / n)) if n else float("nan"), "k": int(k), "n": int(n)}


def _binned(passed: np.ndarray, x: np.ndarray, edges: tuple, key: str) -> list[dict[str, Any]]:
    """The pass fraction with its binomial error in each bin [lo, hi) of ``x``."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (x >= lo) & (x < hi)
        out.append({key: [lo, hi], **binomial(int(np.sum(passed & inside)), int(np.sum(inside)))})
    return out


def measure(model: PhotonID, test: pd.DataFrame) -> dict[str, Any]:
    """AUC, prompt efficiencies and fake pass rates (with binomial errors) at both working points on ``test``."""
    from scipy.stats import linregress

    s1, s2 = model.score(test, "pho1"), model.score(test, "pho2")
    out: dict[str, Any] = {"n_candidates_per_class": len(test), "auc": roc_auc(s1, s2)}
    n_vtx = np.asarray(test["n_vtx"], dtype=np.float64)
    pt2 = np.asarray(test["pho2_pt"], dtype=np.float64)
    vtx_edges = (0, 25, 33, 41, 1000)
    pt_edges = (20, 25, 30, 40, 60, 100, 1e9)
    for name, thr in (("tight", model.working_point), ("loose", model.loose_point)):
        out[name] = {"threshold": thr, "prompt_efficiency": binomial(int(np.sum(s1 > thr)), len(s1)),
                     "fake_pass_rate": binomial(int(np.sum(s2 > thr)), len(s2))}  # fmt: skip
        out[name]["prompt_efficiency_by_n_vtx"] = _binned(s1 > thr, n_vtx, vtx_edges, "n_vtx")
        out[name]["fake_pass_rate_by_n_vtx"] = _binned(s2 > thr, n_vtx, vtx_edges, "n_vtx")
        out[name]["fake_pass_rate_by_pho2_pt"] = _binned(s2 > thr, pt2, pt_edges, "pt")
    # the pileup slopes of the prompt candidates' summed isolation and of their H_T = H/E x pT, before and after the rho correction
    rho = np.asarray(test["rho"], dtype=np.float64)
    sums = _pu_sums(test, "pho1")
    for key, types, unit in (("pileup_slope", ISO_TYPES, "GeV of isolation per GeV of rho"),
                             ("pileup_slope_h", ("h",), "GeV of H_T (H/E x pT) per GeV of rho")):  # fmt: skip
        raw = sum(sums[k] for k in types)
        corrected = sum(np.maximum(sums[k] - model.ea[k] * rho, 0.0) for k in types)
        fr, fc = linregress(rho, raw), linregress(rho, raw - sum(model.ea[k] for k in types) * rho)
        out[key] = {"raw": fr.slope, "raw_error": fr.stderr, "corrected": fc.slope, "corrected_error": fc.stderr,
                    "corrected_at_least_0": linregress(rho, corrected).slope, "unit": unit}  # fmt: skip
    return out


def read_cache(cache: str | Path, n_events: int, seed: int, settings: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of the first ``n_events`` parton-level events of an existing gjets chunk cache, read as they are.

    For retraining the ID on a sample made by an earlier generator version whose candidates are the same
    (version 3 changed only the jets' pileup correction): the folder's ``settings.json`` must hold ``seed``
    and the ``settings``; generator versions 2 and 3 are accepted. Nothing is generated.
    """
    import dataclasses

    from hepgan.exceptions import InputFileError
    from hepgan.io import read_table
    from hepgan.samples.chunks import chunk_list, chunk_path

    cache = Path(cache)
    try:
        record = json.loads((cache / "settings.json").read_text())
    except (OSError, ValueError) as err:
        raise InputFileError(f"{cache}: not a gjets chunk cache ({type(err).__name__}: {err})") from None
    want = dataclasses.asdict(settings)
    have = record.get("settings", {})
    diff = sorted(k for k in want if k in have and have[k] != want[k])
    if record.get("seed") != seed or diff or record.get("generator_version") not in (2, 3):
        raise InputFileError(f"{cache}: made with seed {record.get('seed')}, generator version {record.get('generator_version')}"
                             f"{', other ' + ', '.join(diff) if diff else ''}; the ID needs seed {seed}, version 2 or 3, these settings")  # fmt: skip
    paths = [chunk_path(cache, c, n) for c, n in chunk_list(n_events, settings.chunk_size)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise InputFileError(f"{cache}: {len(missing)} of {len(paths)} chunks missing (first {missing[0]})")
    tables = [read_table(p) for p in paths]
    raw = pd.concat([t for t in tables if len(t.columns) > 1], ignore_index=True)
    summary = {"cache": str(cache), "generator_version": record.get("generator_version")}
    if summary["generator_version"] == 2:
        summary["note"] = ("made with hepgan.samples.gjets generator version 2; version 3 changed only the jets' pileup correction "
                           "(rho of the jet inputs), so the candidates and the ID inputs of the same seed are the same")  # fmt: skip
    return raw, summary


def train_default(n_events: int = 200_000, seed: int = 1001, workers: int = 2, out: str | Path | None = None,
                  cache_dir: str | Path | None = None, rehadronise: int = 4, from_cache: str | Path | None = None) -> PhotonID:  # fmt: skip
    """Retrains the shipped model exactly as it was made: ``python -m hepgan.samples.photon_id``.

    An independent sample (seed 1001, the default generator settings with ``rehadronise`` hadronisations
    per parton-level event); the candidates of the first 3/4 of its parton-level events train the ID,
    the last quarter measures it (AUC, efficiencies and fake pass rates with their errors).
    ``from_cache``: read the sample from this existing chunk folder (:func:`read_cache`) instead of
    generating it.
    """
    import dataclasses

    from hepgan.samples.gjets import GjetsSettings, generate_raw

    # the sample was made with the process-level pre-filter at 2.7 and no parton-level filter (the ID is trained
    # flat in eta, so the ~1 % of events that pre-filter loses near the acceptance edge do not matter here), and
    # with a pileup pool of 3,000 events (the default was raised to 50,000 later; its test candidates show a
    # fake pass rate flat in n_vtx)
    settings = GjetsSettings(rehadronise=rehadronise, prefilter_eta=2.7, photon_eta_max=0.0, pool_size=3000).validate()
    if from_cache is not None:
        raw, summary = read_cache(from_cache, n_events, seed, settings)
    else:
        raw, summary = generate_raw(n_events, seed, settings, workers=workers, cache_dir=cache_dir)
    split = raw["parton_event"].to_numpy() < 0.75 * n_events  # no parton-level event on both sides
    train, test = raw.loc[split], raw.loc[~split]
    command = f"python -m hepgan.samples.photon_id --events {n_events}" + (f" --from-cache {from_cache}" if from_cache else "")
    info = {
        "training": f"{command} (train_default(n_events={n_events}, seed={seed}, rehadronise={rehadronise}))",
        "training_sample": {"n_parton_events": n_events, "seed": seed, "n_candidates_per_class": len(train),
                            "settings": {k: v for k, v in dataclasses.asdict(settings).items()},
                            **{k: v for k, v in summary.items() if k in ("cache", "generator_version", "note")}},  # fmt: skip
    }
    model = train_photon_id(train, seed=0, info=info)
    model.info["test"] = measure(model, test)
    model.save(out if out is not None else default_model_path())
    return model


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ap = argparse.ArgumentParser(description="retrains the shipped photon ID (hepgan/data/photon_id.*)")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--from-cache", default=None, help="read the sample from this existing chunk folder (generate nothing)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    m = train_default(a.events, workers=a.workers, cache_dir=a.cache_dir, out=a.out, from_cache=a.from_cache)
    print(json.dumps(m.describe(), indent=1))
