"""Which output of the last GRU a state_dict's Linear layers read (`gru_infer.load(path, head=...)`).

A state_dict holds weights, not forward(): after a GRU, a Linear may read every step (`fc(out)`), the
last step (`fc(out[:, -1])`) or the final states (`fc(h_n[-1])`, or `fc(torch.cat((h_n[-2], h_n[-1]),
dim=1))` for a bidirectional GRU). For a unidirectional GRU the last two are equal and every step
includes the last one, so `head=None` keeps every step (an assumption). For a bidirectional GRU they
differ (the backward direction's output at the last step has seen one step, its final state all of
them), so the head must be chosen.
"""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional

from ..errors import UnsupportedModelError
from ..layers import GRU, LastStep

HEADS = {  # name: (the forward() it stands for, what it means)
    "every_step": ("fc(out)", "the Linear layers apply to every time step of the GRU output"),
    "last_output": ("fc(out[:, -1])", "the Linear layers apply to the GRU output's last time step"),
    "final_states": ("fc(h_n[-1]), or fc(torch.cat((h_n[-2], h_n[-1]), dim=1)) for a bidirectional GRU",
                     "the Linear layers apply to the last GRU layer's final state (of each direction)"),
}
CHOOSE = ("choose with gru_infer.load(path, head=...): "
          + "; ".join(f"{name!r} for {form}" for name, (form, _) in HEADS.items()))


def check_head(head: Optional[str]) -> None:
    if head is not None and head not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)} or None, got {head!r}")


def no_head(head: Optional[str], what: str) -> None:
    """head= given for a file that is not a state_dict: a bad argument."""
    if head is not None:
        raise ValueError(f"head={head!r} is for PyTorch state_dicts; this file holds {what}")


def with_head(gru_layers: List[GRU], head: Optional[str], gru_prefix: str, linear: Optional[str],
              linear_inputs: int) -> list:
    """The last GRU module's layers ending as `head` says. head None: every step, refused (naming the
    modules) when a Linear follows a bidirectional GRU."""
    last = gru_layers[-1]
    if head is None and linear is not None and last.num_directions == 2:
        raise UnsupportedModelError(
            f"the state_dict has a bidirectional GRU {gru_prefix!r} (hidden size {last.hidden_size}) followed by "
            f"Linear {linear!r} with {linear_inputs} inputs; a state_dict does not say which output of the GRU the "
            f"Linear reads, and for a bidirectional GRU the usual heads give different results: {CHOOSE}. Or "
            f"build the module and use gru_infer.from_torch(module)")
    if head == "last_output":
        return gru_layers + [LastStep()]
    if head == "final_states":
        return gru_layers[:-1] + [replace(last, return_sequences=False)]
    return list(gru_layers)
