"""Randomised parity of gru_infer against real PyTorch modules (float32, max abs error <= 1e-5).

The reference is always the torch module itself: nn.GRU (packed sequences for `lengths`), nn.GRUCell
called step by step, and custom modules converted with gru_infer.from_torch. Our predict always
takes batch-first input; torch gets the transposed tensor when batch_first=False.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest
import torch
from helpers import check_from_torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import gru_infer

TOL = 1e-5


# ---------------------------------------------------------------------------------------------
# nn.GRU configurations

@dataclass
class Cfg:
    seed: int
    input_size: int
    hidden: int
    layers: int
    bidirectional: bool
    bias: bool
    batch: int
    steps: int
    batch_first: bool
    h0: bool
    lengths: bool

    def __str__(self):
        return (f"s{self.seed}-I{self.input_size}-H{self.hidden}-L{self.layers}"
                f"{'-bi' if self.bidirectional else ''}{'' if self.bias else '-nobias'}"
                f"-B{self.batch}-T{self.steps}{'-bf' if self.batch_first else '-sf'}"
                f"{'-h0' if self.h0 else ''}{'-len' if self.lengths else ''}")


def _log_int(rng, lo, hi):
    """An integer in [lo, hi], log-uniform so that most cases are small and a few are large."""
    return int(min(hi, max(lo, np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))))))


def random_cfg(seed: int) -> Cfg:
    rng = np.random.default_rng(seed)
    return Cfg(seed=seed, input_size=_log_int(rng, 1, 300), hidden=_log_int(rng, 1, 512),
               layers=int(rng.integers(1, 4)), bidirectional=bool(rng.random() < 0.5),
               bias=bool(rng.random() < 0.7), batch=_log_int(rng, 1, 16), steps=_log_int(rng, 1, 200),
               batch_first=bool(rng.random() < 0.5), h0=bool(rng.random() < 0.5),
               lengths=bool(rng.random() < 0.5))


RANDOM_CFGS = [random_cfg(s) for s in range(40)]

# Edge sizes, explicitly: input 1, hidden 1, T 1, B 1, and hidden sizes that leave vector tails.
EDGE_CFGS = [
    Cfg(1000, 1, 1, 1, False, True, 1, 1, True, False, False),
    Cfg(1001, 1, 1, 2, True, True, 1, 1, False, True, True),
    Cfg(1002, 1, 3, 1, False, False, 3, 7, True, True, True),
    Cfg(1003, 5, 1, 3, True, True, 4, 9, False, True, True),
    Cfg(1004, 3, 3, 2, True, True, 2, 5, True, False, False),
    Cfg(1005, 17, 17, 2, False, True, 5, 11, True, True, True),
    Cfg(1006, 9, 17, 1, True, False, 1, 23, False, False, True),
    Cfg(1007, 255, 255, 1, False, True, 3, 6, True, True, False),
    Cfg(1008, 33, 255, 2, True, True, 2, 4, False, True, True),
    Cfg(1009, 300, 512, 1, False, True, 1, 3, True, False, False),
    Cfg(1010, 1, 17, 1, False, True, 16, 1, True, True, False),
    Cfg(1011, 300, 512, 3, True, True, 16, 200, False, True, True),  # every maximum at once, once
]


def make_gru(cfg: Cfg) -> nn.GRU:
    torch.manual_seed(cfg.seed)
    return nn.GRU(cfg.input_size, cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional,
                  bias=cfg.bias, batch_first=cfg.batch_first).eval()


def make_inputs(cfg: Cfg):
    rng = np.random.default_rng(cfg.seed + 10_000)
    D = 2 if cfg.bidirectional else 1
    x = rng.standard_normal((cfg.batch, cfg.steps, cfg.input_size), dtype=np.float32)
    h0 = (0.8 * rng.standard_normal((cfg.layers * D, cfg.batch, cfg.hidden))).astype(np.float32) \
        if cfg.h0 else None
    lengths = rng.integers(1, cfg.steps + 1, size=cfg.batch).astype(np.int64) if cfg.lengths else None
    return x, h0, lengths


def torch_gru(gru: nn.GRU, x: np.ndarray, h0: Optional[np.ndarray] = None, lengths=None):
    """Run `gru` on batch-first `x`; returns batch-first output and h_n as float32 arrays."""
    T = x.shape[1]
    xt = torch.from_numpy(x)
    if not gru.batch_first:
        xt = xt.transpose(0, 1)
    h = None if h0 is None else torch.from_numpy(h0)
    with torch.no_grad():
        if lengths is None:
            out, hn = gru(xt, h)
        else:
            packed = pack_padded_sequence(xt, torch.as_tensor(lengths, dtype=torch.int64),
                                          batch_first=gru.batch_first, enforce_sorted=False)
            out, hn = gru(packed, h)
            out, _ = pad_packed_sequence(out, batch_first=gru.batch_first, total_length=T)
    if not gru.batch_first:
        out = out.transpose(0, 1)
    return out.numpy(), hn.numpy()


def check_gru_case(cfg: Cfg, errors, category: str):
    gru = make_gru(cfg)
    model = gru_infer.from_torch(gru)
    x, h0, lengths = make_inputs(cfg)
    ref_out, ref_hn = torch_gru(gru, x, h0, lengths)
    y, hn = model.predict(x, h0=h0, lengths=lengths, return_state=True)
    D = 2 if cfg.bidirectional else 1
    assert y.dtype == np.float32 and y.shape == (cfg.batch, cfg.steps, D * cfg.hidden)
    assert hn.dtype == np.float32 and hn.shape == (cfg.layers * D, cfg.batch, cfg.hidden)
    errors.check(f"{category} output", y, ref_out, TOL)
    errors.check(f"{category} h_n", hn, ref_hn, TOL)
    if lengths is not None:
        past_end = np.arange(cfg.steps)[None, :] >= lengths[:, None]
        assert np.all(y[past_end] == 0.0), "outputs past a sequence's end must be exactly 0"
    return model, x, h0, lengths


@pytest.mark.parametrize("cfg", RANDOM_CFGS, ids=str)
def test_nn_gru_random(cfg, errors):
    check_gru_case(cfg, errors, "nn.GRU random")


@pytest.mark.parametrize("cfg", EDGE_CFGS, ids=str)
def test_nn_gru_edge_sizes(cfg, errors):
    check_gru_case(cfg, errors, "nn.GRU edge sizes")


def test_random_configs_cover_the_ranges():
    """The seeded sample really exercises both settings of every switch and the size extremes."""
    cfgs = RANDOM_CFGS + EDGE_CFGS
    for flag in ("bidirectional", "bias", "batch_first", "h0", "lengths"):
        assert {getattr(c, flag) for c in cfgs} == {False, True}, flag
    assert {c.layers for c in cfgs} == {1, 2, 3}
    assert max(c.hidden for c in cfgs) >= 256 and max(c.input_size for c in cfgs) >= 150
    assert max(c.steps for c in cfgs) >= 100 and max(c.batch for c in cfgs) >= 12
    for attr in ("input_size", "hidden", "steps", "batch"):
        assert min(getattr(c, attr) for c in cfgs) == 1, attr
    assert {3, 17, 255} <= {c.hidden for c in cfgs}


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_with_layers_and_directions(layers, bidirectional, errors):
    # Unsorted distinct lengths including 1 and T; all equal but shorter than T; all equal to T;
    # with and without h0.
    patterns = [[7, 12, 1, 3, 12], [5, 5, 5, 5, 5], [12] * 5, [1, 1, 2, 1, 1]]
    for h0, lengths in [(h0, p) for h0 in (False, True) for p in patterns]:
        cfg = Cfg(2000 + 10 * layers + 2 * bidirectional + h0, 6, 13, layers, bidirectional, True,
                  5, 12, bool(h0), h0, True)
        gru = make_gru(cfg)
        model = gru_infer.from_torch(gru)
        x, h0_arr, _ = make_inputs(cfg)
        lengths = np.array(lengths, dtype=np.int64)
        ref_out, ref_hn = torch_gru(gru, x, h0_arr, lengths)
        y, hn = model.predict(x, h0=h0_arr, lengths=lengths, return_state=True)
        errors.check("lengths x layers x directions output", y, ref_out, TOL)
        errors.check("lengths x layers x directions h_n", hn, ref_hn, TOL)
        past_end = np.arange(12)[None, :] >= lengths[:, None]
        assert np.all(y[past_end] == 0.0)


def test_lengths_change_the_result():
    """A shorter length must not just zero the tail: h_n differs from the full-length run."""
    cfg = Cfg(2100, 4, 6, 2, True, True, 2, 8, True, False, False)
    model = gru_infer.from_torch(make_gru(cfg))
    x, _, _ = make_inputs(cfg)
    _, hn_full = model.predict(x, return_state=True)
    _, hn_short = model.predict(x, lengths=np.array([8, 5]), return_state=True)
    np.testing.assert_array_equal(hn_full[:, 0], hn_short[:, 0])
    assert np.max(np.abs(hn_full[:, 1] - hn_short[:, 1])) > 1e-3


# ---------------------------------------------------------------------------------------------
# Unbatched input

@pytest.mark.parametrize("layers,bidirectional,batch_first,with_h0", [
    (1, False, True, False), (2, True, False, True), (3, False, False, True), (1, True, True, True)])
def test_unbatched_matches_torch(layers, bidirectional, batch_first, with_h0, errors):
    cfg = Cfg(3000 + layers, 7, 11, layers, bidirectional, True, 1, 9, batch_first, with_h0, False)
    gru = make_gru(cfg)
    model = gru_infer.from_torch(gru)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(cfg.seed)
    x = rng.standard_normal((9, 7), dtype=np.float32)  # (T, F)
    h0 = rng.standard_normal((layers * D, 11)).astype(np.float32) if with_h0 else None  # (L*D, H)
    with torch.no_grad():  # torch's unbatched mode: (T, F) whatever batch_first is
        ref_out, ref_hn = gru(torch.from_numpy(x), None if h0 is None else torch.from_numpy(h0))
    y, hn = model.predict(x, h0=h0, return_state=True)
    assert y.shape == (9, D * 11) and hn.shape == (layers * D, 11)
    errors.check("unbatched output", y, ref_out.numpy(), TOL)
    errors.check("unbatched h_n", hn, ref_hn.numpy(), TOL)
    # predict without return_state gives the same output alone
    np.testing.assert_array_equal(model.predict(x, h0=h0), y)


def test_unbatched_with_scalar_length(errors):
    """Unbatched lengths: torch reference is the sequence cut to its length."""
    cfg = Cfg(3100, 5, 8, 2, True, True, 1, 10, True, True, False)
    gru = make_gru(cfg)
    model = gru_infer.from_torch(gru)
    rng = np.random.default_rng(3100)
    x = rng.standard_normal((10, 5), dtype=np.float32)
    h0 = rng.standard_normal((4, 8)).astype(np.float32)
    with torch.no_grad():
        ref_out, ref_hn = gru(torch.from_numpy(x[:6]), torch.from_numpy(h0))
    y, hn = model.predict(x, h0=h0, lengths=6, return_state=True)
    errors.check("unbatched output", y[:6], ref_out.numpy(), TOL)
    errors.check("unbatched h_n", hn, ref_hn.numpy(), TOL)
    assert np.all(y[6:] == 0.0)


# ---------------------------------------------------------------------------------------------
# nn.GRUCell

@pytest.mark.parametrize("input_size,hidden,batch,steps,bias,with_h0", [
    (1, 1, 1, 1, True, False), (6, 17, 3, 15, True, True), (40, 64, 8, 30, False, True),
    (3, 255, 2, 5, True, False)])
def test_gru_cell_predict_and_stream(input_size, hidden, batch, steps, bias, with_h0, errors):
    torch.manual_seed(input_size * 1000 + hidden)
    cell = nn.GRUCell(input_size, hidden, bias=bias).eval()
    model = gru_infer.from_torch(cell)
    rng = np.random.default_rng(hidden)
    x = rng.standard_normal((batch, steps, input_size), dtype=np.float32)
    h0 = rng.standard_normal((1, batch, hidden)).astype(np.float32) if with_h0 else None

    h = torch.zeros(batch, hidden) if h0 is None else torch.from_numpy(h0[0].copy())
    ref = []
    with torch.no_grad():
        for t in range(steps):
            h = cell(torch.from_numpy(x[:, t]), h)
            ref.append(h.numpy().copy())
    ref = np.stack(ref, axis=1)

    y, hn = model.predict(x, h0=h0, return_state=True)
    errors.check("GRUCell predict output", y, ref, TOL)
    errors.check("GRUCell predict h_n", hn, ref[None, :, -1], TOL)

    stream = model.stream(batch)
    if h0 is not None:
        stream.state = h0
    for t in range(steps):
        errors.check("GRUCell stream step", stream.step(x[:, t]), ref[:, t], TOL)
        errors.check("GRUCell stream state", stream.state, ref[None, :, t], TOL)


# ---------------------------------------------------------------------------------------------
# Sequential heads and custom modules via gru_infer.from_torch

class LastStepMLP(nn.Module):
    """GRU -> out[:, -1] -> Linear -> ReLU -> Linear -> Softmax."""

    def __init__(self, I, H, M, O, layers):
        super().__init__()
        self.gru = nn.GRU(I, H, num_layers=layers, batch_first=True)
        self.fc1 = nn.Linear(H, M)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(M, O)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.softmax(self.fc2(self.act(self.fc1(out[:, -1]))))


class EmbeddingLastState(nn.Module):
    """Embedding -> GRU -> h[-1] -> Linear."""

    def __init__(self, V, E, H, O, layers):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.gru = nn.GRU(E, H, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(H, O)

    def forward(self, ids):
        _, h = self.gru(self.emb(ids))
        return self.fc(h[-1])


class SeqFirstLast(nn.Module):
    """Seq-first GRU, out[-1] -> Linear."""

    def __init__(self, I, H, O, layers, bidirectional):
        super().__init__()
        self.gru = nn.GRU(I, H, num_layers=layers, bidirectional=bidirectional)
        self.fc = nn.Linear(H * (2 if bidirectional else 1), O)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out[-1])


class TwoGRUs(nn.Module):
    """Two chained GRU modules of different hidden sizes."""

    def __init__(self, I, H1, H2, layers1, bidirectional1):
        super().__init__()
        self.gru1 = nn.GRU(I, H1, num_layers=layers1, bidirectional=bidirectional1, batch_first=True)
        self.gru2 = nn.GRU(H1 * (2 if bidirectional1 else 1), H2, batch_first=True)

    def forward(self, x):
        out, _ = self.gru1(x)
        out, _ = self.gru2(out)
        return out


@pytest.mark.parametrize("I,H,M,O,layers,B,T", [(1, 1, 1, 2, 1, 1, 1), (12, 33, 20, 5, 2, 6, 25),
                                                (30, 17, 9, 3, 3, 3, 40)])
def test_last_step_mlp_softmax(I, H, M, O, layers, B, T, errors):
    torch.manual_seed(I + H)
    module = LastStepMLP(I, H, M, O, layers).eval()
    x = np.random.default_rng(H).standard_normal((B, T, I), dtype=np.float32)
    _, y, _ = check_from_torch(module, x, errors, "custom module output", TOL)
    assert y.shape == (B, O)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("V,E,H,O,layers,B,T", [(2, 1, 1, 1, 1, 1, 1), (50, 16, 24, 4, 2, 5, 30),
                                                (1000, 32, 64, 7, 1, 8, 12)])
def test_embedding_last_state(V, E, H, O, layers, B, T, errors):
    torch.manual_seed(V + H)
    module = EmbeddingLastState(V, E, H, O, layers).eval()
    model = gru_infer.from_torch(module)
    assert model.takes_ids
    ids = np.random.default_rng(V).integers(0, V, size=(B, T))
    ids[0, 0], ids[-1, -1] = 0, V - 1  # first and last rows of the table
    with torch.no_grad():
        ref = module(torch.from_numpy(ids)).numpy()
    errors.check("custom module output", model.predict(ids), ref, TOL)
    # unbatched ids (T,)
    with torch.no_grad():
        ref1 = module(torch.from_numpy(ids[:1])).numpy()[0]
    errors.check("custom module output", model.predict(ids[0]), ref1, TOL)


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True), (3, False)])
def test_seq_first_module(layers, bidirectional, errors):
    torch.manual_seed(layers)
    module = SeqFirstLast(5, 19, 3, layers, bidirectional).eval()
    model = gru_infer.from_torch(module)
    x = np.random.default_rng(layers).standard_normal((4, 14, 5), dtype=np.float32)  # batch-first
    with torch.no_grad():
        ref = module(torch.from_numpy(x).transpose(0, 1)).numpy()
    errors.check("custom module output", model.predict(x), ref, TOL)


@pytest.mark.parametrize("H1,H2,layers1,bidirectional1", [(9, 4, 2, False), (16, 31, 1, True),
                                                          (5, 1, 2, True)])
def test_two_chained_grus_give_per_layer_states(H1, H2, layers1, bidirectional1, errors):
    torch.manual_seed(H1 * H2)
    module = TwoGRUs(6, H1, H2, layers1, bidirectional1).eval()
    model = gru_infer.from_torch(module)
    D1 = 2 if bidirectional1 else 1
    B, T = 3, 10
    rng = np.random.default_rng(H1)
    x = rng.standard_normal((B, T, 6), dtype=np.float32)

    def torch_run(h01=None, h02=None):
        with torch.no_grad():
            out1, hn1 = module.gru1(torch.from_numpy(x), h01)
            out2, hn2 = module.gru2(out1, h02)
        return out2.numpy(), hn1.numpy(), hn2.numpy()

    def check(y, state, ref_out, hn1, hn2):
        errors.check("chained GRUs output", y, ref_out, TOL)
        assert isinstance(state, tuple) and len(state) == layers1 + 1
        for k in range(layers1):
            assert state[k].shape == (D1, B, H1)
            errors.check("chained GRUs per-layer h_n", state[k], hn1[k * D1:(k + 1) * D1], TOL)
        assert state[-1].shape == (1, B, H2)
        errors.check("chained GRUs per-layer h_n", state[-1], hn2, TOL)

    with torch.no_grad():
        ref_whole = module(torch.from_numpy(x)).numpy()
    ref_out, hn1, hn2 = torch_run()
    np.testing.assert_array_equal(ref_whole, ref_out)
    y, state = model.predict(x, return_state=True)
    check(y, state, ref_out, hn1, hn2)
    assert model.state_shape(B) == [(D1, B, H1)] * layers1 + [(1, B, H2)]

    # the same tuple layout as h0
    h01 = rng.standard_normal((layers1 * D1, B, H1)).astype(np.float32)
    h02 = rng.standard_normal((1, B, H2)).astype(np.float32)
    h0 = tuple(h01[k * D1:(k + 1) * D1] for k in range(layers1)) + (h02,)
    ref_out, hn1, hn2 = torch_run(torch.from_numpy(h01), torch.from_numpy(h02))
    y, state = model.predict(x, h0=h0, return_state=True)
    check(y, state, ref_out, hn1, hn2)


def test_sequential_linear_tanh_gru(errors):
    torch.manual_seed(7)
    module = nn.Sequential(nn.Linear(3, 10), nn.Tanh(),
                           nn.GRU(10, 17, num_layers=2, bidirectional=True, batch_first=True)).eval()
    model = gru_infer.from_torch(module)
    x = np.random.default_rng(7).standard_normal((2, 21, 3), dtype=np.float32)
    with torch.no_grad():
        ref = module(torch.from_numpy(x))[0].numpy()
    errors.check("custom module output", model.predict(x), ref, TOL)


# ---------------------------------------------------------------------------------------------
# Every ISA

ISA_CFGS = [EDGE_CFGS[0], EDGE_CFGS[2], EDGE_CFGS[5], EDGE_CFGS[7], EDGE_CFGS[8], RANDOM_CFGS[3],
            Cfg(4000, 8, 9, 2, True, False, 7, 31, True, True, True)]


@pytest.mark.parametrize("isa", gru_infer.available_isas())
def test_every_isa(isa, restore_isa, errors):
    gru_infer.set_isa(isa)
    assert gru_infer.active_isa() == isa
    for cfg in ISA_CFGS:
        check_gru_case(cfg, errors, f"ISA {isa}")
    torch.manual_seed(11)
    module = LastStepMLP(13, 17, 7, 3, 2).eval()
    x = np.random.default_rng(11).standard_normal((5, 9, 13), dtype=np.float32)
    check_from_torch(module, x, errors, f"ISA {isa} output", TOL)
    # stream under this ISA
    gru = nn.GRU(5, 17, num_layers=2, batch_first=True).eval()
    model = gru_infer.from_torch(gru)
    xs = np.random.default_rng(12).standard_normal((3, 6, 5), dtype=np.float32)
    ref_out, _ = torch_gru(gru, xs)
    stream = model.stream(3)
    for t in range(6):
        errors.check(f"ISA {isa} output", stream.step(xs[:, t]), ref_out[:, t], TOL)
    assert gru_infer.active_isa() == isa


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_thread_counts(threads, restore_threads, errors):
    """Batch split and parallel directions: the same parity whatever the engine's thread count."""
    gru_infer.set_num_threads(threads)
    assert gru_infer.get_num_threads() == threads
    for cfg in ISA_CFGS + [Cfg(4100, 20, 33, 2, True, True, 13, 17, False, True, True),
                           Cfg(4101, 3, 64, 1, False, True, 5, 40, True, False, True)]:
        check_gru_case(cfg, errors, f"threads {threads}")


@pytest.mark.parametrize("lengths", [False, True])
def test_batch_of_one_on_two_threads(lengths, restore_threads, errors):
    """A batch of one with two threads: the input projection runs ahead on the second thread.
    Parity with PyTorch, and the same bits as one thread."""
    cfg = Cfg(4102, 64, 40, 2, False, True, 1, 800, True, True, lengths)
    gru = make_gru(cfg)
    model = gru_infer.from_torch(gru)
    x, h0, _ = make_inputs(cfg)
    # 763 steps: 2 * 763 * 64 * 3 * 40 = 11.7 MFLOP of first-layer projection, above the 8 MFLOP
    # below which predict does not start the second thread.
    lens = np.array([763], dtype=np.int64) if lengths else None
    ref_out, ref_hn = torch_gru(gru, x, h0, lens)
    gru_infer.set_num_threads(2)
    y2, hn2 = model.predict(x, h0=h0, lengths=lens, return_state=True)
    errors.check("batch of one, 2 threads output", y2, ref_out, TOL)
    errors.check("batch of one, 2 threads h_n", hn2, ref_hn, TOL)
    gru_infer.set_num_threads(1)
    y1, hn1 = model.predict(x, h0=h0, lengths=lens, return_state=True)
    assert np.array_equal(y1, y2) and np.array_equal(hn1, hn2)


def test_isas_listed_and_unknown_rejected(restore_isa):
    isas = gru_infer.available_isas()
    assert isas[0] == "scalar" and restore_isa in isas
    with pytest.raises(ValueError, match=r"'avx9000' is not available.*scalar"):
        gru_infer.set_isa("avx9000")
    assert gru_infer.active_isa() == restore_isa
    if "amx" not in isas:  # a known ISA this CPU lacks (AMX tiles): refused as clearly
        with pytest.raises(ValueError, match=r"'amx' is not available on this CPU"):
            gru_infer.set_isa("amx")
        assert gru_infer.active_isa() == restore_isa
