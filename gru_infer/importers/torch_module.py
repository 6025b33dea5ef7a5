"""Convert live PyTorch modules into the layer specs of `gru_infer.layers`.

torch is imported lazily, inside the functions, so importing this module works without it.

`layers_from_torch(module) -> (layers, info)`, info = {"batch_first": bool | None, "source": "pytorch"}:
nn.GRU / nn.GRUCell / nn.Linear / activations directly; nn.Sequential and custom modules through a
torch.fx trace interpreted node by node (`_torch_fx`); both through `_torch_modules` (one module's
layers). Files are read by `torch_file`.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from .._optional import require
from ..errors import UnsupportedModelError
from ._torch_fx import FxConverter
from ._torch_modules import embedding_layer, gru_cell_spec, gru_module_specs, module_name, simple_module_layers

__all__ = ["layers_from_torch"]


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
    converter = FxConverter(module)
    layers, batch_first = converter.run()
    info["batch_first"] = batch_first
    info.update(converter.info)
    return layers, info

