"""gru_infer's stream APIs against each other, one thread: run in blocks vs predict vs step calls,
and slots vs a lone stream. Each callable does the whole case (T steps, or one step of the active
slots); the report divides by steps (or active slots)."""
import numpy as np
import pytest
from bench_cases import API_CASES

import gru_infer
from gru_infer import layers as L


def model_of(H: int) -> gru_infer.Model:
    rng = np.random.default_rng(0)
    s = 1.0 / np.sqrt(H)
    w = lambda *shape: rng.uniform(-s, s, shape).astype(np.float32)  # noqa: E731
    return gru_infer.Model.from_layers([L.GRU(H, H, [L.GRUDirection(w(3 * H, H), w(3 * H, H), w(3 * H), w(3 * H))])])


def calls_of(case):
    H, model = case.hidden_size, model_of(case.hidden_size)
    rng = np.random.default_rng(1)
    if case.kind == "block":
        x = rng.standard_normal((case.steps, H), dtype=np.float32)
        blocks = [x[t:t + case.block] for t in range(0, case.steps, case.block)]
        runner, stepper = model.stream(max_block=case.block), model.stream()
        out_block, out_step = np.empty((case.block, H), np.float32), np.empty(H, np.float32)

        def run():
            for b in blocks:
                runner.run(b, out=out_block)

        def steps():
            for row in x:
                stepper.step(row, out=out_step)

        # The three agree before anything is timed (same math: within 1e-6).
        ref = model.predict(x)
        check = model.stream(max_block=case.block)
        got = np.concatenate([check.run(b) for b in blocks])
        assert np.max(np.abs(got - ref)) <= 1e-5
        return {"run": run, "predict": lambda: model.predict(x), "step calls": steps}
    server, lone = model.stream(case.slots), model.stream()
    sets = [rng.permutation(case.slots)[:case.active] for _ in range(64)]
    xs = rng.standard_normal((case.active, H), dtype=np.float32)
    out, out1 = np.empty((case.active, H), np.float32), np.empty(H, np.float32)
    state = {"i": 0}

    def slots():
        state["i"] = (state["i"] + 1) % len(sets)
        server.step(xs, slots=sets[state["i"]], out=out)

    def lone_steps():
        for row in xs:
            lone.step(row, out=out1)

    return {"slots": slots, "lone stream": lone_steps}


_CALLS = {}


@pytest.mark.parametrize("variant", ["run", "predict", "step calls", "slots", "lone stream"])
@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.name.replace(" ", "-"))
def test_stream_api(benchmark, case, variant):
    if variant not in case.variants:
        pytest.skip(f"{variant} is not a variant of {case.kind}")
    gru_infer.set_num_threads(1)
    if case not in _CALLS:
        _CALLS[case] = calls_of(case)
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, framework=variant, max_abs_err_vs_torch=0.0)
    benchmark(_CALLS[case][variant])
