"""Our CPU GEMM beside numpy's (OpenBLAS) on the Qwen3-4B projections, in the same run.

Each round runs, one after the other: ours (benchmarks/cpu-gemm.ts, through the matmul op), numpy
with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE set, and numpy with both unset. Rounds interleave so
that a machine shared with other work slows all three alike; the table gives each one's median
over the rounds, the ratios ours / OpenBLAS, and the load average around each round.

    benchmarks/run-cpu-gemm.sh [--rounds 3] [--tokens 64,512]
    python3 benchmarks/cpu_gemm.py --numpy --tokens 64,512   # one numpy pass, JSON lines
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

# The projections of lib/bench/specs.ts (LINEAR_SHAPES): x (T, in) · Wᵀ (out, in).
SHAPES = {'qkv_proj': (2560, 6144), 'o_proj': (4096, 2560), 'mlp_gate_up': (2560, 19456), 'mlp_down': (9728, 2560)}
OPENBLAS_VARIABLES = ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')
# Used for the "set" runs when the environment sets neither: Zen's kernels, this CPU's 1 MB L2.
DEFAULT_SETTINGS = {'OPENBLAS_CORETYPE': 'Zen', 'OPENBLAS_L2_SIZE': '1048576'}


def median_ms(run, min_time_ms):
    """The median call time after 3 warm-up calls, repeated for min_time_ms and at least 5 times,
    as lib/bench/run.ts times ours."""
    for _ in range(3):
        run()
    times = []
    start = time.perf_counter()
    while (time.perf_counter() - start) * 1e3 < min_time_ms or len(times) < 5:
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def numpy_pass(tokens, min_time_ms):
    import numpy as np

    blas = ctypes.CDLL('libopenblas.so.0')  # the library numpy has loaded (Debian's alternative)
    blas.openblas_get_corename.restype = ctypes.c_char_p
    core = blas.openblas_get_corename().decode()
    threads = blas.openblas_get_num_threads()
    rng = np.random.default_rng(0)
    for t in tokens:
        for label, (k, n) in SHAPES.items():
            x = rng.uniform(-1, 1, (t, k)).astype(np.float32)
            w = rng.uniform(-1, 1, (n, k)).astype(np.float32)
            out = np.empty((t, n), np.float32)
            ms = median_ms(lambda: np.matmul(x, w.T, out=out), min_time_ms)
            print(json.dumps({'label': label, 'tokens': t, 'ms': ms, 'core': core, 'threads': threads}), flush=True)


def run_lines(command, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f'{" ".join(command)} failed:\n{result.stderr}')
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--numpy', action='store_true', help='one numpy pass (JSON lines), for the rounds')
    parser.add_argument('--tokens', default='64,512')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--min-time', type=float, default=1000, help='ms per shape and pass')
    parser.add_argument('--ours', default='build/bench/benchmarks/cpu-gemm.js')
    args = parser.parse_args()
    tokens = [int(t) for t in args.tokens.split(',')]
    if args.numpy:
        return numpy_pass(tokens, args.min_time)

    settings = {v: os.environ[v] for v in OPENBLAS_VARIABLES if v in os.environ} or DEFAULT_SETTINGS
    unset = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARIABLES}
    numpy_command = [sys.executable, __file__, '--numpy', '--tokens', args.tokens, '--min-time', str(args.min_time)]
    runs = {'ours': [], 'set': [], 'unset': []}
    loads = []
    for _ in range(args.rounds):
        before = os.getloadavg()[0]
        runs['ours'] += run_lines(['node', args.ours, '--tokens', args.tokens, '--min-time', str(args.min_time)], os.environ)
        runs['set'] += run_lines(numpy_command, {**unset, **settings})
        runs['unset'] += run_lines(numpy_command, unset)
        loads.append((before, os.getloadavg()[0]))

    def gflops(who, label, t):
        k, n = SHAPES[label]
        ms = statistics.median(r['ms'] for r in runs[who] if r['label'] == label and r['tokens'] == t)
        return 2 * t * k * n / ms / 1e6

    print(f'{os.cpu_count()} CPUs; {args.rounds} rounds; load average (1 min) before/after each round: '
          + ', '.join(f'{a:.1f}/{b:.1f}' for a, b in loads))
    print(f'ours: {runs["ours"][0]["threads"]} threads')
    for who, what in (('set', ' '.join(f'{k}={v}' for k, v in settings.items())), ('unset', 'both unset')):
        print(f'OpenBLAS {what}: core {runs[who][0]["core"]}, {runs[who][0]["threads"]} threads')
    print(f'{"shape":<12} {"T":>4} {"ours":>8} {"set":>8} {"unset":>8}   GFLOP/s (median)   ours/set  ours/unset')
    for t in tokens:
        ratios = {'set': [], 'unset': []}
        for label in SHAPES:
            g = {who: gflops(who, label, t) for who in runs}
            for who in ratios:
                ratios[who].append(g['ours'] / g[who])
            print(f'{label:<12} {t:>4} {g["ours"]:>8.1f} {g["set"]:>8.1f} {g["unset"]:>8.1f}   {"":18} '
                  f'{ratios["set"][-1]:>8.2f}  {ratios["unset"][-1]:>10.2f}')
        print(f'{"geomean":<12} {t:>4} {"":>8} {"":>8} {"":>8}   {"":18} '
              f'{statistics.geometric_mean(ratios["set"]):>8.2f}  {statistics.geometric_mean(ratios["unset"]):>10.2f}')


if __name__ == '__main__':
    main()
