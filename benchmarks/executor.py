"""The executor (issue 20): one process vs a local Dask cluster, for multi-file apply and a ttbar sample.

* startup: ``map_tasks`` of 2 trivial tasks on a LocalCluster of N workers (made, used and closed);
* apply: ``apply_files`` over F toy CR files of E events (k generated objects each), 1 vs N workers;
* ttbar: ``make_ttbar`` of T events in chunks of C, 1 vs N workers (a fresh chunk cache each time).

Every worker has one thread (OMP_NUM_THREADS=1, set here before torch is imported).

    python benchmarks/executor.py --workers 2 --files 4 --events 20000 --ttbar 4000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def _nothing(x: int) -> int:
    return x


def _import_model(x: int) -> int:
    import hepgan.methods.background  # noqa: F401  (torch and hepgan: what every apply task imports first)

    return x


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--events", type=int, default=20_000, help="CR events per file")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--ttbar", type=int, default=4000, help="ttbar events (0: skip)")
    p.add_argument("--chunk-size", type=int, default=1000, help="ttbar events per chunk")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    from hepgan.executor import map_tasks
    from hepgan.io import write_table
    from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
    from hepgan.methods.background.apply import apply_files
    from hepgan.samples.toys import gjets_toy

    n = args.workers
    print(f"executor benchmark: {n} workers of 1 thread, {os.cpu_count()} CPUs (shared: wall times are noisy)")
    t0 = time.perf_counter()
    map_tasks(_nothing, [1, 2], workers=n)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    map_tasks(_import_model, list(range(n)), workers=n)
    cold = time.perf_counter() - t0
    print(f"startup: LocalCluster of {n} workers made, 2 trivial tasks, closed: {startup:.2f} s; "
          f"the same with {n} tasks that import torch and hepgan's models: {cold:.2f} s")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        train = gjets_toy(20_000, seed=1)
        sr = train[train.region == 1]
        c_cols = FEATURE_SETS["full"]
        ConditionalGAN(c_columns=c_cols, epochs=1, batch_size=1024, progress=False).fit(sr[X_OBJECT], sr[c_cols]).save(d / "model.safetensors")
        inputs = []
        for i in range(args.files):
            cr = gjets_toy(args.events, seed=10 + i)
            cr["region"] = 0.0
            write_table(cr, d / f"cr_{i}.parquet", metadata={"id_threshold": 0.0})
            inputs.append(str(d / f"cr_{i}.parquet"))
        times = {}
        for w in (1, n):
            t0 = time.perf_counter()
            r = apply_files(d / "model.safetensors", inputs, d / f"out_{w}", seed=0, workers=w, progress=False, k=args.k)
            times[w] = time.perf_counter() - t0
            rows = sum(s["rows_out"] for s in r["written"])
        print(f"apply: {args.files} files x {args.events} events, k = {args.k} ({rows} rows out): "
              f"1 worker {times[1]:.2f} s ({times[1] / args.files:.2f} s per file), {n} workers {times[n]:.2f} s; "
              f"ratio {times[1] / times[n]:.2f}")  # fmt: skip

        if args.ttbar:
            from hepgan.samples.ttbar import make_ttbar

            times = {}
            for w in (1, n):
                t0 = time.perf_counter()
                make_ttbar(args.ttbar, seed=3, workers=w, cache_dir=d / f"cache_{w}", progress=False, chunk_size=args.chunk_size)
                times[w] = time.perf_counter() - t0
            chunks = -(-args.ttbar // args.chunk_size)
            print(f"ttbar: {args.ttbar} events in {chunks} chunks: 1 worker {times[1]:.2f} s ({times[1] / chunks:.2f} s per chunk), "
                  f"{n} workers {times[n]:.2f} s; ratio {times[1] / times[n]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
