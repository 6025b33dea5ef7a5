"""The demo: a GRU trained to forecast a vibration sensor, run through predict and stream.

    gru-infer demo        (or: python -m gru_infer.demo)

It streams a signal with an injected bearing fault through the shipped model, flags the samples
whose forecast error is far above normal, and prints the latency of predict and of one step.
"""
from __future__ import annotations

import time
from importlib import resources

import numpy as np

MODEL_FILE = "vibration_forecaster.gru"


def vibration_signal(n: int, rng: np.random.Generator, fault_at: int | None = None) -> np.ndarray:
    """Shaft harmonics with a slowly drifting speed and sensor noise; from `fault_at` on, a bearing
    fault adds sharp periodic impacts."""
    t = np.arange(n, dtype=np.float64)
    speed = 0.05 + 0.01 * rng.uniform() + 0.002 * np.sin(2 * np.pi * t / n)
    phase = np.cumsum(np.full(n, 1.0) * speed) + rng.uniform(0, 2 * np.pi)
    x = 0.6 * np.sin(phase) + 0.25 * np.sin(2 * phase + 0.3) + 0.1 * np.sin(3 * phase)
    x += 0.02 * rng.standard_normal(n)
    if fault_at is not None:
        impacts = (np.arange(n) >= fault_at) & (np.arange(n) % 17 == 0)
        x[impacts] += 0.8
    return x.astype(np.float32)


def model_path() -> str:
    return str(resources.files("gru_infer") / "models" / MODEL_FILE)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> int:
    import gru_infer

    model = gru_infer.load(model_path())
    print(f"model: {model}")
    print(f"kernels: {gru_infer.active_isa()}")
    rng = np.random.default_rng(2026)
    n, fault_at = 2000, 1400
    signal = vibration_signal(n, rng, fault_at=fault_at)

    # Whole sequence at once: forecast of sample t+1 from samples 0..t.
    forecast = model.predict(signal[:, None])[:, 0]
    error = np.abs(forecast[:-1] - signal[1:])
    threshold = 6 * np.median(error[:fault_at])
    flagged = np.flatnonzero(error > threshold) + 1
    first = int(flagged[0]) if flagged.size else None
    print(f"predict: {n} samples, forecast error median {np.median(error):.4f}, threshold {threshold:.4f}")
    print(f"anomalies flagged: {flagged.size} samples, first at {first} (fault injected at {fault_at})")

    # Live: the same forecasts one sample at a time, as a sensor loop would run it.
    stream = model.stream()
    out = np.empty(1, np.float32)
    live = np.array([stream.step(signal[t:t + 1], out=out)[0] for t in range(n)])
    print(f"stream: max difference from predict {np.abs(live - forecast).max():.2e}")

    t_seq = median_time(lambda: model.predict(signal[:, None]), 20)
    x1 = signal[:1]
    t_step = median_time(lambda: stream.step(x1, out=out), 2000)
    print(f"latency: predict {n} steps {t_seq * 1e3:.3f} ms ({t_seq / n * 1e9:.0f} ns/step), "
          f"stream.step {t_step * 1e6:.2f} us")
    return 0 if first is not None and first >= fault_at else 1


if __name__ == "__main__":
    raise SystemExit(main())
