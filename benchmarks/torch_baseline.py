"""PyTorch baselines for benchmarks/ce-moe.ts (issue 4), on the same shapes.

    python3 benchmarks/torch_baseline.py

- Cross-entropy: F.cross_entropy over materialized logits (the LM-head matmul included), forward
  and backward to hidden and weight, bf16, T 8192, hidden 2560, vocab 151 936; time and the peak
  memory above the inputs.
- MoE compressor forward: TC-SSA's computation (gate, softmax, top-2, weighted mean per slide, one
  expert per slot) for 16 slides x 10 000 patches of 1024-d features, K 16.
Skips cleanly (exit 0, a message) where PyTorch or a CUDA device is missing.
"""
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_baseline: PyTorch is not installed; skipping")
    sys.exit(0)

if not torch.cuda.is_available():
    print("torch_baseline: no CUDA device; skipping")
    sys.exit(0)

DEVICE = "cuda"
from torch_timing import timed  # noqa: E402 (after the checks above)


def cross_entropy(t=8192, h=2560, v=151_936):
    hidden = torch.randn(t, h, device=DEVICE, dtype=torch.bfloat16, requires_grad=True)
    weight = (0.02 * torch.randn(v, h, device=DEVICE, dtype=torch.bfloat16)).requires_grad_()
    labels = torch.randint(0, v, (t,), device=DEVICE)

    def step():
        logits = hidden @ weight.t()
        loss = F.cross_entropy(logits.float(), labels, reduction="sum")
        loss.backward()
        hidden.grad = None
        weight.grad = None

    step()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    ms = timed(step, 5)
    extra = torch.cuda.max_memory_allocated() - base
    full = t * v * 2
    print(f"torch CE (matmul + F.cross_entropy + backward): {ms:.1f} ms; peak extra memory "
          f"{extra / 2**20:.0f} MiB = {extra / full:.2f} of the full bf16 logits")


def moe_forward(slides=16, per_slide=10_000, width=1024, k=16, top_k=2):
    x = torch.randn(slides * per_slide, width, device=DEVICE)
    gate = torch.nn.Linear(width, k).to(DEVICE)
    experts = torch.nn.ModuleList(
        torch.nn.Sequential(torch.nn.Linear(width, 512), torch.nn.GELU(), torch.nn.Dropout(0.1),
                            torch.nn.Linear(512, width), torch.nn.LayerNorm(width))
        for _ in range(k)).to(DEVICE).eval()

    @torch.no_grad()
    def forward():
        p = F.softmax(gate(x), dim=-1)
        top, idx = p.topk(top_k, dim=-1)
        w = torch.zeros_like(p).scatter_(1, idx, top).view(slides, per_slide, k)
        xs = x.view(slides, per_slide, width)
        c = torch.einsum("snk,snd->skd", w, xs) / (w.sum(1).unsqueeze(-1) + 1e-9)
        return torch.stack([c[:, j] + experts[j](c[:, j]) for j in range(k)], dim=1)

    ms = timed(forward, 10)
    print(f"torch MoE compressor forward ({slides} x {per_slide} patches, K {k}, top-{top_k}): {ms:.2f} ms")


if __name__ == "__main__":
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    cross_entropy()
    moe_forward()
