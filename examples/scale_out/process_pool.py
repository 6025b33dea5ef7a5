"""Score sequences in worker processes: a gru_infer.Model pickles by value (its native bytes),
so it goes to a ProcessPoolExecutor like any other argument.

    python examples/scale_out/process_pool.py
"""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import gru_infer


def score(model: gru_infer.Model, x: np.ndarray) -> np.ndarray:
    gru_infer.set_num_threads(1)  # one core per worker process
    return model.predict(x)


def main() -> int:
    model = gru_infer.load(Path(gru_infer.__file__).parent / "models" / "vibration_forecaster.gru")
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((32, 200, 1)).astype(np.float32) for _ in range(4)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(score, [model] * len(batches), batches))
    same = all(np.array_equal(y, model.predict(x)) for x, y in zip(batches, results))
    print(f"{len(batches)} batches scored in 2 processes; identical to predict here: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
