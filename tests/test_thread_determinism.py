"""predict gives the same bits on any number of threads: batches of 1..9 rows, 1..8 threads, each
result equal to the one-thread run (which is checked against PyTorch). The work per call is
large enough that predict splits the batch across threads (and runs bidirectional directions in
parallel). Before the split kept every chunk on the kernel path of the whole batch, B=8 with 3-8
threads and B=5 with 2-8 differed by 1 ulp."""
import numpy as np
import pytest
import torch

import gru_infer
from gru_infer import layers as L

T = 500  # with H = 64 and two layers, enough work that even B = 1 would be split


def _torch_model(I, H, bidirectional=False):
    torch.manual_seed(I + H + bidirectional)
    return torch.nn.GRU(I, H, num_layers=2, batch_first=True, bidirectional=bidirectional).eval()


def _cho_model(I, H):
    rng = np.random.default_rng(I)
    layers, n_in = [], I
    for _ in range(2):
        d = L.GRUDirection(rng.standard_normal((3 * H, n_in)) * 0.2, rng.standard_normal((3 * H, H)) * 0.2,
                           rng.standard_normal(3 * H) * 0.1, rng.standard_normal(3 * H) * 0.1)
        layers.append(L.GRU(n_in, H, [d], linear_before_reset=False))
        n_in = H
    return gru_infer.Model.from_layers(layers)


CASES = {
    "lbr I=8 (fused input below 4 rows)": lambda: _torch_model(8, 64),
    "lbr I=32": lambda: _torch_model(32, 64),
    "bidirectional I=8": lambda: _torch_model(8, 48, bidirectional=True),
    "cho I=8": lambda: _cho_model(8, 64),
}


@pytest.fixture
def restore_threads():
    before = gru_infer.get_num_threads()
    yield
    gru_infer.set_num_threads(before)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("case", list(CASES))
def test_any_thread_count_gives_the_one_thread_bits(case, with_lengths, restore_threads, errors):
    made = CASES[case]()
    torch_gru = made if isinstance(made, torch.nn.Module) else None
    model = gru_infer.from_torch(torch_gru) if torch_gru is not None else made
    rng = np.random.default_rng(7)
    differ = []
    for B in range(1, 10):
        x = rng.standard_normal((B, T, model.input_size)).astype(np.float32)
        lengths = rng.integers(T // 3, T + 1, B) if with_lengths else None
        if lengths is not None:
            lengths[0] = T
        gru_infer.set_num_threads(1)
        want, want_h = model.predict(x, lengths=lengths, return_state=True)
        if torch_gru is not None:
            with torch.no_grad():
                for b in range(B):  # each row on its own valid steps
                    n = T if lengths is None else int(lengths[b])
                    ref, _ = torch_gru(torch.from_numpy(x[b:b + 1, :n]))
                    errors.check(f"threads: {case} vs torch", want[b, :n], ref[0].numpy(), 1e-5)
                    if n < T:
                        assert not want[b, n:].any(), "outputs past a sequence's end are zero"
        for threads in range(2, 9):
            gru_infer.set_num_threads(threads)
            got, got_h = model.predict(x, lengths=lengths, return_state=True)
            if not (np.array_equal(got, want) and np.array_equal(got_h, want_h)):
                differ.append((B, threads, float(np.max(np.abs(got - want)))))
    assert not differ, f"(batch, threads, max abs diff) differing from one thread: {differ}"
