"""Safetensors files with the standard library only.

Debian has no python3-safetensors, so the PyTorch interop tests
(nn/models/*/testdata/*.py) read and write the files with these two
functions, byte for byte as safetensors.torch.load_file and save_file
would: an 8-byte little-endian header length, a JSON header of
{name: {dtype, shape, data_offsets}} (and "__metadata__"), then the data.
F32 and I64 tensors (BatchNorm's num_batches_tracked is int64).
"""
import array
import json
import struct
import sys

import torch

_CODES = {"F32": ("f", torch.float32), "I64": ("q", torch.int64)}


def load_file(path):
    """safetensors.torch.load_file for F32 and I64 tensors."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _CODES:
            raise SystemExit(f"{path}: tensor {name} has dtype {info['dtype']}")
        code, dtype = _CODES[info["dtype"]]
        lo, hi = info["data_offsets"]
        a = array.array(code)
        a.frombytes(raw[base + lo:base + hi])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = torch.tensor(a.tolist(), dtype=dtype).reshape(info["shape"])
    return out


def save_file(tensors, path):
    """safetensors.torch.save_file for float32 and int64 tensors: names
    sorted, header padded with spaces to a multiple of 8 bytes."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.int64:
            dt, code = "I64", "q"
        else:
            dt, code, t = "F32", "f", t.to(torch.float32)
        b = array.array(code, t.flatten().tolist())
        if sys.byteorder != "little":
            b.byteswap()
        data = b.tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for data in blobs:
            f.write(data)
