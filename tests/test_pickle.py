"""Models and streams by value: pickle (protocols 2-5, out-of-band buffers), process pools,
to_bytes and gru_infer.load(bytes). References: the same model in this process (bit for bit) and
PyTorch (within float32 error) where a torch module is the source."""
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import model_files
import numpy as np
import pytest
import torch
from torch import nn

import gru_infer

TORCH_TOL = 1e-5


class GruHead(nn.Module):
    def __init__(self, I=4, H=16, O=3, layers=2):
        super().__init__()
        self.gru = nn.GRU(I, H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(H, O)

    def forward(self, x):
        return self.head(self.gru(x)[0])


def torch_model(seed=0, **kw):
    torch.manual_seed(seed)
    return GruHead(**kw).eval()


def torch_out(module, x):
    with torch.no_grad():
        y = module(torch.from_numpy(x))
        return (y[0] if isinstance(y, tuple) else y).numpy()


def models():
    """(name, gru_infer model, torch module or None)."""
    m = torch_model()
    out = [("gru2+linear", gru_infer.from_torch(m), m)]
    torch.manual_seed(1)
    bi = nn.GRU(4, 8, batch_first=True, bidirectional=True).eval()
    out.append(("bidirectional", gru_infer.from_torch(bi), bi))
    fast = gru_infer.from_torch(torch_model(2)).with_options(fast_activations=True)
    out.append(("fast_activations", fast, None))
    out.append(("demo", gru_infer.load(gru_infer.__path__[0] + "/models/vibration_forecaster.gru"), None))
    return out


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name,model,module", models(), ids=[m[0] for m in models()])
def test_pickle_roundtrip_is_bit_identical(protocol, name, model, module, errors):
    x = np.random.default_rng(protocol).standard_normal((5, 23, model.input_size)).astype(np.float32)
    back = pickle.loads(pickle.dumps(model, protocol=protocol))
    assert type(back) is gru_infer.Model and back is not model
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    y, h = back.predict(x, return_state=True)
    y0, h0 = model.predict(x, return_state=True)
    np.testing.assert_array_equal(h, h0)
    assert back.info == model.info and back.fast_activations == model.fast_activations
    if module is not None:
        errors.check("pickled model vs torch", back.predict(x), torch_out(module, x), TORCH_TOL)


def test_pickle_carries_bytes_not_a_path(tmp_path):
    path = tmp_path / "somewhere_unique_name.gru"
    gru_infer.from_torch(torch_model()).save(path)
    model = gru_infer.load(path)
    data = pickle.dumps(model)
    assert b"somewhere_unique_name" not in data and str(tmp_path).encode() not in data
    assert model.to_bytes() in data  # the native file itself, in-band
    path.unlink()
    x = np.ones((1, 5, 4), np.float32)
    np.testing.assert_array_equal(pickle.loads(data).predict(x), model.predict(x))


def test_protocol_5_ships_the_bytes_out_of_band():
    model = gru_infer.from_torch(torch_model(H=64))
    buffers = []
    data = pickle.dumps(model, protocol=5, buffer_callback=buffers.append)
    native = model.to_bytes()
    assert len(buffers) == 1 and buffers[0].raw().tobytes() == native
    assert len(data) < 1000 < len(native)  # only the small parts in-band
    x = np.random.default_rng(0).standard_normal((3, 9, 4)).astype(np.float32)
    for wrap in (bytes, bytearray, memoryview):  # what a transport may hand back
        back = pickle.loads(data, buffers=[wrap(buffers[0].raw())])
        np.testing.assert_array_equal(back.predict(x), model.predict(x))
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)  # out-of-band bytes are needed


def _predict_in_child(model, x):
    return model.predict(x), gru_infer.active_isa()


def _stream_in_child(stream, xs):
    return np.stack([stream.step(x) for x in xs]), stream.state


def test_process_pool_spawn_gives_identical_results(errors):
    module = torch_model(3)
    model = gru_infer.from_torch(module)
    xs = [np.random.default_rng(i).standard_normal((4, 17 + i, 4)).astype(np.float32) for i in range(3)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_predict_in_child, [model] * len(xs), xs))
        stream = model.stream(batch=4)
        for t in range(5):
            stream.step(xs[0][:, t])
        child_y, child_state = pool.submit(_stream_in_child, stream, xs[0][:, 5:].swapaxes(0, 1)).result()
    for x, (y, isa) in zip(xs, results):
        assert isa == gru_infer.active_isa()  # same kernels, so bit-identical is the right demand
        np.testing.assert_array_equal(y, model.predict(x))
        errors.check("process-pool model vs torch", y, torch_out(module, x), TORCH_TOL)
    local = np.stack([stream.step(x) for x in xs[0][:, 5:].swapaxes(0, 1)])
    np.testing.assert_array_equal(child_y, local)
    np.testing.assert_array_equal(child_state, stream.state)


@pytest.mark.parametrize("batch,split", [(1, 7), (3, 1), (2, 12)])
def test_stream_pickled_mid_sequence_continues_identically(batch, split, errors):
    module = torch_model(4)
    model = gru_infer.from_torch(module)
    x = np.random.default_rng(batch).standard_normal((batch, 20, 4)).astype(np.float32)
    never = model.stream(batch)
    pickled = model.stream(batch)
    for t in range(split):
        never.step(x[:, t])
        pickled.step(x[:, t])
    back = pickle.loads(pickle.dumps(pickled))
    assert back.batch == batch
    np.testing.assert_array_equal(back.state, never.state)
    for t in range(split, 20):
        y = back.step(x[:, t])
        np.testing.assert_array_equal(y, never.step(x[:, t]))
    np.testing.assert_array_equal(back.state, never.state)
    errors.check("unpickled stream vs torch (last step)", y, torch_out(module, x)[:, -1], TORCH_TOL)


def test_stream_carries_model_options_and_shares_the_model():
    model = gru_infer.from_torch(torch_model(5)).with_options(fast_activations=True)
    s = model.stream(2)
    s.step(np.ones((2, 4), np.float32))
    m2, s2 = pickle.loads(pickle.dumps((model, s), protocol=5))
    assert s2.model is m2 and m2.fast_activations
    x = np.full((2, 4), 0.5, np.float32)
    np.testing.assert_array_equal(s2.step(x), s.step(x))


@pytest.mark.parametrize("fmt", model_files.FORMATS)
def test_load_bytes_every_format(fmt, tmp_path):
    path = model_files.write(fmt, tmp_path)
    from_path = gru_infer.load(path)
    data = path.read_bytes()
    for wrap in (bytes, bytearray, memoryview):
        model = gru_infer.load(wrap(data))
        assert model.info.get("format") == from_path.info.get("format")
        x = np.random.default_rng(0).standard_normal((2, 6, model.input_size)).astype(np.float32)
        np.testing.assert_array_equal(model.predict(x), from_path.predict(x))


def test_to_bytes_is_the_saved_file(tmp_path):
    model = gru_infer.from_torch(torch_model())
    model.save(tmp_path / "m.gru")
    assert model.to_bytes() == (tmp_path / "m.gru").read_bytes()
    strided = np.frombuffer(model.to_bytes() * 2, np.uint8).reshape(2, -1)[:, ::1][0]  # a numpy view
    assert gru_infer.load(memoryview(strided)).to_bytes() == model.to_bytes()


@pytest.mark.parametrize("data,error", [
    (b"", ValueError), (b"GRUINF", gru_infer.ModelFormatError), (b"GRUINFER" + b"\0" * 40, gru_infer.ModelFormatError),
    (b"not a model at all", ValueError),
])
def test_bad_bytes_raise(data, error):
    for wrap in (bytes, bytearray, memoryview):
        with pytest.raises(error):
            gru_infer.load(wrap(data))


def test_bytes_of_a_file_name_say_so(tmp_path):
    path = tmp_path / "m.gru"
    gru_infer.from_torch(torch_model()).save(path)
    with pytest.raises(ValueError, match="the given bytes is not a model file.*pass a str or Path for a file name"):
        gru_infer.load(str(path).encode())


def test_truncated_pickle_payload_raises():
    model = gru_infer.from_torch(torch_model())
    buffers = []
    data = pickle.dumps(model, protocol=5, buffer_callback=buffers.append)
    with pytest.raises(gru_infer.ModelFormatError):
        pickle.loads(data, buffers=[buffers[0].raw()[:-10]])


def test_id_model_stream_and_deepcopy():
    import copy

    from gru_infer import layers as L
    torch.manual_seed(6)
    table = np.random.default_rng(1).standard_normal((20, 4)).astype(np.float32)
    model = gru_infer.Model.from_layers([L.Embedding(table), *gru_infer.from_torch(torch_model(6)).layers])
    ids = np.random.default_rng(2).integers(0, 20, size=(3, 15))
    s = model.stream(3)
    for t in range(6):
        s.step(ids[:, t])
    back = pickle.loads(pickle.dumps(s, protocol=4))
    for t in range(6, 15):
        np.testing.assert_array_equal(back.step(ids[:, t]), s.step(ids[:, t]))
    twin = copy.deepcopy(model)
    assert twin is not model and twin._core is not model._core
    np.testing.assert_array_equal(twin.predict(ids), model.predict(ids))


OLD_PICKLES = Path(__file__).parent / "data" / "pickles"


def test_pickles_of_0_2_0_still_load():
    """Pickles written by gru_infer 0.2.0 (tests/data/pickles, a GRU(2, 3) + Dense) name
    gru_infer.serialization._rebuild_model and gru_infer._stream._rebuild_stream: both still load,
    and predict as the model did then."""
    want = np.load(OLD_PICKLES / "expected_0.2.0.npz")
    for protocol, fast in ((2, False), (5, True)):
        data = (OLD_PICKLES / f"model_0.2.0_protocol{protocol}.pkl").read_bytes()
        assert b"gru_infer.serialization" in data and b"_rebuild_model" in data
        model = pickle.loads(data)
        assert type(model) is gru_infer.Model and model.fast_activations is fast
        assert model.info == {"source": "old", "note": "pickled by gru_infer 0.2.0 before the layering change"}
        np.testing.assert_array_equal(model.predict(want["x"]), want["y_fast" if fast else "y"])
    stream = pickle.loads((OLD_PICKLES / "stream_0.2.0_protocol4.pkl").read_bytes())
    np.testing.assert_array_equal(stream.step(want["x"][:, 1]), want["stream_next"])


def test_the_by_value_names_stay_in_serialization():
    from gru_infer import loading, model, serialization
    assert serialization._rebuild_model is model._rebuild_model
    assert serialization.reduce_model is model.reduce_model
    assert serialization.model_from_native_bytes is model.model_from_native_bytes
    assert serialization.load_bytes is loading.load_bytes
    assert serialization.NATIVE_MAGIC == b"GRUINFER"
