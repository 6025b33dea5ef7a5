"""One small model file per format gru_infer loads, for tests that must run on every format
(gru-infer bench, gru_infer.load(bytes)). Each is written by its own framework's writer."""
import os
from pathlib import Path

import numpy as np

I, H, O = 3, 8, 2
FORMATS = ("native", "pytorch", "safetensors", "npz", "onnx", "keras", "h5", "rtneural")


def torch_gru(seed=0):
    import torch
    torch.manual_seed(seed)
    return torch.nn.GRU(I, H, batch_first=True).eval()


def write(fmt: str, tmp_path: Path) -> Path:
    """Write a model of format `fmt` into tmp_path (rtneural: the shared fixture) and return its path."""
    if fmt == "rtneural":
        from helpers import shared_path
        return shared_path("fixtures", "rtneural", "gru.json", what="the RTNeural fixtures",
                           origin="RTNeural's example models and outputs, github.com/jatinchowdhury18/RTNeural")
    path = tmp_path / f"model.{fmt}"
    if fmt in ("native", "pytorch", "safetensors", "npz"):
        import torch
        gru = torch_gru()
        if fmt == "native":
            import gru_infer
            gru_infer.from_torch(gru).save(path)
        elif fmt == "pytorch":
            torch.save(gru.state_dict(), path)
        elif fmt == "safetensors":
            from safetensors.torch import save_file
            save_file(gru.state_dict(), path)
        else:
            with open(path, "wb") as f:
                np.savez(f, **{k: v.detach().numpy() for k, v in gru.state_dict().items()})
    elif fmt == "onnx":
        import onnx
        from onnx_models import gru_model, gru_weights
        onnx.save(gru_model(gru_weights(np.random.default_rng(0), I, H, 1)), path)
    elif fmt in ("keras", "h5"):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((None, I)), keras.layers.GRU(H, return_sequences=True),
                                  keras.layers.Dense(O)])
        model.save(path)
    else:
        raise ValueError(fmt)
    return path
