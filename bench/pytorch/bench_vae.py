#!/usr/bin/env python3
"""PyTorch peer of nn/models/vae's BenchmarkTrainStep: pytorch/examples' VAE.

The model, loss and optimiser of pytorch/examples/vae/main.py exactly
(784-400-(20, 20)-400-784, ReLU, sigmoid output, binary_cross_entropy summed
plus the closed-form KL, Adam lr 1e-3), one training step at batch 128 on
grey-level images in [0, 1] (random images, as the Go benchmark uses),
timed as the Go benchmark times it: one untimed step, then the step count is
doubled until back-to-back steps last --min-time, then --reps repetitions;
the median time per step is printed, and written as JSON with --json.

    python3 bench/pytorch/bench_vae.py --threads 2
    go test ./nn/models/vae -run XXX -bench 'TrainStep$' -benchtime 5s

Compare the two in the same session on the same machine (the issue's target:
the Go step at least 3x faster than PyTorch's on the CPU).
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    """pytorch/examples' VAE."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    model = VAE().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.rand(512, 784, device=dev)
    idx = (torch.arange(a.batch) * 3) % 512
    x = data[idx]

    def step():
        opt.zero_grad()
        recon, mu, logvar = model(x)
        loss = loss_function(recon, x, mu, logvar)
        loss.backward()
        opt.step()
        return loss

    def timed(n):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    step()
    n = 1
    while timed(n) < a.min_time:
        n *= 2
    timed(n)
    per = statistics.median(timed(n) / n for _ in range(a.reps))
    res = {"key": "vae-step/b%d" % a.batch, "impl": "pytorch-eager", "device": a.device,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "seconds_per_step": per}
    print("pytorch/examples VAE step, batch %d, %s, %d threads: %.3f ms" % (a.batch, a.device, torch.get_num_threads(), per * 1e3))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
