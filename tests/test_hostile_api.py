"""Hostile API arguments: sizes whose buffers could not exist, misaligned arrays, bad integers.

Each raises ValueError naming the bound and the given value (never a segfault, TypeError or
MemoryError), or, for misaligned but otherwise valid arrays, gives the same answer as aligned input.
The misaligned cases are also what the ASan+UBSan run (tests/run_sanitizers.sh) replays: before
the bindings copied them, UBSan reported a misaligned int64 read of `lengths` there.
"""
import numpy as np
import pytest
import torch

import gru_infer
from gru_infer import _core

torch.manual_seed(0)
GRU = torch.nn.GRU(4, 8, batch_first=True).eval()
MODEL = gru_infer.from_torch(GRU)
EMB = torch.nn.Embedding(10, 4)
IDS_MODEL = gru_infer.from_torch(torch.nn.Sequential(EMB, torch.nn.GRU(4, 8, batch_first=True)).eval())


# ---- sizes --------------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [2**64 - 1, 2**62 - 1, 2**62, 2**64, 2**40, 10**30])
def test_huge_stream_batch_is_a_value_error(batch):
    most = MODEL._core.max_stream_batch
    assert 10**6 < most < 2**47
    with pytest.raises(ValueError, match=rf"batch: expected an integer in \[1, {most}\] for this model, got {batch}"):
        MODEL.stream(batch)


def test_largest_stream_batch_bound_is_exact():
    most = MODEL._core.max_stream_batch
    with pytest.raises(ValueError, match="expected an integer in"):
        MODEL.stream(most + 1)
    with pytest.raises(ValueError, match=rf"batch must be in \[1, {most}\]"):  # the core's own check
        _core.Stream(MODEL._core, most + 1)


@pytest.mark.parametrize("batch", [0, -1, -2**63, 1.0, True, "2", None])
def test_bad_stream_batch_is_a_value_error(batch):
    with pytest.raises(ValueError, match="batch: expected an integer in"):
        MODEL.stream(batch)


def test_predict_batch_x_steps_past_the_address_space_is_a_value_error():
    # A broadcast view takes no memory; copying it would need 16 TB. Refused before any copy.
    x = np.broadcast_to(np.zeros((1, 1, 4), np.float32), (2**20, 2**20, 4))
    most = MODEL._core.max_batch_steps
    with pytest.raises(ValueError, match=rf"batch x steps of at most {most} for this model, got 1048576 x 1048576"):
        MODEL.predict(x)
    ids = np.broadcast_to(np.zeros((1, 1), np.int64), (2**20, 2**20))
    with pytest.raises(ValueError, match="batch x steps of at most"):
        IDS_MODEL.predict(ids)


# ---- set_num_threads ----------------------------------------------------------------------

@pytest.mark.parametrize("n", [-1, -2**70, 1025, 2**64, 1.5, "2", None, True])
def test_set_num_threads_rejects_bad_values(n):
    before = gru_infer.get_num_threads()
    with pytest.raises(ValueError, match=r"set_num_threads: expected an integer in \[0, 1024\]"):
        gru_infer.set_num_threads(n)
    assert gru_infer.get_num_threads() == before


def test_set_num_threads_accepts_numpy_integers_and_zero():
    before = gru_infer.get_num_threads()
    try:
        gru_infer.set_num_threads(np.int64(3))
        assert gru_infer.get_num_threads() == 3
        gru_infer.set_num_threads(0)  # back to one per core
        assert gru_infer.get_num_threads() >= 1
    finally:
        gru_infer.set_num_threads(before)


# ---- misaligned arrays --------------------------------------------------------------------

def _misaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `a` that starts one byte past an aligned address."""
    buf = bytearray(a.nbytes + 1)
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


def test_misaligned_inputs_reach_the_core_aligned():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    arr, _ = MODEL._sequence_input(_misaligned(x))
    assert arr.flags.aligned and arr.flags.c_contiguous
    assert MODEL._lengths(_misaligned(np.array([5, 2, 1], np.int64)), 3, 5, True).flags.aligned
    assert MODEL._state_in(_misaligned(np.zeros((1, 3, 8), np.float32)), 3, True, "h0").flags.aligned
    ids, _ = IDS_MODEL._sequence_input(_misaligned(np.array([[1, 2, 3]], np.int64)))
    assert ids.flags.aligned


def test_misaligned_inputs_give_the_aligned_answer():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    lengths = np.array([5, 2, 1], np.int64)
    h0 = rng.standard_normal((1, 3, 8)).astype(np.float32)
    want, want_h = MODEL.predict(x, h0=h0, lengths=lengths, return_state=True)
    got, got_h = MODEL.predict(_misaligned(x), h0=_misaligned(h0), lengths=_misaligned(lengths), return_state=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_h, want_h)
    # The core module directly (what the Python layer calls), which copies misaligned arrays itself.
    y, hn = MODEL._core.predict(_misaligned(x), _misaligned(lengths), _misaligned(h0.reshape(-1)), True)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(hn, want_h.reshape(-1))

    ids = np.array([[1, 2, 3, 9], [0, 0, 4, 5]], np.int64)
    np.testing.assert_array_equal(IDS_MODEL.predict(_misaligned(ids)), IDS_MODEL.predict(ids))
    np.testing.assert_array_equal(IDS_MODEL._core.predict(_misaligned(ids), None, None, False)[0],
                                  IDS_MODEL.predict(ids))


def test_misaligned_stream_steps_give_the_aligned_answer():
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((6, 2, 4)).astype(np.float32)
    a, b = MODEL.stream(2), MODEL.stream(2)
    for x in xs:
        np.testing.assert_array_equal(b.step(_misaligned(x)), a.step(x))
    b.state = _misaligned(a.state)
    np.testing.assert_array_equal(b.state, a.state)

    ia, ib = IDS_MODEL.stream(2), IDS_MODEL.stream(2)
    for ids in ([1, 2], [9, 0], [3, 3]):
        ids = np.array(ids, np.int64)
        np.testing.assert_array_equal(ib.step(_misaligned(ids)), ia.step(ids))


def test_misaligned_out_is_refused_not_written_through():
    s = MODEL.stream(1)
    out = _misaligned(np.zeros(8, np.float32))
    with pytest.raises(ValueError, match="aligned"):
        s.step(np.zeros(4, np.float32), out=out)
    core = _core.Stream(MODEL._core, 1)
    with pytest.raises(ValueError, match="aligned"):
        core.step(np.zeros(4, np.float32), out)


# ---- every other binding entry ------------------------------------------------------------

def test_core_builders_reject_bad_sizes():
    m = _core.Model()
    z = np.zeros(1, np.float32)
    for I, H in [(2**40, 1), (1, 2**40), (2**21, 1), (0, 1)]:  # 3*H*I would not be exact
        with pytest.raises(ValueError, match=r"GRU sizes must be in \[1, 1048576\]"):
            m.add_gru(I, H, "forward", True, True, "sigmoid", 0, 0, "tanh", 0, 0, 0.0, "concat", True, False,
                      [(z, z, z, z)], None)
    with pytest.raises(ValueError, match="first layer must have weights"):
        m.add_activation(2**20, "relu", 0, 0)
    with pytest.raises(ValueError, match="first layer must have weights"):
        m.add_last_step(8)
    with pytest.raises(ValueError, match="Dense sizes must be positive"):
        m.add_dense(np.zeros((0, 3), np.float32), np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="Embedding sizes must be positive"):
        m.add_embedding(np.zeros((0, 3), np.float32))
    m.add_dense(np.zeros((4, 3), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="wider than the 1048576"):
        m.add_activation(2**21, "relu", 0, 0)
    with pytest.raises(ValueError, match="takes 5 features but the previous layer gives 4"):
        m.add_activation(5, "relu", 0, 0)


def test_core_predict_checks_buffer_sizes():
    c = MODEL._core
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="x must be a 3-d"):
        c.predict(np.zeros((2, 3, 5), np.float32), None, None, False)
    with pytest.raises(ValueError, match="lengths must have one entry per sequence"):
        c.predict(x, np.array([3], np.int64), None, False)
    with pytest.raises(ValueError, match=r"lengths\[1\] = 4 is outside \[1, 3\]"):
        c.predict(x, np.array([3, 4], np.int64), None, False)
    with pytest.raises(ValueError, match="h0 must hold 16 floats"):
        c.predict(x, None, np.zeros(15, np.float32), False)
    with pytest.raises(ValueError, match="at least one sequence"):
        c.predict(np.zeros((0, 3, 4), np.float32), None, None, False)
    with pytest.raises(ValueError, match="ids must be a 2-d"):
        IDS_MODEL._core.predict(np.zeros(3, np.int64), None, None, False)
    with pytest.raises(ValueError, match="Embedding id 10"):
        IDS_MODEL._core.predict(np.array([[10]], np.int64), None, None, False)


def test_core_stream_checks_sizes():
    s = _core.Stream(MODEL._core, 2)
    with pytest.raises(ValueError, match="step takes 8 input values"):
        s.step(np.zeros(7, np.float32))
    with pytest.raises(ValueError, match="state must hold 16 floats"):
        s.state = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="out must be"):
        s.step(np.zeros(8, np.float32), np.zeros(15, np.float32))
    with pytest.raises(ValueError, match="out must be"):
        s.step(np.zeros(8, np.float32), np.zeros(16, np.float64))


def test_core_loaders_reject_garbage():
    with pytest.raises(gru_infer.ModelFormatError):
        _core.Model.from_bytes(b"")
    with pytest.raises(gru_infer.ModelFormatError):
        _core.Model.from_bytes(b"GRUINFER" + b"\0" * 100)
    with pytest.raises(ValueError, match="not available"):
        gru_infer.set_isa("no-such-isa")
