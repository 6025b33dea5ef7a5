"""PyTorch files read without torch (gru_infer.importers._torch_zip) and the state_dict importer.

Every tensor read is compared with torch.load / torch.jit.load bit for bit; every imported model
is compared with the torch module's own output. Hostile files must raise ValueError without
running anything (a marker file must not appear).
"""
import builtins
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from helpers import assert_matches, model_of
from torch import nn

import gru_infer
from gru_infer import UnsupportedModelError
from gru_infer.importers._state_dict import layers_from_state_dict
from gru_infer.importers._torch_zip import read_torch_zip, read_torch_zip_with_kind
from gru_infer.importers.torch_file import load_torch_file

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")


def assert_bit_equal(arr: np.ndarray, ref: torch.Tensor, key: str):
    """`arr` holds exactly `ref`'s bits; bfloat16 is compared after torch's own exact widening."""
    ref_np = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    assert arr.dtype == ref_np.dtype, f"{key}: dtype {arr.dtype} != {ref_np.dtype}"
    assert arr.shape == ref_np.shape, f"{key}: shape {arr.shape} != {ref_np.shape}"
    assert arr.tobytes() == np.ascontiguousarray(ref_np).tobytes(), f"{key}: values differ"


def assert_same_tensors(tensors: dict, ref: dict):
    assert list(tensors) == list(ref)
    for key, t in ref.items():
        assert_bit_equal(tensors[key], t, key)


# ---------------------------------------------------------------------------------------------
# Modules used in whole-model files (module level, so that torch.save can pickle them)

class GRUWithHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 6, num_layers=2, batch_first=True)
        self.head = nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 2))

    def forward(self, x):
        return self.head(self.gru(x)[0])


class TwoGRUs(nn.Module):
    """Like RTNeural's gru_torch.py: gru -> gru2 -> dense on every step."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, 8, batch_first=True)
        self.gru2 = nn.GRU(8, 5, num_layers=3, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(10, 1)

    def forward(self, x):
        return self.dense(self.gru2(self.gru(x)[0])[0])


# ---------------------------------------------------------------------------------------------
# Tensors bit for bit against torch.load

@pytest.mark.parametrize("case", ["multi_layer_bidirectional", "no_bias", "float64", "float16", "bfloat16"])
def test_state_dict_tensors_match_torch_load(tmp_path, case):
    torch.manual_seed(1)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=case != "no_bias", bias=case != "no_bias")
    gru = {"float64": gru.double, "float16": gru.half, "bfloat16": gru.bfloat16}.get(case, lambda: gru)()
    path = tmp_path / "sd.pt"
    torch.save(gru.state_dict(), path)
    tensors, kind = read_torch_zip_with_kind(path)
    assert kind == "state_dict"
    assert_same_tensors(tensors, torch.load(path))


def test_shared_and_offset_storages_match_torch_load(tmp_path):
    torch.manual_seed(2)
    base = torch.randn(6, 8)
    bn = nn.BatchNorm1d(3)
    bn(torch.randn(4, 3))  # num_batches_tracked becomes 1 (a Long tensor)
    sd = OrderedDict(full=base, rows=base[2:5], cols=base[:, 1::3], transposed=base.t(), scalar=base[1, 2],
                     empty=base[:0], ints=torch.arange(5, dtype=torch.int32), **bn.state_dict())
    path = tmp_path / "views.pt"
    torch.save(sd, path)
    with zipfile.ZipFile(path) as z:  # the views really share base's storage in the file
        assert sum("/data/" in n for n in z.namelist()) == 1 + 1 + len(bn.state_dict())
    assert_same_tensors(read_torch_zip(path), torch.load(path))


def test_big_endian_archive_matches_torch_load(tmp_path):
    torch.manual_seed(3)
    sd = OrderedDict(w32=torch.randn(3, 4), w64=torch.randn(5).double(), wbf16=torch.randn(2, 3).bfloat16(),
                     w16=torch.randn(4).half(), n=torch.tensor(12345678901))
    little = tmp_path / "little.pt"
    torch.save(sd, little)
    big = tmp_path / "big.pt"
    itemsize = {str(i): t.element_size() for i, t in enumerate(sd.values())}  # storage keys 0.. in order
    with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in name:
                data = np.frombuffer(data, f"u{itemsize[name.rsplit('/', 1)[1]]}").byteswap().tobytes()
            dst.writestr(name, data)
    ref = torch.load(big)  # torch itself honours the byteorder record
    for key, t in sd.items():
        assert torch.equal(ref[key], t)
    assert_same_tensors(read_torch_zip(big), ref)


def test_whole_model_file(tmp_path, errors):
    torch.manual_seed(4)
    model = GRUWithHead().eval()
    path = tmp_path / "model.pt"
    torch.save(model, path)
    tensors, kind = read_torch_zip_with_kind(path)
    assert kind == "module"
    assert_same_tensors(tensors, model.state_dict())

    layers, info = load_torch_file(path)
    assert info["saved"] == "module" and info["modules"] == [("gru.", "GRU"), ("head.0.", "Linear"),
                                                             ("head.1.", "Linear")]
    x = torch.randn(3, 7, 3)
    with torch.no_grad():
        ref = model(x).numpy()
    assert_matches(errors, "torch file: whole model (torch.save(model))", (layers, info), x.numpy(), ref, tmp_path)


def test_torchscript_file(tmp_path, errors):
    torch.manual_seed(5)
    model = TwoGRUs().eval()
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(model), path)
    tensors, kind = read_torch_zip_with_kind(path)
    assert kind == "torchscript"
    assert_same_tensors(tensors, torch.jit.load(path).state_dict())

    layers, info = load_torch_file(path, head="every_step")  # the module's fc(out) after a bidirectional GRU
    assert info["modules"] == [("gru.", "GRU"), ("gru2.", "GRU"), ("dense.", "Linear")]
    x = torch.randn(2, 9, 1)
    with torch.no_grad():
        ref = model(x).numpy()
    assert_matches(errors, "torch file: TorchScript (torch.jit.save)", (layers, info), x.numpy(), ref, tmp_path)


def test_state_dict_file_with_linear_head_and_several_grus(tmp_path, errors):
    torch.manual_seed(6)
    model = TwoGRUs().eval()
    path = tmp_path / "sd.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(UnsupportedModelError, match="bidirectional GRU 'gru2.' .* Linear 'dense.' with 10 inputs"):
        load_torch_file(path)
    layers, info = load_torch_file(path, head="every_step")  # the module's fc(out)
    assert info["saved"] == "state_dict" and info["batch_first"] is None and info["head"].startswith("every_step")
    assert any("activation" in a for a in info["assumed"]) and any("key" in a for a in info["assumed"])
    x = torch.randn(4, 11, 1)
    with torch.no_grad():
        ref = model(x).numpy()
    assert_matches(errors, "torch file: state_dict GRU -> GRU -> Linear", (layers, info), x.numpy(), ref, tmp_path)


def test_legacy_non_zip_file(tmp_path, errors):
    torch.manual_seed(7)
    gru = nn.GRU(2, 3, batch_first=True)
    path = tmp_path / "legacy.pt"
    torch.save(gru.state_dict(), path, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(path)
    layers, info = load_torch_file(path)
    assert info["saved"] == "legacy_state_dict"
    x = torch.randn(2, 5, 2)
    with torch.no_grad():
        errors.check("torch file: legacy format", model_of(layers, info).predict(x.numpy()), gru(x)[0].numpy(), TOL)


def test_reading_needs_no_torch(tmp_path):
    torch.manual_seed(8)
    model = GRUWithHead().eval()
    torch.save(model, tmp_path / "model.pt")
    torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    x = torch.randn(1, 4, 3)
    with torch.no_grad():
        np.save(tmp_path / "ref.npy", model(x).numpy())
    np.save(tmp_path / "x.npy", x.numpy())
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any `import torch` now fails
        import numpy as np, pathlib, pytest
        import gru_infer
        from gru_infer.importers.torch_file import load_torch_file
        d = pathlib.Path({str(tmp_path)!r})
        x, ref = np.load(d / "x.npy"), np.load(d / "ref.npy")
        for name in ("model.pt", "scripted.pt", "legacy.pt"):  # legacy: a state_dict, the head on every step
            layers, info = load_torch_file(d / name)
            y = gru_infer.Model.from_layers(layers, source=info["source"]).predict(x)
            assert np.max(np.abs(y - ref)) <= 1e-5, name
        assert info["saved"] == "legacy_state_dict"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------------------------------------
# Hostile and broken files

class Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def evil_payloads(marker):
    return [
        (os.system, (f"touch {marker}",), r"refusing to load: the file references (posix|os|nt)\.system"),
        (builtins.exec, (f"open({str(marker)!r}, 'w')",), r"refusing to load: the file references builtins\.exec"),
        (subprocess.call, (["touch", str(marker)],), r"refusing to load: the file references subprocess\.call"),
        (subprocess.Popen, (["touch", str(marker)],), r"refusing to load: the file references subprocess\.Popen"),
    ]


def torch_zip_with_pickle(path, tmp_path, data_pkl: bytes):
    """A genuine torch.save archive whose data.pkl is replaced by `data_pkl`."""
    torch.save(nn.GRU(1, 2).state_dict(), tmp_path / "base.pt")
    with zipfile.ZipFile(tmp_path / "base.pt") as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, data_pkl if name.endswith("/data.pkl") else src.read(name))


@pytest.mark.parametrize("payload", range(4))
def test_hostile_pickles_are_refused_and_run_nothing(tmp_path, payload):
    marker = tmp_path / "marker"
    fn, args, message = evil_payloads(marker)[payload]
    bare = pickle.dumps(Evil(fn, args), protocol=2)
    nested = pickle.dumps(OrderedDict(weight_ih_l0=Evil(fn, args)), protocol=2)
    for i, data in enumerate([bare, nested]):
        path = tmp_path / f"evil{i}.pt"
        torch_zip_with_pickle(path, tmp_path, data)
        for read in (read_torch_zip, load_torch_file):
            with pytest.raises(ValueError, match=message):
                read(path)
    bare_path = tmp_path / "evil.pkl"
    bare_path.write_bytes(bare)
    with pytest.raises(ValueError, match="not a readable PyTorch zip archive"):
        read_torch_zip(bare_path)
    with pytest.raises(ValueError, match="is not a model file gru_infer reads: a pickle, but neither a torch.save zip"):
        load_torch_file(bare_path)
    legacy_path = tmp_path / "evil_legacy.pt"  # legacy format: the same restricted unpickler
    torch.save(Evil(fn, args), legacy_path, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=message):
        load_torch_file(legacy_path)
    assert not marker.exists()


def test_module_classes_are_inert_stand_ins(tmp_path):
    # How pickle recreates an object: NEWOBJ (cls.__new__, no call) then BUILD with its attributes.
    # For subprocess.Popen this must give an inert stand-in, not a process.
    popen = b"\x80\x02csubprocess\nPopen\n)\x81}X\x04\x00\x00\x00argsX\x02\x00\x00\x00lssb."
    path = tmp_path / "popen.pt"
    torch_zip_with_pickle(path, tmp_path, popen)
    with pytest.raises(ValueError, match="the saved module subprocess.Popen holds no tensors"):
        read_torch_zip(path)


def _int(v):
    return b"J" + int(v).to_bytes(4, "little", signed=True)  # BININT


def _tuple(vals):
    return b"(" + b"".join(_int(v) for v in vals) + b"t"  # MARK ... TUPLE


def handmade_state_dict_pickle(offset, size, stride, numel, storage=b"FloatStorage"):
    """The pickle of {'w': _rebuild_tensor_v2(storage '0', offset, size, stride)}, written opcode by opcode."""
    ordered_dict = b"ccollections\nOrderedDict\n)R"  # GLOBAL, EMPTY_TUPLE, REDUCE
    storage_id = (b"(X\x07\x00\x00\x00storagectorch\n" + storage + b"\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu"
                  + _int(numel) + b"tQ")  # ('storage', torch.<storage>, '0', 'cpu', numel) BINPERSID
    return (b"\x80\x02" + ordered_dict + b"X\x01\x00\x00\x00w" + b"ctorch._utils\n_rebuild_tensor_v2\n("
            + storage_id + _int(offset) + _tuple(size) + _tuple(stride) + b"\x89" + ordered_dict + b"tRs.")


def test_handmade_archives(tmp_path):
    values = np.arange(12, dtype=np.float32)

    def archive(name, pkl, data=values.tobytes()):  # noqa: B008  (evaluated once, on purpose)
        path = tmp_path / f"{name}.pt"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a/data.pkl", pkl)
            z.writestr("a/byteorder", "little")
            z.writestr("a/version", "3\n")
            z.writestr("a/data/0", data)
        return path

    good = archive("good", handmade_state_dict_pickle(1, (2, 3), (4, 2), 12))
    ref = torch.load(good)  # the hand-made pickle is a valid torch file
    assert torch.equal(ref["w"], torch.tensor([[1., 3., 5.], [5., 7., 9.]]))
    assert_same_tensors(read_torch_zip(good), ref)

    cases = {
        "past_the_end": (handmade_state_dict_pickle(1, (2, 3), (7, 2), 12), r"reaches element 12 of a storage of 12"),
        "negative": (handmade_state_dict_pickle(-1, (2,), (1,), 12), "negative offset"),
        "short_record": (handmade_state_dict_pickle(0, (2,), (1,), 13), "holds 48 bytes; torch.FloatStorage of 13"),
        "storage_type": (handmade_state_dict_pickle(0, (2,), (1,), 12, b"ComplexFloatStorage"),
                         r"unsupported storage type torch\.ComplexFloatStorage"),
    }
    for name, (pkl, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            read_torch_zip(archive(name, pkl))
    with pytest.raises(ValueError, match="has no record 'a/data/0'"):
        path = tmp_path / "missing.pt"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a/data.pkl", handmade_state_dict_pickle(0, (2,), (1,), 12))
        read_torch_zip(path)
    with pytest.raises(ValueError, match="corrupt pickle"):
        read_torch_zip(archive("cut_pickle", handmade_state_dict_pickle(0, (2,), (1,), 12)[:-20]))

    tricks = {  # pickles that try to reach code in other ways than a REDUCE of a function
        "getattr": (b"\x80\x02cbuiltins\ngetattr\n.", r"references builtins\.getattr"),
        "build_on_allowed_function": (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00\x00__defaults__"
                                      b")s\x86b.", "the pickle modifies _rebuild_tensor_v2"),
        "call_torchscript_class": (b"\x80\x02c__torch__\nos\n(X\x02\x00\x00\x00lstR.",
                                   r"references __torch__\.os and calls it"),
        "deep_nesting": (b"\x80\x02" + b"c__torch__\nM\n)\x81}X\x01\x00\x00\x00m" * 300 + b"N" + b"sb" * 300 + b".",
                         "nested more than 100 deep"),
    }
    for name, (pkl, message) in tricks.items():
        with pytest.raises(ValueError, match=message):
            read_torch_zip(archive(name, pkl))


def test_truncated_and_foreign_files(tmp_path):
    torch.save(TwoGRUs().state_dict(), tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    for n in (len(data) // 2, len(data) - 10, 30):
        path = tmp_path / f"cut{n}.pt"
        path.write_bytes(data[:n])
        for read in (read_torch_zip, load_torch_file):
            with pytest.raises(ValueError, match="not a readable PyTorch zip archive"):
                read(path)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="expected one '<name>/data.pkl' record"):
        read_torch_zip(other)
    torch.save({"model": TwoGRUs().state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"non-tensor entries \['epoch', 'model'\]"):
        read_torch_zip(tmp_path / "checkpoint.pt")
    with pytest.raises(FileNotFoundError):
        read_torch_zip(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------------------------
# layers_from_state_dict: what chains and what does not

def test_state_dict_orders_and_errors():
    torch.manual_seed(9)
    sd = TwoGRUs().state_dict()
    layers, info = layers_from_state_dict(sd, head="every_step")
    assert [type(layer).__name__ for layer in layers] == ["GRU", "GRU", "GRU", "GRU", "Dense"]

    head_first = OrderedDict([(k, v) for k, v in sd.items() if k.startswith("dense.")] +
                             [(k, v) for k, v in sd.items() if not k.startswith("dense.")])
    with pytest.raises(ValueError, match=r"only GRU modules followed by Linear.*gru_infer\.from_torch\(module\)"):
        layers_from_state_dict(head_first)

    gru2_first = OrderedDict(sorted(sd.items(), key=lambda kv: not kv[0].startswith("gru2.")))
    with pytest.raises(ValueError, match=r"several GRU modules.*'gru\.' has GRU input size 1, but GRU 'gru2\.' "
                                         r"before it outputs 10.*from_torch"):
        layers_from_state_dict(gru2_first)
    # module_order="shapes" finds the only order that chains
    layers2, info2 = layers_from_state_dict(head_first, module_order="shapes", head="every_step")
    assert info2["modules"] == info["modules"]
    for a, b in zip(layers, layers2):
        assert type(a) is type(b)

    bad_head = OrderedDict(sd, **{"dense.weight": torch.zeros(1, 7)})
    with pytest.raises(ValueError, match=r"Linear 'dense\.' has Linear input size.* 7, but GRU 'gru2\.' before it "
                                         r"outputs 10"):
        layers_from_state_dict(bad_head)

    conv = OrderedDict(sd, **{"conv.weight": torch.zeros(2, 10, 3)})
    with pytest.raises(ValueError, match=r"neither GRU nor Linear weights: \['conv\.weight'\].*from_torch"):
        layers_from_state_dict(conv)

    same = {f"{p}.{k}": v for p in ("a", "b") for k, v in nn.GRU(4, 4).state_dict().items()}
    with pytest.raises(ValueError, match=r"several orders"):
        layers_from_state_dict(same, module_order="shapes")


class BiGRUHead(nn.Module):
    """A bidirectional GRU and a Linear on 2H inputs, with one of the two usual heads."""

    def __init__(self, head):
        super().__init__()
        self.head = head
        self.gru = nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, x):
        out, h_n = self.gru(x)
        if self.head == "last_output":
            return self.fc(out[:, -1])
        return self.fc(torch.cat((h_n[-2], h_n[-1]), dim=1))


def test_bidirectional_state_dict_head_must_be_chosen(tmp_path):
    """Issue 26 item 12: out[:, -1] and cat(h_n[-2], h_n[-1]) differ after a bidirectional GRU."""
    torch.manual_seed(12)
    path = tmp_path / "bi.pt"
    torch.save(BiGRUHead("last_output").state_dict(), path)
    with pytest.raises(UnsupportedModelError, match=r"bi\.pt: .*bidirectional GRU 'gru\.' \(hidden size 5\) followed "
                                                    r"by Linear 'fc\.' with 10 inputs.*head=.*'last_output' for "
                                                    r"fc\(out\[:, -1\]\).*'final_states'.*from_torch"):
        gru_infer.load(path)
    with pytest.raises(ValueError, match="head must be one of"):
        gru_infer.load(path, head="last")
    gru_infer.load(path, head="final_states").save(tmp_path / "m.gru")
    with pytest.raises(ValueError, match=r"head= is for PyTorch state_dicts .* this is a native file"):
        gru_infer.load(tmp_path / "m.gru", head="final_states")


@pytest.mark.parametrize("head", ["last_output", "final_states"])
@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_bidirectional_state_dict_heads_match_torch(head, fmt, tmp_path, errors):
    torch.manual_seed(13)
    module = BiGRUHead(head).eval()
    path = tmp_path / f"bi.{fmt}"
    if fmt == "pt":
        torch.save(module.state_dict(), path)
    else:
        from safetensors.torch import save_file
        save_file(module.state_dict(), path)
    x = torch.randn(4, 9, 3)
    with torch.no_grad():
        ref = module(x).numpy()
        other = BiGRUHead({"last_output": "final_states", "final_states": "last_output"}[head])
        other.load_state_dict(module.state_dict())
        assert np.abs(other(x).numpy() - ref).max() > 1e-2  # the heads differ: the choice matters
    m = gru_infer.load(path, head=head)
    assert m.info["head"].startswith(head) and not any("every time step" in a for a in m.info["assumed"]), m.info
    errors.check(f"state_dict bidirectional GRU -> Linear, head={head} vs torch", m.predict(x.numpy()), ref,
                 1e-5 * max(1.0, float(np.abs(ref).max())))
