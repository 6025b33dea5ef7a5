"""Score a Dask array of sequences on a Dask cluster (here a LocalCluster of 2 worker processes;
pass your scheduler's address to Client for a real one). Needs pip install "gru_infer[dask]".

    python examples/scale_out/dask_cluster.py
"""
from pathlib import Path

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import gru_infer
import gru_infer.dask


def main() -> int:
    model = gru_infer.load(Path(gru_infer.__file__).parent / "models" / "vibration_forecaster.gru")
    x = np.random.default_rng(0).standard_normal((256, 500, 1)).astype(np.float32)  # 256 sensors
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        xs = da.from_array(x, chunks=(64, 500, 1))  # chunk the batch axis only
        y = gru_infer.dask.predict(model, xs)       # scatters the model once; lazy
        got = y.compute()
    same = np.array_equal(got, model.predict(x))
    print(f"scored {x.shape[0]} sequences of {x.shape[1]} steps on 2 workers; identical to predict here: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
