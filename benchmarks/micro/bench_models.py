"""Models of the micro benchmark (benchmarks/micro/run.sh), and its report.

    python benchmarks/micro/bench_models.py make OUT        # OUT/bench_cases.h
    python benchmarks/micro/bench_models.py report OUT LOG [NO_DSP_LOG] MAP

GRU(H) -> Dense(1) from PyTorch at H = 8, 16, 32, 64 and I = 1 or H, fp32 and int8 (dynamic input
scales), as native-file C arrays, with the plain fp32 weights for the plain C step.
"""
import sys
from pathlib import Path

import numpy as np
import torch

import gru_infer
from gru_infer.c_array import write_c_array

SIZES = [(1, 8), (8, 8), (1, 16), (16, 16), (1, 32), (32, 32), (1, 64), (64, 64)]
STEPS = 200


class Net(torch.nn.Module):
    """GRU(I, H) -> Linear(H, 1) on every step."""

    def __init__(self, I, H):
        super().__init__()
        self.gru, self.head = torch.nn.GRU(I, H, batch_first=True), torch.nn.Linear(H, 1)

    def forward(self, x):
        return self.head(self.gru(x)[0])


def floats(name, a):
    return f"static const float {name}[] = {{" + ", ".join(f"{float(v)!r}f" for v in np.ravel(a)) + "};"


def make(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    lines, entries = ["#include <stddef.h>", '#include "plain_step.h"'], []
    for I, H in SIZES:
        torch.manual_seed(H + I)
        net = Net(I, H).eval()
        m32 = gru_infer.from_torch(net)
        x = np.random.default_rng(H).standard_normal((STEPS, I)).astype(np.float32)
        tag = f"i{I}_h{H}"
        lines.append(floats(f"x_{tag}", x))
        g = m32.layers[0].directions[0]  # gates z, r, n: the plain step's layout
        d = m32.layers[1]
        lines += [floats(f"W_{tag}", g.W), floats(f"R_{tag}", g.R), floats(f"bW_{tag}", g.bW),
                  floats(f"bR_{tag}", g.bR), floats(f"dw_{tag}", d.weight)]
        lines.append(f"static const struct plain_gru plain_{tag} = {{{I}, {H}, W_{tag}, R_{tag}, bW_{tag}, "
                     f"bR_{tag}, dw_{tag}, {float(d.bias[0])!r}f}};")
        for kind, m in (("fp32", m32), ("int8", m32.quantize("int8"))):
            sym = f"model_{kind}_{tag}"
            write_c_array(m, out / f"{sym}.h", symbol=sym)
            lines.append(f'#include "{sym}.h"')
            plain = f"&plain_{tag}" if kind == "fp32" else "0"
            entries.append(f'    {{"{kind}_{tag}", {sym}, sizeof {sym}, x_{tag}, {I}, {plain}}},')
    lines += ["struct bench_case {",
              "    const char* name; const unsigned char* model; size_t size; const float* x; int input;",
              "    const struct plain_gru* plain;", "};",
              "static const struct bench_case bench_cases[] = {", *entries, "};", ""]
    (out / "bench_cases.h").write_text("\n".join(lines))


def parse(log):
    rows = {}
    for line in Path(log).read_text().splitlines():
        w = line.split()
        if w and w[0] == "bench":
            rows[w[1]] = {k: int(v) for k, v in zip(w[2::2], w[3::2])}
    return rows


def code_bytes(map_path):
    """Flash bytes (code and constants) the firmware takes from the micro library, libm and libc,
    from the linker map's input sections (after --gc-sections)."""
    sizes = {"runtime": 0, "libm": 0, "libc": 0}
    lines = Path(map_path).read_text().splitlines()
    name = ""
    for line in lines[next(i for i, t in enumerate(lines) if t.startswith("Linker script and memory map")):]:
        words = line.split()
        if line.startswith(" .") or line.startswith(" *"):
            name, words = words[0], words[1:]
        if len(words) != 3 or not words[0].startswith("0x") or not name.startswith((".text", ".rodata")):
            continue
        for key, lib in (("runtime", "libgru_infer_micro.a"), ("libm", "libm.a"), ("libc", "libc.a")):
            if lib in words[2]:
                sizes[key] += int(words[1], 16)
    return sizes


def report(out: Path, log, no_dsp_log, map_path):
    rows, nodsp = parse(log), parse(no_dsp_log) if no_dsp_log else {}
    code = code_bytes(map_path)
    print(f"runtime code and constants: {code['runtime']} B (libgru_infer_micro.a); "
          f"libm {code['libm']} B, libc {code['libc']} B in the firmware\n")
    print("| I | H | fp32 model B | int8 model B | int8/fp32 | arena fp32 / int8 B | stack fp32 / int8 B | "
          "fp32 insns/step | plain C insns/step | fp32/plain | int8 insns/step (SMLAD) | int8 without SMLAD |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for I, H in SIZES:
        f, q = rows[f"fp32_i{I}_h{H}"], rows[f"int8_i{I}_h{H}"]
        nd = nodsp.get(f"int8_i{I}_h{H}", {}).get("insns_per_step", "")
        if f.get("plain_differs_1e-5"):
            sys.exit(f"bench: the plain C step and gru_micro differ at I={I} H={H}")
        print(f"| {I} | {H} | {f['model_bytes']} | {q['model_bytes']} | {q['model_bytes'] / f['model_bytes']:.2f} | "
              f"{f['arena']} / {q['arena']} | {f['stack']} / {q['stack']} | {f['insns_per_step']} | "
              f"{f['plain_insns_per_step']} | {f['insns_per_step'] / f['plain_insns_per_step']:.2f} | "
              f"{q['insns_per_step']} | {nd} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(Path(sys.argv[2]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "report":
        report(Path(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 5 else None, sys.argv[-1])
    else:
        sys.exit(__doc__)
