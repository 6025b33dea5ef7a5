"""gru_infer.torch.accelerate: networks with GRUs inside, each against the ORIGINAL torch module on
the same inputs (|got - ref| <= 1e-5 * max(1, |ref|) element-wise), the nn.GRU / nn.GRUCell forward
contract (batch_first both ways, unbatched, PackedSequence, h_n layout), the refusals (training,
gradients, dtype, device, sizes, weights changed after accelerate) and quantize's error."""
import copy
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import gru_infer.torch as gt
from gru_infer.torch import AcceleratedGRU, AcceleratedGRUCell


def test_import_gru_infer_imports_neither_torch_nor_this_module():
    code = "import sys, gru_infer; assert not {'torch', 'gru_infer.torch'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def check(got, ref, what="output"):
    """Element-wise within 1e-5 x max(1, |ref|); tensors, tuples and PackedSequences alike."""
    if isinstance(ref, (tuple, list)):
        assert type(got) is type(ref) and len(got) == len(ref), what
        for i, (g, r) in enumerate(zip(got, ref)):
            check(g, r, f"{what}[{i}]")
        return
    assert isinstance(got, torch.Tensor), f"{what}: {type(got).__name__} is not a tensor"
    assert got.shape == ref.shape and got.dtype == ref.dtype, f"{what}: {got.shape} {got.dtype} vs {ref.shape}"
    if not ref.is_floating_point():
        assert torch.equal(got, ref), what
        return
    err = (got.double() - ref.double()).abs()
    bound = 1e-5 * ref.double().abs().clamp(min=1)
    assert bool((err <= bound).all()), f"{what}: max abs error {err.max().item():.3g}"


def compare(module, *args):
    """accelerate(module) against module itself on args; returns the accelerated copy."""
    fast = gt.accelerate(module)
    with torch.no_grad():
        check(fast(*args), module(*args))
    return fast


def accelerated(module):
    return [m for m in module.modules() if isinstance(m, (AcceleratedGRU, AcceleratedGRUCell))]


# ---------------------------------------------------------------------------------------------
# Networks with GRUs inside


class CRNN(nn.Module):
    """Conv1d front-end -> GRU -> Linear head on every step (x: (B, C, T))."""

    def __init__(self, channels=8, hidden=32, classes=5, bidirectional=False, layers=1):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(channels, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU())
        self.gru = nn.GRU(16, hidden, layers, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x):
        y, _ = self.gru(self.conv(x).transpose(1, 2))
        return self.head(y).log_softmax(-1)


class Skip(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 12)
        self.gru = nn.GRU(12, 12, batch_first=True)
        self.norm = nn.LayerNorm(12)

    def forward(self, x):
        h = self.proj(x)
        return self.norm(h + self.gru(h)[0])


class TwoGRUs(nn.Module):
    """GRU (seq-first) -> GELU, dropout, Linear, subsampling -> GRU (batch-first, 2 layers) -> last state."""

    def __init__(self):
        super().__init__()
        self.first = nn.GRU(5, 16)
        self.mid = nn.Sequential(nn.GELU(), nn.Dropout(0.3), nn.Linear(16, 10))
        self.second = nn.GRU(10, 8, num_layers=2, batch_first=True, dropout=0.5)

    def forward(self, x, h0):
        y, h = self.first(x.transpose(0, 1), h0)
        z = self.mid(y.transpose(0, 1))[:, ::2]
        out, h2 = self.second(z)
        return out[:, -1] * h[-1].sum(-1, keepdim=True), h2


class Attention(nn.Module):
    """Bidirectional GRU encoder, additive attention pooling, classifier."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(7, 12, batch_first=True, bidirectional=True)
        self.score = nn.Sequential(nn.Linear(24, 16), nn.Tanh(), nn.Linear(16, 1, bias=False))
        self.out = nn.Linear(24, 3)

    def forward(self, x):
        h, _ = self.gru(x)
        w = F.softmax(self.score(h), dim=1)
        return self.out((w * h).sum(1))


class Containers(nn.Module):
    """GRUs inside Sequential, ModuleList and ModuleDict, one of them used twice."""

    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(4, 6), nn.ModuleList([nn.GRU(6, 6, batch_first=True)]))
        shared = nn.GRU(6, 6, batch_first=True)
        self.blocks = nn.ModuleDict({"a": shared, "b": shared, "cell": nn.GRUCell(6, 3)})

    def forward(self, x):
        h = self.seq[1][0](self.seq[0](x))[0]
        h = self.blocks["b"](self.blocks["a"](h)[0])[0]
        return self.blocks["cell"](h[:, -1])


class CellLoop(nn.Module):
    """A GRUCell decoder loop feeding its own output back."""

    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(4, 10)
        self.emit = nn.Linear(10, 4)

    def forward(self, x0, h, steps=12):
        outs, x = [], x0
        for _ in range(steps):
            h = self.cell(x, h)
            x = torch.tanh(self.emit(h))
            outs.append(x)
        return torch.stack(outs, -2), h


def seeded(cls, *args, seed=0, **kw):
    torch.manual_seed(seed)
    return cls(*args, **kw).eval()


@pytest.mark.parametrize("bidirectional,layers", [(False, 1), (True, 1), (True, 2)])
def test_crnn(bidirectional, layers):
    net = seeded(CRNN, bidirectional=bidirectional, layers=layers)
    fast = compare(net, torch.randn(3, 8, 50))
    assert len(accelerated(fast)) == 1 and type(fast.conv[0]) is nn.Conv1d  # the rest is torch's
    with torch.no_grad():
        x = torch.randn(1, 8, 100)  # batch 1, T = 100: the benchmark's case
        check(fast(x), net(x))


def test_skip_connection():
    compare(seeded(Skip), torch.randn(2, 30, 6))


def test_two_grus_with_ops_between():
    fast = compare(seeded(TwoGRUs), torch.randn(3, 20, 5), torch.randn(1, 3, 16))
    assert len(accelerated(fast)) == 2


def test_attention_over_gru_outputs():
    compare(seeded(Attention), torch.randn(4, 25, 7))


def test_grus_inside_containers_and_shared():
    net = seeded(Containers)
    fast = compare(net, torch.randn(2, 9, 4))
    assert fast.blocks["a"] is fast.blocks["b"] and len(accelerated(fast)) == 3


def test_gru_cell_loop_batched_and_unbatched():
    net = seeded(CellLoop)
    fast = compare(net, torch.randn(3, 4), torch.randn(3, 10))
    with torch.no_grad():
        check(*[m(torch.full((4,), 0.3), torch.full((10,), -0.2)) for m in (fast, net)])  # unbatched
        x = torch.randn(5, 4)
        check(fast.cell(x), net.cell(x))  # hx=None: zeros
        check(fast.cell(x[0]), net.cell(x[0]))


def test_cell_from_several_threads():
    from concurrent.futures import ThreadPoolExecutor
    net = seeded(CellLoop)
    fast = gt.accelerate(net)
    inputs = [(torch.randn(2, 4), torch.randn(2, 10)) for _ in range(16)]
    def run(args):
        with torch.no_grad():  # grad mode is per thread
            return fast(*args, steps=50)

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(run, inputs))
    with torch.no_grad():
        for (x0, h), out in zip(inputs, got):
            check(out, net(x0, h, steps=50))


# ---------------------------------------------------------------------------------------------
# nn.GRU's contract


@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", [
    (1, False, True, True), (1, False, False, True), (3, False, False, True), (2, True, True, True),
    (2, True, False, False), (1, False, True, False),
])
def test_gru_contract(layers, bidirectional, batch_first, bias):
    gru = seeded(nn.GRU, 6, 9, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = torch.randn(4, 11, 6) if batch_first else torch.randn(11, 4, 6)
    h0 = torch.randn(layers * D, 4, 9)
    fast = compare(gru, x)
    compare(gru, x, h0)
    compare(gru, x[0] if not batch_first else x[:, 0], h0[:, 0])  # unbatched (T, F) with (L*D, H)
    compare(gru, torch.randn(7, 6))
    with torch.no_grad():
        y, h_n = fast(x)
    assert y.is_contiguous() and h_n.shape == (layers * D, 4, 9)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_sequence_in_and_out(enforce_sorted, bidirectional):
    gru = seeded(nn.GRU, 5, 8, 2, batch_first=True, bidirectional=bidirectional)
    lengths = [9, 7, 7, 2] if enforce_sorted else [3, 9, 1, 7]
    x = torch.randn(4, 9, 5)
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=enforce_sorted)
    h0 = torch.randn(2 * (2 if bidirectional else 1), 4, 8)
    fast = gt.accelerate(gru)
    with torch.no_grad():
        for args in ((packed,), (packed, h0)):
            (out, h_n), (ref, ref_h) = fast(*args), gru(*args)
            check(out.data, ref.data)
            check(h_n, ref_h)
            for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
                a, b = getattr(out, name), getattr(ref, name)
                assert (a is None and b is None) or torch.equal(a, b), name


def test_returned_tensors_share_nothing():
    gru = seeded(nn.GRU, 3, 4, batch_first=True)
    fast = gt.accelerate(gru)
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        y, h = fast(x)
        y_again, h_again = y.clone(), h.clone()
        y.add_(100), h.add_(100)  # the caller owns them
        check(fast(x), (y_again, h_again))
        check(fast(x), gru(x))
    y2, _ = fast(x)
    assert not y2.requires_grad and y2.grad_fn is None


def test_inference_mode_and_module_api():
    net = seeded(CRNN)
    fast = gt.accelerate(net)
    x = torch.randn(2, 8, 20)
    with torch.inference_mode():
        check(fast(x), net(x))
    assert fast.state_dict().keys() == net.state_dict().keys()
    assert isinstance(fast.gru, nn.GRU) and fast.gru.gru_infer_model.input_size == 16
    assert type(net.gru) is nn.GRU and net.gru.weight_ih_l0.requires_grad  # the original is untouched
    fast.gru.flatten_parameters()  # callers call it; a no-op on CPU
    with torch.no_grad():
        check(pickle.loads(pickle.dumps(fast))(x), net(x))  # the gru_infer Model pickles by value
        seen = []
        fast.gru.register_forward_hook(lambda m, args, out: seen.append(out[0].shape))
        fast(x)
        check(copy.deepcopy(fast)(x), net(x))
    assert seen == [(2, 20, 32)] * 2  # the copy keeps the hook


def test_hooks_of_the_original_are_kept_and_inplace():
    net = seeded(Skip)
    seen = []
    net.gru.register_forward_hook(lambda m, args, out: seen.append(type(m).__name__))
    same = gt.accelerate(net, inplace=True)
    assert same is net and type(net.gru) is AcceleratedGRU
    with torch.no_grad():
        net(torch.randn(1, 4, 6))
    assert seen == ["AcceleratedGRU"]
    top = seeded(nn.GRU, 2, 3)
    assert gt.accelerate(top, inplace=True) is top and type(top) is AcceleratedGRU


# ---------------------------------------------------------------------------------------------
# Refusals


def test_refuses_training_mode():
    net = seeded(CRNN).train()
    with pytest.raises(RuntimeError, match=r"gru is in training mode.*eval\(\)"):
        gt.accelerate(net)
    fast = gt.accelerate(net.eval())
    fast.train()
    with pytest.raises(RuntimeError, match="training mode"), torch.no_grad():
        fast(torch.randn(1, 8, 10))


def test_refuses_gradients():
    net = seeded(CRNN)
    fast = gt.accelerate(net)
    x = torch.randn(1, 8, 10)
    with pytest.raises(RuntimeError, match=r"input requires grad and grad is enabled.*no_grad"):
        fast(x)  # the conv in front is trainable: its output requires grad
    gru = gt.accelerate(seeded(nn.GRU, 3, 4))
    with pytest.raises(RuntimeError, match="input requires grad"):
        gru(torch.randn(5, 1, 3, requires_grad=True))
    with pytest.raises(RuntimeError, match="hx requires grad"):
        gru(torch.randn(5, 1, 3), torch.randn(1, 1, 4, requires_grad=True))
    y, _ = gru(torch.randn(5, 1, 3))  # grad enabled but nothing requires it: fine
    assert not y.requires_grad
    gru.weight_hh_l0.requires_grad_(True)
    with pytest.raises(RuntimeError, match="unfrozen"):
        gru(torch.randn(5, 1, 3))


def test_refuses_changed_weights():
    gru = seeded(nn.GRU, 3, 4)
    fast = gt.accelerate(gru)
    fast.load_state_dict({k: v + 1 for k, v in gru.state_dict().items()})
    with pytest.raises(RuntimeError, match="parameters changed"), torch.no_grad():
        fast(torch.randn(5, 1, 3))
    with pytest.raises(RuntimeError, match="parameters changed"), torch.no_grad():
        copy.deepcopy(fast)(torch.randn(5, 1, 3))  # a copy of stale weights is stale too
    x = torch.randn(5, 1, 3)
    with torch.no_grad():
        fast_again = gt.accelerate(gru)
        before = fast_again(x)
        gru.weight_ih_l0.mul_(2)  # the original's later changes are not seen (accelerate copied it)
        check(fast_again(x), before)


@pytest.mark.parametrize("call,error,message", [
    (lambda m: m(torch.randn(5, 2, 3, dtype=torch.float64)), TypeError,
     r"input: expected dtype torch.float32, got torch.float64"),
    (lambda m: m(torch.randn(5, 2, 4)), ValueError, r"input: expected shape \(T, B, 3\) or \(T, 3\), got \(5, 2, 4\)"),
    (lambda m: m(torch.randn(5, 2, 3), torch.randn(1, 3, 4)), ValueError,
     r"hx: expected shape \(1, 2, 4\), got \(1, 3, 4\)"),
    (lambda m: m(torch.randn(5, 2, 3), torch.randn(1, 2, 4).half()), TypeError, "hx: expected dtype torch.float32"),
    (lambda m: m(torch.empty(5, 2, 3, device="meta")), ValueError, "input: expected a CPU tensor, got one on meta"),
    (lambda m: m(np.zeros((5, 2, 3), np.float32)), TypeError, "input: expected a torch.Tensor, got ndarray"),
])
def test_refuses_bad_input(call, error, message):
    fast = gt.accelerate(seeded(nn.GRU, 3, 4))
    with pytest.raises(error, match=message), torch.no_grad():
        call(fast)


def test_refuses_bad_cell_input_and_modules():
    cell = gt.accelerate(seeded(nn.GRUCell, 3, 4))
    with torch.no_grad():
        with pytest.raises(ValueError, match=r"input: expected shape \(B, 3\) or \(3,\), got \(2, 5\)"):
            cell(torch.randn(2, 5))
        with pytest.raises(ValueError, match=r"hx: expected shape \(2, 4\), got \(4,\)"):
            cell(torch.randn(2, 3), torch.randn(4))
        with pytest.raises(TypeError, match="expected dtype torch.float32, got torch.float64"):
            cell(torch.randn(2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"GRU.weight_ih_l0: expected dtype torch.float32, got torch.float64"):
        gt.accelerate(seeded(nn.GRU, 3, 4).double())
    with pytest.raises(ValueError, match="expected a CPU parameter, got one on meta"):
        gt.accelerate(seeded(nn.GRU, 3, 4).to("meta"))
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        gt.accelerate("gru")
    with pytest.raises(ValueError, match="quantize: expected None or one of int8, bf16, fp16, got 'int4'"):
        gt.accelerate(seeded(nn.GRU, 3, 4), quantize="int4")


# ---------------------------------------------------------------------------------------------
# quantize: the error on the whole network's output


# Bounds on max |accelerated(quantized) - original fp32| of CRNN's log-probabilities on x ~ N(0, 1)
# (README "GRUs inside bigger networks" gives the measured values).
QUANT_BOUND = {"fp16": 5e-4, "bf16": 5e-3, "int8": 1e-2}


@pytest.mark.parametrize("kind", ["fp16", "bf16", "int8"])
@pytest.mark.parametrize("calibrate", [False, True])
def test_quantize_error_on_the_whole_network(kind, calibrate):
    net = seeded(CRNN, bidirectional=True)
    x = torch.randn(4, 8, 100, generator=torch.Generator().manual_seed(1))
    fast = gt.accelerate(net, quantize=kind, calibration=x[:2] if calibrate else None)
    assert fast.gru.gru_infer_model.weight_format == kind
    with torch.no_grad():
        err = (fast(x) - net(x)).abs().max().item()
    print(f"{kind} calibration={calibrate}: max abs error of the CRNN output {err:.3g}")
    assert 0 < err <= QUANT_BOUND[kind]


def test_quantize_calibrates_a_cell_on_its_calls():
    net = seeded(CellLoop)
    x0, h = torch.randn(3, 4), torch.randn(3, 10)
    fast = gt.accelerate(net, quantize="int8", calibration=(x0, h))
    with torch.no_grad():
        err = max((a - b).abs().max().item() for a, b in zip(fast(x0, h), net(x0, h)))
    assert err <= 5e-2
    with pytest.raises(ValueError, match="calibration: only used with quantize="):
        gt.accelerate(net, calibration=x0)


def test_readme_example_runs(capsys):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### GRUs inside bigger networks (PyTorch)"):]
    start = section.index("```python\n") + 10
    code = section[start:section.index("\n```", start)]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert float(capsys.readouterr().out) <= 1e-5
    assert isinstance(namespace["fast"].gru, AcceleratedGRU) and type(namespace["net"].gru) is nn.GRU
    assert namespace["int8"].gru.gru_infer_model.weight_format == "int8"
