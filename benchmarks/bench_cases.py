"""The benchmark cases and their speed targets (speed-ups over each framework), shared by suite and report.

Targets vs onnxruntime for the batch-of-one predict cases are issue 13's (section 4), the others the
0.1 ones; the reduced-precision cases' are issue 12's."""
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Case:
    kind: str  # "stream": one step per Python call; "predict": a whole (B, T, I) sequence per call
    input_size: int
    hidden_size: int
    steps: int = 1
    batch: int = 1
    target_vs_ort: Optional[float] = 1.0  # minimum speed-up over onnxruntime (its median / ours); None: no target
    target_vs_torch: Optional[float] = 1.0  # minimum speed-up over PyTorch
    # Reduced precision: ours is model.quantize(quant) of the fp32 model the others run (and that
    # fp32 model is timed too, as OURS_FP32); target_vs_fp32 is the minimum speed-up over it.
    quant: str = ""  # "", "int8" or "bf16"
    target_vs_fp32: Optional[float] = None

    @property
    def name(self) -> str:
        size = f"I={self.input_size} H={self.hidden_size}"
        name = f"stream step {size}" if self.kind == "stream" else f"predict {size} T={self.steps} B={self.batch}"
        return f"{name} {self.quant}" if self.quant else name


CASES = [
    Case("stream", 16, 16, target_vs_ort=10, target_vs_torch=30),
    Case("stream", 64, 64, target_vs_ort=8, target_vs_torch=25),
    Case("stream", 256, 256, target_vs_ort=2, target_vs_torch=4),
    Case("predict", 1, 32, steps=1000, target_vs_ort=2.5, target_vs_torch=20),
    Case("predict", 64, 64, steps=1000, target_vs_ort=1.6, target_vs_torch=6),
    Case("predict", 256, 256, steps=1000, target_vs_ort=1.2, target_vs_torch=3),
    Case("predict", 1024, 1024, steps=100, target_vs_ort=1.15, target_vs_torch=1.8),
    Case("predict", 256, 256, steps=100, batch=32, target_vs_ort=1.1, target_vs_torch=1.3),
]

# Issue 12: predict targets vs onnxruntime fp32; streaming targets vs our fp32 step (set for the
# C++ step: from Python the call overhead is part of both times).
QUANT_CASES = [
    Case("predict", 256, 256, steps=1000, quant="int8", target_vs_ort=2.0, target_vs_torch=None),
    Case("predict", 1024, 1024, steps=100, quant="bf16", target_vs_ort=1.8, target_vs_torch=None),
    Case("stream", 256, 256, quant="int8", target_vs_ort=None, target_vs_torch=None, target_vs_fp32=4.0),
    Case("stream", 256, 256, quant="bf16", target_vs_ort=None, target_vs_torch=None, target_vs_fp32=2.0),
]
# The max abs error vs the fp32 model a quantized case may show before it is timed (issue 12's
# accuracy bounds for random PyTorch-init GRUs with x ~ N(0, 1)).
QUANT_MAX_ERROR = {"int8": 3e-2, "bf16": 1e-2}


@dataclass(frozen=True)
class BatchCase:
    """A big batch through a GRU(I=H) (test_bench_batch.py): every engine, one and two threads."""
    batch: int
    hidden_size: int
    steps: int
    rounds: int = 5

    @property
    def input_size(self) -> int:
        return self.hidden_size

    @property
    def name(self) -> str:
        return f"predict I=H={self.hidden_size} T={self.steps} B={self.batch}"


# Issue 24: B = 32 and 256 at I = H = 256 and 1024 (T shorter at 1024: the same order of work).
BATCH_CASES = [BatchCase(32, 256, 100), BatchCase(256, 256, 100), BatchCase(64, 1024, 50, rounds=3),
               BatchCase(256, 1024, 25, rounds=3)]
BATCH_THREADS = [1, 2]


def batch_group(case: BatchCase, threads: int) -> str:
    """The benchmark group (and report row) of a batch case at a thread count."""
    return f"{case.name}, {threads} thread{'s' if threads > 1 else ''}"

BATCH_ENGINES = ["gru_infer fp32", "gru_infer int8", "gru_infer bf16", "onnxruntime fp32", "OpenVINO fp32",
                 "OpenVINO", "PyTorch fp32", "PyTorch qint8", "PyTorch bf16"]
# Issue 24's targets: ours fp32 >= 1.15x the fastest fp32 peer; bf16 >= 1.3x and int8 >= 2x our fp32
# (on AVX512_BF16 / VNNI without AMX).
BATCH_TARGET_FP32 = 1.15
BATCH_TARGET_VS_OUR_FP32 = {"gru_infer bf16": 1.3, "gru_infer int8": 2.0}

FRAMEWORKS = ["gru_infer", "torch", "onnxruntime"]
OURS_FP32 = "gru_infer fp32"  # quantized cases: the fp32 model ours was quantized from
TWO_THREADS = "gru_infer, 2 threads"  # extra rows: a batch of one with the projection on a second thread


@dataclass(frozen=True)
class ApiCase:
    """gru_infer's own stream APIs against each other (no other framework offers them).

    "block": per step, stream.run on blocks of `block` steps vs predict on the whole signal vs
    one step call per sample (targets: run <= max_run_vs_predict x predict, step calls >=
    min_step_vs_run x run). "slots": per stream-step, step(x, slots=...) of `active` of `slots`
    rows vs one lone stream's step (target: <= max_slot_us and <= max_slot_vs_lone x lone)."""
    kind: str
    hidden_size: int
    steps: int = 1024
    block: int = 64
    slots: int = 64
    active: int = 16
    max_run_vs_predict: float = 1.15
    min_step_vs_run: float = 1.5
    max_slot_us: float = 8.0
    max_slot_vs_lone: float = 0.5

    @property
    def name(self) -> str:
        if self.kind == "block":
            return f"block I=H={self.hidden_size} T={self.steps} blocks of {self.block}"
        return f"slots I=H={self.hidden_size} {self.active} of {self.slots}"

    @property
    def variants(self):
        return ("run", "predict", "step calls") if self.kind == "block" else ("slots", "lone stream")


API_CASES = [ApiCase("block", 64), ApiCase("block", 256), ApiCase("slots", 256)]

# gru_infer.torch.accelerate on a CRNN (test_bench_torch_accelerate.py): the module in torch against the
# same module after accelerate, batch 1, T = 100. Case name -> bidirectional. Issue 23's target: >= 5x.
ACCELERATED = "gru_infer.torch.accelerate"
ACCELERATE_CASES = {"CRNN, GRU H=128, B=1 T=100": False, "CRNN, bidirectional GRU H=128, B=1 T=100": True}
ACCELERATE_TARGET = 5.0
