"""PyTorch on the shapes of benchmarks/gpu/kernels.ts, under the same ids (the proof's step e).

    python3 benchmarks/gpu/torch_kernels.py --device cuda --json FILE
    python3 benchmarks/gpu/torch_kernels.py --device cpu --tiny --json FILE   # the dry run

- attention: scaled_dot_product_attention with the flash backend (bf16, causal; the 8 key-value
  heads repeated to 32 as transformers' Qwen3 does, outside the timing), forward and backward;
  one-query decode against a 4 096-token cache at batch 1 and 16 (SDPA's own choice of backend).
- fused CE's counterpart: hidden @ weightᵀ then F.cross_entropy, forward and backward to both, with
  the peak memory above the inputs.
- the four GEMMs of a Qwen3-4B layer (torch.matmul), RMSNorm, RoPE and SwiGLU as transformers
  writes them, at T 8192.
- the MoE compressor forward (TC-SSA's module) on one 40 000-patch slide.
Times are medians of synchronised runs after a warm-up (benchmarks/torch_timing.py). Without
PyTorch 2.1 or newer it writes why and exits 0: the proof records the step as skipped.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cuda")
parser.add_argument("--tiny", action="store_true")
parser.add_argument("--json")
args = parser.parse_args()
results = []


def write(extra=None):
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "tiny": args.tiny, "results": results, **(extra or {})}, f, indent=1)


try:
    import torch
    import torch.nn.functional as F
except ImportError:
    write({"skipped": "PyTorch is not installed"})
    sys.exit(print("torch_kernels: PyTorch is not installed; skipping"))
if tuple(int(p) for p in torch.__version__.split(".")[:2]) < (2, 1):
    write({"skipped": f"PyTorch {torch.__version__} predates scaled_dot_product_attention's backends (2.1)"})
    sys.exit(print(f"torch_kernels: PyTorch {torch.__version__} is too old; skipping"))
if args.device.startswith("cuda") and not torch.cuda.is_available():
    write({"skipped": "no CUDA device"})
    sys.exit(print("torch_kernels: no CUDA device; skipping"))

from torch_timing import timed  # noqa: E402

DEV = torch.device(args.device)
CUDA = DEV.type == "cuda"
DT = torch.bfloat16 if CUDA else torch.float32
REPEATS = 3 if args.tiny else 10
sync = torch.cuda.synchronize if CUDA else (lambda: None)


def median_ms(fn):
    return timed(fn, REPEATS, synchronize=sync)


def report(id, ms, flops=None, bytes=None, **extra):
    r = {"id": id, "ms": ms, **extra}
    if flops is not None:
        r["tflops"] = flops / (ms * 1e-3) / 1e12
    if bytes is not None:
        r["gbps"] = bytes / (ms * 1e-3) / 1e9
    results.append(r)
    rate = f"{r['tflops']:.3g} TFLOP/s" if "tflops" in r else f"{r['gbps']:.3g} GB/s" if "gbps" in r else ""
    print(f"{id:34} {ms:10.3f} ms  {rate}", flush=True)
    write()


def rand(*shape, scale=1.0, dtype=None):
    return (torch.rand(*shape, device=DEV, dtype=torch.float32) * 2 - 1).mul_(scale).to(dtype or DT)


def sdpa_backend():
    """The flash backend on a GPU (as the issue asks), the default elsewhere."""
    from contextlib import nullcontext

    if not CUDA:
        return nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.FLASH_ATTENTION)


def attention(tokens):
    b, hq, hkv, d = (1, 4, 2, 64) if args.tiny else (16384 // tokens, 32, 8, 128)
    q = rand(b, hq, tokens, d).requires_grad_()
    k = rand(b, hkv, tokens, d).repeat_interleave(hq // hkv, dim=1).requires_grad_()
    v = rand(b, hkv, tokens, d).repeat_interleave(hq // hkv, dim=1).requires_grad_()
    dout = rand(b, hq, tokens, d)
    flops = 4 * b * hq * tokens * tokens * d / 2
    with sdpa_backend():
        fwd = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        bwd = median_ms(lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True))
    report(f"attention_fwd T={tokens}", fwd, flops)
    report(f"attention_bwd T={tokens}", bwd, 2.5 * flops)


@torch.no_grad()
def decode(batch, cache):
    hq, hkv, d = (4, 2, 64) if args.tiny else (32, 8, 128)
    q = rand(batch, hq, 1, d)
    k = rand(batch, hkv, cache, d)
    v = rand(batch, hkv, cache, d)
    kx, vx = (t.repeat_interleave(hq // hkv, dim=1) for t in (k, v))
    ms = median_ms(lambda: F.scaled_dot_product_attention(q, kx, vx))
    report(f"attention_decode B={batch} cache={cache}", ms, bytes=2 * batch * cache * hkv * d * q.element_size())


def cross_entropy():
    t, h, v = (64, 64, 1000) if args.tiny else (8192, 2560, 151_936)
    hidden = rand(t, h).requires_grad_()
    weight = rand(v, h, scale=0.02).requires_grad_()
    labels = torch.randint(0, v, (t,), device=DEV)

    def step():
        logits = hidden @ weight.t()
        F.cross_entropy(logits.float(), labels, reduction="sum").backward()
        hidden.grad = None
        weight.grad = None

    step()
    sync()
    extra = {}
    if CUDA:
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    ms = median_ms(step)
    if CUDA:
        extra["extraBytes"] = torch.cuda.max_memory_allocated() - base
    report(f"fused_ce T={t} H={h} V={v}", ms, 3 * 2 * t * h * v, note="matmul + F.cross_entropy", **extra)


def layer_ops():
    """lib/bench's cases: the GEMMs of a Qwen3-4B layer, RMSNorm, RoPE, SwiGLU."""
    t, hidden, inter, heads, head_dim = (8 if args.tiny else 8192), 2560, 9728, 32, 128
    size = 2 if DT == torch.bfloat16 else 4
    for label, k, n in (("qkv_proj", hidden, (heads + 2 * 8) * head_dim), ("o_proj", heads * head_dim, hidden),
                        ("mlp_gate_up", hidden, 2 * inter), ("mlp_down", inter, hidden)):
        x, w = rand(t, k), rand(n, k, scale=0.02)
        report(f"matmul {label} T={t}", median_ms(lambda: torch.matmul(x, w.t())), 2 * t * k * n)
    x, w = rand(t, hidden), rand(hidden)

    def rms_norm():  # transformers' Qwen3RMSNorm
        h = x.float()
        return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)).to(DT) * w

    report(f"rms_norm hidden T={t}", median_ms(rms_norm), bytes=2 * t * hidden * size)
    q = rand(1, heads, t, head_dim)
    inv = 1.0 / (1e6 ** (torch.arange(0, head_dim, 2, device=DEV).float() / head_dim))
    emb = torch.cat([torch.arange(t, device=DEV).float()[:, None] * inv[None]] * 2, -1)
    cos, sin = emb.cos().to(DT), emb.sin().to(DT)

    def rope():  # transformers' apply_rotary_pos_emb
        return q * cos + torch.cat((-q[..., head_dim // 2:], q[..., : head_dim // 2]), -1) * sin

    report(f"rope q T={t}", median_ms(rope), bytes=2 * t * heads * head_dim * size)
    g, u = rand(t, inter), rand(t, inter)
    report(f"swiglu mlp T={t}", median_ms(lambda: F.silu(g) * u), bytes=3 * t * inter * size)


@torch.no_grad()
def moe(patches=40_000, width=1024, k=16, top_k=2):
    if args.tiny:
        patches = 500
    x = torch.randn(patches, width, device=DEV)
    gate = torch.nn.Linear(width, k).to(DEV)
    experts = torch.nn.ModuleList(
        torch.nn.Sequential(torch.nn.Linear(width, 512), torch.nn.GELU(), torch.nn.Dropout(0.1),
                            torch.nn.Linear(512, width), torch.nn.LayerNorm(width))
        for _ in range(k)).to(DEV).eval()

    def forward():
        p = F.softmax(gate(x), dim=-1)
        top, idx = p.topk(top_k, dim=-1)
        w = torch.zeros_like(p).scatter_(1, idx, top)
        c = (w.t() @ x) / (w.sum(0).unsqueeze(-1) + 1e-9)
        return torch.stack([c[j] + experts[j](c[j]) for j in range(k)])

    report(f"moe_compressor slide={patches}", median_ms(forward))


print(f"torch {torch.__version__} on {torch.cuda.get_device_name() if CUDA else 'the CPU'}", flush=True)
for tokens in (64,) if args.tiny else (1024, 2048, 4096, 8192):
    attention(tokens)
for batch in (1, 16):
    decode(batch, 64 if args.tiny else 4096)
cross_entropy()
layer_ops()
moe()
