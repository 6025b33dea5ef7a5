"""gru_infer.dask on a real distributed.LocalCluster with two worker processes: the result equals
a local predict bit for bit (and PyTorch within float32 error), the model is scattered once, and
workers run gru_infer on the threads Dask gave them."""
import pickle

import numpy as np
import pytest
import torch

import gru_infer
from gru_infer import layers as L

da = pytest.importorskip("dask.array", reason="the test extra installs dask[distributed]")
distributed = pytest.importorskip("distributed")
import gru_infer.dask as gdask  # noqa: E402

TORCH_TOL = 1e-5


def torch_gru(I=4, H=32, layers=2, seed=0):
    torch.manual_seed(seed)
    return torch.nn.GRU(I, H, num_layers=layers, batch_first=True).eval()


def torch_out(gru, x):
    with torch.no_grad():
        return gru(torch.from_numpy(x))[0].numpy()


def data(B, T, F, seed=0):
    return np.random.default_rng(seed).standard_normal((B, T, F)).astype(np.float32)


# ---- without a distributed client: dask's local schedulers --------------------------------------

def test_local_scheduler_equals_predict():
    model = gru_infer.from_torch(torch_gru())
    x = data(40, 30, 4)
    y = gdask.predict(model, da.from_array(x, chunks=(16, 10, 2)))
    assert y.chunks == ((16, 16, 8), (30,), (32,))  # time and features whole, rows in groups
    np.testing.assert_array_equal(y.compute(scheduler="threads"), model.predict(x))


def test_bad_arguments():
    model = gru_infer.from_torch(torch_gru())
    with pytest.raises(ValueError, match=r"expected a dask array of shape \(batch, steps, 4\), got \(3, 5, 2\)"):
        gdask.predict(model, da.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="threads"):
        gdask.predict(model, da.zeros((3, 5, 4)), threads=0)
    with pytest.raises(ValueError, match=r"lengths: expected shape \(3,\)"):
        gdask.predict(model, da.zeros((3, 5, 4)), lengths=np.ones(4, np.int64))
    with pytest.raises(ValueError, match="gru_infer.Model"):
        gdask.predict(torch_gru(), da.zeros((3, 5, 4)))


def test_row_group_chunks():
    assert gdask._row_group_chunks((16, 16, 5)) == (16, 16, 5)
    assert gdask._row_group_chunks((10, 10, 10, 7)) == (8, 8, 8, 8, 5)
    assert gdask._row_group_chunks((3,)) == (3,)


# ---- on a LocalCluster of worker processes ------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("B,chunk", [(64, 16), (37, 10), (30, 3)])
def test_cluster_equals_local_predict(client, B, chunk, errors):
    gru = torch_gru()
    model = gru_infer.from_torch(gru)
    x = data(B, 50, 4, seed=B)
    y = gdask.predict(model, da.from_array(x, chunks=(chunk, 50, 4))).compute()
    np.testing.assert_array_equal(y, model.predict(x))
    errors.check("dask cluster vs torch", y, torch_out(gru, x), TORCH_TOL)
    # every block ran on a worker process, with the worker's one thread
    assert client.run(gru_infer.get_num_threads) == {w: 1 for w in client.scheduler_info()["workers"]}


def test_cluster_last_step_and_ids(client):
    rng = np.random.default_rng(1)
    gru = torch_gru(H=16, layers=1, seed=1)
    head = gru_infer.from_torch(torch.nn.Linear(16, 3)).layers
    last = gru_infer.Model.from_layers([*gru_infer.from_torch(gru).layers, L.LastStep(), *head])
    x = data(24, 20, 4, seed=2)
    y = gdask.predict(last, da.from_array(x, chunks=(8, 20, 4)))
    assert y.shape == (24, 3)
    np.testing.assert_array_equal(y.compute(), last.predict(x))

    table = rng.standard_normal((50, 4)).astype(np.float32)
    ids_model = gru_infer.Model.from_layers([L.Embedding(table), *gru_infer.from_torch(gru).layers])
    ids = rng.integers(0, 50, size=(16, 12))
    y = gdask.predict(ids_model, da.from_array(ids, chunks=(8, 12)))
    assert y.shape == (16, 12, 16)
    np.testing.assert_array_equal(y.compute(), ids_model.predict(ids))


def test_cluster_lengths(client, errors):
    """With lengths the kernels step only the rows still running, grouped by block: each block equals
    predict on that block exactly, and the whole equals one predict within float32 rounding."""
    gru = torch_gru(H=16, layers=1, seed=1)
    model = gru_infer.from_torch(gru)
    x = data(24, 20, 4, seed=2)
    lengths = np.random.default_rng(3).integers(1, 21, size=24)
    y = gdask.predict(model, da.from_array(x, chunks=(8, 20, 4)), lengths=da.from_array(lengths, chunks=5))
    got = y.compute()
    blocks = np.concatenate([model.predict(x[b:b + 8], lengths=lengths[b:b + 8]) for b in range(0, 24, 8)])
    np.testing.assert_array_equal(got, blocks)
    errors.check("dask with lengths vs one local predict", got, model.predict(x, lengths=lengths), 1e-6)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lengths),
                                                     batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        ref = torch.nn.utils.rnn.pad_packed_sequence(gru(packed)[0], batch_first=True, total_length=20)[0]
    errors.check("dask with lengths vs torch packed", got, ref.numpy(), TORCH_TOL)


def test_model_is_scattered_once_not_put_in_every_task(client):
    model = gru_infer.from_torch(torch_gru(H=128, layers=1))
    native = len(model.to_bytes())
    x = da.from_array(data(64, 10, 4), chunks=(8, 10, 4))
    y = gdask.predict(model, x)
    graph = dict(y.__dask_graph__())
    assert len(pickle.dumps(graph)) < native / 2  # 8 tasks and the input, but no model bytes
    np.testing.assert_array_equal(y.compute(), model.predict(x.compute()))


def test_threads_option_reaches_the_workers(client):
    model = gru_infer.from_torch(torch_gru(H=8, layers=1))
    gdask.predict(model, da.from_array(data(16, 5, 4), chunks=(8, 5, 4)), threads=2).compute()
    assert set(client.run(gru_infer.get_num_threads).values()) == {2}
    gdask.predict(model, da.from_array(data(16, 5, 4), chunks=(8, 5, 4))).compute()  # back to nthreads
    assert set(client.run(gru_infer.get_num_threads).values()) == {1}
