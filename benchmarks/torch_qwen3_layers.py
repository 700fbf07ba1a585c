"""Eager PyTorch on the shapes of benchmarks/qwen3-layers.ts (Qwen3-4B: hidden 2560, 32 heads of
128, MLP 9728), timed the same way (median of runs after a warm-up, synchronised), and the ratio
ours / PyTorch from build/bench/qwen3-layers.json. Skips without PyTorch or a GPU."""
import json
import sys

try:
    import torch
except ImportError:
    sys.exit("PyTorch is not installed: no baseline")
if not torch.cuda.is_available():
    sys.exit("no GPU: no baseline")

ours = json.load(open("build/bench/qwen3-layers.json"))
T, HIDDEN, HEADS, HEAD_DIM, MLP = ours["tokens"], 2560, 32, 128, 9728
dev, dt = "cuda", torch.bfloat16
from torch_timing import timed  # noqa: E402 (after the checks above)


def rms_norm():
    x = torch.randn(T, HIDDEN, device=dev, dtype=dt)
    w = torch.randn(HIDDEN, device=dev, dtype=dt)
    def run():
        h = x.float()
        return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)).to(dt) * w  # transformers' Qwen3RMSNorm
    return timed(run, 20)


def rope():
    q = torch.randn(1, HEADS, T, HEAD_DIM, device=dev, dtype=dt)
    inv = 1.0 / (1e6 ** (torch.arange(0, HEAD_DIM, 2, device=dev).float() / HEAD_DIM))
    freqs = torch.arange(T, device=dev).float()[:, None] * inv[None]
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos().to(dt), emb.sin().to(dt)
    def run():
        half = torch.cat((-q[..., HEAD_DIM // 2:], q[..., : HEAD_DIM // 2]), -1)
        return q * cos + half * sin  # transformers' apply_rotary_pos_emb
    return timed(run, 20)


def swiglu():
    g = torch.randn(T, MLP, device=dev, dtype=dt)
    u = torch.randn(T, MLP, device=dev, dtype=dt)
    return timed(lambda: torch.nn.functional.silu(g) * u, 20)


def adamw():
    p = torch.nn.Parameter(torch.randn(MLP, HIDDEN, device=dev, dtype=torch.float32))
    p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW([p], lr=1e-5, fused=True)
    return timed(opt.step, 20)


baselines = {"rms_norm": rms_norm(), "rope": rope(), "swiglu": swiglu(), "adamw": adamw()}
print(f"{'op':10} {'ours ms':>9} {'torch ms':>9} {'speed-up':>9}   ({ours['device']}, T={T})")
for r in ours["results"]:
    theirs = baselines[r["op"]]
    print(f"{r['op']:10} {r['ms']:9.3f} {theirs:9.3f} {theirs / r['ms']:8.2f}x")
