"""torch.distributed's all-reduce on the sizes and world of benchmarks/allreduce.ts, the same
backend (gloo on the CPU, nccl on GPUs), timed the same way: the median of 10 after a warm-up,
each call followed by a barrier-like all-reduce of one element, whose own time is taken off.
Prints ours beside it from build/bench/allreduce.json when that file is there.

    python3 benchmarks/torch_allreduce.py [--ranks N] [--device cpu|cuda]
"""
import argparse
import json
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch_timing import timed

SIZES_MIB = [1 / 256, 1 / 16, 1, 25, 100]


def median_ms(fn):
    return timed(fn, synchronize=lambda: None)  # fn ends with a host sum, which waits


def rank_main(rank, world, device_kind, port, ours):
    backend = "nccl" if device_kind == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    device = torch.device(f"cuda:{rank}") if device_kind == "cuda" else torch.device("cpu")
    if device_kind == "cuda":
        torch.cuda.set_device(device)
    one = torch.zeros(1, dtype=torch.float64 if backend == "gloo" else torch.float32, device=device)

    def host_sum():
        dist.all_reduce(one)
        one.item()  # waits, as our host sum does

    for i, mib in enumerate(SIZES_MIB):
        elements = round(mib * 2**20 / 4)
        t = torch.full((elements,), 1 / world, dtype=torch.float32, device=device)
        blocking = median_ms(lambda: (dist.all_reduce(t), host_sum()))
        host = median_ms(host_sum)
        ms = max(blocking - host, 1e-6)
        bus = 2 * (world - 1) / world * elements * 4 / (ms * 1e6)
        if rank == 0:
            line = f"torch all-reduce {mib:6.3g} MiB on {world} ranks ({backend}, {device_kind}): {ms:.3f} ms, bus {bus:.2f} GB/s"
            if ours and ours["world"] == world and ours["backend"] == backend:
                mine = ours["results"][i]
                line += f"; wsi-vqa/torch time {(mine['blockingMs'] - mine['hostSumMs']) / ms:.2f}"
            print(line, flush=True)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    ours_file = "build/bench/allreduce.json"
    ours = json.load(open(ours_file)) if os.path.exists(ours_file) else None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(rank_main, args=(args.ranks, args.device, port, ours), nprocs=args.ranks)


if __name__ == "__main__":
    main()
