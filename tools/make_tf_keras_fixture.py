"""Write the tf.keras 2.x fixtures of tests/test_keras_import.py (run with TensorFlow 2.x, not in CI).

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1
    /tmp/tfenv/bin/python tools/make_tf_keras_fixture.py

Model: GRU(5, reset_after=True, return_sequences=True) -> GRU(4, reset_after=False,
recurrent_activation="hard_sigmoid") -> Dense(2), with random (non-zero) biases. Writes, in
tests/data/keras/:
- tf_keras2_gru.h5: model.save (legacy HDF5 with model_config; `gru_cell` weight scopes, `:0` suffixes).
- tf_keras2_gru_weights.h5: model.save_weights (layer groups at the root, no config).
- tf_keras2_gru_io.npz: x (the input), y (tf.keras predict of the model), y_defaults (tf.keras predict
  of the same weights in the model a weights-only reader assumes: Keras defaults, i.e. the second GRU
  with recurrent_activation="sigmoid"), and the TensorFlow / Keras versions.
"""
import os
import sys

import keras  # with TensorFlow 2.15 and older this is Keras 2, the package behind tf.keras
import numpy as np
import tensorflow as tf

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "keras")


def build(recurrent_activation: str) -> tf.keras.Model:
    layers = tf.keras.layers
    return tf.keras.Sequential([
        tf.keras.Input((7, 3)),
        layers.GRU(5, reset_after=True, return_sequences=True),
        layers.GRU(4, reset_after=False, recurrent_activation=recurrent_activation),
        layers.Dense(2),
    ])


def main() -> None:
    if not tf.__version__.startswith("2.") or not keras.__version__.startswith("2."):
        sys.exit(f"needs TensorFlow 2.x with tf.keras 2 (Keras 2), found tf {tf.__version__}, "
                 f"keras {keras.__version__}")
    rng = np.random.default_rng(20240601)
    model = build("hard_sigmoid")
    # Scale 0.8 so that hard_sigmoid's clamp is reached for some inputs.
    model.set_weights([rng.normal(0.0, 0.8, w.shape).astype(np.float32) for w in model.get_weights()])
    x = rng.normal(0.0, 1.0, (3, 7, 3)).astype(np.float32)
    y = model.predict(x, verbose=0)
    defaults = build("sigmoid")
    defaults.set_weights(model.get_weights())
    y_defaults = defaults.predict(x, verbose=0)

    os.makedirs(OUT, exist_ok=True)
    model.save(os.path.join(OUT, "tf_keras2_gru.h5"), include_optimizer=False)
    model.save_weights(os.path.join(OUT, "tf_keras2_gru_weights.h5"))
    np.savez(os.path.join(OUT, "tf_keras2_gru_io.npz"), x=x, y=y, y_defaults=y_defaults,
             tensorflow_version=np.array(tf.__version__), keras_version=np.array(keras.__version__))
    print(f"wrote fixtures to {os.path.normpath(OUT)} (tf {tf.__version__}, keras {keras.__version__})")


if __name__ == "__main__":
    main()
