"""Model files written here are read by the C++ test suite (csrc/tests/test_native_file.cpp), which
checks its own predict against the PyTorch outputs stored next to each file. The folder is
$GRU_INFER_CPP_MODELS_DIR (default build/cpp_models); tests/run_all.sh runs pytest, then ctest."""
import os
from pathlib import Path

import numpy as np
import pytest

import gru_infer

torch = pytest.importorskip("torch")

OUT_DIR = Path(os.environ.get("GRU_INFER_CPP_MODELS_DIR",
                              Path(__file__).resolve().parent.parent / "build" / "cpp_models"))


class LastStepClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 6)
        self.gru = torch.nn.GRU(6, 9, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = torch.nn.Linear(18, 4)

    def forward(self, ids):
        out, _ = self.gru(self.emb(ids))
        return torch.softmax(self.fc(out[:, -1]), dim=-1)


def cases():
    torch.manual_seed(5)
    yield "gru_stack", torch.nn.GRU(3, 17, num_layers=3, batch_first=True), torch.randn(2, 13, 3)
    yield "bidir_no_bias", torch.nn.GRU(5, 8, bidirectional=True, bias=False, batch_first=True), torch.randn(3, 7, 5)
    yield "embedding_classifier", LastStepClassifier(), torch.randint(0, 20, (2, 11))


def write_case(name, x_float, y, model):
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    model.save(OUT_DIR / f"{name}.gru")
    B, T = x_float.shape[0], x_float.shape[1]
    F = x_float.shape[2] if x_float.ndim == 3 else 1
    header = np.array([B, T, F, y.size], dtype="<u4")
    body = np.concatenate([x_float.astype("<f4").ravel(), y.astype("<f4").ravel()])
    (OUT_DIR / f"{name}.case").write_bytes(header.tobytes() + body.tobytes())


@pytest.mark.parametrize("name,module,x", list(cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_write_model_for_cpp(name, module, x):
    module.eval()
    with torch.no_grad():
        y = module(x)
        y = (y[0] if isinstance(y, tuple) else y).numpy()
    model = gru_infer.from_torch(module)
    ours = model.predict(x.numpy())
    assert np.abs(ours - y).max() <= 1e-5
    write_case(name, x.numpy().astype(np.float32), y, model)
    assert gru_infer.load(OUT_DIR / f"{name}.gru").predict(x.numpy()).tobytes() == ours.tobytes()
