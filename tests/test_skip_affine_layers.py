"""The InputSkip and Affine layers and the element-wise activations added with them, built from
layer specs and checked against the same computation in PyTorch (GRU -> Linear + x[..., a:b],
BatchNorm1d in eval mode, torch's activation functions), in predict, in a stream and through the
native file."""
import numpy as np
import pytest
import torch
from helpers import check_roundtrip
from torch import nn

import gru_infer
import gru_infer.layers as L

TOL = 1e-5


def _gru_spec(gru: nn.GRU) -> L.GRU:
    H = gru.hidden_size
    sd = {k: v.detach().numpy() for k, v in gru.state_dict().items()}
    d = L.GRUDirection(L.swap_rz_blocks(sd["weight_ih_l0"], H), L.swap_rz_blocks(sd["weight_hh_l0"], H),
                       L.swap_rz_blocks(sd["bias_ih_l0"], H), L.swap_rz_blocks(sd["bias_hh_l0"], H))
    return L.GRU(gru.input_size, H, [d])


@pytest.mark.parametrize("I,O,start", [(1, 1, 0), (3, 2, 1), (5, 5, 0), (17, 3, 14)])
def test_input_skip_matches_torch(I, O, start, tmp_path, errors):
    torch.manual_seed(I)
    gru, lin = nn.GRU(I, 8, batch_first=True), nn.Linear(8, O)
    x = torch.randn(3, 29, I)
    with torch.no_grad():
        ref = (lin(gru(x)[0]) + x[..., start:start + O]).numpy()
    dense = L.Dense(lin.weight.detach().numpy(), lin.bias.detach().numpy())
    model = gru_infer.Model.from_layers([_gru_spec(gru), dense, L.InputSkip(start)])
    errors.check("InputSkip vs torch", model.predict(x.numpy()), ref, TOL)
    s = model.stream(batch=3)
    got = np.stack([s.step(x[:, t].numpy()).copy() for t in range(x.shape[1])], axis=1)
    errors.check("InputSkip stream vs torch", got, ref, TOL)
    check_roundtrip(model, x.numpy(), tmp_path)


def test_input_skip_refusals():
    rng = np.random.default_rng(0)
    gru = _gru_spec(nn.GRU(2, 3, batch_first=True))
    with pytest.raises(ValueError, match="model input has 2"):
        gru_infer.Model.from_layers([gru, L.InputSkip(0)])  # 3 features to add, the input has 2
    with pytest.raises(ValueError, match="time axis"):
        gru_infer.Model.from_layers([gru, L.LastStep(), L.Dense(rng.normal(size=(1, 3))), L.InputSkip(0)])
    with pytest.raises(ValueError, match="ids"):
        gru_infer.Model.from_layers([L.Embedding(rng.normal(size=(5, 2))), gru,
                                     L.Dense(rng.normal(size=(1, 3))), L.InputSkip(0)])


@pytest.mark.parametrize("where", ["after_gru", "on_input", "after_last_step"])
def test_affine_is_batchnorm_at_inference(where, tmp_path, errors):
    torch.manual_seed(3)
    gru, bn = nn.GRU(4, 6, batch_first=True), nn.BatchNorm1d(6 if where != "on_input" else 4, eps=1e-3)
    with torch.no_grad():  # trained-looking statistics
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.1, 3)
        bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(3, 13, 4)
    spec = L.Affine.from_batch_norm(*(t.detach().numpy() for t in (bn.weight, bn.bias, bn.running_mean,
                                                                     bn.running_var)), bn.eps)
    with torch.no_grad():
        if where == "after_gru":
            ref, layers = bn(gru(x)[0].transpose(1, 2)).transpose(1, 2), [_gru_spec(gru), spec]
        elif where == "on_input":
            ref, layers = gru(bn(x.transpose(1, 2)).transpose(1, 2))[0], [spec, _gru_spec(gru)]
        else:
            ref, layers = bn(gru(x)[0][:, -1]), [_gru_spec(gru), L.LastStep(), spec]
    model = gru_infer.Model.from_layers(layers)
    errors.check("Affine (BatchNorm1d) vs torch", model.predict(x.numpy()), ref.numpy(), TOL)
    check_roundtrip(model, x.numpy(), tmp_path)


ACTS = {
    "gelu": (L.Activation("gelu"), nn.GELU()),
    "gelu_tanh": (L.Activation("gelu_tanh"), nn.GELU(approximate="tanh")),
    "silu": (L.Activation("silu"), nn.SiLU()),
    "hardtanh": (L.Activation("clip", -1.0, 1.0), nn.Hardtanh()),
    "hardtanh_-2_3": (L.Activation("clip", -2.0, 3.0), nn.Hardtanh(-2.0, 3.0)),
    "relu6": (L.Activation("clip", 0.0, 6.0), nn.ReLU6()),
    "hardswish": (L.Activation("hard_swish"), nn.Hardswish()),
    "mish": (L.Activation("mish"), nn.Mish()),
    "selu": (L.Activation("selu", 1.6732632423543772, 1.0507009873554805), nn.SELU()),
    "celu": (L.Activation("celu", 0.7), nn.CELU(0.7)),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_matches_torch(name, tmp_path, errors):
    spec, module = ACTS[name]
    x = torch.linspace(-12, 12, 2401).reshape(1, -1, 1).repeat(1, 1, 2)
    x[0, :, 1] *= 0.01  # around zero too
    model = gru_infer.Model.from_layers([L.Affine(np.ones(2), np.zeros(2)), L.ActivationLayer(spec)])
    with torch.no_grad():
        errors.check(f"activation {name} vs torch", model.predict(x.numpy()), module(x).numpy(), TOL)
    check_roundtrip(model, x.numpy(), tmp_path)
