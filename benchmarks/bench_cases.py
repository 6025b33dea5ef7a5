"""The benchmark cases and the 0.1 speed targets (speed-ups over each framework), shared by suite and report."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    kind: str  # "stream": one step per Python call; "predict": a whole (B, T, I) sequence per call
    input_size: int
    hidden_size: int
    steps: int = 1
    batch: int = 1
    target_vs_ort: float = 1.0  # minimum speed-up over onnxruntime (its median / ours)
    target_vs_torch: float = 1.0  # minimum speed-up over PyTorch

    @property
    def name(self) -> str:
        size = f"I={self.input_size} H={self.hidden_size}"
        if self.kind == "stream":
            return f"stream step {size}"
        return f"predict {size} T={self.steps} B={self.batch}"


CASES = [
    Case("stream", 16, 16, target_vs_ort=10, target_vs_torch=30),
    Case("stream", 64, 64, target_vs_ort=8, target_vs_torch=25),
    Case("stream", 256, 256, target_vs_ort=2, target_vs_torch=4),
    Case("predict", 1, 32, steps=1000, target_vs_ort=2.5, target_vs_torch=20),
    Case("predict", 64, 64, steps=1000, target_vs_ort=2.5, target_vs_torch=6),
    Case("predict", 256, 256, steps=1000, target_vs_ort=1.7, target_vs_torch=3),
    Case("predict", 1024, 1024, steps=100, target_vs_ort=1.3, target_vs_torch=1.8),
    Case("predict", 256, 256, steps=100, batch=32, target_vs_ort=1.1, target_vs_torch=1.3),
]

FRAMEWORKS = ["gru_infer", "torch", "onnxruntime"]
TWO_THREADS = "gru_infer, 2 threads"  # extra rows: a batch of one with the projection on a second thread
