"""Model.quantize: int8 / bf16 / fp16 models against the fp32 model and PyTorch, every predict
option, streams, saving and loading, the report in info["quantization"], the CLI, bad input."""
import subprocess
import sys

import numpy as np
import pytest

import gru_infer

torch = pytest.importorskip("torch")

BOUND = {"fp16": 1e-3, "bf16": 1e-2, "int8": 3e-2}


def torch_gru(I, H, seed, **kw):
    torch.manual_seed(seed)
    return torch.nn.GRU(I, H, batch_first=True, **kw).eval()


def torch_out(g, x, h0=None):
    with torch.no_grad():
        y, hn = g(torch.from_numpy(x), None if h0 is None else torch.from_numpy(h0))
    return y.numpy(), hn.numpy()


@pytest.mark.parametrize("kind", ["fp16", "bf16", "int8"])
@pytest.mark.parametrize("I,H", [(16, 64), (256, 256)])
def test_error_bounds_vs_fp32_and_pytorch(kind, I, H):
    g = torch_gru(I, H, seed=I + H)
    m = gru_infer.from_torch(g)
    x = np.random.default_rng(H).standard_normal((1, 1000, I)).astype(np.float32)
    q = m.quantize(kind)
    assert q.weight_format == kind and m.weight_format == "fp32"
    yq, y32, yt = q.predict(x), m.predict(x), torch_out(g, x)[0]
    assert np.abs(y32 - yt).max() < 1e-5
    err_fp32, err_torch = np.abs(yq - y32).max(), np.abs(yq - yt).max()
    print(f"{kind} I={I} H={H}: max abs error vs fp32 {err_fp32:.3g}, vs PyTorch {err_torch:.3g}")
    assert 0 < err_fp32 <= BOUND[kind]
    assert err_torch <= BOUND[kind]


@pytest.mark.parametrize("kind", ["bf16", "int8"])
def test_stacked_bidirectional_with_h0_and_lengths(kind):
    g = torch_gru(5, 24, seed=1, num_layers=2, bidirectional=True)
    m = gru_infer.from_torch(g)
    q = m.quantize(kind)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 60, 5)).astype(np.float32)
    h0 = (rng.standard_normal((4, 3, 24)) * 0.5).astype(np.float32)  # some |h0| > 1: dynamic state scale
    y, hn = q.predict(x, h0=h0, return_state=True)
    yt, hnt = torch_out(g, x, h0)
    assert np.abs(y - yt).max() <= BOUND[kind] and np.abs(hn - hnt).max() <= BOUND[kind]
    lengths = np.array([60, 31, 2])
    yl = q.predict(x, lengths=lengths)
    for b, n in enumerate(lengths):  # each sequence as if cut at its length
        np.testing.assert_array_equal(yl[b, n:], 0)
        assert np.abs(yl[b, :n] - m.predict(x[b, :n])).max() <= BOUND[kind]
        np.testing.assert_array_equal(yl[b, :n], q.predict(x[b, :n]))


@pytest.mark.parametrize("kind", ["fp16", "bf16", "int8"])
def test_stream_steps_equal_predict(kind):
    m = gru_infer.from_torch(torch_gru(8, 48, seed=2, num_layers=2))
    q = m.quantize(kind)
    x = np.random.default_rng(5).standard_normal((2, 300, 8)).astype(np.float32)
    y = q.predict(x)
    s = q.stream(2)
    steps = np.stack([s.step(x[:, t]) for t in range(x.shape[1])], axis=1)
    assert np.abs(steps - y).max() <= 1e-6


@pytest.mark.parametrize("kind", ["fp16", "bf16", "int8"])
def test_save_load_and_bytes_bit_exact(kind, tmp_path):
    m = gru_infer.from_torch(torch_gru(12, 40, seed=3))
    q = m.quantize(kind)
    x = np.random.default_rng(1).standard_normal((2, 50, 12)).astype(np.float32)
    path = tmp_path / f"m_{kind}.gru"
    q.save(path)
    for back in (gru_infer.load(path), gru_infer.Model(gru_infer._core.Model.from_bytes(path.read_bytes()))):
        assert back.weight_format == kind
        np.testing.assert_array_equal(back.predict(x), q.predict(x))
        assert back.to_bytes() == q.to_bytes()
    assert path.read_bytes()[8] == 3  # format version 3
    m_path = tmp_path / "m.gru"
    m.save(m_path)
    assert m_path.read_bytes()[8] == 2  # fp32 models keep writing version 2
    # H=40 pads to 48 units here: the 0.27x / 0.52x of the README hold at 256 (test_file_sizes_at_256)
    assert path.stat().st_size < m_path.stat().st_size * (0.5 if kind == "int8" else 0.7)


def test_file_sizes_at_256():
    m = gru_infer.from_torch(torch_gru(256, 256, seed=4))
    n32 = len(m.to_bytes())
    ratios = {k: len(m.quantize(k).to_bytes()) / n32 for k in ("int8", "bf16", "fp16")}
    print("file size vs fp32, I=H=256:", ratios)
    assert ratios["int8"] <= 0.27 and ratios["bf16"] <= 0.52 and ratios["fp16"] <= 0.52


def test_report_calibration_keep_fp32():
    g = torch_gru(6, 32, seed=7)

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru, self.fc = g, torch.nn.Linear(32, 3)

        def forward(self, x):
            return self.fc(self.gru(x)[0])

    torch.manual_seed(0)
    m = gru_infer.from_torch(Head())
    cal = (np.random.default_rng(3).standard_normal((2, 200, 6)) * 2).astype(np.float32)
    q = m.quantize("int8", calibration=cal, keep_fp32=[-1])
    rep = q.info["quantization"]
    assert rep["kind"] == "int8" and rep["input_scales"] == "calibrated" and q.weight_format == "mixed"
    assert rep["layers"][0]["weight_format"] == "int8"
    assert rep["layers"][0]["input_scale"] == pytest.approx(np.abs(cal).max() / 127, rel=1e-6)
    assert rep["layers"][1]["kept_fp32"] == "keep_fp32"
    err = rep["error_vs_fp32"]
    d = np.abs(q.predict(cal).astype(np.float64) - m.predict(cal))
    assert err["on"] == "calibration data" and err["max_abs"] == pytest.approx(d.max())
    assert err["max_abs_per_output"] == pytest.approx(d.reshape(-1, 3).max(axis=0).tolist())
    assert err["mean_abs"] == pytest.approx(d.mean()) and len(err["mean_abs_per_output"]) == 3
    synthetic = m.quantize("bf16").info["quantization"]["error_vs_fp32"]
    assert synthetic["on"]["distribution"] == "N(0, 1)" and synthetic["on"]["shape"] == [4, 1000, 6]
    dyn = m.quantize("int8", calibration=cal, input_scale="dynamic").info["quantization"]
    assert dyn["input_scales"] == "dynamic" and "input_scale" not in dyn["layers"][0]


def test_bad_arguments():
    m = gru_infer.from_torch(torch_gru(4, 8, seed=0))
    with pytest.raises(ValueError, match="kind"):
        m.quantize("int4")
    with pytest.raises(ValueError, match="keep_fp32"):
        m.quantize("int8", keep_fp32=[3])
    with pytest.raises(ValueError, match="keep_fp32"):
        m.quantize("int8", keep_fp32=["first"])
    with pytest.raises(ValueError, match="x: expected shape"):
        m.quantize("int8", calibration=np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="calibration"):
        m.quantize("int8", input_scale="calibrated")


def test_cli_quantize(tmp_path):
    m = gru_infer.from_torch(torch_gru(10, 32, seed=9))
    src, out, cal = tmp_path / "m.gru", tmp_path / "q.gru", tmp_path / "cal.npy"
    m.save(src)
    np.save(cal, np.random.default_rng(0).standard_normal((2, 100, 10)).astype(np.float32))
    r = subprocess.run([sys.executable, "-m", "gru_infer.cli", "quantize", str(src), "--to", "int8",
                        "--calibration", str(cal), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "file size:" in r.stdout and "error vs fp32 on calibration data" in r.stdout and "latency" in r.stdout
    assert gru_infer.load(out).weight_format == "int8"
    info = subprocess.run([sys.executable, "-m", "gru_infer.cli", "info", str(out)], capture_output=True, text=True)
    assert "weight format: int8" in info.stdout


def _rehash(data: bytearray) -> bytes:
    h = 0xCBF29CE484222325
    for b in bytes(data[64:]):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    data[48:56] = h.to_bytes(8, "little")
    return bytes(data)


def test_tampered_int8_files_are_refused(tmp_path):
    q = gru_infer.from_torch(torch_gru(3, 5, seed=1)).quantize("int8")
    good = bytearray(q.to_bytes())
    core = gru_infer._core.Model
    core.from_bytes(_rehash(bytearray(good)))  # the rehash itself keeps a file valid
    data_offset = int.from_bytes(good[32:40], "little")
    # the first tensor is W's int8 weights: a -128, then a weight that no longer matches its row sum
    for value, message in ((0x80, "-128"), (0x05, "row sums")):
        bad = bytearray(good)
        bad[data_offset] = value
        with pytest.raises(gru_infer.ModelFormatError, match=message):
            core.from_bytes(_rehash(bad))
    meta = bytes(good[64:data_offset])
    at = 64 + meta.index((2).to_bytes(4, "little") + (3).to_bytes(4, "little"))  # storage 2, format int8
    bad = bytearray(good)
    bad[at + 4:at + 8] = (9).to_bytes(4, "little")
    with pytest.raises(gru_infer.ModelFormatError, match="weight format 9"):
        core.from_bytes(_rehash(bad))


def test_bf16_files_with_denormal_weights_are_refused():
    # our packer flushes bf16 denormals; vdpbf16ps would read one as zero and the other ISAs would not
    good = bytearray(gru_infer.from_torch(torch_gru(3, 5, seed=1)).quantize("bf16").to_bytes())
    core = gru_infer._core.Model
    data_offset = int.from_bytes(good[32:40], "little")
    for bits, ok in ((0x0001, False), (0x807F, False), (0x0080, True), (0x8000, True)):  # the first tensor: W's bf16
        bad = bytearray(good)
        bad[data_offset:data_offset + 2] = bits.to_bytes(2, "little")
        if ok:
            core.from_bytes(_rehash(bad))
        else:
            with pytest.raises(gru_infer.ModelFormatError, match="GRU W: bf16 weight is a denormal"):
                core.from_bytes(_rehash(bad))


def test_id_models_calibrate_on_ids():
    from gru_infer import layers as L
    rng = np.random.default_rng(0)
    gru = gru_infer.from_torch(torch_gru(6, 16, seed=5)).layers
    table = rng.standard_normal((20, 6)).astype(np.float32)
    m = gru_infer.Model.from_layers([L.Embedding(table)] + gru)
    ids = rng.integers(0, 20, (2, 50))
    q = m.quantize("int8", calibration=ids)
    rep = q.info["quantization"]
    assert [d["weight_format"] for d in rep["layers"]] == ["none", "int8"]
    assert rep["layers"][1]["input_scale"] == pytest.approx(np.abs(table[ids]).max() / 127, rel=1e-6)
    assert rep["error_vs_fp32"]["max_abs"] <= BOUND["int8"]
    assert "ids uniform" in m.quantize("fp16").info["quantization"]["error_vs_fp32"]["on"]["distribution"]


def test_quantize_keeps_the_fast_activations_default():
    torch.manual_seed(3)
    base = gru_infer.from_torch(torch.nn.GRU(4, 16, batch_first=True).eval())
    q = base.with_options(fast_activations=True).quantize("fp16")
    assert q.fast_activations
    x = np.random.default_rng(3).standard_normal((2, 9, 4)).astype(np.float32)
    exact = base.quantize("fp16")
    assert not exact.fast_activations
    # the default decides predict: the fast model equals an exact one asked for fast activations
    assert np.array_equal(q.predict(x), exact.predict(x, fast_activations=True))
    assert not np.array_equal(q.predict(x), exact.predict(x))


@pytest.mark.parametrize("isa", gru_infer.available_isas())
@pytest.mark.parametrize("kind", ["fp16", "bf16", "int8"])
def test_small_layers_compute_in_fp32_where_faster(kind, isa, restore_isa):
    """A GRU of 8 units runs the fp32 kernels on its dequantized weights on every vector ISA (its
    format's kernels are slower there; docs/quantization.md), the scalar reference keeps the
    format's arithmetic: the report says which, the file keeps the format, the results are within
    the format's bound of PyTorch and, on the vector ISAs, an fp32 model's on the dequantized
    weights bit for bit."""
    gru_infer.set_isa(isa)
    g = torch_gru(3, 8, seed=8)
    m = gru_infer.from_torch(g)
    q = m.quantize(kind)
    entry = q.info["quantization"]["layers"][0]
    assert entry["weight_format"] == kind and q.weight_format == kind
    x = np.random.default_rng(3).standard_normal((2, 50, 3)).astype(np.float32)
    yq = q.predict(x)
    assert np.abs(yq - torch_out(g, x)[0]).max() <= BOUND[kind]
    dequantized = gru_infer.Model.from_layers(q.layers)  # fp32 layers with the weights q computes with
    assert dequantized.weight_format == "fp32"
    if isa == "scalar":
        assert "computes_in" not in entry
    else:
        assert entry["computes_in"].startswith("fp32")
        np.testing.assert_array_equal(yq, dequantized.predict(x))
    back = gru_infer.Model(gru_infer._core.Model.from_bytes(q.to_bytes()))
    assert back.weight_format == kind and back.to_bytes() == q.to_bytes()
    np.testing.assert_array_equal(back.predict(x), yq)
