"""Score a Dask array of sequences with a gru_infer model, on a Dask cluster or locally.

    import gru_infer.dask
    y = gru_infer.dask.predict(model, x)    # x: dask array (batch, steps, features); y: lazy dask array
    y.compute()                             # equals model.predict(x.compute()) bit for bit

The model goes to the workers once (`client.scatter`, by value: gru_infer.serialization), not
with every task. Blocks hold whole sequences: the time and feature axes are never split. Inside a
worker, gru_infer uses the worker's thread count (`nthreads`), not the machine's cores, and runs
one block at a time, so workers never oversubscribe the cores they were given.

Needs `pip install "gru_infer[dask]"` (dask[array,distributed]); `import gru_infer` never imports it.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np

from ._core import set_num_threads
from .model import Model
from .output_reshape import reshape_output

if TYPE_CHECKING:
    import dask.array as da

# Batches of under 4 rows run other kernels (input projection fused into the step), and the
# batched kernels take rows in groups of 4: blocks of whole groups of 8 give each row the
# arithmetic one predict over the whole batch gives it, so the same bits.
ROW_GROUP = 8

_one_block_at_a_time = threading.Lock()


def predict(model: Model, x: da.Array, *, lengths: Any = None, threads: Optional[int] = None,
            client: Any = None) -> da.Array:
    """Lazily run model.predict over a Dask array of sequences.

    x: (batch, steps, features) floats, or (batch, steps) ids for a model starting with an
    Embedding; chunked along the batch axis only (other chunking is undone). lengths: optional
    (batch,) valid steps per sequence (numpy or dask). threads: gru_infer threads per block inside a
    worker; default the worker's nthreads. client: the distributed Client to scatter the model
    with; default the current one, if any (else the model is put in the task graph once).

    Returns a dask array of float32: (batch, steps, outputs), or (batch, outputs) when the model
    ends on the last step, reshaped as model.predict reshapes it (info["predict_reshape"]).
    """
    import dask.array as da

    if not isinstance(model, Model):
        raise ValueError(f"model: expected a gru_infer.Model, got {type(model).__name__}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads: expected a positive integer or None, got {threads!r}")
    x = da.asarray(x)
    want_ndim = 2 if model.takes_ids else 3
    if x.ndim != want_ndim or (not model.takes_ids and x.shape[2] != model.input_size):
        want = "(batch, steps)" if model.takes_ids else f"(batch, steps, {model.input_size})"
        raise ValueError(f"x: expected a dask array of shape {want}, got {x.shape}")
    x = x.rechunk({0: _row_group_chunks(x.chunks[0]), **{a: -1 for a in range(1, x.ndim)}})
    args = [x]
    if lengths is not None:
        lengths = da.asarray(lengths)
        if lengths.shape != (x.shape[0],):
            raise ValueError(f"lengths: expected shape ({x.shape[0]},), got {lengths.shape}")
        # (batch, 1[, 1]): map_blocks lines arrays up by their last axes, as numpy broadcasts
        args.append(lengths.rechunk({0: x.chunks[0]}).reshape((x.shape[0],) + (1,) * (x.ndim - 1)))
    T = x.shape[1]
    O = model.output_size
    has_time = model._core.output_has_time
    chunks = (x.chunks[0], (T,), (O,)) if has_time else (x.chunks[0], (O,))
    kw: Dict[str, Any] = {"chunks": chunks, "dtype": np.float32, "meta": np.empty((0,) * len(chunks), np.float32)}
    if len(chunks) > x.ndim:
        kw["new_axis"] = 2
    elif len(chunks) < x.ndim:
        kw["drop_axis"] = 1
    reshape = model.info.get("predict_reshape")
    if reshape is not None:  # the blocks keep the engine's shape; the whole array is reshaped at the end
        model = model.with_options(fast_activations=model.fast_activations)
        del model.info["predict_reshape"]
    y = da.map_blocks(_score_block, *args, model=_shipped(model, client), threads=threads,
                      with_lengths=lengths is not None, **kw)
    return reshape_output(y, reshape, batched=True)


def _row_group_chunks(chunks: Tuple[int, ...]) -> Tuple[int, ...]:
    """Batch chunks of whole row groups (all but the last a multiple of ROW_GROUP)."""
    if all(c % ROW_GROUP == 0 for c in chunks[:-1]):
        return chunks
    size = max(ROW_GROUP, int(round(np.median(chunks) / ROW_GROUP)) * ROW_GROUP)
    total = sum(chunks)
    return tuple([size] * (total // size) + ([total % size] if total % size else []))


def _shipped(model: Model, client: Any) -> Any:
    """The model as a task argument: a scattered future on a distributed cluster, else one graph key."""
    if client is None:
        try:
            from distributed import default_client
            client = default_client()
        except (ImportError, ValueError):  # no distributed, or no client: the local schedulers
            from dask.delayed import delayed
            return delayed(model, pure=True)
    # hash=False: a key of its own per call. With a content-hash key, a second predict of the same
    # model reuses the key the first call's released future is being forgotten under, and the
    # scheduler can cancel the new graph for "lost dependencies" (seen in the suite).
    return client.scatter(model, broadcast=True, hash=False)


def _worker_threads() -> Optional[int]:
    try:
        from distributed import get_worker
        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):  # not inside a distributed worker
        return None


def _score_block(x: np.ndarray, *rest: np.ndarray, model: Model, threads: Optional[int],
                 with_lengths: bool) -> np.ndarray:
    lengths = rest[0].reshape(-1) if with_lengths else None
    n = threads if threads is not None else _worker_threads()
    with _one_block_at_a_time:
        if n is not None:
            set_num_threads(n)
        return model.predict(x, lengths=lengths)
