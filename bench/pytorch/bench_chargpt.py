#!/usr/bin/env python3
"""PyTorch peer of char-gpt (nn/models/chargpt): nanoGPT's GPT on the fortunes corpus.

nanoGPT's model.py structure (token + position embedding, pre-LayerNorm
blocks of causal self-attention with one c_attn projection and a GELU MLP of
4*n_embd, a final LayerNorm and a linear head), at char-gpt's default shape:
n_layer 4, n_head 4, n_embd 128, block_size 64, batch 12, dropout 0, biases
in every Linear and LayerNorm; as in char-gpt the head is not tied to the
token embedding. nanoGPT's initialisation (N(0, 0.02), c_proj weights
N(0, 0.02/sqrt(2*n_layer)), zero biases). Adam lr 1e-3, betas (0.9, 0.99),
eps 1e-8, no weight decay, as char-gpt's default.

The data is char-gpt's: the plain-text files of /usr/share/games/fortunes
(Debian's fortunes; .dat, .u8, dot-files and symbolic links left out)
concatenated in sorted order, the vocabulary its distinct characters sorted,
the first 90% of the characters train, the rest validates. Batches are
nanoGPT's get_batch (torch.randint starts), so they differ from ours (a
counter-based generator) in which blocks are drawn, not in how.

It trains --steps steps, timing them (the steps alone: no evaluation
inside the timed span), and measures the validation loss as nanoGPT's
estimate_loss (the mean of --eval-iters random validation batches) before
the first and after the last step. Printed, and written with --json as a
bench report (the step's median time over --reps runs of consecutive
steps, under gan bench's key, so that gan bench-report sets the two side
by side; the printed figures in the run's "char_gpt" field).

    python3 bench/pytorch/bench_chargpt.py --steps 300 --threads 2
    gan bench --device cpu --what text        # our training step, same shape
    gan train --model char-gpt --steps 300    # our validation loss at 300 steps
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402  (schema, host description)

FORTUNES = "/usr/share/games/fortunes"


def load_default(d=FORTUNES):
    """The default corpus of nn/text.LoadDefault."""
    names = []
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if os.path.isdir(p) or os.path.islink(p) or n.endswith(".dat") or n.endswith(".u8") or n.startswith("."):
            continue
        names.append(n)
    if not names:
        raise SystemExit("no fortunes in %s: install Debian's fortunes package, or give --text FILE" % d)
    data = b"".join(open(os.path.join(d, n), "rb").read() for n in sorted(names, key=lambda s: s.encode()))
    return data.decode("utf-8")


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)
        self.attn_dropout = nn.Dropout(c.dropout)
        self.resid_dropout = nn.Dropout(c.dropout)
        self.n_head, self.n_embd = c.n_head, c.n_embd
        self.register_buffer("bias", torch.tril(torch.ones(c.block_size, c.block_size)).view(1, 1, c.block_size, c.block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=nn.Embedding(c.block_size, c.n_embd),
            drop=nn.Dropout(c.dropout),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=nn.LayerNorm(c.n_embd),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


class Config:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", default="", help="a UTF-8 file (default: the fortunes corpus)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-iters", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--json", default="", help="write the figures as a bench report (bench.Report), the peer of gan bench's char-gpt row")
    ap.add_argument("--commit", default="")
    ap.add_argument("--reps", type=int, default=5, help="repetitions the timed steps are split into (after the first tenth, a warm-up)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(a.text, encoding="utf-8").read() if a.text else load_default()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    cut = int(len(ids) * 0.9)
    train, val = ids[:cut], ids[cut:]
    c = Config(vocab_size=len(chars), block_size=a.block, n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd, dropout=0.0)
    model = GPT(c)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0)

    def get_batch(data):
        ix = torch.randint(len(data) - a.block, (a.batch,))
        x = torch.stack([data[i:i + a.block] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + a.block] for i in ix])
        return x, y

    @torch.no_grad()
    def val_loss():
        model.eval()
        s = sum(model(*get_batch(val)).item() for _ in range(a.eval_iters)) / a.eval_iters
        model.train()
        return s

    v0 = val_loss()
    seconds, last, per_step = 0.0, float("nan"), []
    for _ in range(a.steps):
        x, y = get_batch(train)
        t = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last = loss.item()
        per_step.append(time.perf_counter() - t)
        seconds += per_step[-1]
    v = val_loss()
    nparams = sum(p.numel() for p in model.parameters())
    res = {"key": "char-gpt-train/b%d" % a.batch, "impl": "pytorch-eager", "device": "cpu", "threads": torch.get_num_threads(),
           "torch": torch.__version__, "params": nparams, "vocab": len(chars), "chars": len(ids), "steps": a.steps,
           "batch": a.batch, "block": a.block, "seconds": seconds, "steps_per_second": a.steps / seconds,
           "train_loss": last, "val_loss_start": v0, "val_loss": v, "eval_iters": a.eval_iters}
    print("nanoGPT char GPT (PyTorch %s, cpu, %d threads, %d parameters, vocabulary %d): %d steps of batch %d x block %d in %.1f s, "
          "%.2f steps/s; validation loss %.4f -> %.4f nats/char (%.4f bits/char), last training loss %.4f"
          % (torch.__version__, torch.get_num_threads(), nparams, len(chars), a.steps, a.batch, a.block, seconds,
             a.steps / seconds, v0, v, v / math.log(2), last))
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(report(a, res, per_step, len(chars)), indent=1) + "\n")


def report(a, res, per_step, vocab):
    """A bench.Report whose one result is the char-gpt training step under
    gan bench's key: the steps after the first tenth (a warm-up) cut into
    --reps runs of consecutive steps, the median (min, max) of their mean
    step times. The run's "char_gpt" field keeps every figure printed."""
    timed = per_step[len(per_step) // 10:]
    n = max(1, min(a.reps, len(timed)))
    size = len(timed) // n
    per_op = sorted(sum(timed[i * size:(i + 1) * size]) / size for i in range(n))
    stat = {"median": per_op[n // 2] if n % 2 else (per_op[n // 2 - 1] + per_op[n // 2]) / 2,
            "min": per_op[0], "max": per_op[-1], "reps": n, "iters": size}
    sps = 1 / stat["median"]
    name = os.path.basename(a.text) if a.text else "fortunes"
    result = {"key": "char-gpt-step/b%d" % a.batch, "group": "text-step",
              "label": "char-gpt step b%d×%d (%s, V %d)" % (a.batch, a.block, name, vocab), "batch": a.batch,
              "seconds": stat, "value": sps, "unit": "steps/s", "images_per_s": sps * a.batch * a.block}
    run = {"device": "cpu", "impl": "pytorch-eager", "device_name": bt.cpu_model(), "threads": torch.get_num_threads(),
           "notes": [bt.blas_description()], "results": [result], "char_gpt": res}
    return {
        "schema": bt.SCHEMA, "tool": "pytorch",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": a.commit,
        "host": {"cpu": bt.cpu_model(), "cores": os.cpu_count(), "os": sys.platform, "arch": platform.machine(),
                 "runtime": f"Python {platform.python_version()}, PyTorch {torch.__version__}"},
        "settings": {"reps": n, "min_rep_seconds": 0, "quick": False},
        "runs": [run],
    }


if __name__ == "__main__":
    main()
