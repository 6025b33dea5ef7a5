"""One GRU (and Dense heads after it) from arrays with the user's own names, by their shapes only:
`np.savez(f, Wz=kernel, Uz=recurrent_kernel, bz=bias)` or `np.savez(f, w_ih=..., w_hh=..., b_ih=...,
b_hh=..., fc_w=..., fc_b=...)`.

- Keras layout: recurrent kernel (H, 3H), kernel (I, 3H), bias (2, 3H) (reset_after=True) or (3H,)
  (reset_after=False) or none; Dense kernels (in, out) with biases (out,).
- PyTorch layout: weight_hh (3H, H), weight_ih (3H, I), bias_ih and bias_hh (3H,) each; Linear
  weights (out, in) with biases (out,). Gate blocks r, z, n are reordered to z, r, n.

Where shapes alone do not decide (I == H gives two (H, 3H) matrices; PyTorch's two (3H,) biases) a
name decides: recurrent / hidden-side names contain `rec`, `hh`, `hidden` or start with `U` (Cho et
al.'s U for the recurrent weights); input-side names contain `ih`, `input`, `kernel` or start with `W`.
An embedding table before the GRU is a 2-D array (ids, I), I the GRU's input size, without bias: one
whose name contains `emb`, or else the one array of that shape no other role explains (an assumption).
Every array must be explained; anything else (batch norm, attention, a second GRU) is refused with
the list of arrays found.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import UnsupportedModelError
from ..layers import GRU, Dense, Embedding, GRUDirection, swap_rz_blocks
from ._keras_layout import gru_from_keras_weights

EXPECTED = ("[an embedding table (ids, I)], one GRU: Keras layout kernel (I, 3H), recurrent_kernel (H, 3H), "
            "optional bias (2, 3H) or (3H,); or PyTorch layout weight_ih (3H, I), weight_hh (3H, H), bias_ih and "
            "bias_hh (3H,); then optional Dense heads: kernel (in, out) [Keras] or weight (out, in) [PyTorch], each "
            "with an optional bias (out,)")


def _listing(arrays: Dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items())


def _recurrent_name(name: str) -> Optional[bool]:
    """True for a recurrent/hidden-side name, False for an input-side one, None if the name says neither."""
    n = name.lower()
    rec = bool(re.search(r"rec|hh|hidden", n)) or name[:1] == "U"
    inp = bool(re.search(r"ih|input", n)) or (("kernel" in n) and "rec" not in n) or name[:1] == "W"
    return True if rec and not inp else False if inp and not rec else None


def _bias_name(name: str) -> bool:
    return "bias" in name.lower() or name[:1] == "b"


def _pick(names: List[str], recurrent: bool, what: str, arrays) -> str:
    """The one name among `names` (same shape) that is the recurrent (or input) one, by its name."""
    chosen = [k for k in names if _recurrent_name(k) is recurrent]
    if len(chosen) != 1:
        raise ValueError(f"arrays {names} all have shape {tuple(arrays[names[0]].shape)}; their names do not say which "
                         f"is the {what} (expected one name with rec/hh/hidden or starting with U for the recurrent "
                         f"weights, and one with ih/input/kernel or starting with W for the input weights). Found: "
                         f"{_listing(arrays)}")
    return chosen[0]


def layers_from_named_arrays(arrays: Dict[str, np.ndarray]) -> Tuple[list, str, List[str]]:
    """(layers, "keras" | "pytorch", assumptions) for [an Embedding,] one GRU plus Dense heads, or ValueError /
    UnsupportedModelError."""
    two_d = {k: a for k, a in arrays.items() if a.ndim == 2}
    # a recurrent matrix (H, 3H) / (3H, H) only counts with an input matrix (I, 3H) / (3H, I) beside it
    keras_rec = {a.shape[0] for k, a in two_d.items() if a.shape[1] == 3 * a.shape[0]
                 and any(j != k and b.shape[1] == a.shape[1] for j, b in two_d.items())}
    torch_rec = {a.shape[1] for k, a in two_d.items() if a.shape[0] == 3 * a.shape[1]
                 and any(j != k and b.shape[0] == a.shape[0] for j, b in two_d.items())}
    if len(keras_rec) + len(torch_rec) == 0:
        raise ValueError(f"no GRU recurrent weights among the arrays (a (H, 3H) or (3H, H) matrix). Expected "
                         f"{EXPECTED}. Found: {_listing(arrays)}")
    if len(keras_rec) + len(torch_rec) > 1:
        raise _several_grus(f"hidden sizes {sorted(keras_rec | torch_rec)}", arrays)
    keras = bool(keras_rec)
    H = (keras_rec or torch_rec).pop()
    _check_one_gru(two_d, H, keras, arrays)
    left = dict(arrays)
    gru = (_keras_gru if keras else _torch_gru)(left, H, arrays)
    table, assumed = _named_table(left, gru.input_size, arrays)
    heads = _heads(left, H, keras, arrays)
    if table is None:
        _check_last_head_is_no_table(heads, gru.input_size, keras, arrays)
        table, assumed = _unexplained_table(left, gru.input_size)
    if left:
        raise UnsupportedModelError(
            f"arrays {_listing(left)} are not part of one GRU and the Dense heads after it (batch norm, attention "
            f"or other layers have no place in weights read by shape). Expected {EXPECTED}. Found: {_listing(arrays)}")
    first = [Embedding(arrays[table])] if table is not None else []
    return first + [gru] + [dense for _, dense in heads], "keras" if keras else "pytorch", assumed


def _several_grus(what: str, arrays) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"the arrays hold the weights of several GRUs ({what}); from arrays with names of your own, gru_infer "
        f"reads {EXPECTED}, by shape. A model of plain GRU and Dense layers loads when saved as "
        f"np.savez(f, *model.get_weights()) (Keras) or with its state_dict keys (PyTorch). Found: {_listing(arrays)}")


def _check_one_gru(two_d, H: int, keras: bool, arrays):
    """One GRU of hidden size H has two matrices shaped (x, 3H) [Keras] / (3H, x) [PyTorch] (a Keras bias
    (2, 3H) aside); more mean several GRUs of that size."""
    mats = [k for k, a in two_d.items() if (a.shape[1] if keras else a.shape[0]) == 3 * H]
    bias_like = keras and any(two_d[k].shape[0] == 2 for k in mats)
    if len(mats) - bias_like > 2:
        form = f"(x, {3 * H})" if keras else f"({3 * H}, x)"
        raise _several_grus(f"hidden size {H}: arrays {', '.join(mats)} are all shaped {form}, more than one GRU's "
                            f"{'kernel, recurrent kernel and (2, 3H) bias' if keras else 'weight_ih and weight_hh'}",
                            arrays)


def _named_table(left, features: int, arrays) -> Tuple[Optional[str], List[str]]:
    """The embedding table named so: a 2-D array (ids, features) whose name contains 'emb' (removed from left)."""
    named = [k for k, a in left.items() if a.ndim == 2 and a.shape[1] == features and "emb" in k.lower()]
    if len(named) > 1:
        raise UnsupportedModelError(f"arrays {named} could each be the embedding table before the GRU (ids, "
                                    f"{features}); one model has one. Found: {_listing(arrays)}")
    if not named:
        return None, []
    del left[named[0]]
    return named[0], [f"array {named[0]!r} {tuple(arrays[named[0]].shape)} (named so, no bias) is an embedding table "
                      f"before the GRU: the model takes integer ids"]


def _unexplained_table(left, features: int) -> Tuple[Optional[str], List[str]]:
    """The one array left over that is shaped like an embedding table (ids, features) (removed from left)."""
    tables = [k for k, a in left.items() if a.ndim == 2 and a.shape[1] == features]
    if len(tables) != 1:
        return None, []  # none, or several: the refusal of left-over arrays lists them
    shape = tuple(left.pop(tables[0]).shape)
    return tables[0], [f"array {tables[0]!r} {shape} is taken as an embedding table before the GRU ({shape[0]} ids "
                       f"-> {features} features, the GRU's input size): no other role fits its shape, and its name "
                       f"does not say; the model takes integer ids"]


def _check_last_head_is_no_table(heads, features: int, keras: bool, arrays):
    """A last Dense without bias whose array is (n, features) could as well be an embedding table (n ids ->
    the GRU's input size): refused unless a name says which."""
    if not heads or heads[-1][1].bias is not None:
        return
    key = heads[-1][0]
    shape = tuple(arrays[key].shape)
    if shape[1] != features:
        return
    dense = "kernel (in, out)" if keras else "weight (out, in)"
    raise UnsupportedModelError(
        f"array {key!r} {shape} could be an embedding table before the GRU ({shape[0]} ids -> {features} features, "
        f"the GRU's input size) or a Dense {dense} without bias after it; neither its name nor the other arrays "
        f"decide. Name it with 'emb' (e.g. 'embedding') if it is an embedding table, or save a Linear head with its "
        f"state_dict keys ('fc.weight'). Found: {_listing(arrays)}")


def _keras_gru(left, H, arrays) -> GRU:
    sq = [k for k, a in left.items() if a.shape == (H, 3 * H)]
    kernels = [k for k, a in left.items() if a.ndim == 2 and a.shape[1] == 3 * H and a.shape[0] != H]
    if len(kernels) > 1:  # a (2, 3H) bias beside a kernel (I, 3H): the bias by its name, or by being the odd one
        named = [k for k in kernels if not _bias_name(k)]
        kernels = named if len(named) == 1 else [k for k in kernels if arrays[k].shape[0] != 2]
    if len(sq) == 1 and len(kernels) == 1:
        rec, ker = sq[0], kernels[0]
    elif len(sq) == 2 and all(arrays[k].shape == (2, 3 * H) for k in kernels):  # I == H; the (2, 3H) is the bias
        rec = _pick(sq, True, "recurrent kernel", arrays)
        ker = next(k for k in sq if k != rec)
    else:
        raise ValueError(f"expected one kernel (I, {3 * H}) and one recurrent kernel ({H}, {3 * H}); found "
                         f"{_listing(arrays)}")
    biases = [k for k, a in left.items() if a.shape in ((2, 3 * H), (3 * H,)) and k not in (ker, rec)]
    if len(biases) > 1:
        raise ValueError(f"several arrays {biases} could be the GRU bias ((2, {3 * H}) or ({3 * H},)); found "
                         f"{_listing(arrays)}")
    bias = left.pop(biases[0]) if biases else None
    return gru_from_keras_weights(left.pop(ker), left.pop(rec), bias, name=f"GRU from {ker!r}, {rec!r}")


def _torch_gru(left, H, arrays) -> GRU:
    sq = [k for k, a in left.items() if a.shape == (3 * H, H)]
    ih = [k for k, a in left.items() if a.ndim == 2 and a.shape[0] == 3 * H and a.shape[1] != H]
    if len(sq) == 1 and len(ih) == 1:
        w_hh, w_ih = sq[0], ih[0]
    elif len(sq) == 2 and not ih:
        w_hh = _pick(sq, True, "hidden-to-hidden weight (weight_hh)", arrays)
        w_ih = next(k for k in sq if k != w_hh)
    else:
        raise ValueError(f"expected one weight_ih ({3 * H}, I) and one weight_hh ({3 * H}, {H}); found "
                         f"{_listing(arrays)}")
    biases = [k for k, a in left.items() if a.shape == (3 * H,)]
    if len(biases) not in (0, 2):
        raise ValueError(f"a PyTorch GRU has two biases (bias_ih, bias_hh) of shape ({3 * H},) or none; found "
                         f"{biases} in {_listing(arrays)}")
    zeros = np.zeros(3 * H, np.float32)
    b_ih = b_hh = zeros
    if biases:
        hh = _pick(biases, True, "hidden-side bias (bias_hh)", arrays)
        b_hh, b_ih = left.pop(hh), left.pop(next(k for k in biases if k != hh))
    W, R = left.pop(w_ih), left.pop(w_hh)
    d = GRUDirection(swap_rz_blocks(W, H), swap_rz_blocks(R, H), swap_rz_blocks(b_ih, H), swap_rz_blocks(b_hh, H))
    return GRU(W.shape[1], H, [d], linear_before_reset=True, has_bias=bool(biases))


def _heads(left, features: int, keras: bool, arrays) -> List[Tuple[str, Dense]]:
    """The Dense layers after a layer of `features` outputs, as (weight's name, Dense), removed from left."""
    out = []
    while True:
        fits = [k for k, a in left.items() if a.ndim == 2 and (a.shape[0] if keras else a.shape[1]) == features]
        if not fits:
            return out
        if len(fits) > 1:
            raise ValueError(f"after a layer with {features} outputs, arrays {fits} could each be the next Dense "
                             f"weight; the order is ambiguous. Found: {_listing(arrays)}")
        w = left.pop(fits[0])
        n_out = w.shape[1] if keras else w.shape[0]
        biases = [k for k, a in left.items() if a.shape == (n_out,)]
        if len(biases) > 1:
            stem = re.sub(r"(kernel|weight|w)$", "", fits[0], flags=re.I)
            named = [k for k in biases if stem and k.startswith(stem)]
            if len(named) != 1:
                raise ValueError(f"arrays {biases} could each be the bias of {fits[0]!r}; found {_listing(arrays)}")
            biases = named
        bias = left.pop(biases[0]) if biases else None
        out.append((fits[0], Dense(w.T if keras else w, bias)))
        features = n_out
