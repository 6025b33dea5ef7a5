"""BatchNormalization at inference, as users write it, against the framework that ran it:
Keras BatchNormalization (.keras and legacy .h5), torch BatchNorm1d over features (from_torch and
the ONNX BatchNormalization op torch.onnx writes), and the Mul + Add pair exporters fold it into.
Folded into a neighbouring Dense where that is exact, else an Affine layer."""
import os

import numpy as np
import pytest
import torch
from helpers import check_roundtrip
from torch import nn

import gru_infer
import gru_infer.layers as L

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning",
                                        "ignore:.*legacy.*:UserWarning")


def keras_module():
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    return keras


def _keras_models(keras):
    K = keras.layers
    return {
        # BN between GRUs (the appliances-energy shape): stays an Affine layer
        "between_grus": ([K.GRU(8, return_sequences=True), K.BatchNormalization(), K.Dropout(0.2), K.GRU(5),
                          K.Dense(1)], ["GRU", "Affine", "GRU", "Dense"]),
        # BN after the last state, before Dense (the tf2onnx GilgaBase shape): folded into the Dense
        "last_state_then_dense": ([K.GRU(8), K.BatchNormalization(epsilon=1e-5), K.Dense(2)], ["GRU", "Dense"]),
        # Dense -> BN -> relu: folded into the Dense before it
        "dense_bn_relu": ([K.GRU(6), K.Dense(4), K.BatchNormalization(), K.Activation("relu"), K.Dense(1)],
                          ["GRU", "Dense", "ActivationLayer", "Dense"]),
        # BN on the input features, with only center (no scale)
        "on_input_center_only": ([K.BatchNormalization(scale=False), K.GRU(5, return_sequences=True)],
                                 ["Affine", "GRU"]),
        # only scale, after a sequence GRU, then a time-distributed Dense: folded into it
        "scale_only_then_dense": ([K.GRU(7, return_sequences=True), K.BatchNormalization(center=False),
                                   K.Dense(3)], ["GRU", "Dense"]),
    }


@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(_keras_models(keras_module())))
def test_keras_batch_normalization(name, ext, tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(7)
    stack, kinds = _keras_models(keras)[name]
    model = keras.Sequential([keras.Input((9, 3))] + stack)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            weights = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32) if "variance" in v.path or
                               "gamma" in v.path else rng.uniform(-1, 1, w.shape).astype(np.float32)
                               for w, v in zip(weights, layer.weights)])
    path = tmp_path / f"model{ext}"
    model.save(path)
    m = gru_infer.load(path)
    assert [type(layer).__name__ for layer in m.layers] == kinds
    x = rng.standard_normal((4, 9, 3)).astype(np.float32)
    errors.check(f"Keras BatchNormalization ({name}, {ext})", m.predict(x), model.predict(x, verbose=0), TOL)
    check_roundtrip(m, x, tmp_path)


def test_keras_batch_normalization_on_another_axis_is_refused(tmp_path):
    keras = keras_module()
    model = keras.Sequential([keras.Input((9, 3)), keras.layers.GRU(4, return_sequences=True),
                              keras.layers.BatchNormalization(axis=1)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(gru_infer.UnsupportedModelError, match=r"batch_normalization.*axis"):
        gru_infer.load(tmp_path / "m.keras")


# ---- PyTorch --------------------------------------------------------------------------------

def _randomise_bn(bn: nn.BatchNorm1d, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        bn.running_mean.copy_(torch.rand(bn.num_features, generator=g) * 2 - 1)
        bn.running_var.copy_(torch.rand(bn.num_features, generator=g) * 1.5 + 0.5)
        if bn.affine:
            bn.weight.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
            bn.bias.copy_(torch.rand(bn.num_features, generator=g) - 0.5)
    return bn


class LastStateBN(nn.Module):
    """GRU -> out[:, -1] -> BatchNorm1d(H) -> Linear."""

    def __init__(self, affine=True):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.bn = _randomise_bn(nn.BatchNorm1d(8, affine=affine), 1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(self.bn(out[:, -1]))


class SequenceBN(nn.Module):
    """GRU -> BatchNorm1d over the features of every step ((B, F, T) layout) -> GRU."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.bn = _randomise_bn(nn.BatchNorm1d(8, eps=1e-3), 2)
        self.gru2 = nn.GRU(8, 4, batch_first=True)

    def forward(self, x):
        out, _ = self.gru(x)
        out = self.bn(out.transpose(1, 2)).transpose(1, 2)
        return self.gru2(out)[0]


class HeadBN(nn.Module):
    """GRU -> h_n[-1] -> Linear -> BatchNorm1d -> ReLU -> Linear."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 8, num_layers=2, batch_first=True)
        self.head = nn.Sequential(nn.Linear(8, 6), _randomise_bn(nn.BatchNorm1d(6), 3), nn.ReLU(), nn.Linear(6, 1))

    def forward(self, x):
        _, h = self.gru(x)
        return self.head(h[-1])


TORCH = {"last_state_bn": (LastStateBN, ["GRU", "LastStep", "Dense"]),
         "last_state_bn_no_affine": (lambda: LastStateBN(affine=False), ["GRU", "LastStep", "Dense"]),
         "sequence_bn": (SequenceBN, ["GRU", "Affine", "GRU"]),
         "head_bn": (HeadBN, ["GRU", "GRU", "LastStep", "Dense", "ActivationLayer", "Dense"])}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_torch_batchnorm1d(name, tmp_path, errors):
    torch.manual_seed(0)
    make, kinds = TORCH[name]
    module = make().eval()
    m = gru_infer.from_torch(module)
    got_kinds = [type(layer).__name__ for layer in m.layers]
    assert got_kinds == kinds or got_kinds == [k for k in kinds if k != "LastStep"], got_kinds
    x = torch.randn(3, 11, 3)
    with torch.no_grad():
        errors.check(f"torch BatchNorm1d ({name})", m.predict(x.numpy()), module(x).numpy(), TOL)
    check_roundtrip(m, x.numpy(), tmp_path)


def test_torch_batchnorm_in_training_mode_is_refused():
    module = LastStateBN().train()
    with pytest.raises(gru_infer.UnsupportedModelError, match="bn"):
        gru_infer.from_torch(module)


# ---- ONNX -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["last_state_bn", "sequence_bn", "head_bn"])
def test_onnx_batchnormalization_op(name, tmp_path, errors):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    module = TORCH[name][0]().eval()
    x = torch.randn(3, 11, 3)
    path = tmp_path / "m.onnx"
    torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=14, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}}, do_constant_folding=False)
    import onnx
    assert "BatchNormalization" in [n.op_type for n in onnx.load(str(path)).graph.node]
    ref = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    m = gru_infer.load(path)
    errors.check(f"ONNX BatchNormalization ({name}) vs onnxruntime", m.predict(x.numpy()), ref, TOL)
    check_roundtrip(m, x.numpy(), tmp_path)


def test_onnx_mul_add_pair(tmp_path, errors):
    """tf2onnx folds a Keras BatchNormalization into x * scale + shift (two constants per feature)."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from tf2onnx_loop_models import keras_gru_loop_model, random_keras_gru
    rng = np.random.default_rng(4)
    for seq in (False, True):
        model = keras_gru_loop_model([random_keras_gru(rng, 2, 6, return_sequences=seq)], T=13,
                                     batch_norm=(rng.uniform(0.5, 2, 6), rng.uniform(-1, 1, 6)),
                                     dense=(rng.standard_normal((6, 1)), rng.standard_normal(1)))
        path = tmp_path / f"m{seq}.onnx"
        onnx.save(model, str(path))
        x = rng.standard_normal((3, 13, 2)).astype(np.float32)
        ref = ort.InferenceSession(str(path)).run(None, {"input": x})[0]
        m = gru_infer.load(path)
        assert [type(layer).__name__ for layer in m.layers][-1] == "Dense"
        assert "Affine" not in [type(layer).__name__ for layer in m.layers]  # folded into the Dense
        errors.check("ONNX Mul+Add (folded BatchNorm) vs onnxruntime", m.predict(x), ref, TOL)


def test_fold_affine_rules():
    rng = np.random.default_rng(0)
    d = lambda o, i: L.Dense(rng.standard_normal((o, i)), rng.standard_normal(o))  # noqa: E731
    a = lambda n: L.Affine(rng.uniform(0.5, 2, n), rng.standard_normal(n))  # noqa: E731
    from gru_infer.importers._affine import fold_affine
    kinds = lambda ls: [type(x).__name__ for x in ls]  # noqa: E731
    assert kinds(fold_affine([d(4, 3), a(4)])) == ["Dense"]
    assert kinds(fold_affine([a(3), d(4, 3)])) == ["Dense"]
    assert kinds(fold_affine([a(3), L.LastStep(), d(4, 3)])) == ["LastStep", "Dense"]
    assert kinds(fold_affine([d(4, 3), L.ActivationLayer(L.Activation("relu")), a(4)])) == \
        ["Dense", "ActivationLayer", "Affine"]
    assert kinds(fold_affine([a(3), L.LastStep(), L.ActivationLayer(L.Activation("tanh"))])) == \
        ["Affine", "LastStep", "ActivationLayer"]
    x = rng.standard_normal((5, 3))
    d1, a1 = d(4, 3), a(4)
    (f,) = fold_affine([d1, a1])
    np.testing.assert_allclose(x @ f.weight.T + f.bias, (x @ d1.weight.T + d1.bias) * a1.scale + a1.shift, rtol=1e-5)


@pytest.mark.parametrize("activation", ["gelu", "swish", "silu", "selu", "mish", "relu6", "hard_silu"])
def test_keras_dense_activations(activation, tmp_path, errors):
    """Activations added to the core with BatchNormalization's Affine: Keras Dense(activation=...)."""
    keras = keras_module()
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((5, 2)), keras.layers.GRU(6, return_sequences=True),
                              keras.layers.Dense(4, activation=activation), keras.layers.Dense(1)])
    model.set_weights([3 * w for w in model.get_weights()])  # reach the activations' tails
    model.save(tmp_path / "m.keras")
    m = gru_infer.load(tmp_path / "m.keras")
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
    errors.check(f"Keras Dense activation {activation}", m.predict(x), model.predict(x, verbose=0), TOL)


@pytest.mark.parametrize("activation", ["selu", "gelu"])
def test_keras_gru_candidate_activation(activation, tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(5, activation=activation)])
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(1).standard_normal((2, 6, 2)).astype(np.float32)
    errors.check(f"Keras GRU activation={activation}", gru_infer.load(tmp_path / "m.keras").predict(x),
                 model.predict(x, verbose=0), TOL)
