"""Fills the chunk cache of a gjets sample for at most a given time, then stops cleanly.

    python scripts/gjets_generate.py --events 4000000 --seed 2026 --rehadronise 4 --workers 2 \\
        --max-seconds 7000 --cache-dir ~/.cache/hepgan/samples

For batch slots and background runs of limited length: the missing chunks are generated in chunk
order by ``--workers`` processes; no new chunk is started after ``--max-seconds``, the chunks running
then are finished (each is written atomically), and the next run with the same arguments continues
where this one stopped. ``hepgan sample gjets`` with the same settings then assembles the file from
the cache (and generates whatever is still missing). Prints one line per finished chunk.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from hepgan.samples.chunks import chunk_list, chunk_path, default_cache_dir, write_chunk
    from hepgan.samples.gjets import DETECTOR, GENERATOR_VERSION, GjetsSettings, generate_chunk, settings_key
    from hepgan.samples.pileup import minbias_pool

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, required=True, help="parton-level events of the whole sample")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, required=True, help="start no chunk after this many seconds")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--first-chunk", type=int, default=0,
                    help="start at this chunk and wrap around (two machines can fill one cache from two ends)")
    for f in dataclasses.fields(GjetsSettings):
        if f.name not in ("process", "mpi"):
            ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    a = ap.parse_args(argv)
    t0 = time.time()
    kw = {f.name: getattr(a, f.name) for f in dataclasses.fields(GjetsSettings) if f.name not in ("process", "mpi")}
    s = GjetsSettings(**kw).validate()
    root = Path(a.cache_dir) if a.cache_dir else default_cache_dir()
    cache = root / settings_key(s, a.seed)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "settings.json").write_text(json.dumps({"settings": dataclasses.asdict(s), "seed": a.seed, "detector": DETECTOR,
                                                     "generator_version": GENERATOR_VERSION}, indent=1, default=str))  # fmt: skip
    minbias_pool(a.seed, s.pool_size, cache, DETECTOR["particle_pt_min"], DETECTOR["particle_eta_max"])
    todo = [(s, a.seed, c, n, str(cache), generate_chunk) for c, n in chunk_list(a.events, s.chunk_size)
            if not chunk_path(cache, c, n).exists()]  # fmt: skip
    todo = [j for j in todo if j[2] >= a.first_chunk] + [j for j in todo if j[2] < a.first_chunk]
    print(f"{cache}: {len(todo)} chunks to make; budget {a.max_seconds:.0f} s", flush=True)
    done = 0
    with multiprocessing.get_context("spawn").Pool(a.workers) as pool:
        pending = []
        it = iter(todo)
        for _ in range(a.workers):
            job = next(it, None)
            if job is not None:
                pending.append(pool.apply_async(write_chunk, (job,)))
        while pending:
            ready = [r for r in pending if r.ready()]
            if not ready:
                time.sleep(0.2)
                continue
            for r in ready:
                pending.remove(r)
                st = r.get()
                done += 1
                print(f"chunk {st['chunk']}: {st['n_selected']} selected, {st['n_generated'] / st['seconds_total']:.1f} parton "
                      f"events/s, {time.time() - t0:.0f} s", flush=True)  # fmt: skip
                if time.time() - t0 < a.max_seconds:
                    job = next(it, None)
                    if job is not None:
                        pending.append(pool.apply_async(write_chunk, (job,)))
    print(f"made {done} chunks in {time.time() - t0:.0f} s; {len(todo) - done} left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
