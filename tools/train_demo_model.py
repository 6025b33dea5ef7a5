"""Train the demo model shipped in gru_infer/models/ (run once; needs torch).

Task: one-step-ahead forecasting of a machine's vibration sensor (a few harmonics of the shaft
speed, drifting slowly, plus noise). A GRU(1 -> 24) with a Linear head predicts the next sample;
at run time a large forecast error flags an anomaly. The demo (gru_infer/demo.py) streams a
signal with an injected fault through it.

    python tools/train_demo_model.py
"""
from pathlib import Path

import numpy as np
import torch
from torch import nn

import gru_infer
from gru_infer.demo import vibration_signal

OUT = Path(__file__).resolve().parent.parent / "gru_infer" / "models" / "vibration_forecaster.gru"


class Forecaster(nn.Module):
    def __init__(self, hidden=24):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Forecaster()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for it in range(600):
        batch = np.stack([vibration_signal(257, rng) for _ in range(32)])[..., None]
        x, y = torch.from_numpy(batch[:, :-1]), torch.from_numpy(batch[:, 1:])
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 100 == 0:
            print(f"step {it}: mse {loss.item():.5f}")
    model.eval()
    m = gru_infer.from_torch(model)
    m.save(OUT)
    x = torch.from_numpy(vibration_signal(500, rng)[None, :, None])
    err = np.abs(m.predict(x.numpy()) - model(x).detach().numpy()).max()
    print(f"saved {OUT} ({OUT.stat().st_size} bytes); max abs error vs torch {err:.2e}")


if __name__ == "__main__":
    main()
