"""npz archives with the user's own array names: one GRU (+ Dense heads) recognised by shape, as users
save them from Keras (`np.savez(f, Wz=kernel, Uz=recurrent_kernel, bz=bias)`) or PyTorch, against
the framework's output; ambiguous or larger models refused with the names and shapes found."""
import os

import numpy as np
import pytest
import torch
from torch import nn

import gru_infer

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def keras_module():
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    return keras


@pytest.mark.parametrize("reset_after,use_bias,I", [(True, True, 3), (False, True, 3), (True, False, 3),
                                                   (True, True, 8)])
def test_keras_weights_under_own_names(reset_after, use_bias, I, tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(4)
    gru = keras.layers.GRU(8, reset_after=reset_after, use_bias=use_bias, return_sequences=True)
    dense = keras.layers.Dense(2)
    model = keras.Sequential([keras.Input((6, I)), gru, dense])
    w = gru.get_weights()
    arrays = {"Wz": w[0], "Uz": w[1], "dense_w": dense.get_weights()[0], "dense_b": dense.get_weights()[1]}
    if use_bias:
        arrays["bz"] = w[2]
    np.savez(tmp_path / "w.npz", **arrays)
    m = gru_infer.load(tmp_path / "w.npz")
    assert m.info["layout"] == "keras (by shape)"
    x = np.random.default_rng(0).standard_normal((3, 6, I)).astype(np.float32)
    errors.check("npz with own names (Keras) vs Keras", m.predict(x), model.predict(x, verbose=0), TOL)


class Net(nn.Module):
    def __init__(self, I):
        super().__init__()
        self.gru = nn.GRU(I, 6, batch_first=True)
        self.fc = nn.Linear(6, 3)
        self.out = nn.Linear(3, 1)

    def forward(self, x):
        return self.out(self.fc(self.gru(x)[0]))


@pytest.mark.parametrize("I", [2, 6])
def test_torch_weights_under_own_names(I, tmp_path, errors):
    torch.manual_seed(I)
    net = Net(I).eval()
    g = {k: v.detach().numpy() for k, v in net.gru.state_dict().items()}
    np.savez(tmp_path / "w.npz", w_ih=g["weight_ih_l0"], w_hh=g["weight_hh_l0"], b_ih=g["bias_ih_l0"],
             b_hh=g["bias_hh_l0"], fc_w=net.fc.weight.detach().numpy(), fc_b=net.fc.bias.detach().numpy(),
             head_w=net.out.weight.detach().numpy(), head_b=net.out.bias.detach().numpy())
    m = gru_infer.load(tmp_path / "w.npz")
    assert m.info["layout"] == "pytorch (by shape)"
    x = torch.randn(2, 7, I)
    with torch.no_grad():
        errors.check("npz with own names (PyTorch) vs torch", m.predict(x.numpy()), net(x).numpy(), TOL)


def test_refusals_list_what_was_found(tmp_path):
    rng = np.random.default_rng(0)
    # I == H and names that do not say which matrix is recurrent
    np.savez(tmp_path / "tie.npz", a=rng.standard_normal((4, 12)), b=rng.standard_normal((4, 12)))
    with pytest.raises(ValueError, match=r"tie\.npz.*not say which is the recurrent kernel.*a \(4, 12\), b \(4, 12\)"):
        gru_infer.load(tmp_path / "tie.npz")
    # a GRU plus something that is not a Dense head
    np.savez(tmp_path / "extra.npz", W=rng.standard_normal((3, 12)), U=rng.standard_normal((4, 12)),
             gamma=rng.standard_normal(7))
    with pytest.raises(gru_infer.UnsupportedModelError, match=r"extra\.npz.*gamma \(7,\).*not part of one GRU"):
        gru_infer.load(tmp_path / "extra.npz")
    # two GRUs
    np.savez(tmp_path / "two.npz", k1=rng.standard_normal((3, 12)), r1=rng.standard_normal((4, 12)),
             k2=rng.standard_normal((4, 6)), r2=rng.standard_normal((2, 6)))
    with pytest.raises(gru_infer.UnsupportedModelError, match=r"two\.npz.*several GRUs \(hidden sizes \[2, 4\]\)"):
        gru_infer.load(tmp_path / "two.npz")
    # PyTorch biases whose names do not say which is which
    np.savez(tmp_path / "bias.npz", w_ih=rng.standard_normal((12, 3)), w_hh=rng.standard_normal((12, 4)),
             p=rng.standard_normal(12), q=rng.standard_normal(12))
    with pytest.raises(ValueError, match=r"bias\.npz.*hidden-side bias.*p \(12,\), q \(12,\)"):
        gru_infer.load(tmp_path / "bias.npz")


class EmbeddingNet(nn.Module):
    def __init__(self, E, H, head):
        super().__init__()
        self.emb = nn.Embedding(10, E)
        self.gru = nn.GRU(E, H, batch_first=True)
        self.fc = nn.Linear(H, 2) if head else None

    def forward(self, ids):
        out = self.gru(self.emb(ids))[0]
        return self.fc(out) if self.fc is not None else out


@pytest.mark.parametrize("table_name,E,H,head", [("table", 3, 5, True), ("table", 3, 5, False),
                                                 ("word_embedding", 4, 4, False), ("emb", 4, 4, True)])
def test_embedding_table_beside_the_gru(table_name, E, H, head, tmp_path, errors):
    """Issue 26 item 11: a table (ids, E) with E the GRU's input size is the first layer, not a Dense head."""
    torch.manual_seed(E + H)
    net = EmbeddingNet(E, H, head).eval()
    g = {k: v.detach().numpy() for k, v in net.gru.state_dict().items()}
    arrays = {table_name: net.emb.weight.detach().numpy(), "w_ih": g["weight_ih_l0"], "w_hh": g["weight_hh_l0"],
              "b_ih": g["bias_ih_l0"], "b_hh": g["bias_hh_l0"]}
    if head:
        arrays.update(fc_w=net.fc.weight.detach().numpy(), fc_b=net.fc.bias.detach().numpy())
    np.savez(tmp_path / "w.npz", **arrays)
    m = gru_infer.load(tmp_path / "w.npz")
    assert any(f"array {table_name!r} (10, {E})" in a and "embedding table" in a for a in m.info["assumed"]), m.info
    ids = torch.randint(0, 10, (3, 7))
    with torch.no_grad():
        errors.check("npz with own names + embedding vs torch", m.predict(ids.numpy()), net(ids).numpy(), TOL)


def test_table_that_could_be_a_head_is_refused(tmp_path):
    """A bias-less (10, 4) beside a GRU of input and hidden size 4: embedding or Dense head, the names do not say."""
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "amb.npz", table=rng.standard_normal((10, 4)), w_ih=rng.standard_normal((12, 4)),
             w_hh=rng.standard_normal((12, 4)), b_ih=rng.standard_normal(12), b_hh=rng.standard_normal(12))
    with pytest.raises(gru_infer.UnsupportedModelError,
                       match=r"amb\.npz: array 'table' \(10, 4\) could be an embedding table before the GRU .* or a "
                             r"Dense weight \(out, in\) without bias after it.*Name it with 'emb'"):
        gru_infer.load(tmp_path / "amb.npz")


@pytest.mark.parametrize("layout", ["pytorch", "keras"])
def test_two_grus_of_the_same_hidden_size_are_refused(layout, tmp_path):
    rng = np.random.default_rng(2)
    shapes = {"pytorch": {"w_ih1": (12, 3), "w_hh1": (12, 4), "w_ih2": (12, 4), "w_hh2": (12, 4)},
              "keras": {"k1": (3, 12), "r1": (4, 12), "b1": (2, 12), "k2": (4, 12), "r2": (4, 12), "b2": (2, 12)}}
    np.savez(tmp_path / "two.npz", **{k: rng.standard_normal(s) for k, s in shapes[layout].items()})
    with pytest.raises(gru_infer.UnsupportedModelError,
                       match=rf"two\.npz: the arrays hold the weights of several GRUs \(hidden size 4: arrays "
                             rf"{', '.join(shapes[layout])} are all shaped"):
        gru_infer.load(tmp_path / "two.npz")
