"""A user's script on gru_infer's public API, kept passing `mypy --strict` (tests/test_typing.py)."""
import pickle
import sys

import numpy as np
import numpy.typing as npt

import gru_infer


def main(model_path: str, saved_path: str) -> float:
    model: gru_infer.Model = gru_infer.load(model_path)
    x = np.zeros((2, 10, model.input_size), dtype=np.float32)
    y: npt.NDArray[np.float32] = model.predict(x)
    y_last, h_n = model.predict(x, return_state=True)
    assert y_last.shape == y.shape and model.state_shape(2) is not None and h_n is not None

    stream: gru_infer.Stream = model.stream(batch=2)
    outputs = [stream.step(x_t) for x_t in x.swapaxes(0, 1)]
    state = stream.state
    stream.reset()
    stream.state = state

    model.save(saved_path)
    copy = pickle.loads(pickle.dumps(model, protocol=5))
    assert isinstance(copy, gru_infer.Model)
    from_bytes = gru_infer.load(model.to_bytes())
    gru_infer.set_num_threads(1)
    isa: str = gru_infer.active_isa()
    assert isa in gru_infer.available_isas()
    return float(np.abs(outputs[-1] - from_bytes.predict(x)[:, -1]).max())


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
