r"""The look-elsewhere chain of seed 004, from a config: pseudo-experiments, fits, significances, the trials factor.

One pseudo-experiment (:func:`run_experiment`):

1. draws a background-only pseudo-dataset of ``data_events`` events and a labelled background sample
   of ``labelled_events`` events from the WGAN-GP (:class:`hepgan.methods.scaling.model.TableWGAN`),
   and adds ``inject_events`` signal events drawn from the signal sample (0 by default);
2. trains the classifier (:mod:`hepgan.lee.classifier`): ``supervised`` on labelled background vs the
   signal sample, ``semi`` (f_semi) or ``cwola`` on labelled background vs the pseudo-dataset itself;
3. orders the pseudo-dataset by the classifier's response and takes batches from the top down: the
   highest ``f`` of its events for each fraction ``f`` of ``batches`` (1.0: every event, no selection);
4. fits m_llg of each batch (:mod:`hepgan.lee.fits`) with the background f and with f + a Gaussian of
   width ``sigma`` at every mass of the scan; records the local significance curve q0(mu);
5. for the injection test, the Asimov expectation of each batch: the same fits on the expected
   histogram (a large WGAN background sample and the signal sample through the same classifier and
   threshold, scaled to the batch), whose q0 at the signal mass is the median expected significance.

The study (:func:`run_study`) runs ``pseudo_experiments`` of them in parallel worker processes
(:func:`hepgan.executor.map_tasks`), each with its own seed, and summarises per batch: the
distribution of the largest local significance over the scan, the fixed-mass q0 against its
asymptotic distribution (half a delta at 0, half chi2 with 1 degree of freedom), the global p-value
and trials factor at chosen local significances (and for an observed dataset, when given) with
binomial errors, and the Gross-Vitells estimate from the mean number of up-crossings of ``c0``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.config import check, from_dict, load_yaml
from hepgan.exceptions import ConfigError
from hepgan.lee.classifier import ClassifierSettings
from hepgan.samples.zgamma import FEATURES

__all__ = ["LeeConfig", "load_lee_config", "run_experiment", "run_study", "summarise", "asymptotic_check"]

log = logging.getLogger("hepgan")


@dataclasses.dataclass
class LeeClassifier:
    mode: str = "supervised"  # supervised | semi | cwola
    hidden: list[int] = dataclasses.field(default_factory=lambda: [360, 180, 180, 90, 180])
    lr: float = 1e-3
    epochs: int = 8
    batch_size: int = 128
    schedule: str = "cosine"
    mixture_label: float = 1.0

    def settings(self) -> ClassifierSettings:
        return ClassifierSettings(self.mode, tuple(self.hidden), self.lr, self.epochs, self.batch_size, self.schedule, self.mixture_label)

    def validate(self, where: str) -> None:
        self.settings().validate(where)


@dataclasses.dataclass
class LeeConfig:
    """The study's config (a YAML file; every key is optional but ``generator`` and ``signal``)."""

    generator: str = ""  # a TableWGAN model file (hepgan train of a method: scaling config)
    signal: str = ""  # the signal event file (hepgan sample zgamma --process scalar)
    observed: str | None = None  # an observed dataset: its largest local significance gets a global p-value
    features: list[str] = dataclasses.field(default_factory=lambda: list(FEATURES))
    mass: str = "m_llg"
    window: list[float] = dataclasses.field(default_factory=lambda: [130.0, 170.0])
    bin_width: float = 1.0  # GeV
    sigma: float | None = None  # the signal's Gaussian width in GeV (null: from the signal sample, IQR / 1.349)
    scan_step: float = 1.0  # GeV between the scanned masses
    scan_margin: float = 3.0  # GeV kept free at both ends of the window
    data_events: int | None = None  # events per pseudo-dataset (null: the observed dataset's size)
    labelled_events: int | None = None  # labelled background events per pseudo-experiment (null: data_events)
    inject_events: int = 0  # signal events added to every pseudo-dataset
    inject_mass: float = 150.0  # the injected signal's mass (the Asimov test reads q0 there)
    batches: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.25, 0.5, 1.0])  # top fractions of the response
    pseudo_experiments: int = 200
    workers: int = 1
    seed: int = 1
    upcrossing_level: float = 0.5  # c0 of Gross-Vitells (in q0)
    z_local: list[float] = dataclasses.field(default_factory=lambda: [2.0, 3.0])  # local significances of the trials-factor table
    asimov_events: int = 100_000  # WGAN background events of the Asimov expectation
    classifier: LeeClassifier = dataclasses.field(default_factory=LeeClassifier)

    def validate(self, where: str = "") -> None:
        p = f"{where}." if where else ""
        check(bool(self.generator), f"{p}generator", "the path of a TableWGAN model file", self.generator)
        check(bool(self.signal), f"{p}signal", "the path of the signal event file", self.signal)
        check(len(self.features) > 0 and len(set(self.features)) == len(self.features), f"{p}features", "distinct feature names", self.features)
        check(len(self.window) == 2 and 0 < self.window[0] < self.window[1], f"{p}window", "[lo, hi] in GeV with 0 < lo < hi", self.window)
        width = self.window[1] - self.window[0]
        check(0 < self.bin_width <= width / 5, f"{p}bin_width", f"a width in (0, {width / 5:g}] GeV (at least 5 bins)", self.bin_width)
        check(self.sigma is None or self.sigma > 0, f"{p}sigma", "a width > 0 (GeV) or null", self.sigma)
        check(self.scan_step > 0, f"{p}scan_step", "a number > 0 (GeV)", self.scan_step)
        check(0 <= self.scan_margin < width / 2, f"{p}scan_margin", f"a number in [0, {width / 2:g}) GeV", self.scan_margin)
        for name in ("data_events", "labelled_events"):
            v = getattr(self, name)
            check(v is None or v >= 100, f"{p}{name}", "an integer >= 100 or null", v)
        check(self.data_events is not None or self.observed is not None, f"{p}data_events", "a number of events (or an observed dataset to take it from)", None)
        check(self.inject_events >= 0, f"{p}inject_events", "an integer >= 0", self.inject_events)
        check(len(self.batches) > 0 and all(0 < f <= 1 for f in self.batches), f"{p}batches", "fractions in (0, 1]", self.batches)
        check(1 <= self.pseudo_experiments <= 100_000, f"{p}pseudo_experiments", "an integer in [1, 100000]", self.pseudo_experiments)
        check(1 <= self.workers <= 256, f"{p}workers", "an integer in [1, 256]", self.workers)
        check(self.upcrossing_level > 0, f"{p}upcrossing_level", "a number > 0", self.upcrossing_level)
        check(len(self.z_local) > 0 and all(z > 0 for z in self.z_local), f"{p}z_local", "significances > 0", self.z_local)
        check(self.asimov_events >= 1000, f"{p}asimov_events", "an integer >= 1000", self.asimov_events)

    def scan_masses(self) -> np.ndarray:
        lo, hi = self.window[0] + self.scan_margin, self.window[1] - self.scan_margin
        return np.arange(lo, hi + 1e-9, self.scan_step)


def load_lee_config(path: str | Path, overrides: dict[str, Any] | None = None) -> LeeConfig:
    """Reads and validates a LEE config (relative file paths are taken relative to the config's folder)."""
    from hepgan.runs import apply_overrides

    data = load_yaml(path)
    apply_overrides(data, overrides)
    cfg = from_dict(LeeConfig, data)
    base = Path(path).resolve().parent
    for name in ("generator", "signal", "observed"):
        v = getattr(cfg, name)
        if v and not Path(v).is_absolute() and not Path(v).exists():
            setattr(cfg, name, str(base / v))
    return cfg


# --------------------------------------------------------------------------- one pseudo-experiment


def _signal_sigma(m: np.ndarray) -> float:
    q25, q75 = np.percentile(m, [25, 75])
    return float((q75 - q25) / 1.349)


def _prepared(cfg: LeeConfig) -> dict[str, Any]:
    """What every experiment reads: the generator, the signal sample, sizes and the signal width."""
    from hepgan.io import check_columns, read_table
    from hepgan.methods.scaling.model import TableWGAN

    gen = TableWGAN.load(cfg.generator)
    missing = [c for c in [*cfg.features, cfg.mass] if c not in gen.columns]
    if missing:
        raise ConfigError(f"{cfg.generator}: the generator makes no column '{missing[0]}' (it makes {', '.join(gen.columns)})")
    sig = read_table(cfg.signal)
    check_columns(list(sig.columns), [*cfg.features, cfg.mass], cfg.signal)
    if len(sig) < 10:
        raise ConfigError(f"{cfg.signal}: {len(sig)} signal events; at least 10 are needed")
    obs = None
    if cfg.observed:
        obs = read_table(cfg.observed)
        check_columns(list(obs.columns), [*cfg.features, cfg.mass], cfg.observed)
    lo, hi = cfg.window
    m_sig = sig[cfg.mass].to_numpy(np.float64)
    sigma = cfg.sigma or _signal_sigma(m_sig[(m_sig > lo) & (m_sig < hi)])
    n_data = cfg.data_events or len(obs)
    return {"generator": gen, "signal": sig, "observed": obs, "sigma": sigma, "n_data": int(n_data),
            "n_labelled": int(cfg.labelled_events or n_data)}  # fmt: skip


def _asimov_q0(bkg_m: np.ndarray, sig_m: np.ndarray, scale_b: float, scale_s: float, cfg: LeeConfig, sigma: float) -> float:
    """q0 at the injected mass of the expected histogram (background shape from bkg_m, scaled; signal from sig_m, scaled)."""
    from hepgan.lee.fits import Histogram, fit_background, fit_signal, histogram

    hb = histogram(bkg_m, tuple(cfg.window), cfg.bin_width)
    hs = histogram(sig_m, tuple(cfg.window), cfg.bin_width)
    h = Histogram(hb.edges, hb.counts * scale_b + hs.counts * scale_s)
    b = fit_background(h)
    s = fit_signal(h, cfg.inject_mass, sigma, b)
    return max(2.0 * (s.loglike - b.loglike), 0.0) if s.params["n1"] > 0 else 0.0


def run_experiment(cfg: LeeConfig, index: int, prepared: dict[str, Any] | None = None, data: pd.DataFrame | None = None) -> dict[str, Any]:
    """One pseudo-experiment (see the module docstring); ``data`` replaces the pseudo-dataset (the observed one).

    Returns:
        {"index", "n_data", "n_injected", "batches": [{"fraction", "n", "q0" (per scan mass), "n1", "valid",
        "q0_asimov" (with injection), "threshold"}]}.
    """
    from hepgan.estimator import seed_from
    from hepgan.lee.classifier import train_classifier
    from hepgan.lee.fits import histogram, local_significance_scan

    p = prepared or _prepared(cfg)
    gen = p["generator"]
    sig = p["signal"]
    rng = np.random.default_rng(seed_from(cfg.seed, index, 21))
    labelled = gen.sample(p["n_labelled"], seed=seed_from(cfg.seed, index, 22))
    n_inj = 0
    if data is None:
        data = gen.sample(p["n_data"], seed=seed_from(cfg.seed, index, 23))
        n_inj = int(rng.poisson(cfg.inject_events)) if cfg.inject_events > 0 else 0
        if n_inj:
            data = pd.concat([data, sig.iloc[rng.choice(len(sig), n_inj, replace=True)][data.columns]], ignore_index=True)
    s = cfg.classifier.settings()
    x_lab = labelled[cfg.features].to_numpy(np.float64)
    x_data = data[cfg.features].to_numpy(np.float64)
    x_one = sig[cfg.features].to_numpy(np.float64) if s.mode == "supervised" else x_data
    clf = train_classifier(x_lab, x_one, s, seed=seed_from(cfg.seed, index, 24) % (2**31))
    r = clf.response(x_data)
    order = np.argsort(-r, kind="stable")
    m = data[cfg.mass].to_numpy(np.float64)
    mus = cfg.scan_masses()
    asimov_bkg = None
    if cfg.inject_events > 0:
        asimov_bkg = gen.sample(cfg.asimov_events, seed=seed_from(cfg.seed, index, 25))
        r_bkg = clf.response(asimov_bkg[cfg.features].to_numpy(np.float64))
        r_sig = clf.response(sig[cfg.features].to_numpy(np.float64))
    out = []
    for f in cfg.batches:
        n = max(math.ceil(f * len(m)), 1)
        sel = order[:n]
        thr = float(r[sel[-1]]) if f < 1 else 0.0
        scan = local_significance_scan(histogram(m[sel], tuple(cfg.window), cfg.bin_width), mus, p["sigma"])
        row = {"fraction": f, "n": n, "threshold": thr, "q0": scan["q0"].tolist(), "n1": scan["n1"].tolist(), "valid": bool(scan["valid"].all())}
        if asimov_bkg is not None:
            kb = r_bkg >= thr if f < 1 else np.ones(len(r_bkg), dtype=bool)
            ks = r_sig >= thr if f < 1 else np.ones(len(r_sig), dtype=bool)
            scale_b = p["n_data"] / len(r_bkg)
            scale_s = cfg.inject_events / len(r_sig)
            row["q0_asimov"] = _asimov_q0(asimov_bkg[cfg.mass].to_numpy(np.float64)[kb], sig[cfg.mass].to_numpy(np.float64)[ks], scale_b, scale_s, cfg,
                                          p["sigma"])  # fmt: skip
        out.append(row)
    return {"index": index, "n_data": len(m), "n_injected": n_inj, "batches": out}


_WORKER_STATE: dict[str, Any] = {}


def experiment_job(job: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """A picklable task of :func:`run_study`: (the config as a mapping, the experiment's index)."""
    cfg_dict, index = job
    key = json.dumps(cfg_dict, sort_keys=True)
    if _WORKER_STATE.get("key") != key:  # read the generator and the signal once per worker process
        import torch

        torch.set_num_threads(1)
        cfg = from_dict(LeeConfig, cfg_dict)
        _WORKER_STATE.update(key=key, cfg=cfg, prepared=_prepared(cfg))
    level = log.level
    log.setLevel(logging.WARNING)  # the engine's per-fit lines would drown the study's progress bar
    try:
        return run_experiment(_WORKER_STATE["cfg"], index, _WORKER_STATE["prepared"])
    finally:
        log.setLevel(level)


# --------------------------------------------------------------------------- the study


def asymptotic_check(q0: np.ndarray) -> dict[str, float]:
    r"""Background-only q0 at one mass against :math:`\tfrac12\delta(0) + \tfrac12\chi^2_1`.

    Returns:
        n, fraction_zero (expected 0.5, with its binomial error 0.5/sqrt(n)), ks_pvalue of the positive
        values against chi2_1 (nan with fewer than 5), and the fraction above 1, 4 (expected 0.159, 0.0228).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> q = np.where(rng.random(4000) < 0.5, 0.0, rng.chisquare(1, 4000))
        >>> r = asymptotic_check(q)
        >>> abs(r["fraction_zero"] - 0.5) < 4 * r["fraction_zero_err"], r["ks_pvalue"] > 1e-3
        (True, True)
    """
    from scipy import stats

    q0 = np.asarray(q0, dtype=np.float64)
    n = len(q0)
    pos = q0[q0 > 1e-6]
    ks = float(stats.kstest(pos, stats.chi2(1).cdf).pvalue) if len(pos) >= 5 else float("nan")
    return {"n": n, "fraction_zero": float(np.mean(q0 <= 1e-6)), "fraction_zero_err": 0.5 / math.sqrt(max(n, 1)), "ks_pvalue": ks,
            "fraction_above_1": float(np.mean(q0 > 1.0)), "fraction_above_4": float(np.mean(q0 > 4.0))}  # fmt: skip


def _binomial(k: int, n: int) -> tuple[float, float]:
    """A fraction and its error (a 68 % Wilson-like error that stays > 0 at k = 0)."""
    p = k / n
    return p, math.sqrt(max(p * (1 - p), 1.0 / n) / n)


def summarise(cfg: LeeConfig, experiments: list[dict[str, Any]], observed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The study's numbers per batch (see the module docstring)."""
    from hepgan.lee.fits import gross_vitells, p_to_z, upcrossings, z_to_p

    mus = cfg.scan_masses()
    i_inj = int(np.argmin(np.abs(mus - cfg.inject_mass)))
    n = len(experiments)
    out: dict[str, Any] = {"n_experiments": n, "scan_masses": mus.tolist(), "batches": []}
    for b, f in enumerate(cfg.batches):
        q = np.array([e["batches"][b]["q0"] for e in experiments])  # (n, n_mu)
        qmax = q.max(1)
        zmax = np.sqrt(qmax)
        ups = np.array([upcrossings(row, cfg.upcrossing_level) for row in q])
        mean_up = float(ups.mean())
        rows = []
        for z in cfg.z_local:
            c = z * z
            k = int(np.sum(qmax >= c))
            pg, pg_err = _binomial(k, n)
            pl = float(z_to_p(z))
            gv = float(gross_vitells(c, mean_up, cfg.upcrossing_level))
            rows.append({"z_local": z, "p_local": pl, "p_global": pg, "p_global_err": pg_err, "trials_factor": pg / pl, "trials_factor_err": pg_err / pl,
                         "p_global_gv": gv, "trials_factor_gv": gv / pl, "z_global": float(p_to_z(max(pg, 1e-300))) if pg > 0 else float("inf")})  # fmt: skip
        batch = {
            "fraction": f, "max_local_z": zmax.tolist(), "max_local_z_mean": float(zmax.mean()),
            "false_signal_rate_3sigma": _binomial(int(np.sum(zmax >= 3)), n), "mean_upcrossings": mean_up,
            "mean_upcrossings_err": float(ups.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
            "asymptotic_at_inject_mass": asymptotic_check(q[:, i_inj]), "asymptotic_all_masses": asymptotic_check(q.ravel()),
            "trials": rows, "valid_fraction": float(np.mean([e["batches"][b]["valid"] for e in experiments])),
        }  # fmt: skip
        if cfg.inject_events > 0:
            z_inj = np.sqrt(q[:, i_inj])
            z_asimov = np.sqrt(np.array([e["batches"][b]["q0_asimov"] for e in experiments]))
            spread = float(z_inj.std(ddof=1)) if n > 1 else float("nan")
            batch["injection"] = {"median_z": float(np.median(z_inj)), "median_z_err": 1.2533 * spread / math.sqrt(n),
                                  "asimov_z_median": float(np.median(z_asimov)), "z_spread": spread}  # fmt: skip
        if observed is not None:
            qo = np.asarray(observed["batches"][b]["q0"])
            zo = float(np.sqrt(qo.max()))
            k = int(np.sum(qmax >= qo.max()))
            pg, pg_err = _binomial(k, n)
            pl = float(z_to_p(zo)) if zo > 0 else 0.5
            batch["observed"] = {"max_local_z": zo, "at_mass": float(mus[int(np.argmax(qo))]), "p_local": pl, "p_global": pg, "p_global_err": pg_err,
                                 "p_global_gv": float(gross_vitells(qo.max(), mean_up, cfg.upcrossing_level)),
                                 "trials_factor": pg / pl if pl > 0 else float("nan")}  # fmt: skip
        out["batches"].append(batch)
    # looking elsewhere in the batches too: the largest local significance over every batch and mass
    qany = np.array([max(max(bb["q0"]) for bb in e["batches"]) for e in experiments])
    rows = []
    for z in cfg.z_local:
        pg, pg_err = _binomial(int(np.sum(qany >= z * z)), n)
        pl = float(z_to_p(z))
        rows.append({"z_local": z, "p_local": pl, "p_global": pg, "p_global_err": pg_err, "trials_factor": pg / pl, "trials_factor_err": pg_err / pl})
    out["any_batch"] = {"max_local_z": np.sqrt(qany).tolist(), "trials": rows}
    return out


def run_study(cfg: LeeConfig, out_dir: str | Path, progress: bool = True, scheduler: str | None = None) -> dict[str, Any]:
    """Runs the pseudo-experiments and writes ``out_dir``: experiments.json, summary.json, summary.txt, figures, report.html.

    The folder is claimed before the work (it must not hold a previous study) and every file is written
    atomically; an interrupted study leaves no summary.
    """
    import yaml

    from hepgan.config import to_dict
    from hepgan.executor import map_tasks
    from hepgan.io import atomic_path
    from hepgan.lee.report import write_lee_report
    from hepgan.report import jsonable

    out = Path(out_dir)
    if (out / "summary.json").exists() or (out / "experiments.json").exists():
        raise ConfigError(f"{out}: holds a LEE study already; choose another --out folder")
    prepared = _prepared(cfg)  # bad files fail before anything is written
    out.mkdir(parents=True, exist_ok=True)
    cfg_dict = to_dict(cfg)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
    log.info("lee: %d pseudo-experiments of %d events (+ %d labelled background), classifier %s, signal width %.2f GeV, %d worker(s)",
             cfg.pseudo_experiments, prepared["n_data"], prepared["n_labelled"], cfg.classifier.mode, prepared["sigma"], cfg.workers)  # fmt: skip
    jobs = [(cfg_dict, i) for i in range(cfg.pseudo_experiments)]
    experiments = map_tasks(experiment_job, jobs, workers=cfg.workers, scheduler=scheduler, progress=progress, desc="pseudo-experiments")
    experiments.sort(key=lambda e: e["index"])
    observed = None
    if prepared["observed"] is not None:
        observed = run_experiment(cfg, -1, prepared, data=prepared["observed"])
    summary = summarise(cfg, experiments, observed)
    summary.update({"sigma": prepared["sigma"], "n_data": prepared["n_data"], "n_labelled": prepared["n_labelled"], "config": cfg_dict})
    with atomic_path(out / "experiments.json") as tmp:
        tmp.write_text(json.dumps(jsonable({"experiments": experiments, "observed": observed})))
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(jsonable(summary), indent=1))
    write_lee_report(out, cfg, summary, experiments, observed)
    return summary
