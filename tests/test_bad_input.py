"""Bad input raises ValueError naming what was expected and what was given; input NumPy can convert
works and gives the same answer as float32 C-contiguous input; `import gru_infer` stays torch-free."""
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import gru_infer

B, T, F, H, V = 3, 4, 5, 6, 20


def _float_model():
    torch.manual_seed(0)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(F, H, num_layers=2, batch_first=True)
            self.fc = nn.Linear(H, 2)

        def forward(self, x):
            return self.fc(self.gru(x)[0])
    return gru_infer.from_torch(M().eval())


def _ids_model():
    torch.manual_seed(1)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, 4)
            self.gru = nn.GRU(4, H, batch_first=True)

        def forward(self, ids):
            return self.gru(self.emb(ids))[0]
    return gru_infer.from_torch(M().eval())


def _two_size_model():
    torch.manual_seed(2)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.GRU(F, H, batch_first=True)
            self.b = nn.GRU(H, 4, batch_first=True)

        def forward(self, x):
            return self.b(self.a(x)[0])[0]
    return gru_infer.from_torch(M().eval())


FLOAT, IDS, TWO = _float_model(), _ids_model(), _two_size_model()
RNG = np.random.default_rng(0)
X = RNG.standard_normal((B, T, F), dtype=np.float32)
IDS_X = RNG.integers(0, V, size=(B, T))


def raises(pattern_parts, fn, *args, **kwargs):
    """fn(...) raises ValueError whose message contains every part (literal text) in order."""
    pattern = ".*".join(re.escape(p) for p in pattern_parts)
    with pytest.raises(ValueError, match=pattern) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# predict: x

@pytest.mark.parametrize("shape", [(B, T, F - 1), (B, T, F + 3), (T, 1), (B, T, 1)])
def test_wrong_feature_count(shape):
    raises([f"(batch, steps, {F}) or (steps, {F})", f"got {shape}"], FLOAT.predict, np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(F,), (1, B, T, F), (), (1, 1, 1, 1, F)])
def test_wrong_rank(shape):
    raises([f"(batch, steps, {F}) or (steps, {F})", f"got {shape}"], FLOAT.predict, np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(0, T, F), (B, 0, F), (0, 0, F)])
def test_empty_batch_or_zero_steps(shape):
    raises(["at least one sequence of at least one step", f"got shape {shape}"],
           FLOAT.predict, np.zeros(shape, np.float32))


def test_zero_steps_unbatched_names_the_given_shape():
    raises(["at least one sequence of at least one step", "got shape (0, 5)"],
           FLOAT.predict, np.zeros((0, F), np.float32))


@pytest.mark.parametrize("shape", [(0, T), (B, 0)])
def test_empty_ids(shape):
    raises(["at least one sequence of at least one step", f"got shape {shape}"],
           IDS.predict, np.zeros(shape, np.int64))


def test_zero_steps_unbatched_ids_names_the_given_shape():
    raises(["at least one sequence of at least one step", "got shape (0,)"], IDS.predict, np.zeros(0, np.int64))


@pytest.mark.parametrize("value,dtype", [
    (np.full((B, T, F), "a"), "<U1"),
    (np.zeros((B, T, F), np.complex64), "complex64"),
    (np.ones((B, T, F)) + 1j, "complex128"),
    (np.zeros((B, T, F), object), "object"),
    ([[["x"] * F] * T] * B, "<U1"),
    (np.zeros((B, T, F), "datetime64[s]"), "datetime64[s]"),
])
def test_non_numeric_dtype(value, dtype):
    raises(["x: expected a numeric array", f"got dtype {dtype}"], FLOAT.predict, value)


@pytest.mark.parametrize("value", [
    [[[0.0] * F] * T, [[0.0] * F] * (T - 1)],       # sequences of different lengths
    [[[0.0] * F, [0.0] * (F - 1)]],                 # steps of different widths
    [[[0.0] * F] * T, 3.0],
])
def test_ragged_nested_lists(value):
    raises(["x: cannot be read as an array", "inhomogeneous"], FLOAT.predict, value)


def test_ragged_ids():
    raises(["ids: cannot be read as an array", "inhomogeneous"], IDS.predict, [[1, 2, 3], [1, 2]])


@pytest.mark.parametrize("ids,dtype", [(IDS_X.astype(np.float32), "float32"), (IDS_X.astype(np.float64), "float64"),
                                       ([[1.0, 2.0]], "float64"), (np.array([[True, False]]), "bool")])
def test_non_integer_ids(ids, dtype):
    raises(["ids: expected a", "integer array", f"got dtype {dtype}"], IDS.predict, ids)


@pytest.mark.parametrize("shape", [(B, T, 1), (1, B, T, 1), ()])
def test_ids_wrong_rank(shape):
    raises(["(batch, steps) or (steps,)", f"got {shape}"], IDS.predict, np.zeros(shape, np.int64))


@pytest.mark.parametrize("bad", [V, V + 1000, -1, np.iinfo(np.int64).min, np.iinfo(np.int64).max])
def test_id_out_of_range(bad):
    ids = IDS_X.copy()
    ids[1, 2] = bad
    raises([f"Embedding id {bad}", f"[0, {V})"], IDS.predict, ids)
    raises([f"Embedding id {bad}", f"[0, {V})"], IDS.predict, ids[1])
    s = IDS.stream(B)
    raises([f"Embedding id {bad}", f"[0, {V})"], s.step, ids[:, 2])
    np.testing.assert_array_equal(s.state, 0)  # the failed step changed nothing


def test_uint64_id_out_of_range():
    raises(["Embedding id", f"[0, {V})"], IDS.predict, np.array([[1, 2**63 + 5]], dtype=np.uint64))


# ---------------------------------------------------------------------------------------------
# predict: lengths and h0

@pytest.mark.parametrize("lengths,shape", [([4, 4], (2,)), ([4] * 4, (4,)), ([[4, 4, 4]], (1, 3)), (4, ())])
def test_lengths_wrong_shape(lengths, shape):
    raises([f"lengths: expected shape ({B},)", f"got {shape}"], FLOAT.predict, X, lengths=lengths)


@pytest.mark.parametrize("lengths,lo,hi", [([0, 4, 4], 0, 4), ([4, T + 1, 1], 1, T + 1), ([-2, 1, 1], -2, 1)])
def test_lengths_out_of_range(lengths, lo, hi):
    raises([f"lengths: expected values in [1, {T}]", f"got min {lo} and max {hi}"], FLOAT.predict, X,
           lengths=np.array(lengths))


def test_lengths_not_integer():
    raises(["lengths: expected a", "integer array", "got dtype float64"], FLOAT.predict, X,
           lengths=[4.0, 4.0, 4.0])


def test_unbatched_length_out_of_range():
    raises([f"lengths: expected values in [1, {T}]", f"got min {T + 1}"], FLOAT.predict, X[0], lengths=T + 1)


@pytest.mark.parametrize("shape", [(2, B, H + 1), (1, B, H), (2, B + 1, H), (2, H), (2 * B * H,), (2, B, H, 1)])
def test_h0_wrong_shape(shape):
    raises([f"h0: expected shape (2, {B}, {H})", f"got {shape}"], FLOAT.predict, X, h0=np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(2, 1, H), (1, H), (2, H + 1)])
def test_unbatched_h0_wrong_shape(shape):
    raises([f"h0: expected shape (2, {H})", f"got {shape}"], FLOAT.predict, X[0], h0=np.zeros(shape, np.float32))


def test_h0_wrong_dtype():
    raises(["h0: expected a numeric array", "got dtype <U1"], FLOAT.predict, X, h0=np.full((2, B, H), "a"))


def test_tuple_h0_wrong():
    good = (np.zeros((1, B, H), np.float32), np.zeros((1, B, 4), np.float32))
    raises(["h0[1]: expected shape (1, 3, 4)", "got (1, 3, 6)"], TWO.predict, X, h0=(good[0], good[0]))
    raises(["h0: expected a sequence of 2 arrays", "[(1, 3, 6), (1, 3, 4)]"], TWO.predict, X, h0=good[:1])
    raises(["h0: expected a sequence of 2 arrays", "[(1, 3, 6), (1, 3, 4)]"], TWO.predict, X,
           h0=np.zeros((2, B, H), np.float32))
    TWO.predict(X, h0=good)  # the right one works


# ---------------------------------------------------------------------------------------------
# streams

def test_stream_batch_must_be_positive():
    for bad in (0, -1, 1.5, "2"):
        raises(["batch: expected an integer in [1, ", f"got {bad!r}"], FLOAT.stream, bad)


@pytest.mark.parametrize("shape", [(B - 1, F), (B, F + 1), (F,), (1, B, F), (B,)])
def test_stream_step_wrong_shape(shape):
    s = FLOAT.stream(B)
    raises([f"x: expected shape ({B}, {F})", f"got {shape}"], s.step, np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(2, F), (F + 1,), (1, F, 1), ()])
def test_stream_step_wrong_shape_batch_one(shape):
    s = FLOAT.stream(1)
    raises([f"x: expected shape (1, {F}) or ({F},)", f"got {shape}"], s.step, np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(B - 1,), (B, 1), ()])
def test_ids_stream_step_wrong_shape(shape):
    s = IDS.stream(B)
    raises([f"ids: expected shape ({B},)", f"got {shape}"], s.step, np.zeros(shape, np.int64))


def test_stream_step_wrong_dtype():
    raises(["x: expected a numeric array", "got dtype <U1"], FLOAT.stream(B).step, np.full((B, F), "a"))
    raises(["integer array", "got dtype float64"], IDS.stream(B).step, np.zeros(B))


def test_stream_state_wrong_shape():
    s = FLOAT.stream(B)
    with pytest.raises(ValueError, match=re.escape(f"state: expected shape (2, {B}, {H}), got (2, {B}, 1)")):
        s.state = np.zeros((2, B, 1), np.float32)
    np.testing.assert_array_equal(s.state, 0)


def _out_cases():
    O = FLOAT.output_size
    wide = np.zeros((B, 2 * O), np.float32)
    ro = np.zeros((B, O), np.float32)
    ro.flags.writeable = False
    return [
        ("float64", np.zeros((B, O)), f"float64 ({B}, {O})"),
        ("float16", np.zeros((B, O), np.float16), f"float16 ({B}, {O})"),
        ("shape", np.zeros((B, O + 1), np.float32), f"float32 ({B}, {O + 1})"),
        ("flat", np.zeros(B * O, np.float32), f"float32 ({B * O},)"),
        ("non-contiguous", wide[:, ::2], f"float32 ({B}, {O})"),
        ("fortran", np.asfortranarray(np.zeros((B, O), np.float32)), f"float32 ({B}, {O})"),
        ("read-only", ro, f"float32 ({B}, {O})"),
        ("list", [[0.0] * O] * B, "list"),
    ]


@pytest.mark.parametrize("name,out,given", _out_cases(), ids=[c[0] for c in _out_cases()])
def test_stream_out_wrong(name, out, given):
    O = FLOAT.output_size
    s = FLOAT.stream(B)
    before = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
    raises([f"out: expected a writable, aligned, C-contiguous float32 array of shape ({B}, {O})", f"got {given}"],
           s.step, X[:, 0], out=out)
    if before is not None:
        np.testing.assert_array_equal(out, before)  # nothing written
    np.testing.assert_array_equal(s.state, 0)  # and the stream did not advance


def test_stream_out_single_row_shape():
    O = FLOAT.output_size
    s = FLOAT.stream(1)
    raises([f"shape ({O},)", f"got float32 (1, {O})"], s.step, X[0, 0], out=np.zeros((1, O), np.float32))
    raises([f"shape (1, {O})", f"got float32 ({O},)"], s.step, X[:1, 0], out=np.zeros(O, np.float32))


# ---------------------------------------------------------------------------------------------
# input NumPy converts: same answer as float32 C-contiguous

def _variants(x):
    fortran = np.asfortranarray(x)
    transposed = np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0)
    assert not transposed.flags.c_contiguous and not fortran.flags.c_contiguous
    strided = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    strided[..., ::2] = x
    return {"float64": x.astype(np.float64), "list": x.tolist(), "transposed_view": transposed,
            "fortran": fortran, "strided": strided[..., ::2], "tuple": tuple(map(tuple, map(tuple, x)))}


@pytest.mark.parametrize("name", ["float64", "list", "transposed_view", "fortran", "strided", "tuple"])
def test_convertible_float_inputs(name):
    ref_y, ref_h = FLOAT.predict(X, return_state=True)
    v = _variants(X)[name]
    y, h = FLOAT.predict(v, return_state=True)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(h, ref_h)
    # streams take the same kinds of input, one step at a time
    s, s_ref = FLOAT.stream(B), FLOAT.stream(B)
    for t in range(T):
        step_in = [row[t] for row in v] if name in ("list", "tuple") else v[:, t]
        np.testing.assert_array_equal(s.step(step_in), s_ref.step(X[:, t]))


def test_convertible_unbatched_inputs():
    x = X[1]
    ref = FLOAT.predict(x)
    for v in (x.tolist(), x.astype(np.float64), np.asfortranarray(x), x.T.copy().T):
        np.testing.assert_array_equal(FLOAT.predict(v), ref)
    np.testing.assert_array_equal(ref, FLOAT.predict(X)[1])


def test_integer_and_float64_values():
    xi = np.random.default_rng(3).integers(-3, 4, size=(B, T, F))
    ref = FLOAT.predict(xi.astype(np.float32))
    for v in (xi, xi.astype(np.int8), xi.astype(np.float64), xi.tolist()):
        np.testing.assert_array_equal(FLOAT.predict(v), ref)
    x64 = np.random.default_rng(4).standard_normal((B, T, F))  # float64 values: rounded to float32
    np.testing.assert_array_equal(FLOAT.predict(x64), FLOAT.predict(x64.astype(np.float32)))


def test_convertible_h0_and_lengths():
    h0 = np.random.default_rng(5).standard_normal((2, B, H)).astype(np.float32)
    lengths = np.array([4, 2, 3])
    ref = FLOAT.predict(X, h0=h0, lengths=lengths, return_state=True)
    for h, ln in [(h0.astype(np.float64), lengths.tolist()), (h0.tolist(), lengths.astype(np.int32)),
                  (np.asfortranarray(h0), lengths.astype(np.uint8)), (h0.transpose(0, 2, 1).copy().transpose(0, 2, 1),
                                                                       tuple(lengths))]:
        got = FLOAT.predict(X, h0=h, lengths=ln, return_state=True)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


def test_convertible_ids():
    ref = IDS.predict(IDS_X)
    for v in (IDS_X.astype(np.int32), IDS_X.astype(np.uint8), IDS_X.tolist(), np.asfortranarray(IDS_X),
              IDS_X.T.copy().T):
        np.testing.assert_array_equal(IDS.predict(v), ref)
    s, s_ref = IDS.stream(B), IDS.stream(B)
    for t in range(T):
        np.testing.assert_array_equal(s.step(IDS_X[:, t].astype(np.int16).tolist()), s_ref.step(IDS_X[:, t]))


def test_predict_does_not_modify_its_inputs():
    x, h0 = X.copy(), np.ones((2, B, H), np.float32)
    FLOAT.predict(x, h0=h0, lengths=np.array([1, 2, 3]))
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(h0, 1)


# ---------------------------------------------------------------------------------------------

def test_import_does_not_import_torch():
    code = "import gru_infer, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # the same check does see a module that is imported (numpy, which gru_infer needs)
    code2 = "import gru_infer, sys; assert 'numpy' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code2], capture_output=True).returncode != 0
