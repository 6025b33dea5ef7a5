"""One model shared by 8 Python threads, each running predict and its own stream for a few seconds:
every result must equal, bit for bit, the one computed on a single thread first (the GIL is
released around the C++ work, so the threads really overlap, and predict splits its batch over
the engine's own threads as well). The single-threaded results are checked against PyTorch."""
import threading
import time

import numpy as np
import pytest
import torch

import gru_infer

THREADS, SECONDS, MIN_ROUNDS = 8, 2.0, 2
B, T, F, H = 16, 120, 8, 32


def _model():
    torch.manual_seed(0)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(F, H, num_layers=2, batch_first=True)
            self.fc = torch.nn.Linear(H, 3)

        def forward(self, x):
            return self.fc(self.gru(x)[0])
    torch_model = M().eval()
    return torch_model, gru_infer.from_torch(torch_model)


def _stream_run(model, x):
    s = model.stream(x.shape[0])
    return np.stack([s.step(x[:, t]) for t in range(x.shape[1])], axis=1), s.state


def test_threads_share_one_model_and_agree_with_one_thread(errors):
    torch_model, model = _model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    lengths = rng.integers(1, T + 1, B)
    h0 = rng.standard_normal((2, B, H)).astype(np.float32)
    xs = x[:3]

    want_y, want_h = model.predict(x, h0=h0, lengths=lengths, return_state=True)
    want_plain = model.predict(x)
    want_stream, want_state = _stream_run(model, xs)
    with torch.no_grad():
        errors.check("concurrency reference vs torch", want_plain, torch_model(torch.from_numpy(x)).numpy(), 1e-5)
    errors.check("concurrency stream vs predict", want_stream, want_plain[:3], 1e-5)

    rounds, failures = [0] * THREADS, []
    start = threading.Barrier(THREADS)

    def work(i):
        start.wait()
        deadline = time.monotonic() + SECONDS
        while rounds[i] < MIN_ROUNDS or time.monotonic() < deadline:
            y, h = model.predict(x, h0=h0, lengths=lengths, return_state=True)
            ys, state = _stream_run(model, xs)
            if i % 2:  # half the threads also run the plain call, so different requests overlap
                if not np.array_equal(model.predict(x), want_plain):
                    failures.append((i, rounds[i], "plain predict"))
            for name, got, want in (("predict", y, want_y), ("h_n", h, want_h), ("stream", ys, want_stream),
                                    ("stream state", state, want_state)):
                if not np.array_equal(got, want):
                    failures.append((i, rounds[i], name))
            rounds[i] += 1
            if rounds[i] > 10_000:  # a bound in case the clock misbehaves
                break

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert not failures, f"results differ from the single-threaded run: {failures[:10]}"
    assert min(rounds) >= MIN_ROUNDS
    print(f"\nconcurrency: {THREADS} threads, {sum(rounds)} rounds (min {min(rounds)}), all identical")


def test_fast_activations_are_per_call_and_never_change_a_shared_model(errors):
    """fast_activations used to be a setter on the shared model: flipping it while other threads
    ran gave outputs matching neither mode. Now it is fixed per call or per stream (or per model
    view from with_options, which shares the weights), and threads mixing the modes each get
    exactly their mode's single-threaded result."""
    torch_model, model = _model()
    fast_model = model.with_options(fast_activations=True)
    assert fast_model._core is model._core and fast_model.fast_activations and not model.fast_activations
    with pytest.raises(AttributeError, match="read-only"):
        model.fast_activations = True
    with pytest.raises(ValueError, match="fast_activations: expected True or False"):
        model.predict(np.zeros((1, 2, F), np.float32), fast_activations=1)

    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    exact = model.predict(x)
    fast = fast_model.predict(x)
    np.testing.assert_array_equal(model.predict(x, fast_activations=True), fast)
    np.testing.assert_array_equal(fast_model.predict(x, fast_activations=False), exact)
    assert not np.array_equal(fast, exact)  # the modes really differ...
    with torch.no_grad():
        ref = torch_model(torch.from_numpy(x)).numpy()
    errors.check("fast activations predict vs torch", fast, ref, 2e-4)  # ...by about the documented amount
    exact_stream, _ = _stream_run(model, x[:3])
    fast_stream, _ = _stream_run(fast_model, x[:3])
    s = model.stream(3, fast_activations=True)
    assert s.fast_activations
    np.testing.assert_array_equal(np.stack([s.step(x[:3, t]) for t in range(T)], axis=1), fast_stream)

    failures, rounds = [], [0] * THREADS
    start = threading.Barrier(THREADS)

    def work(i):
        start.wait()
        deadline = time.monotonic() + SECONDS / 2
        want_fast = i % 2 == 1
        m = fast_model if want_fast else model
        while rounds[i] < MIN_ROUNDS or time.monotonic() < deadline:
            checks = [("predict", m.predict(x), fast if want_fast else exact),
                      ("predict per call", model.predict(x, fast_activations=want_fast), fast if want_fast else exact),
                      ("stream", _stream_run(m, x[:3])[0], fast_stream if want_fast else exact_stream)]
            failures.extend((i, name) for name, got, want in checks if not np.array_equal(got, want))
            rounds[i] += 1
            if rounds[i] > 10_000:
                break

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not failures, f"results of the wrong or of a mixed mode: {failures[:10]}"
