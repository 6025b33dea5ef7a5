"""Convert live PyTorch modules into the layer specs of `gru_infer.layers`.

torch is imported lazily, inside the functions, so importing this module works without it.

`layers_from_torch(module) -> (layers, info)`, info = {"batch_first": bool | None, "source": "pytorch"}:
nn.GRU / nn.GRUCell / nn.Linear / activations directly; nn.Sequential and custom modules through a
torch.fx trace interpreted node by node (`_torch_fx`). Files are read by `torch_file`.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .._optional import require
from ..errors import UnsupportedModelError
from ..layers import GRU, Activation, ActivationLayer, Dense, Embedding
from ._state_dict import gru_stack, to_f32

__all__ = ["layers_from_torch"]


def gru_module_specs(gru) -> List[GRU]:
    if getattr(gru, "proj_size", 0):
        raise UnsupportedModelError("GRU with proj_size is not supported")
    params = {name: to_f32(p, name) for name, p in gru.named_parameters()}
    return gru_stack(params, gru.num_layers, gru.bidirectional, gru.bias, gru.input_size, gru.hidden_size)


def gru_cell_spec(cell) -> GRU:
    params = {name: to_f32(p, name) for name, p in cell.named_parameters()}
    return gru_stack(params, None, False, cell.bias, cell.input_size, cell.hidden_size)[0]


# ----------------------------------------------------------------------------------------------
# Simple modules: Linear, activations, Dropout, Embedding

def module_name(mod) -> str:
    cls = type(mod)
    return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn.") else f"{cls.__module__}.{cls.__qualname__}"


def softmax_dim_ok(dim, ndim: int) -> bool:
    return dim is not None and (dim == -1 or dim == ndim - 1)


def simple_module_layers(mod, ndim: int) -> Optional[list]:
    """Layers for a Linear/activation/Dropout module applied to an `ndim`-d value.

    None if the module is not one of these; raises for unsupported settings.
    """
    nn = require("torch").nn
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Identity: "identity",
              nn.Softsign: "softsign"}
    if isinstance(mod, nn.Dropout):
        return []  # inference: dropout is the identity
    if isinstance(mod, nn.Linear):
        bias = None if mod.bias is None else to_f32(mod.bias, "bias")
        return [Dense(to_f32(mod.weight, "weight"), bias)]
    if type(mod) in simple:
        act = Activation(simple[type(mod)])
    elif isinstance(mod, (nn.Softmax, nn.LogSoftmax)):
        if not softmax_dim_ok(mod.dim, ndim):
            raise UnsupportedModelError(f"{module_name(mod)}(dim={mod.dim}) on a {ndim}-d value: only the "
                                        f"last dimension (dim=-1) is supported")
        act = Activation("softmax" if isinstance(mod, nn.Softmax) else "log_softmax")
    elif isinstance(mod, nn.LeakyReLU):
        act = Activation("leaky_relu", alpha=float(mod.negative_slope))
    elif isinstance(mod, nn.ELU):
        act = Activation("elu", alpha=float(mod.alpha))
    elif isinstance(mod, nn.Softplus):
        check_softplus(mod.beta, mod.threshold)
        act = Activation("softplus")
    elif isinstance(mod, nn.Hardsigmoid):
        act = Activation("hard_sigmoid", alpha=1.0 / 6.0, beta=0.5)  # relu6(x + 3) / 6
    else:
        return None
    return [ActivationLayer(act)]


def check_softplus(beta, threshold):
    if beta != 1 or threshold != 20:
        raise UnsupportedModelError(f"Softplus(beta={beta}, threshold={threshold}): only beta=1, threshold=20 "
                                    f"is supported")


def embedding_layer(mod) -> Embedding:
    if mod.max_norm is not None:
        # max_norm renormalises looked-up rows (and mutates the weight) at call time
        raise UnsupportedModelError("nn.Embedding with max_norm is not supported")
    return Embedding(to_f32(mod.weight, "weight"))


# ----------------------------------------------------------------------------------------------
# layers_from_torch

def layers_from_torch(module) -> Tuple[list, Dict[str, Any]]:
    """Convert a live PyTorch module to `(layers, info)`; see the module docstring.

    Dropout is ignored (eval semantics); parameters are converted to float32.
    """
    torch = require("torch")
    nn = torch.nn
    info: Dict[str, Any] = {"batch_first": None, "source": "pytorch"}
    if isinstance(module, nn.GRU):
        info["batch_first"] = bool(module.batch_first)
        return gru_module_specs(module), info  # the output sequence (element 0 of torch's tuple)
    if isinstance(module, nn.GRUCell):
        return [gru_cell_spec(module)], info  # run over time; one step == one cell call
    if isinstance(module, nn.Embedding):
        return [embedding_layer(module)], info
    simple = simple_module_layers(module, ndim=3)
    if simple is not None:
        if not simple:
            raise UnsupportedModelError(f"{module_name(module)} alone has no layers to convert")
        return simple, info
    if type(module).__module__.startswith("torch.nn.") and not isinstance(module, nn.Sequential):
        raise UnsupportedModelError(f"unsupported module {module_name(module)}")
    from ._torch_fx import FxConverter  # imports this module: no cycle at import time
    layers, batch_first = FxConverter(module).run()
    info["batch_first"] = batch_first
    return layers, info

