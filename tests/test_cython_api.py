"""The Cython cimport interface: a user's .pyx (examples/cython/stream_loop.pyx) compiled at test
time against the installed package (its .pxd and gru_infer.get_include()) steps a stream through
the capsule's function table with the GIL released, and gives exactly what Stream.step gives."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gru_infer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cython"
sys.path.insert(0, str(EXAMPLE))
import build as example_build  # noqa: E402


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    return example_build.build(tmp_path_factory.mktemp("cython_user"))


def torch_gru_model(seed=0):
    torch.manual_seed(seed)
    seq = torch.nn.Sequential(torch.nn.GRU(5, 12, num_layers=2, batch_first=True))
    return gru_infer.from_torch(seq[0])


def test_example_script_runs(loop, capsys):
    assert example_build.main(loop) == 0
    assert "max difference to Stream.step: 0" in capsys.readouterr().out


@pytest.mark.parametrize("batch", [1, 3])
def test_user_loop_equals_stream_step(loop, batch):
    model = torch_gru_model()
    x = np.random.default_rng(batch).standard_normal((40, batch, 5)).astype(np.float32)
    y = np.empty((40, batch, model.output_size), np.float32)
    loop.run(model.stream(batch), x, y)
    s = model.stream(batch)
    want = np.stack([s.step(x_t) for x_t in x]).reshape(y.shape)
    np.testing.assert_array_equal(y, want)
    y2 = np.empty_like(y)
    loop.run_all(model.stream(batch), x, y2)  # the table's run: all steps in one call
    np.testing.assert_array_equal(y2, want)


def test_state_reset_and_continuation_through_the_table(loop):
    model = torch_gru_model(1)
    x = np.random.default_rng(0).standard_normal((30, 2, 5)).astype(np.float32)
    y = np.empty((30, 2, model.output_size), np.float32)
    ours, ref = model.stream(2), model.stream(2)
    loop.run(ours, x[:10], y[:10])
    for x_t in x[:10]:
        ref.step(x_t)
    state = np.empty(ref.state.size, np.float32)
    loop.get_state(ours, state)
    np.testing.assert_array_equal(state, ref.state.reshape(-1))
    other = model.stream(2)
    loop.set_state(other, state)  # continue on another stream from the saved state
    loop.run(other, x[10:], y[10:])
    want = np.stack([ref.step(x_t) for x_t in x[10:]])
    np.testing.assert_array_equal(y[10:], want)
    loop.reset(other)
    assert not other.state.any()
    with pytest.raises(ValueError, match="expected 48 floats, got 3"):
        loop.get_state(ours, np.empty(3, np.float32))


def test_capsule_name_version_and_sizes():
    import ctypes
    s = torch_gru_model().stream(3)
    cap = s.capsule
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    ptr = get(cap, b"gru_infer.stream_api")
    version, size = (ctypes.c_uint32 * 2).from_address(ptr)
    assert version == 1 and size == 8 + 8 * 5 + 8 + 6 * 8  # header fields, then six pointers
    batch, inp, out, state = (ctypes.c_size_t * 4).from_address(ptr + 16)
    assert (batch, inp, out, state) == (3, 5, 12, 3 * 24)


def test_id_model_refuses_float_steps(loop):
    torch.manual_seed(0)
    emb = torch.nn.Sequential(torch.nn.Embedding(10, 4))
    from gru_infer import layers as L
    model = gru_infer.Model.from_layers([L.Embedding(emb[0].weight.detach().numpy()),
                                         *gru_infer.from_torch(torch.nn.GRU(4, 6)).layers])
    y = np.zeros((2, 1, 6), np.float32)
    with pytest.raises(ValueError, match="takes ids"):
        loop.run(model.stream(), np.zeros((2, 1, 1), np.float32), y)
    with pytest.raises(ValueError, match="takes ids"):
        loop.run_all(model.stream(), np.zeros((2, 1, 1), np.float32), y)
    assert np.isnan(y).all()  # never a plausible answer


def test_wrong_shapes_raise(loop):
    s = torch_gru_model().stream(2)
    with pytest.raises(ValueError, match=r"x: expected \(steps, 2, 5\)"):
        loop.run(s, np.zeros((3, 1, 5), np.float32), np.zeros((3, 1, 12), np.float32))


def test_capsule_keeps_its_stream_alive():
    import ctypes
    import gc
    model = torch_gru_model(2)
    ref = model.stream(1)
    cap = model.stream(1).capsule  # nothing else holds that stream
    gc.collect()
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    table = get(cap, b"gru_infer.stream_api")
    stream = ctypes.c_void_p.from_address(table + 8).value
    step = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        ctypes.c_void_p.from_address(table + 56).value)
    x, y = np.linspace(-1, 1, 5, dtype=np.float32), np.empty(12, np.float32)
    for _ in range(3):
        assert step(stream, x.ctypes.data, y.ctypes.data) == 0
        np.testing.assert_array_equal(y, ref.step(x))


def test_table_step_ids_checks_ids_before_stepping():
    import ctypes
    torch.manual_seed(3)
    from gru_infer import layers as L
    table_w = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    model = gru_infer.Model.from_layers([L.Embedding(table_w), *gru_infer.from_torch(torch.nn.GRU(4, 6)).layers])
    ours, ref = model.stream(2), model.stream(2)
    cap = ours.capsule
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    table = get(cap, b"gru_infer.stream_api")
    assert ctypes.c_int.from_address(table + 48).value == 1  # takes_ids
    stream = ctypes.c_void_p.from_address(table + 8).value
    step_ids = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        ctypes.c_void_p.from_address(table + 64).value)
    y = np.empty((2, 6), np.float32)
    for ids in ([1, 9], [0, 3], [7, 7]):
        ids = np.asarray(ids, np.int64)
        assert step_ids(stream, ids.ctypes.data, y.ctypes.data) == 0
        np.testing.assert_array_equal(y, ref.step(ids))
    before = ours.state[0].copy()
    bad = np.asarray([2, 10], np.int64)
    assert step_ids(stream, bad.ctypes.data, y.ctypes.data) == -1
    np.testing.assert_array_equal(ours.state[0], before)  # refused before any state changed
