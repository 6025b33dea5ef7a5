"""Write the fuzz seed corpora: small valid files of every format, made by gru_infer's own writer and
by the frameworks (torch, safetensors, Keras 3, onnx), plus the small hostile files of
tests/hostile_files.py (not the ~1 MB zip bombs).

    python tests/fuzz/make_seeds.py OUT_DIR        # writes OUT_DIR/<format>/*, one dir per fuzz target

Models are tiny (a GRU of 3 inputs and 4 units) so that each execution is fast.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("KERAS_BACKEND", "torch")

import hostile_files as H  # noqa: E402

I, HID = 3, 4


import torch  # noqa: E402
from torch import nn  # noqa: E402


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(I, HID, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * HID, 2)

    def forward(self, x):
        return self.fc(self.gru(x)[0][:, -1])


def _torch_modules():
    torch.manual_seed(0)
    return {"gru": nn.GRU(I, HID, batch_first=True), "head": Head().eval(), "cell": nn.GRUCell(I, HID),
            "nobias": nn.GRU(I, HID, bias=False)}


def torch_seeds(out: Path) -> None:
    import gru_infer
    zips, legacy, st, npz, native, rt = (out / n for n in ("torch_zip", "torch_legacy", "safetensors", "npz",
                                                           "native", "rtneural"))
    for d in (zips, legacy, st, npz, native, rt):
        d.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file
    for name, m in _torch_modules().items():
        sd = m.state_dict()
        torch.save(sd, zips / f"{name}_state_dict.pt")
        torch.save(sd, legacy / f"{name}_legacy.pt", _use_new_zipfile_serialization=False)
        save_file({k: v.contiguous() for k, v in sd.items()}, st / f"{name}.safetensors")
        np.savez(npz / f"{name}.npz", **{k: v.numpy() for k, v in sd.items()})
        (rt / f"{name}_torch.json").write_text(json.dumps({k: v.tolist() for k, v in sd.items()}))
        if name != "cell":
            torch.save(m, zips / f"{name}_module.pt")
            torch.jit.save(torch.jit.script(m), zips / f"{name}_script.pt")
            gru_infer.from_torch(m).save(native / f"{name}.gru")
    emb = torch.nn.Sequential(torch.nn.Embedding(10, I), torch.nn.GRU(I, HID, batch_first=True))
    gru_infer.from_torch(emb.eval()).save(native / "embedding.gru")


def keras_seeds(out: Path) -> None:
    import keras
    kz, kh, npz, rt = out / "keras_zip", out / "keras_h5", out / "npz", out / "rtneural"
    for d in (kz, kh, npz, rt):
        d.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    L = keras.layers
    models = {
        "gru_dense": keras.Sequential([keras.Input((None, I)), L.GRU(HID), L.Dense(2)]),
        "bidir": keras.Sequential([keras.Input((None, I)), L.Bidirectional(L.GRU(HID, return_sequences=True)),
                                   L.TimeDistributed(L.Dense(2, activation="tanh"))]),
        "stacked": keras.Sequential([keras.Input((None, I)), L.GRU(HID, return_sequences=True, reset_after=False),
                                     L.GRU(HID), L.Activation("softmax")]),
    }
    for name, m in models.items():
        m.save(kz / f"{name}.keras")
        m.save(kh / f"{name}.h5")
        m.save_weights(kh / f"{name}.weights.h5")
        np.savez(npz / f"{name}_keras.npz", *m.get_weights())
    m = models["gru_dense"]
    k, rk, b = (w.tolist() for w in m.layers[0].get_weights())
    dk, db = (w.tolist() for w in m.layers[1].get_weights())
    (rt / "keras_form.json").write_text(json.dumps({"in_shape": [None, None, I], "layers": [
        {"type": "gru", "activation": "tanh", "shape": [None, HID], "weights": [k, rk, b]},
        {"type": "dense", "activation": "", "shape": [None, 2], "weights": [dk, db]}]}))
    for p in (HERE.parent / "data" / "keras").glob("*.h5"):
        shutil.copy(p, kh / p.name)
    shared = Path("/work/shared/fixtures/rtneural")
    for p in shared.glob("*.json") if shared.is_dir() else ():
        if p.stat().st_size < 200_000:
            shutil.copy(p, rt / p.name)


def onnx_seeds(out: Path) -> None:
    from onnx_models import gru_model, gru_weights
    d = out / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for direction, D in (("forward", 1), ("bidirectional", 2)):
        for layout in (0, 1):
            m = gru_model(gru_weights(rng, I, HID, D), direction=direction, layout=layout, opset=14 + layout)
            (d / f"gru_{direction}_{layout}.onnx").write_bytes(m.SerializeToString())
    H.onnx_local_function(d / "local_function.onnx")
    for name, m in _torch_modules().items():
        if name == "cell":
            continue
        torch.onnx.export(m, (torch.zeros(1, 5, I) if name != "nobias" else torch.zeros(5, 1, I),), d / f"{name}.onnx",
                          dynamo=False, input_names=["x"])


def hostile_seeds(out: Path) -> None:
    tmp = out / "_hostile"
    small = {
        "torch_zip": [H.torch_zero_strides(tmp), H.torch_memo_bomb(tmp), H.layer_index_bomb(tmp, "torch_zip", 7)],
        "torch_legacy": [H.legacy_storage_bomb(tmp), H.legacy_memo_bomb(tmp),
                         H.layer_index_bomb(tmp, "torch_legacy", 7)],
        "safetensors": [H.layer_index_bomb(tmp, "safetensors", 7)],
        "npz": [H.npz_declared_huge(tmp), H.layer_index_bomb(tmp, "npz", 7)],
        "rtneural": [H.layer_index_bomb(tmp, "rtneural", 7)],
        "onnx": [H.onnx_constant_of_shape_bomb(tmp / "cos.onnx")],
        "keras_h5": [H.keras_unwritten_dataset(tmp, "h5"), H.keras_unwritten_dataset(tmp, "weights_h5"),
                     H.keras_outside_read(tmp, "h5", "external_rel")],
        "keras_zip": [H.keras_unwritten_dataset(tmp, "keras"), H.keras_outside_read(tmp, "keras", "virtual")],
    }
    for fmt, paths in small.items():
        (out / fmt).mkdir(parents=True, exist_ok=True)
        for p in paths:
            shutil.copy(p, out / fmt / f"hostile_{p.name}")
    shutil.rmtree(tmp)


def main(argv) -> None:
    out = Path(argv[1] if len(argv) > 1 else "build/fuzz_python/seeds")
    torch_seeds(out)
    keras_seeds(out)
    onnx_seeds(out)
    hostile_seeds(out)
    detect = out / "detect"
    detect.mkdir(exist_ok=True)
    for d in out.iterdir():
        if d.is_dir() and d.name != "detect":
            for p in d.iterdir():
                if p.is_file():
                    shutil.copy(p, detect / f"{d.name}_{p.name}")
    for d in sorted(out.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main(sys.argv)
