"""Guitar-amp model files, both JSON (read by the `rtneural` importer, which sees every JSON file):

- Automated-GuitarAmpModelling / CoreAudioML "SimpleRNN" (GuitarML, NeuralSeed, Proteus):
  `{"model_data": {"model": "SimpleRNN", "unit_type": "GRU", "input_size", "output_size",
  "hidden_size", "num_layers", "skip", "bias_fl"}, "state_dict": {"rec.weight_ih_l0": [...], ...,
  "lin.weight", "lin.bias"}}`, the module being `lin(rec(x)) + x[..., :skip]` (rec an nn.GRU on
  time-major input, which batch-first predict computes the same way).
- AIDA-X `.aidax` (and AIDA-X JSON): RTNeural's Keras form plus `in_skip` (0/1: the input sample
  is added to the output), `out_gain` (dB: the network's output is scaled by 10^(gain/20) before
  the skip) and metadata keys (`metadata`, `samplerate`, `author`, `esr`, ...), kept in info.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from ..errors import UnsupportedModelError
from ..layers import Affine, Dense, InputSkip
from ._state_dict import gru_stack, to_f32

SIMPLE_RNN_KEYS = ("model", "unit_type", "input_size", "output_size", "hidden_size", "num_layers", "skip", "bias_fl")
AIDA_KEYS = ("in_skip", "out_gain")
AIDA_METADATA_KEYS = ("metadata", "samplerate", "author", "esr", "name", "version", "gear_type", "tone_type")


def is_simple_rnn(model) -> bool:
    return isinstance(model, dict) and isinstance(model.get("model_data"), dict)


def _int(md: dict, key: str, minimum: int = 0) -> int:
    v = md.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"model_data[{key!r}] must be an integer >= {minimum}, got {v!r}")
    return v


def layers_from_simple_rnn(model: dict) -> Tuple[list, Dict[str, Any]]:
    """GRU (time-major nn.GRU, any depth) -> Linear -> + x[..., :skip], from a SimpleRNN JSON object."""
    md = model["model_data"]
    kind, unit = md.get("model"), md.get("unit_type")
    if kind != "SimpleRNN":
        raise UnsupportedModelError(f"model_data['model'] is {kind!r}; only Automated-GuitarAmpModelling's "
                                    f"'SimpleRNN' (a recurrent unit, a Linear layer and a skip) is read")
    if unit != "GRU":
        raise UnsupportedModelError(f"layer 'rec' is a {unit!r} (model_data['unit_type']); gru_infer runs "
                                    f"GRU networks only")
    sd = model.get("state_dict")
    if not isinstance(sd, dict) or not sd:
        raise ValueError("'model_data' without a 'state_dict': the file holds no weights (it was saved "
                         "with save_state=False)")
    I, O, H = (_int(md, k, 1) for k in ("input_size", "output_size", "hidden_size"))
    L, skip = _int(md, "num_layers", 1), _int(md, "skip", 0)
    bias = bool(md.get("bias_fl", True))
    tensors = {}
    for key, value in sd.items():
        try:
            tensors[key] = to_f32(np.asarray(value, dtype=np.float64), key)
        except (ValueError, TypeError):
            raise ValueError(f"state_dict[{key!r}]: expected a rectangular nested list of numbers") from None
    expected = {}
    for k in range(L):
        expected[f"rec.weight_ih_l{k}"] = (3 * H, I if k == 0 else H)
        expected[f"rec.weight_hh_l{k}"] = (3 * H, H)
        if bias:
            expected[f"rec.bias_ih_l{k}"] = expected[f"rec.bias_hh_l{k}"] = (3 * H,)
    expected["lin.weight"] = (O, H)
    if bias:
        expected["lin.bias"] = (O,)
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if found != expected:
        raise ValueError(f"state_dict does not match model_data {dict((k, md.get(k)) for k in SIMPLE_RNN_KEYS)}: "
                         f"expected tensors {expected}, found {found}")
    params = {k[len("rec."):]: v for k, v in tensors.items() if k.startswith("rec.")}
    layers: list = gru_stack(params, L, False, bias, I, H)
    layers.append(Dense(tensors["lin.weight"], tensors.get("lin.bias")))
    if skip:
        if skip > I:
            raise ValueError(f"skip={skip} adds {skip} input features, but the input has {I}")
        if skip != O:
            raise UnsupportedModelError(
                f"skip={skip} with output_size={O}: the module adds x[..., :{skip}] to an output of "
                f"{O} features (broadcasting); only skip equal to output_size (or skip=0) is supported")
        layers.append(InputSkip(0))
    info = {"form": "simple_rnn", "model_data": dict(md), "skip": skip, "assumed": []}
    return layers, info


def aida_tail(model: dict, layers: list) -> Tuple[list, Dict[str, Any]]:
    """Append AIDA-X's output gain and input skip to an RTNeural layer list; info about them."""
    info: Dict[str, Any] = {}
    meta = {k: model[k] for k in AIDA_METADATA_KEYS if k in model}
    if meta:
        info["metadata"] = meta
    gain_db = model.get("out_gain")
    in_skip = model.get("in_skip", 0)
    if gain_db is not None:
        if not isinstance(gain_db, (int, float)) or isinstance(gain_db, bool) or not np.isfinite(gain_db):
            raise ValueError(f"'out_gain' must be a number of dB, got {gain_db!r}")
        gain = 10.0 ** (float(gain_db) / 20.0) if gain_db > -90 else 0.0  # AIDA-X's DB_CO
        width = _output_width(layers)
        layers = layers + [Affine(np.full(width, gain, np.float32), np.zeros(width, np.float32))]
        info["out_gain_db"] = float(gain_db)
    if in_skip not in (0, 1, False, True):
        raise UnsupportedModelError(f"in_skip={in_skip!r}; AIDA-X defines 0 and 1 only")
    if in_skip:
        if _output_width(layers) != 1:
            raise UnsupportedModelError(f"in_skip=1 on a model with {_output_width(layers)} outputs; "
                                        f"AIDA-X adds the input sample to a single output")
        layers = layers + [InputSkip(0)]
        info["in_skip"] = 1
    return layers, info


def _output_width(layers: List[object]) -> int:
    for layer in reversed(layers):
        if isinstance(layer, Affine):
            return int(np.asarray(layer.scale).shape[0])
        if isinstance(layer, Dense):
            return int(np.asarray(layer.weight).shape[0])
        if hasattr(layer, "output_size"):
            return int(layer.output_size)
    raise ValueError("the model has no layer with a known output size")
