"""Caller arrays changed by another thread while C++ runs without the GIL (issue 26, item 1).

Index arrays the core trusts after a check (stream slots, predict lengths, embedding ids) must be
copied before the check: otherwise a second Python thread flipping one entry between a valid value
and a huge one turns the checked call into a write or read far out of bounds. Each race runs for a
few seconds in a child process (a crash kills the child, not the test run), whose results are also
compared with the values computed before the race started: the flipped entry is only ever valid
when the call copies it, so every result must be one of the two valid answers.

Item 6: an `x` whose `__array__` changes the already checked slots must not change which rows step.
"""
import subprocess
import sys
import textwrap

import numpy as np
import torch

import gru_infer

SECONDS = 3.0

# Shared by the child scripts: a float model (GRU -> Dense) and an id model (Embedding -> GRU),
# and a thread that flips arr[i] between `good` and `bad` until told to stop.
_PRELUDE = textwrap.dedent("""
    import threading, time, sys
    import numpy as np
    import torch
    import gru_infer
    torch.manual_seed(0)
    class Net(torch.nn.Module):
        def __init__(self, ids=False):
            super().__init__()
            self.emb = torch.nn.Embedding(50, 16) if ids else None
            self.gru = torch.nn.GRU(16, 64, batch_first=True)
            self.fc = torch.nn.Linear(64, 4)
        def forward(self, x):
            if self.emb is not None:
                x = self.emb(x)
            return self.fc(self.gru(x)[0])
    float_model = gru_infer.from_torch(Net().eval())
    id_model = gru_infer.from_torch(Net(ids=True).eval())
    stop = threading.Event()
    def flipper(arr, i, good, bad):
        def run():
            while not stop.is_set():
                arr[i] = bad
                arr[i] = good
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t
    def race(call, check):
        end = time.monotonic() + float(sys.argv[1])
        calls = 0
        while time.monotonic() < end:
            try:
                check(call())
            except ValueError:
                pass  # the check saw the bad value: refused, as it should be
            calls += 1
        stop.set()
        print("calls", calls)
""")


def _run_child(body: str) -> str:
    p = subprocess.run([sys.executable, "-c", _PRELUDE + textwrap.dedent(body), str(SECONDS)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"child exited with {p.returncode} (negative: killed by signal)\n{p.stderr[-3000:]}"
    return p.stdout


def test_stream_slots_changed_by_another_thread():
    out = _run_child("""
        B = 64
        s = float_model.stream(batch=B)
        slots = np.array([3, 5, 7], dtype=np.intp)
        x = np.ones((3, 16), np.float32)
        flipper(slots, 0, 3, 10**12)
        race(lambda: s.step(x, slots=slots), lambda y: None)
        assert np.isfinite(s.state).all()
        assert not s.state[0, [r for r in range(B) if r not in (3, 5, 7)]].any(), "rows outside the slots moved"
    """)
    assert "calls" in out


def test_predict_lengths_changed_by_another_thread():
    out = _run_child("""
        x = np.random.default_rng(0).standard_normal((2, 200, 16)).astype(np.float32)
        lengths = np.array([200, 150], dtype=np.int64)
        want = float_model.predict(x, lengths=lengths.copy())
        flipper(lengths, 1, 150, 10**15)
        def check(y):
            assert np.array_equal(y, want), "lengths changed mid-call gave another answer"
        race(lambda: float_model.predict(x, lengths=lengths), check)
    """)
    assert "calls" in out


def test_ids_changed_by_another_thread():
    out = _run_child("""
        ids = np.arange(32, dtype=np.int64).reshape(2, 16) % 50
        want_predict = id_model.predict(ids.copy())
        s = id_model.stream(batch=2)
        flat = ids.reshape(-1)
        flipper(flat, 5, 5, 10**15)
        def same(y):
            assert np.array_equal(y, want_predict), "ids changed mid-call gave another answer"
        race(lambda: id_model.predict(ids), same)
        stop.clear()
        step_ids = np.array([1, 2], dtype=np.int64)
        flipper(step_ids, 1, 2, -10**15)
        race(lambda: s.step(step_ids), lambda y: None)
        stop.clear()
        block = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.int64)
        flipper(block.reshape(-1), 6, 7, 10**15)
        race(lambda: s.run(block), lambda y: None)
        stop.clear()
        slot_ids = np.array([4], dtype=np.int64)
        flipper(slot_ids, 0, 4, 10**15)
        race(lambda: s.step(slot_ids, slots=[1]), lambda y: None)
        assert np.isfinite(s.state).all()
    """)
    assert "calls" in out


class _ChangesSlots:
    """An input whose conversion to an array changes the caller's slots array."""

    def __init__(self, x, slots, new_value):
        self.x, self.slots, self.new_value = x, slots, new_value

    def __array__(self, dtype=None, copy=None):
        self.slots[0] = self.new_value
        return self.x


def test_x_array_changing_the_checked_slots_steps_the_checked_rows():
    torch.manual_seed(1)
    gru = torch.nn.GRU(4, 8, batch_first=True).eval()
    model = gru_infer.from_torch(gru)
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    ref = model.stream(batch=6)
    want = ref.step(x, slots=[1, 4])
    for new_value in (2, 4, 99):  # another valid slot, a duplicate, one out of range
        s = model.stream(batch=6)
        slots = np.array([1, 4], dtype=np.intp)
        got = s.step(_ChangesSlots(x, slots, new_value), slots=slots)
        assert np.array_equal(got, want), f"slots changed to {new_value} by x.__array__"
        assert np.array_equal(s.state, ref.state)
    # and the reference is torch's: one step of those rows from zeros
    with torch.no_grad():
        h = gru(torch.from_numpy(x)[:, None])[0][:, 0].numpy()
    np.testing.assert_allclose(want, h, atol=1e-6)
