"""Many sensor streams scored by one model through slots.

N simulated sensors send samples at random moments (each tick, every sensor has a new sample
with probability --rate). A server keeps one stream with a slot per sensor and, each tick, steps
only the slots that have new input: the model's weights are read once per tick for all of them.
The alternative, one stream per sensor, steps each of them on its own. Both give the same scores
(checked); the script prints the throughput of each in stream-steps per second.

    python examples/python/many_streams.py [--sensors 256] [--hidden 128] [--ticks 200] [--rate 0.25]
"""
import argparse
import time

import numpy as np

import gru_infer
from gru_infer import layers as L


def make_model(features: int, hidden: int, seed: int = 0) -> gru_infer.Model:
    """A GRU anomaly scorer with random weights: GRU(features -> hidden), Linear(hidden -> 1), sigmoid."""
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(hidden)
    w = lambda *shape: rng.uniform(-s, s, shape).astype(np.float32)  # noqa: E731
    gru = L.GRU(features, hidden, [L.GRUDirection(w(3 * hidden, features), w(3 * hidden, hidden),
                                                  w(3 * hidden), w(3 * hidden))])
    return gru_infer.Model.from_layers([gru, L.Dense(w(1, hidden), w(1)), L.ActivationLayer(L.Activation("sigmoid"))])


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sensors", type=int, default=256)
    p.add_argument("--features", type=int, default=4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--ticks", type=int, default=200)
    p.add_argument("--rate", type=float, default=0.25, help="chance that a sensor has a sample in a tick")
    args = p.parse_args(argv)
    gru_infer.set_num_threads(1)
    model = make_model(args.features, args.hidden)
    rng = np.random.default_rng(1)
    # The arrivals: per tick, which sensors have a sample, and the samples (a noisy sine per sensor).
    arrivals = [np.flatnonzero(rng.random(args.sensors) < args.rate) for _ in range(args.ticks)]
    phase = rng.uniform(0, 2 * np.pi, args.sensors)
    samples = [(np.sin(0.1 * t + phase[ids])[:, None] + 0.1 * rng.standard_normal((len(ids), args.features)))
               .astype(np.float32) for t, ids in enumerate(arrivals)]
    total = sum(len(ids) for ids in arrivals)

    server = model.stream(batch=args.sensors)  # one slot per sensor
    t0 = time.perf_counter()
    slot_scores = [server.step(x, slots=ids) for ids, x in zip(arrivals, samples) if len(ids)]
    slots_s = time.perf_counter() - t0

    per_sensor = [model.stream() for _ in range(args.sensors)]
    t0 = time.perf_counter()
    lone_scores = [np.stack([per_sensor[i].step(row) for i, row in zip(ids, x)])
                   for ids, x in zip(arrivals, samples) if len(ids)]
    lone_s = time.perf_counter() - t0

    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(slot_scores, lone_scores))
    print(f"{args.sensors} sensors, GRU {args.features}->{args.hidden}, {args.ticks} ticks, "
          f"{total} stream-steps ({total / args.ticks:.1f} active slots per tick on average)")
    print(f"slots (one stream, {args.sensors} slots):  {total / slots_s:12,.0f} stream-steps/s")
    print(f"one stream per sensor:            {total / lone_s:12,.0f} stream-steps/s")
    print(f"speed-up {lone_s / slots_s:.2f}x; max score difference between the two {diff:.2e}")
    if diff > 1e-6:
        raise SystemExit(f"slots and separate streams disagree by {diff:.2e}")
    return diff


if __name__ == "__main__":
    main()
