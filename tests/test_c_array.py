"""gru_infer.c_array: a model as a C array header, compiled into a C program (gcc) that loads it from
memory through the C API and predicts; its output must match PyTorch's (1e-5) and Python's predict.
The C library is built from csrc/ with CMake into build/test_c_array (incremental after the first run)."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gru_infer
from gru_infer.c_array import write_c_array

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
B, T = 2, 7

PROGRAM = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gru_infer/c_api.h"
#include "model.h"

/* stdin: float32 x (B, T, input_size); stdout: float32 y. */
int main(int argc, char** argv) {
    if (argc != 3) return 2;
    const size_t B = strtoul(argv[1], NULL, 10), T = strtoul(argv[2], NULL, 10);
    if ((uintptr_t)demo_model % 64 != 0 || demo_model_size != sizeof demo_model) return 3;
    gru_infer_model* m = NULL;
    if (gru_infer_model_load_memory(demo_model, demo_model_size, &m) != GRU_INFER_OK) {
        fprintf(stderr, "%s\n", gru_infer_last_error());
        return 1;
    }
    const size_t nx = B * T * gru_infer_model_input_size(m), ny = gru_infer_model_output_floats(m, B, T);
    float* x = malloc(nx * sizeof(float));
    float* y = malloc(ny * sizeof(float));
    if (!x || !y || fread(x, sizeof(float), nx, stdin) != nx) return 4;
    if (gru_infer_predict(m, B, T, x, NULL, NULL, y, NULL) != GRU_INFER_OK) {
        fprintf(stderr, "%s\n", gru_infer_last_error());
        return 1;
    }
    fwrite(y, sizeof(float), ny, stdout);
    gru_infer_model_free(m);
    free(x);
    free(y);
    return 0;
}
"""


class GruThenLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 16, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(16, 4)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out)


@pytest.fixture(scope="module")
def static_library():
    build = ROOT / "build" / "test_c_array"
    subprocess.run(["cmake", "-S", ROOT / "csrc", "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DGRU_INFER_BUILD_TESTS=OFF", "-DGRU_INFER_BUILD_EXAMPLES=OFF"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", build, "--target", "gru_infer"], check=True, capture_output=True)
    return build / "libgru_infer.a"


@pytest.fixture(scope="module")
def torch_case():
    torch.manual_seed(3)
    module = GruThenLinear().eval()
    x = torch.randn(B, T, 3)
    with torch.no_grad():
        want = module(x).numpy()
    return gru_infer.from_torch(module), x.numpy(), want


def array_bytes(header: str) -> bytes:
    body = header[header.index("[] = {"):header.index("};")]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))


def test_c_program_predicts_from_the_embedded_array(tmp_path, static_library, torch_case):
    model, x, want = torch_case
    size = write_c_array(model, tmp_path / "model.h", symbol="demo_model")
    assert size == len(model.to_bytes())
    (tmp_path / "main.c").write_text(PROGRAM)
    exe = tmp_path / "predict_embedded"
    subprocess.run([shutil.which("gcc") or "gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", tmp_path,
                    "-I", ROOT / "csrc" / "include", tmp_path / "main.c", static_library, "-lstdc++", "-lm",
                    "-o", exe], check=True)
    run = subprocess.run([exe, str(B), str(T)], input=x.astype(np.float32).tobytes(), capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    y = np.frombuffer(run.stdout, dtype=np.float32).reshape(want.shape)
    assert np.abs(y - want).max() <= 1e-5
    # The same engine as Python's predict, built separately: equal up to float rounding.
    assert np.abs(y - model.predict(x)).max() <= 1e-6


def test_header_from_a_file_holds_the_file_and_compiles_as_cpp(tmp_path, torch_case):
    model = torch_case[0]
    model.save(tmp_path / "m.gru")
    write_c_array(tmp_path / "m.gru", tmp_path / "model.h")
    header = (tmp_path / "model.h").read_text()
    assert "alignas(64) static const unsigned char gru_model[] = {" in header
    assert f"static const size_t gru_model_size = {len(model.to_bytes())};" in header
    assert array_bytes(header) == (tmp_path / "m.gru").read_bytes()
    (tmp_path / "main.cpp").write_text('#include "model.h"\nint main() { return gru_model_size == sizeof gru_model '
                                       '&& reinterpret_cast<unsigned long>(gru_model) % 64 == 0 ? 0 : 1; }\n')
    exe = tmp_path / "check"
    subprocess.run([shutil.which("g++") or "g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-I", tmp_path,
                    tmp_path / "main.cpp", "-o", exe], check=True)
    assert subprocess.run([exe]).returncode == 0


def test_refuses_bad_symbols_and_inputs(tmp_path, torch_case):
    model = torch_case[0]
    for bad in ["1model", "my-model", "", "a b", None]:
        with pytest.raises(ValueError, match="symbol: expected a C identifier"):
            write_c_array(model, tmp_path / "m.h", symbol=bad)
    with pytest.raises(ValueError, match="expected a gru_infer.Model or a file path"):
        write_c_array(b"GRUINFER", tmp_path / "m.h")
    (tmp_path / "not_a_model.bin").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not a model file"):
        write_c_array(tmp_path / "not_a_model.bin", tmp_path / "m.h")
    with pytest.raises(FileNotFoundError):
        write_c_array(tmp_path / "missing.gru", tmp_path / "m.h")
    assert not (tmp_path / "m.h").exists()
