"""PyTorch side of TestPyTorchLoadsOurDCGAN (nn/models/dcgan/interop_test.go).

Usage: torch_dcgan.py CHECKPOINT PROBE

Loads our 3×64×64 DCGAN checkpoint into pytorch/examples' dcgan modules
(Generator and Discriminator of dcgan/main.py, unchanged but for the ngpu
plumbing) with load_state_dict(strict=True), running statistics and
num_batches_tracked (int64) included, and compares their evaluation-mode
outputs with ours (in PROBE).
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "scripts", "py"))
from safetensors_stdlib import load_file  # noqa: E402

nz, ngf, ndf, nc = 100, 64, 64, 3


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh()
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


def sub_state_dict(tensors, prefix):
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix + "main.")}


def main(checkpoint, probe):
    t = load_file(checkpoint)
    G, D = Generator(), Discriminator()
    G.load_state_dict(sub_state_dict(t, "G."), strict=True)
    D.load_state_dict(sub_state_dict(t, "D."), strict=True)
    tracked = G.main[1].num_batches_tracked
    if tracked.dtype != torch.int64 or tracked.item() < 1:
        raise SystemExit(f"num_batches_tracked {tracked} (want an int64 count of the batches trained)")
    G.eval()
    D.eval()
    p = load_file(probe)
    with torch.no_grad():
        g = G(p["z"].reshape(-1, nz, 1, 1)).reshape(p["g_out"].shape)
        d = D(p["x"].reshape(-1, nc, 64, 64)).reshape(p["d_out"].shape)
    eg = (g - p["g_out"]).abs().max().item()
    ed = (d - p["d_out"]).abs().max().item()
    print(f"loaded {len(t)} tensors with strict=True (num_batches_tracked {tracked.item()}); "
          f"max |G(z) - ours| = {eg:.3g}, max |D(x) - ours| = {ed:.3g}")
    # float32 on both sides, sums of up to 8192 products in different
    # orders, through four batch norms: within 1e-4 of the outputs' scale
    # (G's are small after N(0, 0.02) init), far below the O(1) relative
    # error of any layout or index mistake.
    sg, sd = p["g_out"].abs().max().item(), p["d_out"].abs().max().item()
    if not (eg <= 1e-4 * sg + 1e-7 and ed <= 1e-4 * sd + 1e-7):
        raise SystemExit(f"outputs differ: G {eg} (scale {sg}), D {ed} (scale {sd})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
