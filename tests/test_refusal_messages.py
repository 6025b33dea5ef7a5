"""Messages users see first: a state_dict's `embedding.weight` is an Embedding (not "a Linear") and
loads; refusals name the layer, the file, and what would work instead."""
import numpy as np
import pytest
import torch
from torch import nn

import gru_infer

TOL = 1e-5


class TextGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(30, 5)
        self.gru = nn.GRU(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 2)

    def forward(self, ids):
        return self.fc(self.gru(self.embedding(ids))[0])


def test_state_dict_embedding_is_an_embedding(tmp_path, errors):
    torch.manual_seed(0)
    net = TextGRU().eval()
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    m = gru_infer.load(tmp_path / "sd.pt")
    assert [type(layer).__name__ for layer in m.layers] == ["Embedding", "GRU", "Dense"]
    assert any("embedding.weight" in a and "Embedding" in a for a in m.info["assumed"])
    ids = torch.randint(0, 30, (3, 11))
    with torch.no_grad():
        errors.check("state_dict with embedding.weight vs torch", m.predict(ids.numpy()), net(ids).numpy(), TOL)


def test_embedding_that_does_not_fit_is_called_an_embedding(tmp_path):
    sd = TextGRU().state_dict()
    sd["embedding.weight"] = torch.zeros(30, 4)  # 4-d vectors into a GRU that takes 5
    torch.save(sd, tmp_path / "sd.pt")
    with pytest.raises(gru_infer.UnsupportedModelError) as e:
        gru_infer.load(tmp_path / "sd.pt")
    msg = str(e.value)
    assert "Embedding 'embedding.'" in msg and "Linear 'embedding.'" not in msg and "sd.pt" in msg, msg


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.attention = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 1))
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        w = torch.softmax(self.attention(out), dim=1)
        return self.head((w * out).sum(dim=1))


def test_refusals_name_layer_file_and_alternative(tmp_path):
    torch.save(Attention().state_dict(), tmp_path / "attn.pt")
    with pytest.raises(gru_infer.UnsupportedModelError) as e:
        gru_infer.load(tmp_path / "attn.pt")
    msg = str(e.value)
    assert "attn.pt" in msg and "attention." in msg and "from_torch" in msg, msg
    with pytest.raises(gru_infer.UnsupportedModelError) as e:
        gru_infer.from_torch(Attention().eval())
    assert "node" in str(e.value), str(e.value)
    np.savez(tmp_path / "bn.npz", arr_0=np.zeros((3, 12)), arr_1=np.zeros((4, 12)), arr_2=np.zeros((2, 12)),
             gamma=np.ones(4))
    with pytest.raises(gru_infer.UnsupportedModelError, match=r"bn\.npz.*gamma \(4,\)"):
        gru_infer.load(tmp_path / "bn.npz")


class AttentionGRU(nn.Module):
    """Attention pooling over a GRU's outputs: no chain of our layers, but accelerate() runs it."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 6, batch_first=True)
        self.score = nn.Linear(6, 1)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        y = self.gru(x)[0]
        w = torch.softmax(self.score(y), dim=1)
        return self.head((w * y).sum(1))


def test_refusals_of_bigger_networks_point_to_accelerate(tmp_path):
    torch.manual_seed(4)
    net = AttentionGRU().eval()
    with pytest.raises(gru_infer.errors.UnsupportedModelError, match=r"gru_infer\.torch\.accelerate\(module\)"):
        gru_infer.from_torch(net)
    torch.save(net.state_dict(), tmp_path / "attention.pt")
    with pytest.raises(gru_infer.errors.UnsupportedModelError, match=r"gru_infer\.torch\.accelerate\(module\)"):
        gru_infer.load(tmp_path / "attention.pt")
    # and what the message points to does run it, equal to torch
    from gru_infer.torch import accelerate
    x = torch.randn(2, 9, 3)
    with torch.no_grad():
        np.testing.assert_allclose(accelerate(net)(x).numpy(), net(x).numpy(), atol=TOL)
