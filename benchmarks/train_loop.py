"""Training-loop throughput: a plain PyTorch loop, CTGAN (when installed) and hepgan, in one process.

All loops train the same conditional GAN on the same synthetic data: 100k events x 12 features
(8 conditions c, 4 generated x), batch 1024, MLP generator 3 x 512 (latent 32), MLP discriminator
3 x 256 with dropout 0.2, the BCE of eq. (1) with label noise 0.15, a fresh latent draw for the
generator update, Adam (0.5, 0.999) at lr 1e-3 with a cosine decay. Printed: steps/s of each loop
and their ratios to the plain loop measured in the same run.

* plain: a deliberately plain loop: DataLoader over a TensorDataset (shuffle), per-batch .to(device), eager.
* ctgan: CTGAN's own fit (its networks: generator 3 x 512 residual, discriminator 3 x 256, batch 1000,
  pac 10, and its own loss: WGAN-GP with conditional vectors); its preprocessing (DataTransformer
  fit + transform) is timed separately and subtracted.
* hepgan eager: ConditionalGAN.fit with step="eager" (data on the device, batches by index).
* hepgan graph: ConditionalGAN.fit with step="graph": the fast step, captured in a CUDA graph on CUDA
  (on a CPU it runs uncaptured: the same arithmetic, no capture).

Every rate is printed twice: by wall time and by the process's CPU time. On a CPU shared with other
jobs, run with ``--threads 1`` and compare by CPU time (what the summary then uses): other processes
do not inflate it. hepgan's loop is timed without its preprocessing; by wall time the first epoch
(warm-up, graph capture) is excluded when there are several. The paper's schedule (5000 epochs
of 100k events) is extrapolated from the measured rate. ``--metric-events N --metric-k K`` adds the
per-epoch -2lnLambda on N validation events x K generated objects to hepgan's epochs.

    python benchmarks/train_loop.py                      # CPU: one epoch per loop
    python benchmarks/train_loop.py --device cuda --epochs 3 --metric-events 10000 --metric-k 100
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

N_C, N_X, LATENT = 8, 4, 32
G_HIDDEN, D_HIDDEN, DROPOUT, EPS, LR = (512, 512, 512), (256, 256, 256), 0.2, 0.15, 1e-3


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated, non-Gaussian toy events: (c (n, 8), x (n, 4)) in physical-looking units."""
    rng = np.random.default_rng(seed)
    c = np.column_stack([
        rng.exponential(30.0, n) + 20.0, rng.normal(0, 1.4, n), rng.uniform(-np.pi, np.pi, n), rng.normal(0, 1, n),
        rng.poisson(2.0, n).astype(float), rng.poisson(20.0, n).astype(float), rng.gamma(2.0, 10.0, n), rng.normal(0, 2, n),
    ])
    x = np.column_stack([
        0.5 * c[:, 0] + rng.exponential(10.0, n), 0.6 * c[:, 1] + rng.normal(0, 1, n),
        rng.uniform(-np.pi, np.pi, n), np.tanh(0.05 * c[:, 6] + rng.normal(0, 1, n)),
    ])
    return c, x


def device_banner(arg: str) -> str:
    """Resolves --device (auto: cuda when available) and prints the device, torch threads and load."""
    device = "cuda" if arg == "auto" and torch.cuda.is_available() else ("cpu" if arg == "auto" else arg)
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device: {name}; torch {torch.__version__}, {torch.get_num_threads()} threads; load average {load:.1f}")
    return device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _mlp(n_in: int, n_out: int, hidden, dropout: float = 0.0) -> nn.Sequential:
    layers, w = [], n_in
    for h in hidden:
        layers += [nn.Linear(w, h), nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout else [])
        w = h
    return nn.Sequential(*layers, nn.Linear(w, n_out))


def plain_loop(c: np.ndarray, x: np.ndarray, batch: int, steps: int, device: torch.device, warmup: int = 3) -> tuple[float, float]:
    """The plain loop: DataLoader, per-batch copies, eager. Returns steps/s (wall, process CPU) over ``steps`` steps after ``warmup``."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    # the same [-1, 1] scaling a user would do (min-max), so the networks see the same ranges
    scale = lambda a: torch.as_tensor(2 * (a - a.min(0)) / (a.max(0) - a.min(0)) - 1, dtype=torch.float32)  # noqa: E731
    loader = DataLoader(TensorDataset(scale(c), scale(x)), batch_size=batch, shuffle=True, drop_last=True)
    g = _mlp(N_C + LATENT, N_X, G_HIDDEN).to(device)
    d = _mlp(N_C + N_X, 1, D_HIDDEN, DROPOUT).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=LR, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=LR, betas=(0.5, 0.999))
    total = max(steps + warmup, 1)
    sch = [torch.optim.lr_scheduler.CosineAnnealingLR(o, total) for o in (opt_g, opt_d)]
    bce = nn.functional.binary_cross_entropy_with_logits
    done, t0, p0 = 0, None, None
    while done < steps + warmup:
        for cb, xb in loader:
            if done == warmup:
                _sync(device)
                t0, p0 = time.perf_counter(), time.process_time()
            if done == steps + warmup:
                break
            cb, xb = cb.to(device), xb.to(device)
            z = torch.randn(len(cb), LATENT, device=device)
            with torch.no_grad():
                fake = torch.tanh(g(torch.cat([cb, z], 1)))
            l_real = 1 - EPS * torch.rand(len(cb), device=device)
            l_fake = EPS * torch.rand(len(cb), device=device)
            loss_d = 0.5 * (bce(d(torch.cat([cb, xb], 1)).squeeze(1), l_real) + bce(d(torch.cat([cb, fake], 1)).squeeze(1), l_fake))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            z = torch.randn(len(cb), LATENT, device=device)
            fake = torch.tanh(g(torch.cat([cb, z], 1)))
            loss_g = nn.functional.softplus(-d(torch.cat([cb, fake], 1)).squeeze(1)).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for s in sch:
                s.step()
            done += 1
    _sync(device)
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - p0)


def ctgan_loop(c: np.ndarray, x: np.ndarray, device: torch.device, epochs: int = 1) -> dict[str, float] | None:
    """CTGAN 0.x on the same 12 columns. Returns {wall, cpu (steps/s), preprocessing_s} or None when not installed.

    The training steps are timed from inside: CTGAN's generator optimizer is wrapped so that each
    step() records the clocks; the rate runs from the first to the last generator step, so CTGAN's
    preprocessing (a Bayesian GMM per column, then the transform) is excluded.
    """
    try:
        import ctgan.synthesizers.ctgan as ctgan_module
        from ctgan import CTGAN
    except ImportError:
        return None
    df = pd.DataFrame(np.column_stack([c, x]), columns=[f"c{i}" for i in range(N_C)] + [f"x{i}" for i in range(N_X)])
    stamps: list[tuple[float, float]] = []

    class TimedAdam(torch.optim.Adam):
        def step(self, closure=None):
            out = super().step(closure)
            if self.param_groups[0].get("timed"):
                _sync(device)
                stamps.append((time.perf_counter(), time.process_time()))
            return out

    class Optim:  # CTGAN reads optim.Adam from its module's global `optim`
        @staticmethod
        def Adam(params, **kw):
            opt = TimedAdam(params, **kw)
            opt.param_groups[0]["timed"] = len(created) == 0  # the generator's optimizer is made first
            created.append(opt)
            return opt

    created: list[torch.optim.Optimizer] = []
    model = CTGAN(
        embedding_dim=LATENT, generator_dim=G_HIDDEN, discriminator_dim=D_HIDDEN, batch_size=1000, epochs=epochs,
        pac=10, cuda=device.type == "cuda", verbose=False,
    )
    saved = ctgan_module.optim
    ctgan_module.optim = Optim
    try:
        t0 = time.perf_counter()
        model.fit(df)
    finally:
        ctgan_module.optim = saved
    if len(stamps) < 3:
        return None
    n = len(stamps) - 1
    t_pre = stamps[0][0] - t0
    return {
        "wall": n / (stamps[-1][0] - stamps[0][0]),
        "cpu": n / (stamps[-1][1] - stamps[0][1]),
        "preprocessing_s": t_pre,
    }


def hepgan_loop(c: np.ndarray, x: np.ndarray, batch: int, epochs: int, device: str, step: str, metric: tuple[int, int] | None) -> tuple[float, float]:
    """The loop of ConditionalGAN.fit with the given step, preprocessing excluded. Returns steps/s (wall, process CPU).

    Wall: the loop's own epoch times (the first epoch excluded when there are several). CPU: process time
    of the whole loop (all epochs, the first included).
    """
    from hepgan.methods.background import ConditionalGAN
    from hepgan.training.loop import Trainer

    cols_c, cols_x = [f"c{i}" for i in range(N_C)], [f"x{i}" for i in range(N_X)]
    cdf, xdf = pd.DataFrame(c, columns=cols_c), pd.DataFrame(x, columns=cols_x)
    validation = None
    if metric is not None:
        cv, xv = synthetic(metric[0], seed=1)
        validation = (pd.DataFrame(xv, columns=cols_x), pd.DataFrame(cv, columns=cols_c), None)
    m = ConditionalGAN(
        x_columns=cols_x, c_columns=cols_c, discrete_columns=["c4", "c5"], latent_dim=LATENT, g_hidden=G_HIDDEN, d_hidden=D_HIDDEN,
        dropout=DROPOUT, optimizer="adam", lr=LR, epochs=epochs, batch_size=batch, label_noise=EPS, metric_columns=cols_x,
        metric_k=metric[1] if metric else 1, metric_events=metric[0] if metric else None, device=device, step=step, progress=False, seed=0,
    )
    task, data, settings = m._prepare(xdf, cdf, None, validation, None)  # what fit does before the loop
    trainer = Trainer(settings)
    p0 = time.process_time()
    history = trainer.fit(task, data)
    cpu = time.process_time() - p0
    times = history["time"][1:] if len(history["time"]) > 1 else history["time"]
    steps = len(c) // batch
    return steps / statistics.median(times), steps * epochs / cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=1, help="hepgan epochs per variant (median of epochs 2.. when > 1)")
    p.add_argument("--steps", type=int, default=None, help="plain-loop timed steps (default: one epoch)")
    p.add_argument("--repeats", type=int, default=1, help="repeat every measurement, report the median")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--metric-events", type=int, default=0, help="per-epoch -2lnLambda on this many validation events (0: off)")
    p.add_argument("--metric-k", type=int, default=100)
    p.add_argument("--no-ctgan", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(device_banner(args.device))
    g_arch, d_arch = "x".join(map(str, G_HIDDEN)), "x".join(map(str, D_HIDDEN))
    print(f"data: {args.events} events x {N_C + N_X} features, batch {args.batch}; G {N_C + LATENT}->{g_arch}->{N_X}, D {N_C + N_X}->{d_arch}->1")
    c, x = synthetic(args.events)
    steps_epoch = args.events // args.batch
    metric = (args.metric_events, args.metric_k) if args.metric_events else None
    results: dict[str, list[tuple[float, float]]] = {}

    def record(key: str, rates: tuple[float, float]) -> None:
        results.setdefault(key, []).append(rates)
        print(f"  {key:<26s} {rates[0]:9.2f} steps/s wall  {rates[1]:9.2f} steps/s CPU time", flush=True)

    ct = None
    for r in range(args.repeats):
        print(f"repeat {r + 1}/{args.repeats}", flush=True)
        record("plain (DataLoader, eager)", plain_loop(c, x, args.batch, args.steps or steps_epoch, device))
        record("hepgan eager", hepgan_loop(c, x, args.batch, args.epochs, str(device), "eager", None))
        record("hepgan graph", hepgan_loop(c, x, args.batch, args.epochs, str(device), "graph", None))
        if metric:
            record("hepgan graph + metric", hepgan_loop(c, x, args.batch, args.epochs, str(device), "graph", metric))
        if not args.no_ctgan and r == 0:
            ct = ctgan_loop(c, x, device)
            if ct is None:
                print("  ctgan: not installed (pip install ctgan): skipped")
            else:
                record("ctgan", (ct["wall"], ct["cpu"]))
    # on a shared CPU the process's CPU time is the fair clock (other jobs do not inflate it); on a GPU, wall time
    clock = 1 if device.type == "cpu" and torch.get_num_threads() == 1 else 0
    plain = statistics.median(v[clock] for v in results["plain (DataLoader, eager)"])
    print(
        f"\nmedian of {args.repeats} repeat(s), by {'process CPU time' if clock else 'wall time'}; "
        f"ratio = steps/s / plain steps/s; paper schedule = 5000 epochs x {steps_epoch} steps"
    )
    for key, values in results.items():
        v = statistics.median(x[clock] for x in values)
        hours = 5000 * steps_epoch / v / 3600
        sched = f"{hours:8.2f} h" if hours >= 1 else f"{hours * 60:8.1f} min"
        print(f"{key:<26s} {v:9.2f} steps/s   ratio {v / plain:6.2f}   paper schedule {sched}")
    if ct is not None:
        print(f"ctgan preprocessing (in its fit, before the first step): {ct['preprocessing_s']:.1f} s")


if __name__ == "__main__":
    main()
