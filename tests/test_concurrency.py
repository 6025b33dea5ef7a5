"""One model shared by 8 Python threads, each running predict and its own stream for a few seconds:
every result must equal, bit for bit, the one computed on a single thread first (the GIL is
released around the C++ work, so the threads really overlap, and predict splits its batch over
the engine's own threads as well). The single-threaded results are checked against PyTorch."""
import threading
import time

import numpy as np
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
