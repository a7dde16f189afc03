"""PyTorch half of chargpt's TestPyTorchTrainsAlike.

Loads our char-gpt checkpoint (before training) into nanoGPT's GPT of
bench/pytorch/bench_chargpt.py (strict, but for the causal-mask buffers),
trains it with torch.optim.Adam on the batches in the JSON file that the Go
test wrote (each a list of sequences of block+1 token ids: inputs, then
next-character targets), and prints the training loss of each step, one
per line.

    python3 torch_chargpt.py CHECKPOINT BATCHES.json
"""
import json
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..", "..", "..")
sys.path.insert(0, os.path.join(root, "scripts", "py"))
sys.path.insert(0, os.path.join(root, "bench", "pytorch"))
from safetensors_stdlib import load_file  # noqa: E402
import bench_chargpt  # noqa: E402


def main():
    ckpt, batches = sys.argv[1], json.load(open(sys.argv[2]))
    cfg = batches["config"]
    torch.manual_seed(0)
    c = bench_chargpt.Config(vocab_size=cfg["vocab"], block_size=cfg["block"], n_layer=cfg["n_layer"],
                             n_head=cfg["n_head"], n_embd=cfg["n_embd"], dropout=0.0)
    model = bench_chargpt.GPT(c)
    st = {k[len("GPT."):]: v for k, v in load_file(ckpt).items() if k.startswith("GPT.") and not k.startswith("GPT.adam.")}
    missing, unexpected = model.load_state_dict(st, strict=False)
    missing = [k for k in missing if not k.endswith(".attn.bias")]
    if missing or unexpected:
        raise SystemExit("state_dict: missing %s, unexpected %s" % (missing, unexpected))
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])
    for seqs in batches["steps"]:
        t = torch.tensor(seqs, dtype=torch.long)
        loss = model(t[:, :-1].contiguous(), t[:, 1:].contiguous())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        print("%.9g" % loss.item())


if __name__ == "__main__":
    main()
