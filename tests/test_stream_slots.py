"""Stream slots: step(x, slots=ids) advances only the rows `ids`, and each slot behaves exactly
as a stream of its own fed the same inputs (outputs and state, 1e-6), whatever the other slots
do: random subsets in random order (1 to all rows, so both the per-row and the batched kernels
run), resets and state writes of single slots. Every available ISA.
"""
import numpy as np
import pytest
from test_stream import STREAM_TOL, check_states, random_state
from test_stream_run import ALL_KINDS, build_any

import gru_infer

TOL = 1e-6
N = 7


def one_row(state, j):
    """Row j of a state (L, B, H) or tuple of (1, B, H), as a batch of one."""
    if isinstance(state, tuple):
        return tuple(s[:, j:j + 1] for s in state)
    return state[:, j:j + 1]


@pytest.mark.parametrize("isa", gru_infer.available_isas())
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_slots_equal_separate_streams(kind, isa, restore_isa, errors):
    gru_infer.set_isa(isa)
    model, _, make = build_any(kind)
    rng = np.random.default_rng(500)
    T = 12
    x = make(rng, N, T)  # x[j, t]: the t-th input slot j receives
    stream = model.stream(N)
    singles = [model.stream(1) for _ in range(N)]
    seen = [0] * N
    for call in range(40):
        n = int(rng.integers(1, N + 1))
        slots = [j for j in rng.permutation(N)[:n] if seen[j] < T]
        if not slots:
            continue
        xs = np.stack([x[j, seen[j]] for j in slots])
        y = stream.step(xs, slots=slots)
        assert y.shape == (len(slots), model.output_size)
        for row, j in enumerate(slots):
            ref = singles[j].step(x[j, seen[j]][None] if not model.takes_ids else x[j, seen[j]:seen[j] + 1])
            errors.check("stream slots vs separate streams", y[row], ref[0], TOL)
            seen[j] += 1
        if call == 20:  # reset two slots; their twins start over too
            stream.reset(slots=[1, 4])
            singles[1].reset()
            singles[4].reset()
    for j in range(N):
        check_states(errors, stream.get_state(slots=[j]), singles[j].state, TOL)
    full = stream.state
    sub = stream.get_state(slots=[5, 0, 3])
    for row, j in enumerate([5, 0, 3]):
        check_states(errors, one_row(sub, row), one_row(full, j), 0.0)


@pytest.mark.parametrize("kind", ["seq_head", "two_sizes", "wide_lbr", "embedding_seq"])
def test_set_state_of_slots(kind, errors):
    model, _, make = build_any(kind)
    rng = np.random.default_rng(600)
    x = make(rng, 3, 4)
    h0 = random_state(model, 2, rng)
    stream = model.stream(5)
    stream.step(make(rng, 5, 1)[:, 0])  # some history in every slot
    before = stream.get_state(slots=[0, 2, 4])
    stream.set_state(h0, slots=[3, 1])
    check_states(errors, stream.get_state(slots=[3, 1]), h0, 0.0)
    check_states(errors, stream.get_state(slots=[0, 2, 4]), before, 0.0)  # the others untouched
    ref = model.predict(x[:2], h0=h0)
    for t in range(4):
        errors.check("stream slots vs predict", stream.step(x[:2, t], slots=[3, 1]), ref[:, t], STREAM_TOL)


def test_all_slots_equal_plain_step(errors):
    model, _, make = build_any("wide_lbr")
    x = make(np.random.default_rng(700), 4, 5)
    a, b = model.stream(4), model.stream(4)
    for t in range(5):
        errors.check("stream slots vs separate streams", a.step(x[:, t], slots=[0, 1, 2, 3]), b.step(x[:, t]), 0.0)


def test_out_buffer_and_empty_slots():
    model, _, make = build_any("seq_head")
    s = model.stream(3)
    buf = np.empty((2, model.output_size), np.float32)
    assert s.step(make(np.random.default_rng(1), 2, 1)[:, 0], slots=[2, 0], out=buf) is buf
    before = s.state.copy()
    assert s.step(np.zeros((0, 5), np.float32), slots=[]).shape == (0, model.output_size)
    np.testing.assert_array_equal(s.state, before)


def test_bad_slots_raise_and_change_nothing():
    model, _, make = build_any("seq_head")  # 5 features
    s = model.stream(4)
    s.step(make(np.random.default_rng(2), 4, 1)[:, 0])
    before = s.state.copy()
    x2 = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="slot 4 is outside"):
        s.step(x2, slots=[0, 4])
    with pytest.raises(ValueError, match="slot -1 is outside"):
        s.step(x2, slots=[-1, 0])
    with pytest.raises(ValueError, match="only once"):
        s.step(x2, slots=[1, 1])
    with pytest.raises(ValueError, match=r"expected shape \(3, 5\) \(one row per slot\), got \(2, 5\)"):
        s.step(x2, slots=[0, 1, 2])
    with pytest.raises(ValueError, match="integer"):
        s.step(x2, slots=[0.0, 1.0])
    with pytest.raises(ValueError, match="1-d"):
        s.reset(slots=[[0, 1]])
    with pytest.raises(ValueError, match="outside"):
        s.get_state(slots=[9])
    with pytest.raises(ValueError, match="expected shape"):
        s.set_state(np.zeros((3, 3, 17), np.float32), slots=[0, 1])
    np.testing.assert_array_equal(s.state, before)
    ids_model, _, _ = build_any("embedding_seq")
    with pytest.raises(ValueError, match="outside"):
        ids_model.stream(3).step(np.array([1, 99]), slots=[0, 2])
