"""The timing every PyTorch baseline here uses: the median of `repeats` synchronised runs after
one warm-up, in milliseconds, as the TypeScript benchmarks time ours."""
import time

import torch


def timed(fn, repeats=10):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]
