"""Small helpers shared by the importer tests."""
import numpy as np

import gru_infer


def model_of(layers, info):
    """A Model from an importer's (layers, info)."""
    return gru_infer.Model.from_layers(layers, source=info["source"])


def check_roundtrip(model, x, tmp_path, **predict_kw):
    """model.save -> gru_infer.load gives bit-identical outputs."""
    path = tmp_path / "roundtrip.gru"
    model.save(path)
    np.testing.assert_array_equal(gru_infer.load(path).predict(x, **predict_kw), model.predict(x, **predict_kw))
