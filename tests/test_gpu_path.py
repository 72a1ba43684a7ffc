"""The GPU path, tested on a CPU with torch.cuda mocked: the device guard, the capture-failure error,
the CUDA random state in checkpoints. (benchmarks/gpu_smoke.py checks the real thing on a GPU.)"""

from __future__ import annotations

import contextlib

import pytest
import torch

from hepgan.exceptions import HepganError
from hepgan.training import fast
from hepgan.training.loop import global_rng_state, set_global_rng_state


class _FakeCuda:
    """Records what StepRunner asks of torch.cuda: devices guarded, streams entered and left, captures."""

    def __init__(self, fail_at: str | None = None):
        self.events: list[str] = []
        self.fail_at = fail_at
        self.depth = 0  # open stream contexts

    def device(self, d):
        @contextlib.contextmanager
        def guard():
            self.events.append(f"device {d}")
            yield
            self.events.append(f"leave device {d}")

        return guard()

    def stream(self, s):
        @contextlib.contextmanager
        def ctx():
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1

        return ctx()

    def Stream(self):
        outer = self

        class S:
            def wait_stream(self, other):
                outer.events.append("wait")

        return S()

    def current_stream(self):
        return self.Stream()

    def CUDAGraph(self):
        outer = self

        class G:
            def register_generator_state(self, g):
                outer.events.append("register")

            def capture_begin(self):
                outer.events.append("capture_begin")

            def capture_end(self):
                outer.events.append("capture_end")
                if outer.fail_at == "capture_end":
                    raise RuntimeError("operation not permitted when stream is capturing")

            def replay(self):
                outer.events.append("replay")

        return G()

    def synchronize(self, *a):
        self.events.append("sync")

    def empty_cache(self):
        pass

    @staticmethod
    def is_available():
        return True


@pytest.fixture
def fake_cuda(monkeypatch):
    def make(fail_at=None):
        f = _FakeCuda(fail_at)
        for name in ("device", "stream", "Stream", "current_stream", "CUDAGraph", "synchronize", "empty_cache", "is_available"):
            monkeypatch.setattr(torch.cuda, name, getattr(f, name))
        return f

    return make


def test_warmup_capture_and_replays_run_under_the_device_guard(fake_cuda):
    f = fake_cuda()
    calls = []
    dev = torch.device("cuda:1")
    runner = fast.StepRunner(lambda: calls.append(1), capture=True, generators=[torch.Generator()], warmup=2, device=dev)
    for _ in range(5):
        runner()
    assert runner.captured and len(calls) == 3  # two warm-up calls and the captured one; replays do not run Python
    assert f.events.count("replay") == 3 and f.events.count("capture_begin") == 1 and "register" in f.events
    assert f.events.count(f"device {dev}") == 5 == f.events.count(f"leave device {dev}")  # every call is guarded
    assert f.depth == 0


def test_a_failed_capture_is_one_clear_error_and_leaves_the_capture_stream(fake_cuda):
    f = fake_cuda(fail_at="capture_end")
    runner = fast.StepRunner(lambda: None, capture=True, warmup=1, device=torch.device("cuda:0"))
    runner()  # warm-up
    with pytest.raises(HepganError, match=r"capture .* failed \(RuntimeError: operation not permitted.*training\.step: eager"):
        runner()
    assert f.depth == 0 and "capture_end" in f.events  # the stream context was left, the capture ended
    assert not runner.captured


def test_a_body_that_fails_inside_the_capture_still_ends_it(fake_cuda):
    f = fake_cuda()
    n = {"calls": 0}

    def body():
        n["calls"] += 1
        if n["calls"] == 2:
            raise RuntimeError("an op that waits on the GPU")

    runner = fast.StepRunner(body, capture=True, warmup=1, device=torch.device("cuda:0"))
    runner()
    with pytest.raises(HepganError, match="an op that waits on the GPU"):
        runner()
    assert f.events.count("capture_end") == 1 and f.depth == 0


def test_checkpoints_hold_the_cuda_random_state_on_a_gpu(monkeypatch):
    saved = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda d: torch.tensor([7, 8], dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: saved.update(state=s, device=d))
    cpu = global_rng_state(torch.device("cpu"))
    assert set(cpu) == {"global_rng"}
    gpu = global_rng_state(torch.device("cuda:0"))
    assert set(gpu) == {"global_rng", "cuda_rng"} and gpu["cuda_rng"].tolist() == [7, 8]
    set_global_rng_state(gpu, torch.device("cuda:0"))
    assert saved["state"].tolist() == [7, 8] and saved["device"] == torch.device("cuda:0")
    saved.clear()
    set_global_rng_state(cpu, torch.device("cuda:0"))  # a checkpoint written on a CPU: no CUDA state to restore
    assert not saved


def test_device_guard_is_a_no_op_off_cuda():
    with fast.device_guard(torch.device("cpu")), fast.device_guard(None):
        pass
