"""PyTorch's and numpy's side of benchmarks/read-features.ts: one slide of 40 000 x 1024 float32
patch features (160 MB).

  python3 benchmarks/torch_read_features.py make DIR   # writes the slide files the benchmark reads
  python3 benchmarks/torch_read_features.py time DIR   # median ms of torch.load / np.load of each, as JSON

Run it with Debian's /usr/bin/python3 (python3-torch 1.13, python3-numpy). The files come from the
page cache after the first read, on both sides alike.
"""
import json
import os
import sys
import time

import numpy as np
import torch

PATCHES = 40_000
WIDTH = 1024
REPEATS = 7


def make(folder):
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(PATCHES, WIDTH, generator=generator)
    coords = torch.randint(0, 100_000, (PATCHES, 2), generator=generator)
    torch.save(features, os.path.join(folder, "tensor.pt"))
    torch.save({"features": features, "coords": coords}, os.path.join(folder, "dict.pt"))
    np.save(os.path.join(folder, "plain.npy"), features.numpy())
    np.save(os.path.join(folder, "narrow512.npy"), features[:, :512].contiguous().numpy())


def median_ms(fn):
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def timings(folder):
    path = lambda name: os.path.join(folder, name)
    return {
        "torch.load tensor.pt": median_ms(lambda: torch.load(path("tensor.pt"))),
        "torch.load dict.pt": median_ms(lambda: torch.load(path("dict.pt"))),
        "np.load plain.npy": median_ms(lambda: np.load(path("plain.npy"))),
        "np.load narrow512.npy": median_ms(lambda: np.load(path("narrow512.npy"))),
    }


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count() or 1)
    command, folder = sys.argv[1], sys.argv[2]
    if command == "make":
        make(folder)
    else:
        print(json.dumps(timings(folder)))
