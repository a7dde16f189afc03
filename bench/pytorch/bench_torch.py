#!/usr/bin/env python3
"""PyTorch side of `gan bench`: the seed GAN's training step and its kernels.

Times, on one device and with the same method and the same result keys as
`gan bench --json` (see bench/report.go), so that `gan bench-report` can put
the figures side by side:

* the training step of the seed's PyTorch code (models, BCELoss on sigmoid
  outputs, Adam lr 2e-4, the seed's D-then-G order), with the MNIST training
  set read from the idx files in nn/mnist/data (no download) and moved to the
  device once, shuffled with torch's generator:
    - eager: the seed's loop as written (impl "pytorch-eager");
    - graphs: the whole D+G step captured once in a CUDA graph with static
      input buffers and capturable Adam, then replayed (impl "pytorch-graphs");
    - compile: the seed's loop with torch.compile'd models
      (impl "pytorch-compile"); a failure is recorded, not fatal;
* torch.mm in FP32 with TF32 off (cuBLAS on the GPU) at every product of the
  seed model and the square sizes, and LeakyReLU, sigmoid+BCE and Adam
  (impl "pytorch");
* group dcgan: pytorch/examples' DCGAN at 28×28 (nn/models/dcgan's
  architecture), its training step as the examples' loop (impl
  "pytorch-eager", key dcgan-step/b64) and each of its convolutions'
  forward, input gradient and weight gradient at batch 64 (impl "pytorch",
  keys conv/b64/...). On the CPU the run's notes name the BLAS library in
  use (and its version) and whether oneDNN is on.

Timing: one untimed call; then the call count is doubled until back-to-back
calls last --min-time; one warm-up repetition at that count; then --reps
repetitions, each followed by a single torch.cuda.synchronize(). Times are
medians per call. The eager step does not synchronise between steps (the seed
reads the losses once per epoch).

Usage (GPU machine):
  python3 bench/pytorch/bench_torch.py --device cuda --json torch-cuda.json
  python3 bench/pytorch/bench_torch.py --device cpu --threads 16 --json torch-cpu.json
"""

import argparse
import datetime
import gzip
import json
import math
import os
import platform
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

SCHEMA = "gan-bench/1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCH_IMAGES = 60000

# The Linear layers of the seed model, as bench/suite.go names them.
SEED_LAYERS = [
    ("G1", 100, 256), ("G2", 256, 512), ("G3", 512, 1024), ("G4", 1024, 784),
    ("D1", 784, 1024), ("D2", 1024, 512), ("D3", 512, 256), ("D4", 256, 1),
]
ACT_WIDTH = 1024


# ---- the seed's models, verbatim --------------------------------------------

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


# ---- pytorch/examples' DCGAN at MNIST's 28×28 or 32×32 (nn/models/dcgan) ------

NZ, NGF, NDF = 100, 64, 64


def dcgan_levels(size):
    """The start size s0 (4 or 7) and the number k of doublings of an image
    size, as nn/models/dcgan's levels: 28 = 7·2², 32 = 4·2³."""
    for s0 in (4, 7):
        k = 1
        while s0 << k <= size:
            if s0 << k == size:
                return s0, k
            k += 1
    raise ValueError(f"DCGAN size {size}: needs 4·2^k or 7·2^k (28, 32, 64, …)")


class DCGANGenerator(nn.Module):
    """The examples' Generator for size×size images, as nn/models/dcgan
    builds it: a transposed convolution from 1×1 to s0×s0 with NGF·2^(k−1)
    channels, then k doublings that halve the channels (100 → 128·7·7 →
    64·14·14 → 1·28·28 at 28; 100 → 256·4·4 → 128·8·8 → 64·16·16 → 1·32·32
    at 32)."""

    def __init__(self, nc=1, size=28):
        super().__init__()
        s0, k = dcgan_levels(size)
        ch = NGF << (k - 1)
        layers = [nn.ConvTranspose2d(NZ, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        while ch > NGF:
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(NGF, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class DCGANDiscriminator(nn.Module):
    """The examples' Discriminator mirrored at size×size (1·28·28 → 64·14·14
    → 128·7·7 → 1 at 28)."""

    def __init__(self, nc=1, size=28):
        super().__init__()
        s0, k = dcgan_levels(size)
        layers = [nn.Conv2d(nc, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        ch = NDF
        for _ in range(k - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, inplace=True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, s0, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def dcgan_weights_init(m):
    """The examples' weights_init."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def dcgan_layers(size):
    """The convolutions, as bench.DCGANLayers names them: (name, transposed,
    in, out, k, stride, pad, input size)."""
    out = []
    for prefix, net, h in (("G", DCGANGenerator(size=size), 1), ("D", DCGANDiscriminator(size=size), size)):
        i = 0
        for m in net.main:
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                i += 1
                t = isinstance(m, nn.ConvTranspose2d)
                k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
                out.append((f"{prefix}{i}", t, m.in_channels, m.out_channels, k, s, p, h))
                h = (h - 1) * s - 2 * p + k if t else (h + 2 * p - k) // s + 1
    return out


DCGAN_BATCH = 64


# ---- data ------------------------------------------------------------------

def read_idx_images(path):
    """Reads an idx3 image file (optionally gzipped) as a uint8 N×784 tensor."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 16:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an idx header")
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803 or rows != 28 or cols != 28:
        raise ValueError(f"{path}: magic {magic:#x}, {rows}×{cols}: not an MNIST image file")
    if len(data) != 16 + n * rows * cols:
        raise ValueError(f"{path}: {len(data)} bytes, want {16 + n * rows * cols}")
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, rows * cols)


def load_train_images(data_dir, device):
    """The MNIST training set scaled to [-1, 1] as the seed's
    Normalize((0.5,), (0.5,)) does, moved to device once."""
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            x = read_idx_images(path).to(device)
            return (x.float() / 255 - 0.5) / 0.5
    raise FileNotFoundError(f"no train-images-idx3-ubyte[.gz] in {data_dir}")


class Batches:
    """Batches of indices of a fresh torch.randperm per epoch (full batches
    only, so that every step has the same shape)."""

    def __init__(self, n, batch, device):
        if batch > n:
            raise ValueError(f"batch {batch} exceeds the {n} training images")
        self.n, self.batch, self.device = n, batch, device
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(1)
        self.perm, self.pos = None, n

    def next(self):
        if self.pos + self.batch > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen, device=self.device)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


# ---- timing ----------------------------------------------------------------

class Timer:
    """The method of bench.Timer (bench/bench.go)."""

    def __init__(self, reps, min_rep, sync, max_iters=1 << 20):
        self.reps, self.min_rep, self.sync, self.max_iters = reps, min_rep, sync, max_iters

    def _run(self, op, n):
        start = time.perf_counter()
        for _ in range(n):
            op()
        self.sync()
        return time.perf_counter() - start

    def measure(self, op):
        self._run(op, 1)  # lazy set-up, not timed
        iters = 1
        while True:
            el = self._run(op, iters)
            if el >= self.min_rep or iters >= self.max_iters:
                break
            nxt = 2 * iters
            if el > 0:
                nxt = max(nxt, math.ceil(iters * 1.2 * self.min_rep / el))
            iters = min(nxt, 100 * iters, self.max_iters)
        self._run(op, iters)  # warm-up at the final count
        per_op = sorted(self._run(op, iters) / iters for _ in range(self.reps))
        n = len(per_op)
        med = per_op[n // 2] if n % 2 else (per_op[n // 2 - 1] + per_op[n // 2]) / 2
        return {"median": med, "min": per_op[0], "max": per_op[-1], "reps": n, "iters": iters}


# ---- results ---------------------------------------------------------------

def step_result(batch, stat):
    sps = 1 / stat["median"]
    return {"key": f"step/b{batch}", "group": "step", "label": f"train step b{batch}", "batch": batch,
            "seconds": stat, "value": sps, "unit": "steps/s", "images_per_s": sps * batch}


def epoch_result(step):
    """Seconds per epoch, derived as bench.EpochResult does."""
    b = step["batch"]
    steps = (EPOCH_IMAGES + b - 1) // b
    st = dict(step["seconds"])
    for k in ("median", "min", "max"):
        st[k] *= steps
    return {"key": f"epoch/b{b}", "group": "epoch", "label": f"epoch b{b} ({steps} steps, derived)", "batch": b,
            "seconds": st, "value": st["median"], "unit": "s/epoch", "derived": True}


def add_epoch(results):
    for r in results:
        if r["key"] == "step/b64":
            results.append(epoch_result(r))
            return


def progress(device, impl, r):
    print(f"{impl} {device}: {r['label']:<30} {r['seconds']['median'] * 1e3:10.4f} ms  {r['value']:.4g} {r['unit']}",
          file=sys.stderr, flush=True)


# ---- training steps ----------------------------------------------------------

def make_models(device, capturable=False):
    torch.manual_seed(1)
    generator = Generator().to(device)
    discriminator = Discriminator().to(device)
    kw = {"capturable": True} if capturable else {}
    optimizer_G = optim.Adam(generator.parameters(), lr=0.0002, **kw)
    optimizer_D = optim.Adam(discriminator.parameters(), lr=0.0002, **kw)
    return generator, discriminator, optimizer_G, optimizer_D


def seed_step(images, generator, discriminator, optimizer_G, optimizer_D, criterion, device,
              set_to_none=True):
    """One iteration of the seed's training loop, as written there (labels
    and noise made on the device instead of the host)."""
    real_labels = torch.ones(images.size(0), 1, device=device)
    fake_labels = torch.zeros(images.size(0), 1, device=device)

    outputs = discriminator(images)
    d_loss_real = criterion(outputs, real_labels)

    z = torch.randn(images.size(0), 100, device=device)
    fake_images = generator(z)
    outputs = discriminator(fake_images.detach())
    d_loss_fake = criterion(outputs, fake_labels)

    d_loss = d_loss_real + d_loss_fake
    optimizer_D.zero_grad(set_to_none=set_to_none)
    d_loss.backward()
    optimizer_D.step()

    outputs = discriminator(fake_images)
    g_loss = criterion(outputs, real_labels)
    optimizer_G.zero_grad(set_to_none=set_to_none)
    g_loss.backward()
    optimizer_G.step()
    return d_loss, g_loss


def time_eager(data, batch, device, timer, compile_models=False):
    generator, discriminator, optimizer_G, optimizer_D = make_models(device)
    if compile_models:
        generator, discriminator = torch.compile(generator), torch.compile(discriminator)
    criterion = nn.BCELoss()
    batches = Batches(data.size(0), batch, device)

    def op():
        images = data[batches.next()].view(-1, 1, 28, 28)
        seed_step(images, generator, discriminator, optimizer_G, optimizer_D, criterion, device)

    if compile_models:  # compile before timing
        for _ in range(3):
            op()
        timer.sync()
    return step_result(batch, timer.measure(op))


def time_graphs(data, batch, device, timer):
    """The whole D+G step captured in one CUDA graph, replayed per step; the
    batch's indices are the graph's one input."""
    generator, discriminator, optimizer_G, optimizer_D = make_models(device, capturable=True)
    criterion = nn.BCELoss()
    batches = Batches(data.size(0), batch, device)
    static_idx = batches.next().clone()

    def step():
        images = data.index_select(0, static_idx).view(-1, 1, 28, 28)
        # Gradients stay allocated (zeroed in place) so that their addresses
        # are the graph's.
        return seed_step(images, generator, discriminator, optimizer_G, optimizer_D, criterion, device,
                         set_to_none=False)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_losses = step()

    def op():
        static_idx.copy_(batches.next())
        graph.replay()

    r = step_result(batch, timer.measure(op))
    d_loss, g_loss = (x.item() for x in static_losses)
    if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
        raise RuntimeError(f"graph replay gave non-finite losses d={d_loss} g={g_loss}")
    return r


def time_dcgan(data, batch, device, timer, size=28):
    """One iteration of the examples' DCGAN loop (main.py), eager: D on the
    real batch and on G(z).detach() (two backward passes), Adam on D; G
    through the updated D, Adam on G; the printed statistics read with
    .item() as there."""
    torch.manual_seed(1)
    netG, netD = DCGANGenerator(size=size).to(device), DCGANDiscriminator(size=size).to(device)
    if size != 28:  # the digits padded by background (−1) to size×size, as dcgan --size 32 trains on
        pad = (size - 28) // 2
        data = F.pad(data.view(-1, 1, 28, 28), (pad, size - 28 - pad, pad, size - 28 - pad), value=-1.0)
    netG.apply(dcgan_weights_init)
    netD.apply(dcgan_weights_init)
    criterion = nn.BCELoss()
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    batches = Batches(data.size(0), batch, device)
    real_label, fake_label = 1.0, 0.0

    def op():
        real = data[batches.next()].view(-1, 1, size, size)
        netD.zero_grad()
        label = torch.full((batch,), real_label, dtype=real.dtype, device=device)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch, NZ, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2

    stat = timer.measure(op)
    sps = 1 / stat["median"]
    return {"key": f"dcgan-step/b{batch}", "group": "dcgan-step", "label": f"DCGAN train step b{batch}", "batch": batch,
            "seconds": stat, "value": sps, "unit": "steps/s", "images_per_s": sps * batch}


def time_convs(device, timer, results, report, batch=DCGAN_BATCH, size=28):
    """Each DCGAN convolution's forward, input gradient and weight gradient
    (aten.convolution_backward asked for one of them), NCHW, under the keys
    and with the 2·m·n·k of bench.ConvProducts."""
    for name, transposed, cin, cout, k, s, p, h in dcgan_layers(size):
        o = (h - 1) * s - 2 * p + k if transposed else (h + 2 * p - k) // s + 1
        x = torch.rand(batch, cin, h, h, device=device) * 2 - 1
        w = torch.rand(*((cin, cout) if transposed else (cout, cin)), k, k, device=device) * 2 - 1
        dy = torch.rand(batch, cout, o, o, device=device) * 2 - 1
        if transposed:
            pix, kk = batch * h * h, cout * k * k
            mnk = {"fwd": (pix, kk, cin), "dx": (pix, cin, kk), "dW": (cin, kk, pix)}
            fwd = lambda: F.conv_transpose2d(x, w, None, s, p)
        else:
            pix, kk = batch * o * o, cin * k * k
            mnk = {"fwd": (pix, cout, kk), "dx": (pix, kk, cout), "dW": (cout, kk, pix)}
            fwd = lambda: F.conv2d(x, w, None, s, p)

        def bwd(mask):
            return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], transposed,
                                                                [0, 0], 1, mask)

        kind = "convT" if transposed else "conv"
        for pas, f in (("fwd", fwd), ("dx", bwd([True, False, False])), ("dW", bwd([False, True, False]))):
            m, n, kd = mnk[pas]
            flops = 2.0 * m * n * kd
            with torch.no_grad():
                stat = timer.measure(f)
            r = {"key": f"conv/b{batch}/{name}.{pas}", "group": "conv",
                 "label": f"b{batch} {name} {kind} {cin}→{cout} k{k} s{s} {h}→{o} {pas}",
                 "m": m, "n": n, "k": kd, "batch": batch, "flops": flops, "seconds": stat,
                 "value": flops / stat["median"] / 1e9, "unit": "GFLOP/s"}
            report(r)
            results.append(r)


def blas_description():
    """The BLAS and oneDNN this process uses: the BLAS libraries mapped into
    it (after a product has run) with the version they report."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and any(os.path.basename(parts[5]).startswith(t) for t in ("libblas", "libmkl_rt", "libopenblas")):
                    libs.add(os.path.realpath(parts[5]))
    except OSError:
        pass
    import ctypes
    names = []
    for path in sorted(libs):
        desc = path
        try:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_config"):
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_get_corename.restype = ctypes.c_char_p
                desc += f" (OpenBLAS {lib.openblas_get_config().decode()}, core {lib.openblas_get_corename().decode()})"
            elif hasattr(lib, "mkl_get_version_string"):
                buf = ctypes.create_string_buffer(256)
                lib.mkl_get_version_string(buf, 256)
                desc += f" ({buf.value.decode().strip()})"
        except OSError:
            pass
        names.append(desc)
    env = [f"{v}={os.environ[v]}" for v in ("MKL_THREADING_LAYER", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "LD_LIBRARY_PATH")
           if v in os.environ]
    return (f"BLAS: {'; '.join(names) or 'none found'}; oneDNN (mkldnn) "
            f"{'enabled' if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else 'off'}"
            + (f"; {' '.join(env)}" if env else ""))


# ---- kernels -----------------------------------------------------------------

def matmul_shapes(kernel_batches, squares):
    """The products of bench.MatMulShapes: (key, label, m, n, k, trans_a, trans_b, batch)."""
    out = []
    for b in kernel_batches:
        for name, fan_in, fan_out in SEED_LAYERS:
            out.append((f"matmul/b{b}/{name}.fwd", f"b{b} {name} fwd", b, fan_out, fan_in, False, True, b))
            out.append((f"matmul/b{b}/{name}.dx", f"b{b} {name} dx", b, fan_in, fan_out, False, False, b))
            out.append((f"matmul/b{b}/{name}.dW", f"b{b} {name} dW", fan_out, fan_in, b, True, False, b))
    for n in squares:
        out.append((f"matmul/square{n}", f"square {n}", n, n, n, False, False, 0))
    return out


def time_matmuls(device, timer, kernel_batches, squares, results, report):
    for key, label, m, n, k, ta, tb, batch in matmul_shapes(kernel_batches, squares):
        a = torch.rand(*((k, m) if ta else (m, k)), device=device) * 2 - 1
        b = torch.rand(*((n, k) if tb else (k, n)), device=device) * 2 - 1
        c = torch.empty(m, n, device=device)
        oa, ob = (a.t() if ta else a), (b.t() if tb else b)
        stat = timer.measure(lambda: torch.mm(oa, ob, out=c))
        flops = 2.0 * m * n * k
        r = {"key": key, "group": "matmul", "label": label, "m": m, "n": n, "k": k, "batch": batch,
             "flops": flops, "seconds": stat, "value": flops / stat["median"] / 1e9, "unit": "GFLOP/s"}
        if ta:
            r["trans_a"] = True
        if tb:
            r["trans_b"] = True
        report(r)
        results.append(r)


def param_count(prefix):
    return sum(i * o + o for name, i, o in SEED_LAYERS if name.startswith(prefix))


def time_elementwise(device, timer, kernel_batches, results, report):
    def add(key, label, batch, elements, nbytes, op):
        stat = timer.measure(op)
        r = {"key": key, "group": "elementwise", "label": label, "elements": elements, "bytes": nbytes,
             "seconds": stat, "value": nbytes / stat["median"] / 1e9, "unit": "GB/s"}
        if batch:
            r["batch"] = batch
        report(r)
        results.append(r)

    for b in kernel_batches:
        n = b * ACT_WIDTH
        x = torch.rand(b, ACT_WIDTH, device=device) * 2 - 1
        y = torch.empty_like(x)
        dx = torch.empty_like(x)
        bias = torch.rand(ACT_WIDTH, device=device) * 2 - 1
        add(f"leaky_relu.fwd/b{b}", f"b{b} LeakyReLU fwd {b}×{ACT_WIDTH}", b, n, 8.0 * n,
            lambda: torch.ops.aten.leaky_relu.out(x, 0.2, out=y))
        add(f"leaky_relu.bwd/b{b}", f"b{b} LeakyReLU bwd {b}×{ACT_WIDTH}", b, n, 12.0 * n,
            lambda: torch.ops.aten.leaky_relu_backward.grad_input(x, y, 0.2, True, grad_input=dx))
        add(f"bias_leaky_relu/b{b}", f"b{b} bias+LeakyReLU {b}×{ACT_WIDTH}", b, n, 8.0 * n + 4 * ACT_WIDTH,
            lambda: F.leaky_relu_(y.add_(bias), 0.2))

        rows = 2 * b
        logits = (torch.rand(rows, 1, device=device) * 2 - 1).requires_grad_()
        target = torch.ones(rows, 1, device=device)

        def bce():
            # The seed's loss: BCELoss on sigmoid outputs, and its gradient.
            loss = F.binary_cross_entropy(torch.sigmoid(logits), target)
            torch.autograd.grad(loss, logits)

        add(f"bce/b{b}", f"b{b} sigmoid+BCE {rows}×1", b, rows, 12.0 * rows, bce)

    for prefix, model in (("G", Generator), ("D", Discriminator)):
        params = list(model().to(device).parameters())
        for p in params:
            p.grad = torch.rand_like(p) * 2 - 1
        opt = optim.Adam(params, lr=0.0002)
        n = param_count(prefix)
        assert n == sum(p.numel() for p in params)
        add(f"adam/{prefix}", f"Adam {prefix} ({n} params)", 0, n, 28.0 * n, opt.step)


# ---- main ------------------------------------------------------------------

def step_report(a, res, dev, reps, min_time):
    """A bench.Report (gan bench's JSON) whose one run, PyTorch eager on dev
    with the BLAS named on the CPU, holds the training-step result res;
    `a.commit` is the commit it is recorded against."""
    gpu = dev.type == "cuda"
    run = {"device": dev.type, "impl": "pytorch-eager", "device_name": torch.cuda.get_device_name(0) if gpu else cpu_model(),
           "threads": torch.get_num_threads(), "results": [res]}
    if not gpu:
        run["notes"] = [blas_description()]
    return {
        "schema": SCHEMA, "tool": "pytorch",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": a.commit,
        "host": {"cpu": cpu_model(), "cores": os.cpu_count(), "os": sys.platform, "arch": platform.machine(),
                 "runtime": f"Python {platform.python_version()}, PyTorch {torch.__version__}"},
        "settings": {"reps": reps, "min_rep_seconds": min_time, "quick": False},
        "runs": [run],
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "model name":
                    return v.strip()
    except OSError:
        pass
    return platform.machine()


def sizes(s):
    return [int(x) for x in s.split(",") if x.strip() and int(x) > 0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--modes", default=None,
                    help="training-step modes: eager,graphs,compile (default: all three on cuda, eager on cpu)")
    ap.add_argument("--what", default="matmul,elementwise,step,dcgan", help="groups: matmul,elementwise,step,dcgan")
    ap.add_argument("--batches", default=None, help="training-step batches (default 64,256,1024,4096; cpu 64,256,1024)")
    ap.add_argument("--kernel-batches", default="64,256,1024")
    ap.add_argument("--squares", default=None, help="square products (default 1024,4096; cpu 1024; 0 for none)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.05, help="shortest repetition in seconds")
    ap.add_argument("--step-min-time", type=float, default=1.0,
                    help="shortest repetition of the DCGAN step in seconds (gan bench's training-step repetitions)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    ap.add_argument("--data", default=os.path.join(REPO, "nn", "mnist", "data"), help="directory with the idx files")
    ap.add_argument("--json", default=None, help="write the report here")
    ap.add_argument("--commit", default="")
    ap.add_argument("--quick", action="store_true", help="batch 64 only, short repetitions (a smoke test)")
    ap.add_argument("--dcgan-size", type=int, default=28,
                    help="image size of the dcgan group's network: 28 (MNIST) or 32 (the padded digits), as gan bench's flag")
    args = ap.parse_args(argv)
    try:
        dcgan_levels(args.dcgan_size)
    except ValueError as e:
        ap.error(f"--dcgan-size: {e}")

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("bench_torch: CUDA is not available to this PyTorch", file=sys.stderr)
        return 1
    gpu = device == "cuda"
    modes = (args.modes or ("eager,graphs,compile" if gpu else "eager")).split(",")
    what = args.what.split(",")
    batches = sizes(args.batches or ("64,256,1024,4096" if gpu else "64,256,1024"))
    kernel_batches = sizes(args.kernel_batches)
    squares = sizes(args.squares or ("1024,4096" if gpu else "1024"))
    reps, min_time = args.reps, args.min_time
    if args.quick:
        batches, kernel_batches, squares, reps, min_time = [64], [64], [], 3, 0.001
        args.step_min_time = 0.001
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    # FP32 products, no TF32 (cuBLAS SGEMM on the GPU).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("highest")

    sync = torch.cuda.synchronize if gpu else (lambda: None)
    timer = Timer(reps, min_time, sync)
    device_name = torch.cuda.get_device_name(0) if gpu else cpu_model()
    threads = torch.get_num_threads()
    runtime = f"Python {platform.python_version()}, PyTorch {torch.__version__}"
    if gpu:
        runtime += f", CUDA {torch.version.cuda}"
    report = {
        "schema": SCHEMA, "tool": "pytorch",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": args.commit,
        "host": {"cpu": cpu_model(), "cores": os.cpu_count(), "os": sys.platform, "arch": platform.machine(),
                 "runtime": runtime},
        "settings": {"reps": reps, "min_rep_seconds": min_time, "quick": args.quick},
        "runs": [],
    }

    blas = blas_description() if not gpu else ""

    def new_run(impl):
        run = {"device": device, "impl": impl, "device_name": device_name, "threads": threads, "results": []}
        if blas:
            run["notes"] = [blas]
        report["runs"].append(run)
        return run

    def reporter(impl):
        return lambda r: progress(device, impl, r)

    if "matmul" in what or "elementwise" in what or "dcgan" in what:
        run = new_run("pytorch")
        try:
            if "matmul" in what:
                time_matmuls(device, timer, kernel_batches, squares, run["results"], reporter("pytorch"))
            if "elementwise" in what:
                time_elementwise(device, timer, kernel_batches, run["results"], reporter("pytorch"))
            if "dcgan" in what:
                run["dcgan_size"] = args.dcgan_size
                time_convs(device, timer, run["results"], reporter("pytorch"), size=args.dcgan_size)
        except Exception as e:  # record and go on with the steps
            run["error"] = f"{type(e).__name__}: {e}"
            print(f"pytorch {device}: stopped: {run['error']}", file=sys.stderr)

    data = None
    if "step" in what or "dcgan" in what:
        data = load_train_images(args.data, device)
    if "step" in what:
        for mode in modes:
            impl = "pytorch-" + mode
            run = new_run(impl)
            if mode == "graphs" and not gpu:
                run["error"] = "CUDA graphs need the cuda device"
                continue
            if mode not in ("eager", "graphs", "compile"):
                run["error"] = f"unknown mode {mode!r}"
                continue
            try:
                for b in batches:
                    if mode == "graphs":
                        r = time_graphs(data, b, device, timer)
                    else:
                        r = time_eager(data, b, device, timer, compile_models=(mode == "compile"))
                    reporter(impl)(r)
                    run["results"].append(r)
            except Exception as e:  # torch.compile in particular may fail
                run["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                print(f"{impl} {device}: stopped: {run['error']}", file=sys.stderr)
            add_epoch(run["results"])

    if "dcgan" in what:
        # The DCGAN step joins the eager run (the same key as gan bench's).
        impl = "pytorch-eager"
        run = next((r for r in report["runs"] if r["impl"] == impl), None) or new_run(impl)
        try:
            timer_step = Timer(reps, max(min_time, args.step_min_time), sync)
            run["dcgan_size"] = args.dcgan_size
            r = time_dcgan(data, DCGAN_BATCH, device, timer_step, size=args.dcgan_size)
            reporter(impl)(r)
            run["results"].append(r)
        except Exception as e:
            run["error"] = f"DCGAN: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"{impl} {device}: stopped: {run['error']}", file=sys.stderr)

    text = json.dumps(report, indent=2)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.json)
        print(f"bench_torch: wrote {args.json}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
