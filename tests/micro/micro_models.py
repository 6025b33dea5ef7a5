"""Models for the micro runtime's firmware test (tests/run_micro.sh), and the check of its output.

    python tests/micro/micro_models.py make OUT     # OUT/micro_cases.h, OUT/model_*.h, OUT/expected.npz
    python tests/micro/micro_models.py check OUT LOG [LOG...]   # firmware output vs the references

make builds each model in PyTorch (or, for the reset-before GRU PyTorch lacks, from layer specs
with a float64 NumPy reference), imports it with the hosted library, checks the hosted outputs
against that reference (fp32 within 1e-5, int8 within its documented bound), and writes the native
file as a C array (gru_infer.c_array.write_c_array, what `gru-infer convert --c-array` writes)
with the inputs. check compares each firmware run with the hosted library's outputs and the
reference: fp32 within 1e-5 of both; int8 within 1e-5 of the hosted int8 model (the same
arithmetic) and within the int8 bound of the reference.
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


def cho_reference(g: GRU, dense: Dense, x):
    """A GRU with the reset gate before the recurrent product, then Dense and sigmoid, in float64."""
    d = g.directions[0]
    W, R, bW, bR = (np.asarray(a, np.float64) for a in (d.W, d.R, d.bW, d.bR))
    H = g.hidden_size
    h = np.asarray(g.initial_state[0], np.float64)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    out = []
    for xt in x[0].astype(np.float64):
        gx, gh = W @ xt + bW, R[:2 * H] @ h + bR[:2 * H]
        z, r = sig(gx[:H] + gh[:H]), sig(gx[H:2 * H] + gh[H:])
        n = np.tanh(gx[2 * H:] + R[2 * H:] @ (r * h) + bR[2 * H:])
        h = (1 - z) * n + z * h
        out.append(sig(np.asarray(dense.weight, np.float64) @ h + np.asarray(dense.bias, np.float64)))
    return np.array(out)


def cho_case(seed, I=4, H=24, O=3):
    rng = np.random.default_rng(seed)
    u = lambda *s: rng.uniform(-0.4, 0.4, s).astype(np.float32)  # noqa: E731
    g = GRU(I, H, [GRUDirection(u(3 * H, I), u(3 * H, H), u(3 * H), u(3 * H))], linear_before_reset=False,
            initial_state=rng.uniform(-0.5, 0.5, (1, H)).astype(np.float32))
    dense = Dense(u(O, H), u(O))
    model = gru_infer.Model.from_layers([g, dense, ActivationLayer(Activation("sigmoid"))])
    x = rng.standard_normal((1, STEPS, I)).astype(np.float32)
    return model, x, cho_reference(g, dense, x)


def cases():
    """name -> (fp32 model, input (1, T, I), reference output (T, O))"""
    return {
        "i1_h16": torch_case(1, 1, 16, 1),
        "i8_h32x2_tanh": torch_case(2, 8, 32, 4, layers=2, act=torch.nn.Tanh()),
        "cho_i4_h24_h0": cho_case(3),
    }


def refused():
    """name -> (a valid model the micro runtime does not run, the status it must give)"""
    m, _, _ = torch_case(4, 2, 8, 1)
    torch.manual_seed(5)
    bidirectional = gru_infer.from_torch(torch.nn.GRU(2, 8, batch_first=True, bidirectional=True))
    return {"unsupported_fp16": (m.quantize("fp16"), UNSUPPORTED),
            "unsupported_bidirectional": (bidirectional, UNSUPPORTED)}


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
