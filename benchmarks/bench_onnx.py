"""The peers' ONNX side of the benchmarks: a torch.nn.GRU exported once (TorchScript exporter, opset 14,
inputs X (batch, time, I) and h0 (1, batch, H), both axes free), and onnxruntime's session options at a
thread count (intra-op threads; one inter-op thread, sequential execution)."""
import warnings

import onnxruntime as ort
import torch


def export_gru(gru: torch.nn.GRU, path):
    """`gru` (batch_first) as an ONNX file at `path` (returned)."""
    x, h0 = torch.zeros(1, 3, gru.input_size), torch.zeros(1, 1, gru.hidden_size)
    with warnings.catch_warnings():  # the legacy exporter warns that it is legacy
        warnings.simplefilter("ignore")
        torch.onnx.export(gru, (x, h0), str(path), dynamo=False, opset_version=14,
                          input_names=["X", "h0"], output_names=["Y", "hn"],
                          dynamic_axes={"X": {0: "batch", 1: "time"}, "h0": {1: "batch"},
                                        "Y": {0: "batch", 1: "time"}, "hn": {1: "batch"}})
    return path


def ort_options(threads: int = 1) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return so


def ort_session(path, threads: int = 1) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), ort_options(threads), providers=["CPUExecutionProvider"])
