"""GPU smoke test: a one-minute script for the first GPU a task is lent (issue 22). Warnings are errors.

It asserts, on the device (default: cuda when torch sees one, else the CPU):

1. graph replays draw new latent noise and new dropout masks, bit-equal to the same number of eager
   draws from the same generators (GPU only);
2. a 3-epoch fit with the graph step equals the eager step (losses and lr to 1e-5 relative, the
   per-epoch metric to 1e-5, weights to 1e-4), the step was captured (GPU only), no capture warning;
3. a run interrupted after 2 epochs and resumed equals an uninterrupted one, with dropout 0.2
   (eager step: bit for bit on a CPU, to 1e-6 on a GPU);
4. a 2-member scan equals two separate fits (dropout 0);
5. the per-epoch -2lnLambda on the device equals numpy's (1e-8 relative);
6. a forced capture failure (a host read inside the step) is one clear error and the process still
   trains afterwards (GPU only);

and prints the steps/s of the graph and the eager step and the peak GPU memory. Parts that need a
GPU print "skipped (no GPU)" on a CPU.

    python benchmarks/gpu_smoke.py                 # cuda when available
    python benchmarks/gpu_smoke.py --device cpu    # the CPU-possible parts

A CUDA build of torch: ``pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128``
(or the CUDA wheel that matches the driver; on this project's CPU machines ``pip install torch==2.13.0``
takes the CPU wheel on disk).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import tempfile
import time
import warnings

import numpy as np
import torch

from hepgan.exceptions import HepganError
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
from hepgan.samples.toys import gjets_toy
from hepgan.training.device import resolve_device
from hepgan.training.fast import StepRunner
from hepgan.training.loop import Trainer

C = FEATURE_SETS["full"]


def model(**kw) -> ConditionalGAN:
    args = dict(g_hidden=(64, 64), d_hidden=(64, 64), latent_dim=8, epochs=3, batch_size=256, optimizer="adam", n_quantiles=100,
                metric_events=500, metric_k=5, derive="diphoton", progress=False, seed=5, dropout=0.0)  # fmt: skip
    args.update(kw)
    return ConditionalGAN(**args)


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        raise SystemExit(f"gpu_smoke: {name} failed")


def replay_draws(device: torch.device) -> None:
    """Graph replays give the same noise and dropout masks as the same number of eager calls."""
    drop = torch.nn.Dropout(0.5).to(device).train()
    ones = torch.ones(1000, device=device)

    def run(capture: bool) -> list[torch.Tensor]:
        gen = torch.Generator(device=device).manual_seed(3)
        torch.manual_seed(4)
        out_z, out_m = torch.zeros(1000, device=device), torch.zeros(1000, device=device)

        def body():
            out_z.copy_(torch.randn(1000, generator=gen, device=device))
            out_m.copy_(drop(ones))

        runner = StepRunner(body, capture=capture, generators=[gen], warmup=2, device=device)
        seen = []
        for _ in range(6):
            runner()
            seen.append(torch.cat([out_z, out_m]).clone())
        if capture:
            check("the step was captured", runner.captured)
        return seen

    eager, graph = run(False), run(True)
    check("replays draw new noise and masks", not torch.equal(graph[-1], graph[-2]))
    check("replays equal eager draws bit for bit", all(torch.equal(a, b) for a, b in zip(eager, graph)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    warnings.simplefilter("error")
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    print(f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if gpu else "") + f", torch {torch.__version__}")
    toy = gjets_toy(6000, seed=2)
    sr = toy[toy.region == 1]
    tr, va = sr.iloc[:1200], sr.iloc[1200:]
    fit_args = (tr[X_OBJECT], tr[C], tr.weight)
    val = (va[X_OBJECT], va[C], va.weight)
    dev = str(device)

    print("1. replays and eager draws")
    if gpu:
        replay_draws(device)
    else:
        print("  skipped (no GPU)")

    print("2. graph step = eager step, 3 epochs")
    model(epochs=1, device=dev).fit(*fit_args)  # warm-up: first-call costs out of the timing
    rate = {}
    fits = {}
    for step in ("eager", "graph"):
        t0 = time.perf_counter()
        fits[step] = model(step=step, device=dev).fit(*fit_args, validation=val)
        rate[step] = 3 * (len(tr) // 256) / (time.perf_counter() - t0)
    e, g = fits["eager"].history_, fits["graph"].history_
    for key, rtol in (("loss_d", 1e-5), ("loss_g", 1e-5), ("lr", 1e-9), ("neg2lnL_val", 1e-5)):
        check(key, np.allclose(g[key], e[key], rtol=rtol), f"{g[key]} vs {e[key]}")
    worst = max(float((fits["graph"].last_states_["generator"][k] - v).abs().max()) for k, v in fits["eager"].last_states_["generator"].items())
    check("weights", worst < 1e-4, f"max |difference| {worst:.2e}")

    print("3. resume = uninterrupted, dropout 0.2")
    m = model(dropout=0.2, device=dev, step="eager")
    task, data, settings = m._prepare(*fit_args, None, None)
    ref = Trainer(settings).fit(task, data)
    with tempfile.TemporaryDirectory() as tmp:
        m2 = model(dropout=0.2, device=dev, step="eager")
        task2, data2, settings2 = m2._prepare(*fit_args, None, None)
        original = task2.validate

        def stop(epoch):
            if epoch == 2:
                signal.raise_signal(signal.SIGINT)
            return original(epoch)

        task2.validate = stop
        with contextlib.suppress(KeyboardInterrupt):  # stopped after epoch 2, as intended
            Trainer(settings2).fit(task2, data2, run_dir=tmp)
        m3 = model(dropout=0.2, device=dev, step="eager")
        task3, data3, settings3 = m3._prepare(*fit_args, None, None)
        h = Trainer(settings3).fit(task3, data3, run_dir=tmp, resume=True)
    tol = 0.0 if not gpu else 1e-6
    check("losses", np.allclose(h["loss_d"], ref["loss_d"], rtol=tol, atol=0) and np.allclose(h["loss_g"], ref["loss_g"], rtol=tol, atol=0))
    worst = max(float((h["last_networks"]["g"][k] - v).abs().max()) for k, v in ref["last_networks"]["g"].items())
    check("weights", worst <= (0.0 if not gpu else 1e-5), f"max |difference| {worst:.2e}")

    print("4. a 2-member scan = two fits")
    from hepgan.methods.background import fit_scan

    separate = [model(seed=s, device=dev, step="eager", lr=lr).fit(*fit_args) for s, lr in ((1, 1e-3), (2, 3e-3))]
    scanned = fit_scan([model(seed=s, device=dev, lr=lr) for s, lr in ((1, 1e-3), (2, 3e-3))], *fit_args, progress=False)
    for a, b in zip(separate, scanned):
        check("scan member", np.allclose(b.history_["loss_d"], a.history_["loss_d"], rtol=1e-5), f"{b.history_['loss_d']} vs {a.history_['loss_d']}")

    print("5. device metric = numpy")
    h_np = model(metric_backend="numpy", epochs=1, device=dev).fit(*fit_args, validation=val).history_
    h_t = model(metric_backend="torch", epochs=1, device=dev).fit(*fit_args, validation=val).history_
    check("-2lnLambda", np.allclose(h_t["neg2lnL_val"], h_np["neg2lnL_val"], rtol=1e-8), f"{h_t['neg2lnL_val']} vs {h_np['neg2lnL_val']}")

    print("6. a forced capture failure")
    if gpu:
        x = torch.zeros(4, device=device)

        def bad():
            x.add_(1.0)
            float(x.sum())  # a host read: not capturable

        try:
            runner = StepRunner(bad, capture=True, warmup=1, device=device)
            runner()
            runner()
            check("capture failure raises", False)
        except HepganError as err:
            check("one clear error naming step: eager", "training.step: eager" in str(err), str(err)[:120])
        model(epochs=1, device=dev, step="eager").fit(*fit_args)
        check("the process trains afterwards", True)
    else:
        print("  skipped (no GPU)")

    print(f"steps/s: graph {rate['graph']:.1f}, eager {rate['eager']:.1f} (ratio {rate['graph'] / rate['eager']:.2f}; fits include the per-epoch metric)")
    if gpu:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB")
    print("gpu_smoke: all checks passed")


if __name__ == "__main__":
    main()
