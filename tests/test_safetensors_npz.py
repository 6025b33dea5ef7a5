"""safetensors files (read without the safetensors package) and NumPy .npz weight archives.

References: safetensors.torch.save_file / load_file for the files, the torch module's or the Keras
model's own output for the imported models.
"""
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import pytest
import torch
from helpers import assert_matches, model_of
from safetensors.torch import load_file, save_file
from torch import nn

from gru_infer.importers.npz import layers_from_npz, read_npz
from gru_infer.importers.safetensors import layers_from_safetensors, read_safetensors

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # keras + numpy 2


def keras_module():
    os.environ["KERAS_BACKEND"] = "torch"  # effective only before keras' first import
    import keras
    assert keras.backend.backend() == "torch", "these tests need keras on the torch backend"
    return keras


class HeadBeforeGRU(nn.Module):
    """Registers the head first and uses a name that sorts first: key order and sorted order are both wrong."""

    def __init__(self):
        super().__init__()
        self.a_head = nn.Linear(12, 3)
        self.rnn = nn.GRU(5, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.rnn2 = nn.GRU(12, 12, batch_first=True, bias=False)

    def forward(self, x):
        return self.a_head(self.rnn2(self.rnn(x)[0])[0])


# ---------------------------------------------------------------------------------------------
# safetensors

def test_read_safetensors_matches_the_library_bit_for_bit(tmp_path):
    torch.manual_seed(0)
    tensors = {"f32": torch.randn(3, 4), "f64": torch.randn(5).double(), "f16": torch.randn(2, 2).half(),
               "bf16": torch.randn(7).bfloat16(), "i64": torch.arange(4), "i32": torch.arange(3, dtype=torch.int32),
               "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3)}
    path = tmp_path / "t.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    got, ref = read_safetensors(path), load_file(path)
    assert sorted(got) == sorted(ref)
    for key, t in ref.items():
        want = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
        assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
        assert got[key].tobytes() == want.tobytes(), key


def test_safetensors_model_matches_torch(tmp_path, errors):
    torch.manual_seed(1)
    model = HeadBeforeGRU().eval()
    path = tmp_path / "model.safetensors"
    save_file(model.state_dict(), path)
    layers, info = layers_from_safetensors(path)
    assert info["source"] == "safetensors"
    assert info["modules"] == [("rnn.", "GRU"), ("rnn2.", "GRU"), ("a_head.", "Linear")]
    assert any("inferred from the shapes" in a for a in info["assumed"])
    x = torch.randn(3, 8, 5)
    with torch.no_grad():
        ref = model(x).numpy()
    assert_matches(errors, "safetensors: GRU(bi, 2 layers) -> GRU -> Linear", (layers, info), x.numpy(), ref, tmp_path)


def test_safetensors_float64_and_bfloat16_weights(tmp_path, errors):
    torch.manual_seed(2)
    for dtype in (torch.float64, torch.bfloat16):
        gru = nn.GRU(3, 4, batch_first=True).to(dtype)
        path = tmp_path / f"{dtype}.safetensors"
        save_file(gru.state_dict(), path)
        layers, info = layers_from_safetensors(path)
        x = torch.randn(2, 6, 3)
        with torch.no_grad():  # the engine computes in float32 on the float32-rounded weights
            ref = nn.GRU(3, 4, batch_first=True)
            ref.load_state_dict({k: v.float() for k, v in gru.state_dict().items()})
            errors.check(f"safetensors: {dtype} weights", model_of(layers, info).predict(x.numpy()),
                         ref(x)[0].numpy(), TOL)


def write_safetensors(path, header: dict, buffer: bytes, header_len=None):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if header_len is None else header_len) + text + buffer)
    return path


def test_broken_safetensors_files(tmp_path):
    good = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
    buf = np.arange(6, dtype=np.float32).tobytes()
    assert read_safetensors(write_safetensors(tmp_path / "good.st", good, buf))["w"].shape == (2, 3)
    cases = {
        "truncated": (good, buf[:20], None, r"data_offsets \[0, 24\] are outside the 20-byte data buffer"),
        "header_len": (good, buf, 10 ** 6, "header length 1000000 does not fit"),
        "dtype": ({"w": dict(good["w"], dtype="F8_E4M3")}, buf, None, "dtype 'F8_E4M3' is not supported"),
        "shape": ({"w": dict(good["w"], shape=[2, 2])}, buf, None, r"F32 of shape \[2, 2\] needs 16 bytes"),
        "offsets": ({"w": dict(good["w"], data_offsets=[8, 4])}, buf, None, r"data_offsets \[8, 4\] are outside"),
        "negative": ({"w": dict(good["w"], shape=[-2, 3])}, buf, None, "non-negative integers"),
        "not_object": ([1, 2], buf, None, "must be a JSON object"),
    }
    for name, (header, data, header_len, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            read_safetensors(write_safetensors(tmp_path / f"{name}.st", header, data, header_len))
    (tmp_path / "bad_json.st").write_bytes(struct.pack("<Q", 5) + b"{oops" + buf)
    with pytest.raises(ValueError, match="not valid JSON"):
        read_safetensors(tmp_path / "bad_json.st")
    (tmp_path / "tiny.st").write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="too short"):
        read_safetensors(tmp_path / "tiny.st")


# ---------------------------------------------------------------------------------------------
# .npz with PyTorch keys

@pytest.mark.parametrize("compressed", [False, True])
def test_npz_with_torch_keys_matches_torch(tmp_path, errors, compressed):
    torch.manual_seed(3)
    model = nn.Sequential(OrderedDict(rnn=nn.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True)))
    head = nn.Linear(10, 2)
    arrays = {**{k: v.numpy() for k, v in model.state_dict().items()},
              **{"head." + k: v.detach().numpy() for k, v in head.state_dict().items()}}
    path = tmp_path / "w.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    layers, info = layers_from_npz(path, head="every_step")  # head(out) after a bidirectional GRU
    assert info["layout"] == "pytorch" and info["source"] == "numpy"
    x = torch.randn(2, 7, 4)
    with torch.no_grad():
        ref = head(model(x)[0]).numpy()
    assert_matches(errors, "npz: PyTorch keys", (layers, info), x.numpy(), ref, tmp_path)


# ---------------------------------------------------------------------------------------------
# .npz with Keras weights

def test_npz_keras_get_weights_matches_keras(tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Dense(6),
                              keras.layers.GRU(5, return_sequences=True),
                              keras.layers.GRU(4, return_sequences=True, reset_after=False),
                              keras.layers.GRU(3, return_sequences=True, use_bias=False),
                              keras.layers.Dense(2)])
    rng = np.random.default_rng(5)  # Keras initialises biases to 0: perturb all weights so their placement matters
    model.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    path = tmp_path / "keras.npz"
    np.savez(path, *model.get_weights())
    layers, info = layers_from_npz(path)
    assert info["layout"] == "keras" and any("sigmoid" in a for a in info["assumed"])
    assert [type(layer).__name__ for layer in layers] == ["Dense", "GRU", "GRU", "GRU", "Dense"]
    assert [layer.linear_before_reset for layer in layers[1:4]] == [True, False, True]
    x = np.random.default_rng(6).standard_normal((2, 9, 3)).astype(np.float32)
    assert_matches(errors, "npz: Keras get_weights()", (layers, info), x, model.predict(x, verbose=0), tmp_path)


def test_npz_keras_named_arrays_matches_keras(tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(7)
    gru = keras.layers.GRU(6, return_sequences=True, reset_after=False)
    model = keras.Sequential([keras.Input((None, 2)), gru])
    kernel, recurrent, bias = gru.get_weights()
    bias = bias + 0.3  # non-zero input bias
    gru.set_weights([kernel, recurrent, bias])
    path = tmp_path / "named.npz"
    np.savez(path, **{"gru/kernel": kernel, "gru/recurrent_kernel": recurrent, "gru/bias": bias})
    layers, info = layers_from_npz(path)
    x = np.random.default_rng(8).standard_normal((3, 5, 2)).astype(np.float32)
    errors.check("npz: Keras named arrays (reset_after=False)", model_of(layers, info).predict(x),
                 model.predict(x, verbose=0), TOL)


def test_broken_npz_files(tmp_path):
    np.savez(tmp_path / "objects.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="array 'w' is an object array.*refused"):
        layers_from_npz(tmp_path / "objects.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="a single .npy array"):
        read_npz(tmp_path / "single.npy")
    np.savez(tmp_path / "ok.npz", weight_ih_l0=np.zeros((6, 1)), weight_hh_l0=np.zeros((6, 2)))
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        layers_from_npz(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match=r"no GRU recurrent weights.*Found: mean \(3,\)"):
        layers_from_npz(tmp_path / "other.npz")
    np.savez(tmp_path / "dense_only.npz", np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="no GRU weights found"):
        layers_from_npz(tmp_path / "dense_only.npz")
    np.savez(tmp_path / "no_chain.npz", np.zeros((3, 6)), np.zeros((2, 6)), np.zeros((2, 6)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="a layer with 5 inputs follows one with 2 outputs"):
        layers_from_npz(tmp_path / "no_chain.npz")
