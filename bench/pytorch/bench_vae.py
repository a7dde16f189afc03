#!/usr/bin/env python3
"""PyTorch peer of `gan bench --what vae`: pytorch/examples' VAE training step.

The model, loss and optimiser of pytorch/examples/vae/main.py exactly
(784-400-(20, 20)-400-784, ReLU, sigmoid output, binary_cross_entropy summed
plus the closed-form KL, Adam lr 1e-3), one training step at batch 128 on
grey-level images in [0, 1] (uniform random, as gan bench and the Go
benchmark use; four batches in turn).

Timing is bench.Timer's (bench_torch.py's Timer): one untimed step, the
step count doubled until a repetition lasts --min-time, one warm-up
repetition, then the median of --reps repetitions. The result has gan
bench's key (vae-step/b128, group vae-step, impl pytorch-eager), so
`gan bench-report --torch` sets it beside ours and scripts/bench-alternate.sh
alternates the two:

    python3 bench/pytorch/bench_vae.py --threads 2 --json torch-vae.json
    gan bench --device cpu --what vae --json gan-vae.json

The issue's target: our step at least 3x faster than PyTorch's on the CPU,
measured on the same machine in the same session.
"""

import argparse
import json
import os
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402  (Timer, schema, host description)


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0, help="shortest repetition in seconds (gan bench's step repetitions)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--commit", default="")
    a = ap.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    gpu = dev.type == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(1)
    model = VAE().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    windows = 4
    data = torch.rand(windows * a.batch, 784, device=dev)
    state = {"i": 0}

    def step():
        w = state["i"] % windows
        state["i"] += 1
        x = data[w * a.batch:(w + 1) * a.batch]
        opt.zero_grad()
        recon, mu, logvar = model(x)
        loss = loss_function(recon, x, mu, logvar)
        loss.backward()
        opt.step()
        return loss

    timer = bt.Timer(a.reps, a.min_time, torch.cuda.synchronize if gpu else (lambda: None))
    stat = timer.measure(step)
    sps = 1 / stat["median"]
    label = f"VAE step b{a.batch} (784-400-20, grey)"
    res = {"key": f"vae-step/b{a.batch}", "group": "vae-step", "label": label, "batch": a.batch,
           "seconds": stat, "value": sps, "unit": "steps/s", "images_per_s": sps * a.batch}
    threads = torch.get_num_threads()
    print(f"pytorch-eager {a.device}, {threads} threads: {label}: {stat['median'] * 1e3:.2f} ms, {sps:.2f} steps/s",
          file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(bt.step_report(a, res, dev, a.reps, a.min_time), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
