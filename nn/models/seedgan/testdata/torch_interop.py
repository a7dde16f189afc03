"""PyTorch side of TestPyTorchInterop (nn/models/seedgan/interop_test.go).

Usage:
  torch_interop.py load CHECKPOINT PROBE   load our checkpoint into the seed's
                                           modules with strict=True and compare
                                           their outputs with ours (in PROBE)
  torch_interop.py save STATE_DICT PROBE   write a state_dict of freshly
                                           initialised seed modules, and in
                                           PROBE the inputs and outputs for Go
                                           to compare

Debian has no python3-safetensors: the files are read and written with
the standard library (scripts/py/safetensors_stdlib.py), as
safetensors.torch.load_file and save_file would.
The model classes are the seed's (seed 000, section 六), unchanged.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "scripts", "py"))
from safetensors_stdlib import load_file, save_file  # noqa: E402


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(100, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 784),
            nn.Tanh()
        )

    def forward(self, x):
        return self.model(x).view(-1, 1, 28, 28)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(784, 1024),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(1024, 512),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
            nn.Sigmoid()
        )

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.model(x)


def sub_state_dict(tensors, prefix):
    """The tensors of one network, as its own state_dict: "G.model.0.weight"
    becomes "model.0.weight" (the optimiser moments, "G.adam.…", are not
    part of a module's state_dict)."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix + "model.")}


def load(checkpoint, probe):
    t = load_file(checkpoint)
    G, D = Generator(), Discriminator()
    G.load_state_dict(sub_state_dict(t, "G."), strict=True)
    D.load_state_dict(sub_state_dict(t, "D."), strict=True)
    G.eval()
    D.eval()
    p = load_file(probe)
    with torch.no_grad():
        g = G(p["z"]).reshape(p["g_out"].shape)
        d = D(p["x"]).reshape(p["d_out"].shape)
    eg = (g - p["g_out"]).abs().max().item()
    ed = (d - p["d_out"]).abs().max().item()
    print(f"loaded {len(t)} tensors with strict=True; max |G(z) - ours| = {eg:.3g}, max |D(x) - ours| = {ed:.3g}")
    # Both sides compute in float32 with different summation orders: the
    # outputs (tanh and sigmoid of sums of ~1000 products of O(0.03)
    # weights) agree to a few 1e-7; 1e-5 still fails any wrong layout.
    if not (eg <= 1e-5 and ed <= 1e-5):
        raise SystemExit(f"outputs differ: G {eg}, D {ed}")


def save(state_dict, probe):
    torch.manual_seed(7)
    G, D = Generator(), Discriminator()
    G.eval()
    D.eval()
    sd = {"G." + k: v for k, v in G.state_dict().items()}
    sd.update({"D." + k: v for k, v in D.state_dict().items()})
    save_file(sd, state_dict)
    z = torch.randn(16, 100)
    x = torch.rand(16, 784) * 2 - 1
    with torch.no_grad():
        save_file({"z": z, "x": x, "g_out": G(z).reshape(16, 784), "d_out": D(x)}, probe)
    print(f"saved {len(sd)} tensors")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("load", "save"):
        raise SystemExit(__doc__)
    {"load": load, "save": save}[sys.argv[1]](sys.argv[2], sys.argv[3])
