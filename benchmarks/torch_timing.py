"""The timing every PyTorch baseline here uses: the median of `repeats` synchronised runs after
one warm-up, in milliseconds, as the TypeScript benchmarks time ours. `synchronize` waits for
the device (CUDA's by default; a function that does nothing where `fn` waits itself)."""
import time

import torch


def timed(fn, repeats=10, synchronize=None):
    synchronize = synchronize or torch.cuda.synchronize
    fn()
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]
