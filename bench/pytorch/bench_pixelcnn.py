#!/usr/bin/env python3
"""PyTorch peer of `gan bench --what pixelcnn`: the PixelCNN training step.

The network of nn/models/pixelcnn (pytorch-generative's PixelCNN form): a
7x7 mask-A convolution 1 -> 2h, residual blocks
x + conv1x1(h->2h)(ReLU(maskB conv3x3(h->h)(ReLU(conv1x1(2h->h)(ReLU(x)))))),
then ReLU, 1x1 to 32, ReLU, 1x1 to one logit per pixel; h = 32 and 5 blocks
by default (--hidden, --blocks); --arch gated is the Go model's Gated
PixelCNN (vertical stack of 3x7 then 2x3 convolutions over the rows above,
horizontal stack of 1x7 mask A then 1x3 mask B convolutions with 1x1
links from the vertical stack, gates tanh(f) * sigmoid(g), residual
horizontal stack, the same head on its h channels). The masks
are buffers multiplied into the weights at every forward, as in the Go
model. One training step: dynamic binarisation of 64 grey images (uniform
random in [-1, 1), as gan bench uses) against fresh uniforms, the summed
Bernoulli NLL per image (binary_cross_entropy_with_logits), backward, Adam
1e-3.

Timing is bench.Timer's (bench_torch.py's Timer): one untimed step, the
step count doubled until a repetition lasts --min-time, one warm-up
repetition, then the median of --reps repetitions. The result has gan
bench's key (pixelcnn-step/b64, group pixelcnn-step, impl pytorch-eager),
so `gan bench-report --torch` sets it beside ours:

    python3 bench/pytorch/bench_pixelcnn.py --threads 2 --json torch-pixelcnn.json
    gan bench --device cpu --what pixelcnn --json gan-pixelcnn.json
"""

import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402  (Timer, schema, host description)


class MaskedConv2d(nn.Conv2d):
    """A convolution whose weight is multiplied by a fixed raster-order mask
    (A: strictly before the centre; B: the centre too)."""

    def __init__(self, in_ch, out_ch, k, mask_a):
        super().__init__(in_ch, out_ch, k, padding=k // 2)
        mask = torch.zeros_like(self.weight)
        c = k // 2
        mask[:, :, :c, :] = 1
        mask[:, :, c, :c] = 1
        if not mask_a:
            mask[:, :, c, c] = 1
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Block(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.inp = nn.Conv2d(2 * h, h, 1)
        self.conv = MaskedConv2d(h, h, 3, mask_a=False)
        self.out = nn.Conv2d(h, 2 * h, 1)

    def forward(self, x):
        t = F.relu(self.inp(F.relu(x)))
        return x + self.out(F.relu(self.conv(t)))


class RowMaskedConv2d(nn.Conv2d):
    """A 1xk convolution of the pixels left of the centre (A) or up to it (B)."""

    def __init__(self, in_ch, out_ch, k, mask_a):
        super().__init__(in_ch, out_ch, (1, k), padding=(0, k // 2))
        mask = torch.zeros_like(self.weight)
        mask[..., :k // 2 + (0 if mask_a else 1)] = 1
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def gate(x):
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One layer of the stacks; layer 0 reads the image."""

    def __init__(self, h, first):
        super().__init__()
        self.first = first
        if first:
            self.vconv = nn.Conv2d(1, 2 * h, (3, 7), padding=(0, 3))
            self.hconv = RowMaskedConv2d(1, 2 * h, 7, mask_a=True)
        else:
            self.vconv = nn.Conv2d(h, 2 * h, (2, 3), padding=(0, 1))
            self.hconv = RowMaskedConv2d(h, 2 * h, 3, mask_a=False)
            self.out = nn.Conv2d(h, h, 1)
        self.link = nn.Conv2d(2 * h, 2 * h, 1)

    def forward(self, v, hs):
        if self.first:  # rows r-3 ... r-1: three zero rows on top, the last row dropped
            vf = self.vconv(F.pad(v[:, :, :-1], (0, 0, 3, 0)))
        else:  # rows r-1 and r of the vertical stack
            vf = self.vconv(F.pad(v, (0, 0, 1, 0)))
        hf = self.hconv(hs) + self.link(vf)
        hs = gate(hf) if self.first else hs + self.out(gate(hf))
        return gate(vf), hs


class PixelCNN(nn.Module):
    def __init__(self, h=32, blocks=5, gated=False):
        super().__init__()
        self.gated = gated
        if gated:
            self.stack = nn.ModuleList(GatedLayer(h, i == 0) for i in range(blocks + 1))
        else:
            self.input = MaskedConv2d(1, 2 * h, 7, mask_a=True)
            self.blocks = nn.ModuleList(Block(h) for _ in range(blocks))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(h if gated else 2 * h, 32, 1), nn.ReLU(), nn.Conv2d(32, 1, 1))

    def forward(self, x):
        if self.gated:
            v, y = x, x
            for layer in self.stack:
                v, y = layer(v, y)
            return self.head(y)
        y = self.input(x)
        for b in self.blocks:
            y = b(y)
        return self.head(y)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--arch", choices=["", "gated"], default="")
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
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(1)
    model = PixelCNN(a.hidden, a.blocks, a.arch == "gated").to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    windows = 4
    data = torch.rand(windows * a.batch, 1, 28, 28, device=dev) * 2 - 1
    state = {"i": 0}

    def step():
        w = state["i"] % windows
        state["i"] += 1
        p = (data[w * a.batch:(w + 1) * a.batch] + 1) / 2
        x = (torch.rand_like(p) < p).float()
        opt.zero_grad(set_to_none=True)
        nll = F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / a.batch
        nll.backward()
        opt.step()
        return nll

    timer = bt.Timer(a.reps, a.min_time, torch.cuda.synchronize if gpu else (lambda: None))
    stat = timer.measure(step)
    sps = 1 / stat["median"]
    h, nb = a.hidden, a.blocks
    label = f"PixelCNN step b{a.batch} (h {h}, {nb} blocks{', gated' if a.arch else ''})"
    res = {"key": f"pixelcnn-step/b{a.batch}", "group": "pixelcnn-step", "label": label, "batch": a.batch,
           "seconds": stat, "value": sps, "unit": "steps/s", "images_per_s": sps * a.batch}
    threads = torch.get_num_threads()
    print(f"pytorch-eager {a.device}, {threads} threads: {label}: {stat['median'] * 1e3:.1f} ms, {sps:.3f} steps/s",
          file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(bt.step_report(a, res, dev, a.reps, a.min_time), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
