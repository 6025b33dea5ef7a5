"""Small helpers shared by the importer tests."""
import os
from pathlib import Path

import numpy as np
import pytest

import gru_infer

# Data that is not in the repository (fixtures from other projects, real models) lives in
# ../shared beside the checkout.
SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str, what: str, origin: str) -> Path:
    """The path of `parts` under ../shared; skips the test (fails it when CI is set) if it is missing.

    what: the data, for the message ("the RTNeural fixtures"); origin: where it comes from.
    """
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    message = f"{what} are missing: expected them in {path} ({origin})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so missing shared data is a failure")
    pytest.skip(message)


def model_of(layers, info):
    """A Model from an importer's (layers, info)."""
    return gru_infer.Model.from_layers(layers, source=info["source"])


def check_roundtrip(model, x, tmp_path, **predict_kw):
    """model.save -> gru_infer.load gives bit-identical outputs."""
    path = tmp_path / "roundtrip.gru"
    model.save(path)
    np.testing.assert_array_equal(gru_infer.load(path).predict(x, **predict_kw), model.predict(x, **predict_kw))


def assert_matches(errors, label, imported, x, ref, tmp_path, tol=1e-5):
    """An importer's (layers, info) runs `x` to `ref` within `tol`, and survives save -> load bit for bit.

    Returns the Model."""
    model = model_of(*imported)
    errors.check(label, model.predict(x), ref, tol)
    check_roundtrip(model, x, tmp_path)
    return model


def check_from_torch(module, x, errors, label, tol=1e-5):
    """gru_infer.from_torch(module) on batch-first `x` (NumPy) matches module(x) within `tol`.

    Returns (model, y, ref) so a test can check more of the same run."""
    import torch
    model = gru_infer.from_torch(module)
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    y = model.predict(x)
    errors.check(label, y, ref, tol)
    return model, y, ref
