"""Keras' GRU weight layout, shared by the importers of files that store Keras weights (npz, RTNeural).

Keras stores kernel (input, 3*units), recurrent_kernel (units, 3*units) and a bias whose shape says
reset_after: (2, 3*units) for True, (3*units,) for False. Its gate order z, r, h is already ours.
"""
from __future__ import annotations

import numpy as np

from ..layers import GRU, GRUDirection

__all__ = ["gru_from_keras_weights"]


def gru_from_keras_weights(kernel, recurrent_kernel, bias=None, name: str = "GRU") -> GRU:
    """A forward GRU from Keras weights: kernel (I, 3H), recurrent_kernel (H, 3H), bias (2, 3H)
    (reset_after=True), (3H,) (reset_after=False) or None (no bias, taken as reset_after=True).
    Keras' gate order z, r, h is already ours."""
    kernel, rec = np.asarray(kernel), np.asarray(recurrent_kernel)
    if kernel.ndim != 2 or kernel.shape[1] % 3 or kernel.shape[1] == 0:
        raise ValueError(f"{name}: kernel must be (input, 3*units), got shape {kernel.shape}")
    H = kernel.shape[1] // 3
    if rec.shape != (H, 3 * H):
        raise ValueError(f"{name}: recurrent_kernel must be ({H}, {3 * H}) for a kernel of shape {kernel.shape}, "
                         f"got {rec.shape}")
    zeros = np.zeros(3 * H, np.float32)
    if bias is None:
        reset_after, bW, bR = True, zeros, zeros
    else:
        bias = np.asarray(bias)
        if bias.shape == (2, 3 * H):
            reset_after, bW, bR = True, bias[0], bias[1]
        elif bias.shape == (3 * H,):
            reset_after, bW, bR = False, bias, zeros
        else:
            raise ValueError(f"{name}: bias must be (2, {3 * H}) (reset_after=True) or ({3 * H},) "
                             f"(reset_after=False), got {bias.shape}")
    return GRU(input_size=kernel.shape[0], hidden_size=H,
               directions=[GRUDirection(W=kernel.T, R=rec.T, bW=bW, bR=bR)],
               linear_before_reset=reset_after, has_bias=bias is not None)
