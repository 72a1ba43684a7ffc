"""Scan throughput: K configurations trained at once (torch.func) vs one after another, in one process.

The same conditional GAN as benchmarks/train_loop.py (MLP G 3 x 512, D 3 x 256, batch 1024, BCE with
label noise, Adam), K = 16 members: 4 learning rates x 2 label noises x 2 seeds. Both ways go through the
public API on the same data: ``fit_scan(models, ...)`` (one vectorised group) against
``model.fit(...)`` for each member in turn (step "auto": the fast step on CUDA, eager on a CPU).
Throughput = members x steps / training time (the loops' own epoch times, preprocessing excluded).

    python benchmarks/scan.py --events 16384 --epochs 1 --threads 1     # CPU, a few minutes
    python benchmarks/scan.py --device cuda --epochs 3
"""

from __future__ import annotations

import argparse
import itertools
import time

import pandas as pd
import torch
from train_loop import D_HIDDEN, DROPOUT, G_HIDDEN, LATENT, N_C, N_X, device_banner, synthetic


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=2, help="epochs per member (the first is excluded when > 1)")
    p.add_argument("--members", type=int, default=16, help="at most 16")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from hepgan.methods.background import ConditionalGAN, fit_scan

    device = device_banner(args.device)
    grid = list(itertools.product([1e-3, 5e-4, 2e-4, 1e-4], [0.1, 0.15], [0, 1]))[: args.members]
    c, x = synthetic(args.events)
    cols_c, cols_x = [f"c{i}" for i in range(N_C)], [f"x{i}" for i in range(N_X)]
    cdf, xdf = pd.DataFrame(c, columns=cols_c), pd.DataFrame(x, columns=cols_x)

    def model(lr: float, eps: float, seed: int) -> ConditionalGAN:
        return ConditionalGAN(
            x_columns=cols_x, c_columns=cols_c, discrete_columns=["c4", "c5"], latent_dim=LATENT, g_hidden=G_HIDDEN,
            d_hidden=D_HIDDEN, dropout=DROPOUT, optimizer="adam", lr=lr, epochs=args.epochs, batch_size=args.batch,
            label_noise=eps, device=device, progress=False, seed=seed,
        )

    steps = args.events // args.batch
    skip = 1 if args.epochs > 1 else 0
    print(f"{len(grid)} members, {args.events} events, batch {args.batch}: {steps} steps per epoch, {args.epochs} epoch(s)")

    t0, p0 = time.perf_counter(), time.process_time()
    seq_time = 0.0
    for g in grid:
        m = model(*g).fit(xdf, cdf)
        seq_time += sum(m.history_["time"][skip:])
    seq_cpu = time.process_time() - p0
    print(f"  one after another: {time.perf_counter() - t0:.1f} s wall, {seq_cpu:.1f} s CPU (preprocessing included)", flush=True)
    t0, p0 = time.perf_counter(), time.process_time()
    models = fit_scan([model(*g) for g in grid], xdf, cdf, progress=False)
    scan_cpu = time.process_time() - p0
    scan_time = sum(sum(m.history_["time"][skip:]) for m in models)  # each member holds 1/K of the group's epoch time
    print(f"  vectorised:        {time.perf_counter() - t0:.1f} s wall, {scan_cpu:.1f} s CPU (preprocessing included)", flush=True)
    n = len(grid) * steps * (args.epochs - skip)
    seq, vec = n / seq_time, n / scan_time
    print(f"by the loops' wall time:  one after another {seq:9.2f} member-steps/s, vectorised {vec:9.2f}, ratio {vec / seq:.2f}")
    print(f"by process CPU time:      ratio {seq_cpu / scan_cpu:.2f} (same preprocessing on both sides)")


if __name__ == "__main__":
    main()
