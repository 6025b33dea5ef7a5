"""One PyTorch module (nn.GRU, nn.GRUCell, nn.Linear, activations, Dropout, Embedding, BatchNorm1d) as
layer specs of `gru_infer.layers`: what `torch_module.layers_from_torch` converts directly and what
`_torch_fx` converts node by node in a trace (both import this module; it imports neither).

torch is imported lazily, inside the functions, so importing this module works without it.
"""
from __future__ import annotations

from typing import List, Optional

from .._optional import require
from ..errors import UnsupportedModelError
from ..layers import GRU, Activation, ActivationLayer, Affine, Dense, Embedding
from ._state_dict import gru_stack, to_f32


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
    elif isinstance(mod, nn.GELU):
        act = gelu(mod.approximate)
    elif isinstance(mod, nn.Hardtanh):  # also nn.ReLU6
        act = Activation("clip", alpha=float(mod.min_val), beta=float(mod.max_val))
    elif isinstance(mod, nn.PReLU):
        act = prelu(mod)
    elif isinstance(mod, nn.CELU):
        act = Activation("celu", alpha=float(mod.alpha))
    elif type(mod) in (nn.SiLU, nn.Hardswish, nn.Mish, nn.SELU):
        act = {nn.SiLU: Activation("silu"), nn.Hardswish: Activation("hard_swish"), nn.Mish: Activation("mish"),
               nn.SELU: SELU}[type(mod)]
    elif isinstance(mod, nn.BatchNorm1d):
        return [batch_norm_affine(mod, ndim)]
    else:
        return None
    return [ActivationLayer(act)]


SELU = Activation("selu", alpha=1.6732632423543772, beta=1.0507009873554805)  # torch's constants


def gelu(approximate) -> Activation:
    if approximate not in ("none", "tanh"):
        raise UnsupportedModelError(f"GELU(approximate={approximate!r}): expected 'none' or 'tanh'")
    return Activation("gelu" if approximate == "none" else "gelu_tanh")


def prelu(mod) -> Activation:
    """PReLU with one shared slope is leaky_relu; a slope per feature has no element-wise equivalent."""
    if mod.num_parameters != 1:
        raise UnsupportedModelError(f"nn.PReLU(num_parameters={mod.num_parameters}): a learned slope per feature "
                                    f"is not supported, only the default single shared slope")
    return Activation("leaky_relu", alpha=float(to_f32(mod.weight, "PReLU weight")[0]))


def batch_norm_affine(mod, ndim: int) -> Affine:
    """nn.BatchNorm1d at inference on (batch, features): per-feature scale and shift."""
    name = module_name(mod)
    if mod.training:
        raise UnsupportedModelError(f"{name} is in training mode (it normalises with the batch's own statistics); "
                                    f"call module.eval() first")
    if not mod.track_running_stats or mod.running_mean is None:
        raise UnsupportedModelError(f"{name}(track_running_stats=False) normalises with each batch's statistics, "
                                    f"even in eval mode: not a fixed per-feature map")
    if ndim != 2:
        raise UnsupportedModelError(f"{name} on a (batch, time, features) value normalises axis 1 (time); only "
                                    f"(batch, features) or x.transpose(1, 2) -> BatchNorm1d -> transpose back is "
                                    f"a per-feature map")
    weight = to_f32(mod.weight, "weight") if mod.affine else None
    bias = to_f32(mod.bias, "bias") if mod.affine else None
    return Affine.from_batch_norm(weight, bias, to_f32(mod.running_mean, "running_mean"),
                                  to_f32(mod.running_var, "running_var"), float(mod.eps))


def check_softplus(beta, threshold):
    if beta != 1 or threshold != 20:
        raise UnsupportedModelError(f"Softplus(beta={beta}, threshold={threshold}): only beta=1, threshold=20 "
                                    f"is supported")


def embedding_layer(mod) -> Embedding:
    if mod.max_norm is not None:
        # max_norm renormalises looked-up rows (and mutates the weight) at call time
        raise UnsupportedModelError("nn.Embedding with max_norm is not supported")
    return Embedding(to_f32(mod.weight, "weight"))
