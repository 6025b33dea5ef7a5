"""Native file: save/load is bit-exact, files are stable, corrupt or hostile files raise ValueError.

Torch-built models are checked against torch in test_parity_torch.py; here the reference for a
round trip is the model before saving (outputs must be identical, not close). The lbr=False
(Cho et al.) model has no torch equivalent, so it is checked against a float64 NumPy loop
written below from the equations in gru_infer/layers.py.
"""
import dataclasses
import inspect
import os
import pickle
import shlex
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import gru_infer
from gru_infer import layers as L

HEADER = 64


# ---------------------------------------------------------------------------------------------
# Models

class BiStackHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 12, num_layers=2, bidirectional=True, batch_first=True)
        self.fc1 = nn.Linear(24, 7)
        self.fc2 = nn.Linear(7, 3)

    def forward(self, x):
        out, _ = self.gru(x)
        return torch.log_softmax(self.fc2(torch.relu(self.fc1(out))), dim=-1)


class EmbeddingModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(40, 6)
        self.gru = nn.GRU(6, 9, num_layers=2, batch_first=True)
        self.fc = nn.Linear(9, 4)

    def forward(self, ids):
        _, h = self.gru(self.emb(ids))
        return torch.sigmoid(self.fc(h[-1]))


def _w(rng, *shape, scale=0.5):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def _direction(rng, I, H):
    s = 1.5 / np.sqrt(H)
    return L.GRUDirection(_w(rng, 3 * H, I, scale=s), _w(rng, 3 * H, H, scale=s), _w(rng, 3 * H, scale=s),
                          _w(rng, 3 * H, scale=s))


def cho_layers(seed=0):
    """Two lbr=False GRU layers (bidirectional, then forward) and a Dense head."""
    rng = np.random.default_rng(seed)
    I, H1, H2, O = 4, 6, 5, 3
    return [
        L.GRU(I, H1, [_direction(rng, I, H1), _direction(rng, I, H1)], direction="bidirectional",
              linear_before_reset=False),
        L.GRU(2 * H1, H2, [_direction(rng, 2 * H1, H2)], linear_before_reset=False),
        L.Dense(_w(rng, O, H2), _w(rng, O)),
    ]


def final_state_layers(seed=1):
    """GRU with return_sequences=False (bidirectional, sum merge), then Dense + softmax."""
    rng = np.random.default_rng(seed)
    return [L.GRU(3, 8, [_direction(rng, 3, 8), _direction(rng, 3, 8)], direction="bidirectional",
                  merge_mode="sum", return_sequences=False),
            L.Dense(_w(rng, 5, 8), _w(rng, 5)), L.ActivationLayer(L.Activation("softmax"))]


def exotic_layers(seed=2):
    """Every serialised field away from its default: reverse direction, clip, activation parameters,
    Keras processing order, no bias, LastStep, parameterised activations."""
    rng = np.random.default_rng(seed)
    d = _direction(rng, 4, 7)
    d = L.GRUDirection(d.W, d.R, np.zeros(21, np.float32), np.zeros(21, np.float32))
    return [L.GRU(4, 7, [d], direction="reverse", has_bias=False,
                  gate_activation=L.Activation("hard_sigmoid", 0.2, 0.5),
                  candidate_activation=L.Activation("scaled_tanh", 1.5, 0.7), clip=2.5,
                  reverse_output_in_processing_order=True),
            L.ActivationLayer(L.Activation("leaky_relu", 0.125)),
            L.LastStep(),
            L.Dense(_w(rng, 2, 7))]


def skip_affine_layers(seed=3):
    """InputSkip from the model input, Affine, and the activations added with them."""
    rng = np.random.default_rng(seed)
    return [L.Affine(_w(rng, 3), _w(rng, 3)), L.GRU(3, 5, [_direction(rng, 3, 5)]), L.Dense(_w(rng, 2, 5), _w(rng, 2)),
            L.InputSkip(1), L.ActivationLayer(L.Activation("clip", -0.5, 0.75)),
            L.ActivationLayer(L.Activation("celu", 0.3)), L.ActivationLayer(L.Activation("gelu"))]


def build_models():
    torch.manual_seed(0)
    return {
        "bidirectional_stack_heads": gru_infer.from_torch(BiStackHeads().eval()),
        "embedding": gru_infer.from_torch(EmbeddingModel().eval()),
        "gru_final_state": gru_infer.Model.from_layers(final_state_layers(), source="test: final state"),
        "cho_lbr_false": gru_infer.Model.from_layers(cho_layers(), source="test: cho"),
        "exotic": gru_infer.Model.from_layers(exotic_layers(), source="ünïcödé source ✓"),
        "skip_affine": gru_infer.Model.from_layers(skip_affine_layers(), source="test: skip + affine"),
    }


MODELS = build_models()
NAMES = list(MODELS)


def inputs_for(model, rng, B=3, T=11):
    if model.takes_ids:
        return rng.integers(0, 40, size=(B, T))
    return rng.standard_normal((B, T, model.input_size), dtype=np.float32)


def states_equal(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(np.array_equal(x, y) for x, y in zip(a, b)))
    return np.array_equal(a, b)


def random_state(model, B, rng):
    shape = model.state_shape(B)
    if isinstance(shape, tuple):
        return rng.standard_normal(shape).astype(np.float32)
    return tuple(rng.standard_normal(s).astype(np.float32) for s in shape)


def _f32(v):
    return np.float32(v).tobytes()


def assert_layers_identical(a, b):
    """Same layers, same weights bit for bit, same settings (scalars compared as the float32 stored)."""
    assert len(a) == len(b)
    for la, lb in zip(a, b):
        assert type(la) is type(lb)
        for f in dataclasses.fields(la):
            va, vb = getattr(la, f.name), getattr(lb, f.name)
            if f.name == "directions":
                assert len(va) == len(vb)
                for da, db in zip(va, vb):
                    for name in ("W", "R", "bW", "bR"):
                        x, y = getattr(da, name), getattr(db, name)
                        assert x.dtype == y.dtype == np.float32 and np.array_equal(x, y), name
            elif isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
                assert va.dtype == vb.dtype and np.array_equal(va, vb), f.name
            elif isinstance(va, L.Activation):
                assert (va.kind, _f32(va.alpha), _f32(va.beta)) == (vb.kind, _f32(vb.alpha), _f32(vb.beta)), f.name
            elif isinstance(va, float):
                assert _f32(va) == _f32(vb), (f.name, va, vb)
            else:
                assert va == vb, (f.name, va, vb)


# ---------------------------------------------------------------------------------------------
# Round trips

@pytest.mark.parametrize("name", NAMES)
def test_save_load_is_bit_exact(name, tmp_path):
    model = MODELS[name]
    path = tmp_path / f"{name}.gru"
    model.save(path)
    loaded = gru_infer.load(path)
    assert (loaded.input_size, loaded.output_size, loaded.takes_ids, loaded.num_parameters, loaded.source) == \
        (model.input_size, model.output_size, model.takes_ids, model.num_parameters, model.source)
    assert repr(loaded) == repr(model)
    assert_layers_identical(loaded.layers, model.layers)

    rng = np.random.default_rng(5)
    x = inputs_for(model, rng)
    y0, h0 = model.predict(x, return_state=True)
    y1, h1 = loaded.predict(x, return_state=True)
    assert np.array_equal(y0, y1) and states_equal(h0, h1)
    # with an initial state and lengths too
    h_init = random_state(model, 3, rng)
    lengths = np.array([11, 4, 1])
    a = model.predict(x, h0=h_init, lengths=lengths, return_state=True)
    b = loaded.predict(x, h0=h_init, lengths=lengths, return_state=True)
    assert np.array_equal(a[0], b[0]) and states_equal(a[1], b[1])


def test_from_layers_keeps_the_given_weights():
    """Model.layers returns what from_layers was given (validated to float32), before any file."""
    for make in (cho_layers, final_state_layers, exotic_layers):
        given = L.validated_layers(make())
        assert_layers_identical(gru_infer.Model.from_layers(given).layers, given)


@pytest.mark.parametrize("name", NAMES)
def test_bytes_stable_through_save_load_save(name, tmp_path):
    model = MODELS[name]
    p1, p2 = tmp_path / "a.gru", tmp_path / "b.gru"
    model.save(p1)
    first = p1.read_bytes()
    assert first == model.to_bytes()
    assert first[:8] == b"GRUINFER" and struct.unpack_from("<I", first, 8)[0] == 2
    loaded = gru_infer.load(p1)
    loaded.save(str(p2))  # str and PathLike both accepted
    assert p2.read_bytes() == first
    assert loaded.to_bytes() == first
    assert gru_infer.Model.from_layers(loaded.layers, source=loaded.source).to_bytes() == first


def test_saving_is_deterministic():
    """Two builds of the same weights give the same bytes."""
    assert gru_infer.Model.from_layers(cho_layers(), "x").to_bytes() == \
        gru_infer.Model.from_layers(cho_layers(), "x").to_bytes()


# ---------------------------------------------------------------------------------------------
# lbr=False (Cho et al. 2014) against a float64 NumPy loop

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def cho_direction(d, x, reverse, lbr):
    """x: (B, T, I) float64. Gates z, r, n; W (3H, I), R (3H, H), bW, bR (3H,)."""
    W, R, bW, bR = (np.asarray(a, np.float64) for a in (d.W, d.R, d.bW, d.bR))
    H = R.shape[1]
    B, T, _ = x.shape
    h = np.zeros((B, H))
    out = np.zeros((B, T, H))
    for t in (reversed(range(T)) if reverse else range(T)):
        xw = x[:, t] @ W.T + bW
        z = _sigmoid(xw[:, :H] + h @ R[:H].T + bR[:H])
        r = _sigmoid(xw[:, H:2 * H] + h @ R[H:2 * H].T + bR[H:2 * H])
        if lbr:  # r * (R_n h + bR_n)
            n = np.tanh(xw[:, 2 * H:] + r * (h @ R[2 * H:].T + bR[2 * H:]))
        else:    # R_n (r * h) + bR_n
            n = np.tanh(xw[:, 2 * H:] + (r * h) @ R[2 * H:].T + bR[2 * H:])
        h = (1.0 - z) * n + z * h
        out[:, t] = h
    return out, h


def cho_reference(layers, x, lbr=False):
    x = np.asarray(x, np.float64)
    states = []
    for layer in layers:
        if isinstance(layer, L.GRU):
            res = [cho_direction(d, x, i == 1, lbr) for i, d in enumerate(layer.directions)]
            x = np.concatenate([o for o, _ in res], axis=-1)
            states.extend(h for _, h in res)
        else:
            x = x @ np.asarray(layer.weight, np.float64).T + np.asarray(layer.bias, np.float64)
    return x, states


def test_lbr_false_matches_float64_cho_reference(errors, tmp_path):
    layers = cho_layers()
    model = MODELS["cho_lbr_false"]
    x = np.random.default_rng(8).standard_normal((4, 15, 4), dtype=np.float32)
    ref, ref_states = cho_reference(layers, x)
    y, state = model.predict(x, return_state=True)
    errors.check("lbr=False vs float64 Cho reference", y, ref, 1e-5)
    assert isinstance(state, tuple) and len(state) == 2
    errors.check("lbr=False vs float64 Cho reference", state[0], np.stack(ref_states[:2]), 1e-5)
    errors.check("lbr=False vs float64 Cho reference", state[1], ref_states[2][None], 1e-5)
    # the loaded copy gives the same, bit for bit
    model.save(tmp_path / "cho.gru")
    assert np.array_equal(gru_infer.load(tmp_path / "cho.gru").predict(x), y)
    # the flag matters: the same weights with lbr=True are a different function
    lbr_layers = [dataclasses.replace(l, linear_before_reset=True) if isinstance(l, L.GRU) else l for l in layers]
    y_lbr = gru_infer.Model.from_layers(lbr_layers).predict(x)
    errors.check("lbr=True vs float64 reference", y_lbr, cho_reference(layers, x, lbr=True)[0], 1e-5)
    assert np.max(np.abs(y_lbr - y)) > 1e-2


# ---------------------------------------------------------------------------------------------
# Corrupt files

def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def tiny_every_kind():
    """Small weights but every layer kind and a bidirectional GRU: short files, many fields."""
    rng = np.random.default_rng(3)
    return gru_infer.Model.from_layers([
        L.Embedding(_w(rng, 3, 2)),
        L.GRU(2, 2, [_direction(rng, 2, 2), _direction(rng, 2, 2)], direction="bidirectional"),
        L.LastStep(), L.Dense(_w(rng, 2, 4), _w(rng, 2)), L.ActivationLayer(L.Activation("softmax"))],
        source="tiny")


BASE = tiny_every_kind().to_bytes()
META_SIZE = struct.unpack_from("<Q", BASE, 24)[0]
DATA_OFFSET = struct.unpack_from("<Q", BASE, 32)[0]
CLEAR = (r"invalid model file|not a gru_infer model file|format version|is not a model file gru_infer reads")


@pytest.fixture
def fast_dir(tmp_path):
    """A RAM-backed directory where there is one (the loops below write a thousand small files)."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
            yield Path(d)
    else:
        yield tmp_path


def load_bytes(tmp_path, data: bytes, name="m.gru"):
    p = tmp_path / name
    p.write_bytes(data)
    return gru_infer.load(p)


def expect_format_error(tmp_path, data: bytes, match=CLEAR):
    with pytest.raises(ValueError, match=match) as info:
        load_bytes(tmp_path, data)
    return info.value


def test_format_error_is_a_value_error(tmp_path):
    assert issubclass(gru_infer.ModelFormatError, ValueError)
    err = expect_format_error(tmp_path, BASE[:-1])
    assert isinstance(err, gru_infer.ModelFormatError)


def test_checksum_layout_is_as_read():
    """The test's own FNV-1a of bytes 64.. equals the stored checksum (so the rewrites below are valid)."""
    assert struct.unpack_from("<Q", BASE, 48)[0] == _fnv1a64(BASE[HEADER:])
    assert HEADER < HEADER + META_SIZE <= DATA_OFFSET < len(BASE)


@pytest.mark.parametrize("cut", sorted({0, 1, 7, 8, 11, 12, 20, 47, 55, 63, 64, 65, HEADER + META_SIZE // 2,
                                        HEADER + META_SIZE, DATA_OFFSET - 1, DATA_OFFSET, DATA_OFFSET + 1,
                                        DATA_OFFSET + 100, len(BASE) - 4, len(BASE) - 1}))
def test_truncated_file(tmp_path, cut):
    expect_format_error(tmp_path, BASE[:cut])


def test_trailing_bytes(tmp_path):
    expect_format_error(tmp_path, BASE + b"\0" * 64, r"invalid model file")


def test_every_flipped_byte_is_rejected(fast_dir):
    """One bit flipped anywhere in the checked part of the file: header fields 0..55 and all of 64..
    (bytes 56..63 are covered by test_reserved_header_bytes_are_checked)."""
    accepted = []
    for i in [*range(0, 56), *range(HEADER, len(BASE))]:
        data = bytearray(BASE)
        data[i] ^= 0x10
        try:
            load_bytes(fast_dir, bytes(data))
            accepted.append(i)
        except ValueError as e:
            assert e.args and str(e), i
    assert accepted == []


def test_flipped_data_byte_message(tmp_path):
    data = bytearray(BASE)
    data[DATA_OFFSET + 5] ^= 0x01
    expect_format_error(tmp_path, bytes(data), r"checksum")


def test_reserved_header_bytes_are_checked(tmp_path):
    """Header bytes 56..63 are written as zero; a file where they are not has been altered."""
    assert BASE[56:64] == b"\0" * 8
    accepted = []
    for i in range(56, 64):
        data = bytearray(BASE)
        data[i] ^= 0x10
        try:
            load_bytes(tmp_path, bytes(data))
            accepted.append(i)
        except ValueError:
            pass
    assert accepted == [], f"altered reserved header bytes {accepted} were accepted"


@pytest.mark.parametrize("version", [0, 5, 7, 0xFFFFFFFF])
def test_wrong_version(tmp_path, version):
    data = bytearray(BASE)
    struct.pack_into("<I", data, 8, version)
    expect_format_error(tmp_path, bytes(data), rf"format version {version}\b.*reads versions 1 to 4")


def test_empty_file(tmp_path):
    expect_format_error(tmp_path, b"", r"is not a model file gru_infer reads")


@pytest.mark.parametrize("size", [1, 63, 64, 200, 5000])
def test_random_bytes(tmp_path, size):
    rng = np.random.default_rng(size)
    expect_format_error(tmp_path, rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    # also behind a valid magic, so the native reader itself sees it
    expect_format_error(tmp_path, b"GRUINFER" + rng.integers(0, 256, size, dtype=np.uint8).tobytes())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        gru_infer.load(tmp_path / "nope.gru")


def test_hostile_metadata_with_valid_checksum_never_crashes(fast_dir):
    """Each metadata byte overwritten (0x00/0xFF/0x80) and the checksum recomputed, so the structural
    checks are what is tested. Run in a subprocess so a crash is reported as a failure, not a dead
    test run. Every file must either raise ValueError or load and predict."""
    base = fast_dir / "base.gru"
    base.write_bytes(BASE)
    script = inspect.getsource(_fnv1a64) + textwrap.dedent(f"""
        import struct, sys, numpy as np, gru_infer
        base = open({str(base)!r}, "rb").read()
        path = {str(fast_dir / "mut.gru")!r}
        rejected = loaded = 0
        for i in range({HEADER}, {HEADER + META_SIZE}):
            for v in (0x00, 0xFF, 0x80):
                if base[i] == v:
                    continue
                d = bytearray(base); d[i] = v
                struct.pack_into("<Q", d, 48, _fnv1a64(bytes(d[{HEADER}:])))
                open(path, "wb").write(bytes(d))
                try:
                    m = gru_infer.load(path)
                except ValueError as e:
                    assert str(e), i
                    rejected += 1
                    continue
                x = np.ones((2, 3), np.int64) if m.takes_ids else np.zeros((2, 3, m.input_size), np.float32)
                try:
                    m.predict(x)
                except ValueError:
                    pass
                loaded += 1
        print(rejected, loaded)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    rejected, loaded = map(int, res.stdout.split())
    assert rejected > 0.5 * (rejected + loaded)


# ---------------------------------------------------------------------------------------------
# Pickles that try to run code

class RunsCode:
    """Unpickling this calls os.system(cmd)."""

    def __init__(self, marker):
        self.cmd = f"touch {shlex.quote(str(marker))}"

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_payload_is_live(tmp_path):
    """Positive control: the crafted payload really runs its command when unpickled."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(RunsCode(marker)))
    assert marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_raw_pickle_is_refused_without_running_it(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(RunsCode(marker), protocol=protocol))
    with pytest.raises(ValueError, match="is not a model file gru_infer reads"):
        gru_infer.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("wrap", ["bare", "in_state_dict", "legacy_format"])
def test_torch_zip_with_code_is_refused_without_running_it(tmp_path, wrap):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    obj = RunsCode(marker)
    if wrap == "bare":
        torch.save(obj, path)
    elif wrap == "in_state_dict":
        torch.save({"weight_ih_l0": obj, "weight_hh_l0": torch.zeros(6, 2)}, path)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    assert zipfile.is_zipfile(path) == (wrap != "legacy_format")
    assert not marker.exists()
    with pytest.raises(ValueError) as info:
        gru_infer.load(path)
    assert not marker.exists()
    assert "model.pt" in str(info.value)  # names the file it refuses
    # positive control: the same file does run code when loaded without weights_only
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_torch_zip_state_dict_loads(tmp_path, errors):
    """The accepted torch file (a plain GRU state_dict) through gru_infer.load, against torch."""
    torch.manual_seed(4)
    gru = nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True).eval()
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    model = gru_infer.load(tmp_path / "gru.pt")
    x = np.random.default_rng(4).standard_normal((2, 6, 3), dtype=np.float32)
    with torch.no_grad():
        ref = gru(torch.from_numpy(x))[0].numpy()
    errors.check("torch state_dict file via gru_infer.load", model.predict(x), ref, 1e-5)
    # and it converts to the native format losslessly
    model.save(tmp_path / "gru.gru")
    assert np.array_equal(gru_infer.load(tmp_path / "gru.gru").predict(x), model.predict(x))


def test_version_1_files_still_load():
    """The demo model shipped in the package is a version 1 file (plain GRU weights); it loads,
    and re-saved as version 2 (packed weights) it predicts bit-identically."""
    from gru_infer.demo import model_path
    data = open(model_path(), "rb").read()
    assert struct.unpack_from("<I", data, 8)[0] == 1
    v1 = gru_infer.load(model_path())
    v2 = gru_infer.Model(gru_infer._core.Model.from_bytes(v1.to_bytes()))
    assert struct.unpack_from("<I", v1.to_bytes(), 8)[0] == 2
    x = np.random.default_rng(1).standard_normal((2, 50, 1)).astype(np.float32)
    assert np.array_equal(v1.predict(x), v2.predict(x))
