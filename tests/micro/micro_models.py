"""Models for the micro runtime's firmware test (tests/run_micro.sh), and the check of its output.

    python tests/micro/micro_models.py make OUT     # OUT/micro_cases.h, OUT/model_*.h, OUT/expected.npz
    python tests/micro/micro_models.py check OUT LOG [LOG...]   # firmware output vs the references

make builds each model in PyTorch (or, for the reset-before GRU PyTorch lacks and for the chain of
every other activation the micro runtime runs, from layer specs with a float64 NumPy reference),
imports it with the hosted library, checks the hosted outputs against that reference (fp32 within
1e-5, int8 within its documented bound), and writes the native file as a C array
(gru_infer.c_array.write_c_array, what `gru-infer convert --c-array` writes) with the inputs. check
compares each firmware run with the hosted library's outputs and the reference: fp32 within 1e-5 of
both; int8 within 1e-5 of the hosted int8 model (the same arithmetic) and within the int8 bound of
the reference.
"""
import sys
from pathlib import Path

import numpy as np
import torch

import gru_infer
from gru_infer.c_array import write_c_array
from gru_infer.layers import GRU, Activation, ActivationLayer, Dense, GRUDirection

FP32_TOL = 1e-5
INT8_BOUND = 3e-2  # docs/quantization.md, tests/test_quantize.py: max abs error, scaled by max(1, |ref|)
STEPS = 40
# gru_micro_status values (gru_infer_micro.h) the firmware must report
BAD_MODEL, UNSUPPORTED, MISALIGNED, ARENA_TOO_SMALL = 2, 4, 5, 6


class Net(torch.nn.Module):
    def __init__(self, I, H, O, layers=1, act=None):
        super().__init__()
        self.gru = torch.nn.GRU(I, H, num_layers=layers, batch_first=True)
        self.head = torch.nn.Linear(H, O)
        self.act = act

    def forward(self, x):
        y, _ = self.gru(x)
        y = self.head(y)
        return self.act(y) if self.act is not None else y


def torch_case(seed, I, H, O, **kw):
    torch.manual_seed(seed)
    net = Net(I, H, O, **kw).eval()
    x = np.random.default_rng(seed).standard_normal((1, STEPS, I)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()[0]
    return gru_infer.from_torch(net), x, ref


def gru_reference(g: GRU, x):
    """The forward GRU `g` over x (1, T, I) in float64, either reset form: (T, H)."""
    d = g.directions[0]
    W, R, bW, bR = (np.asarray(a, np.float64) for a in (d.W, d.R, d.bW, d.bR))
    H = g.hidden_size
    h = np.zeros(H) if g.initial_state is None else np.asarray(g.initial_state[0], np.float64)
    out = []
    for xt in x[0].astype(np.float64):
        gx, gh = W @ xt + bW, R[:2 * H] @ h + bR[:2 * H]
        z, r = ACTS["sigmoid"](gx[:H] + gh[:H], 0, 0), ACTS["sigmoid"](gx[H:2 * H] + gh[H:], 0, 0)
        rec = r * (R[2 * H:] @ h + bR[2 * H:]) if g.linear_before_reset else R[2 * H:] @ (r * h) + bR[2 * H:]
        h = (1 - z) * np.tanh(gx[2 * H:] + rec) + z * h
        out.append(h)
    return np.array(out)


def _softplus(v):
    return np.logaddexp(0.0, v)


def _softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# float64 references of the activations (gru_infer/layers.py, csrc/include/gru_infer/activation.h): f(v, alpha, beta)
ACTS = {
    "sigmoid": lambda v, a, b: 1 / (1 + np.exp(-v)),
    "relu": lambda v, a, b: np.maximum(v, 0),
    "leaky_relu": lambda v, a, b: np.where(v >= 0, v, a * v),
    "elu": lambda v, a, b: np.where(v >= 0, v, a * np.expm1(v)),
    "selu": lambda v, a, b: b * np.where(v > 0, v, a * np.expm1(v)),
    "celu": lambda v, a, b: np.where(v > 0, v, a * np.expm1(v / a)),
    "softsign": lambda v, a, b: v / (1 + np.abs(v)),
    "softplus": lambda v, a, b: _softplus(v),
    "mish": lambda v, a, b: v * np.tanh(_softplus(v)),
    "silu": lambda v, a, b: v / (1 + np.exp(-v)),
    "gelu_tanh": lambda v, a, b: 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))),
    "hard_sigmoid": lambda v, a, b: np.clip(a * v + b, 0, 1),
    "hard_swish": lambda v, a, b: v * np.clip(v / 6 + 0.5, 0, 1),
    "thresholded_relu": lambda v, a, b: np.where(v > a, v, 0),
    "scaled_tanh": lambda v, a, b: a * np.tanh(b * v),
    "affine": lambda v, a, b: a * v + b,
    "clip": lambda v, a, b: np.clip(v, a, b),
    "softmax": lambda v, a, b: _softmax(v),
}


def layers_reference(layers, x):
    """A forward GRU then Dense and Activation layers, in float64: (T, O)."""
    y = gru_reference(layers[0], x)
    for layer in layers[1:]:
        if isinstance(layer, Dense):
            y = y @ np.asarray(layer.weight, np.float64).T + np.asarray(layer.bias, np.float64)
        else:
            act = layer.activation
            y = ACTS[act.kind](y, np.float64(np.float32(act.alpha)), np.float64(np.float32(act.beta)))
    return y


def spec_case(seed, layers, I, H, lbr, h0=False):
    """A GRU(I, H) of random weights, reset after (lbr) or before the recurrent product, then `layers`;
    with its float64 NumPy reference."""
    rng = np.random.default_rng(seed)
    u = lambda *s: rng.uniform(-0.4, 0.4, s).astype(np.float32)  # noqa: E731
    g = GRU(I, H, [GRUDirection(u(3 * H, I), u(3 * H, H), u(3 * H), u(3 * H))], linear_before_reset=lbr,
            initial_state=rng.uniform(-0.5, 0.5, (1, H)).astype(np.float32) if h0 else None)
    layers = [g] + [f(u) if callable(f) else f for f in layers]
    model = gru_infer.Model.from_layers(layers)
    x = rng.standard_normal((1, STEPS, I)).astype(np.float32)
    return model, x, layers_reference(layers, x)


def act(kind, alpha=0.0, beta=0.0):
    return ActivationLayer(Activation(kind, alpha, beta))


def dense(I, O, scale=1.0):
    """A Dense(I -> O) of the case's random weights times `scale` (made when the case draws them)."""
    return lambda u: Dense(u(O, I) * np.float32(scale), u(O) * np.float32(scale))


# Every activation the micro runtime runs but sigmoid / tanh (which the other cases have).
ACT_CHAIN = [act("mish"), act("selu", 1.6732632, 1.0507010), act("celu", 0.8), dense(16, 12, 4), act("elu", 0.7),
             act("softplus"), act("gelu_tanh"), act("hard_swish"), act("leaky_relu", 0.1), act("silu"),
             dense(12, 10, 4), act("softsign"), act("thresholded_relu", 0.05), act("scaled_tanh", 1.5, 0.8),
             act("affine", 2.0, -0.3), act("clip", -0.5, 1.2), act("hard_sigmoid", 0.3, 0.4), act("relu"),
             dense(10, 5, 4), act("softmax")]


def cases():
    """name -> (fp32 model, input (1, T, I), reference output (T, O))"""
    return {
        "i1_h16": torch_case(1, 1, 16, 1),
        "i8_h32x2_tanh": torch_case(2, 8, 32, 4, layers=2, act=torch.nn.Tanh()),
        "cho_i4_h24_h0": spec_case(3, [dense(24, 3), act("sigmoid")], 4, 24, lbr=False, h0=True),
        "acts_i3_h16": spec_case(6, ACT_CHAIN, 3, 16, lbr=True),
    }


def refused():
    """name -> (a valid model the micro runtime does not run, the status it must give)"""
    m, _, _ = torch_case(4, 2, 8, 1)
    torch.manual_seed(5)
    bidirectional = gru_infer.from_torch(torch.nn.GRU(2, 8, batch_first=True, bidirectional=True))
    return {"unsupported_fp16": (m.quantize("fp16"), UNSUPPORTED),
            "unsupported_bidirectional": (bidirectional, UNSUPPORTED),
            "unsupported_gelu": (torch_case(4, 2, 8, 1, act=torch.nn.GELU())[0], UNSUPPORTED)}


def scaled_err(y, ref):
    return float(np.abs(y - ref).max() / max(1.0, float(np.abs(ref).max())))


def make(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    # The micro runtime runs the reference arithmetic of the scalar kernels; the hosted vector ones
    # run small int8 layers in fp32 on the dequantized weights (faster there), a different result.
    gru_infer.set_isa("scalar")
    expected, entries, lines = {}, [], []
    max_out = max_model = 0
    for name, (m32, x, ref) in cases().items():
        calib = np.random.default_rng(7).standard_normal((4, 50, x.shape[2])).astype(np.float32)
        variants = {"fp32": m32,
                    # dynamic int8 input scales for the PyTorch-style models, calibrated for the other
                    "int8": m32.quantize("int8", calibration=calib if name.startswith("cho") else None)}
        for kind, m in variants.items():
            case = f"{kind}_{name}"
            hosted = m.predict(x)[0]
            err = float(np.abs(hosted - ref).max()) if kind == "fp32" else scaled_err(hosted, ref)
            bound = FP32_TOL if kind == "fp32" else INT8_BOUND
            print(f"{case}: hosted vs reference {err:.3g} (bound {bound})")
            if not err <= bound:
                sys.exit(f"micro_models: the hosted {case} is {err:.3g} from its reference (bound {bound})")
            size = write_c_array(m, out / f"model_{case}.h", symbol=f"model_{case}")
            lines.append(f'#include "model_{case}.h"')
            lines.append(f"static const float x_{case}[] = {{" +
                         ", ".join(f"{v!r}f" if "e" in repr(v) or "." in repr(v) else f"{v!r}.0f"
                                   for v in x[0].ravel().astype(float).tolist()) + "};")
            entries.append(f'    {{"{case}", model_{case}, sizeof model_{case}, x_{case}, {x.shape[1]}}},')
            expected[f"hosted_{case}"], expected[f"ref_{case}"] = hosted, ref
            max_out, max_model = max(max_out, hosted.shape[1]), max(max_model, size)
    refusals = []
    for name, (m, status) in refused().items():
        write_c_array(m, out / f"model_{name}.h", symbol=f"model_{name}")
        lines.append(f'#include "model_{name}.h"')
        refusals.append(f'    {{"{name}", model_{name}, sizeof model_{name}, {status}}},')
    header = [
        "/* Generated by tests/micro/micro_models.py make: the micro firmware test's models and inputs. */",
        "#include <stddef.h>",
        *lines,
        "struct micro_case {",
        "    const char* name; const unsigned char* model; size_t size; const float* x; unsigned steps;",
        "};",
        "static const struct micro_case micro_cases[] = {", *entries, "};",
        "struct micro_refusal { const char* name; const unsigned char* model; size_t size; int expected; };",
        "static const struct micro_refusal micro_refusals[] = {", *refusals, "};",
        f"#define MICRO_MAX_OUT {max_out}", f"#define MICRO_MAX_STEPS {STEPS}",
        f"#define MICRO_MAX_MODEL {max_model}", "",
    ]
    (out / "micro_cases.h").write_text("\n".join(header))
    np.savez(out / "expected.npz", **expected)


def parse_log(text: str):
    """case name -> (fields of its 'case' line and of its last line, outputs (T, O))"""
    runs, name = {}, None
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "case":
            name = words[1]
            runs[name] = [dict(zip(words[2::2], words[3::2])), []]
        elif words[0] == "y" and name:
            runs[name][1].append(np.array([int(w, 16) for w in words[1:]], np.uint32).view(np.float32))
        elif name and words[0] in ("run_matches",):
            runs[name][0].update(zip(words[0::2], words[1::2]))
    return {k: (f, np.array(ys)) for k, (f, ys) in runs.items()}


def check(out: Path, logs):
    expected = np.load(out / "expected.npz")
    names = sorted(k[len("hosted_"):] for k in expected.files if k.startswith("hosted_"))
    failures = []
    for log in logs:
        text = Path(log).read_text()
        runs = parse_log(text)
        if "done" not in text.split():
            failures.append(f"{log}: the firmware did not finish")
        for case in names:
            if case not in runs:
                failures.append(f"{log}: {case} did not run")
                continue
            fields, y = runs[case]
            hosted, ref = expected[f"hosted_{case}"], expected[f"ref_{case}"]
            if fields.get("status") != "0" or y.shape != hosted.shape:
                failures.append(f"{log}: {case}: status {fields.get('status')}, "
                                f"outputs {y.shape} (want {hosted.shape})")
                continue
            e_host = float(np.abs(y - hosted).max())
            e_ref = float(np.abs(y - ref).max()) if case.startswith("fp32") else scaled_err(y, ref)
            bound_ref = FP32_TOL if case.startswith("fp32") else INT8_BOUND
            print(f"{Path(log).name}: {case}: arena {fields['arena']} B, max abs error vs hosted {e_host:.3g}, "
                  f"vs reference {e_ref:.3g}")
            if not (e_host <= FP32_TOL and e_ref <= bound_ref):
                failures.append(f"{log}: {case}: error vs hosted {e_host:.3g} (bound {FP32_TOL}), "
                                f"vs reference {e_ref:.3g} (bound {bound_ref})")
            want = {"run_matches": "1", "short_array": str(BAD_MODEL), "small_arena": str(ARENA_TOO_SMALL),
                    "misaligned": str(MISALIGNED)}
            for k, v in want.items():
                if fields.get(k) != v:
                    failures.append(f"{log}: {case}: {k} = {fields.get(k)}, expected {v}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(Path(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "check":
        sys.exit(check(Path(sys.argv[2]), sys.argv[3:]))
    else:
        sys.exit(__doc__)
