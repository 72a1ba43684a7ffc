"""Generation throughput of ``hepgan apply``: objects generated per second, in memory and from disk.

A ConditionalGAN of the paper's generator size (MLP 3 x 512, latent 32; trained for one epoch only:
the speed does not depend on the weights) is applied to toy CR events in the gjets schema:

* sample: ``model.sample(c, k)`` on N events already in memory (generation + quantile transforms);
* apply: ``apply_model`` streaming a Parquet file in chunks and writing the output (disk I/O, pandas,
  derived columns included), with its peak memory.

    python benchmarks/apply.py --events 200000 --k 10 --threads 1          # CPU
    python benchmarks/apply.py --device cuda --events 10000000 --k 5
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
from train_loop import device_banner


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--events", type=int, default=200_000, help="CR events")
    p.add_argument("--k", type=int, default=10, help="generated objects per event")
    p.add_argument("--chunk-size", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from hepgan.io import write_table
    from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN, apply_model
    from hepgan.samples.toys import gjets_toy

    device = device_banner(args.device)
    train = gjets_toy(20_000, seed=1)
    sr = train[train.region == 1]
    c_cols = FEATURE_SETS["full"]
    m = ConditionalGAN(c_columns=c_cols, epochs=1, batch_size=1024, optimizer="adam", progress=False, device=device)
    m.fit(sr[X_OBJECT], sr[c_cols])
    cr = gjets_toy(args.events, seed=2)
    cr["region"] = 0.0
    c = cr[c_cols]
    m.sample(c.iloc[:1000], k=2, seed=0)  # warm-up
    t0, p0 = time.perf_counter(), time.process_time()
    y = m.sample(c, k=args.k, seed=1)
    dt, cpu = time.perf_counter() - t0, time.process_time() - p0
    print(f"sample: {len(c)} events x k={args.k} = {len(y)} objects in {dt:.2f} s wall ({len(y) / dt / 1e6:.3f} M objects/s), "
          f"{cpu:.2f} s CPU ({len(y) / cpu / 1e6:.3f} M objects per CPU second)")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "cr.parquet", Path(tmp) / "cr_gan.parquet"
        write_table(cr, src, metadata={"id_threshold": -0.9})
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0, p0 = time.perf_counter(), time.process_time()
        s = apply_model(m, src, out, k=args.k, seed=1, chunk_size=args.chunk_size, progress=False)
        dt, cpu = time.perf_counter() - t0, time.process_time() - p0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"apply (Parquet in -> Parquet out, chunks of {args.chunk_size}): {s['events_in']} events, {s['rows_out']} rows in {dt:.2f} s: "
            f"{s['events_in'] / dt / 1e6:.3f} M events/s, {s['rows_out'] / dt / 1e6:.3f} M objects/s wall; "
            f"{s['rows_out'] / cpu / 1e6:.3f} M objects per CPU second; peak RSS {rss:.0f} MB (before apply {rss0:.0f} MB)"
        )


if __name__ == "__main__":
    main()
