"""PyTorch baselines for benchmarks/attention-linear.ts (issue 3), on the same shapes.

    python3 benchmarks/torch_attention_linear.py

- attention: scaled_dot_product_attention with the flash backend, bf16, causal, 32 query / 8
  key-value heads (expanded to 32 for the flash kernel, as Hugging Face's Qwen3 does), head dim
  128, B·T = 16384, T 2048 / 4096 / 8192; forward, and backward to q, k and v.
- linear: torch.matmul of x [8192, K] by Wᵀ, bf16.
Skips cleanly (exit 0, a message) where PyTorch or a CUDA device is missing.
"""
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_attention_linear: PyTorch is not installed; skipping")
    sys.exit(0)

if not torch.cuda.is_available():
    print("torch_attention_linear: no CUDA device; skipping")
    sys.exit(0)

DEVICE = "cuda"
from torch_timing import timed  # noqa: E402 (after the checks above)


def attention(tokens, hq=32, hkv=8, d=128):
    b = 16384 // tokens
    q = torch.randn(b, hq, tokens, d, device=DEVICE, dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(b, hkv, tokens, d, device=DEVICE, dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(b, hkv, tokens, d, device=DEVICE, dtype=torch.bfloat16, requires_grad=True)
    dout = torch.randn(b, hq, tokens, d, device=DEVICE, dtype=torch.bfloat16)
    kx = k.repeat_interleave(hq // hkv, dim=1).detach().requires_grad_()
    vx = v.repeat_interleave(hq // hkv, dim=1).detach().requires_grad_()
    flops = 4 * b * hq * tokens * tokens * d / 2
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
        fwd = timed(lambda: F.scaled_dot_product_attention(q, kx, vx, is_causal=True))
        out = F.scaled_dot_product_attention(q, kx, vx, is_causal=True)
        bwd = timed(lambda: torch.autograd.grad(out, (q, kx, vx), dout, retain_graph=True))
    print(f"torch sdpa flash: B {b} T {tokens} Hq {hq}/Hkv {hkv} D {d} bf16 causal: "
          f"forward {fwd:.2f} ms ({flops / fwd / 1e9:.1f} TFLOP/s), "
          f"backward {bwd:.2f} ms ({2.5 * flops / bwd / 1e9:.1f} TFLOP/s)")


def linear(m, k, n):
    x = torch.randn(m, k, device=DEVICE, dtype=torch.bfloat16)
    w = 0.02 * torch.randn(n, k, device=DEVICE, dtype=torch.bfloat16)
    ms = timed(lambda: torch.matmul(x, w.t()))
    print(f"torch.matmul: x [{m}, {k}] · Wᵀ [{n}, {k}] bf16: {ms:.2f} ms ({2 * m * n * k / ms / 1e9:.1f} TFLOP/s)")


for t in (2048, 4096, 8192):
    attention(t)
for k, n in ((2560, 4096), (2560, 9728), (9728, 2560)):
    linear(8192, k, n)
