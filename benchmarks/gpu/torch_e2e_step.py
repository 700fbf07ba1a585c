"""The proof's end-to-end step in PyTorch + transformers (step f): the same stage-2 or stage-1
optimizer step as benchmarks/gpu/e2e-step.ts, on the batch and config it wrote to --batch-dir.

    python3 benchmarks/gpu/torch_e2e_step.py --stage 2 --batch-dir D --json FILE [--device cpu]

A randomly initialised Qwen3ForCausalLM (transformers' own init, in bf16 on the GPU, SDPA
attention), TC-SSA's MoE compressor (frozen, f32) and the projector (f32); the slide tokens
replace the image rows of the input embeddings; the loss is transformers' (labels shifted
inside). Stage 2 trains the projector and the LLM, stage 1 the projector alone (the LLM frozen,
its backward still reaching the slide tokens). torch.optim.AdamW (fused on the GPU) on the
parameters as they are: bf16 moments for the bf16 LLM, where ours keeps f32 moments and f32
master weights. Grad-norm clipping at 1. Tokens/s, model FLOPs and MFU as e2e-step.ts counts them.
Without PyTorch or transformers it writes why and exits 0.
"""
import argparse
import inspect
import json
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--stage", type=int, choices=[1, 2], default=2)
parser.add_argument("--device", default="cuda")
parser.add_argument("--batch-dir", required=True)
parser.add_argument("--json")
parser.add_argument("--steps", type=int, default=3)
args = parser.parse_args()
PEAK_TFLOPS = 989  # NVIDIA H200 SXM, dense bf16 (datasheet), as e2e-step.ts


def write(result):
    print(json.dumps(result), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import Qwen3Config, Qwen3ForCausalLM
except ImportError as e:
    write({"side": "torch", "stage": args.stage, "skipped": f"needs PyTorch and transformers: {e}"})
    sys.exit(0)
if args.device.startswith("cuda") and not torch.cuda.is_available():
    write({"side": "torch", "stage": args.stage, "skipped": "no CUDA device"})
    sys.exit(0)

DEV = torch.device(args.device)
CUDA = DEV.type == "cuda"
DT = torch.bfloat16 if CUDA else torch.float32
started = time.perf_counter()
ours = json.load(open(os.path.join(args.batch_dir, "config.json")))
saved = json.load(open(os.path.join(args.batch_dir, "batch.json")))


def make_config():
    keys = inspect.signature(Qwen3Config.__init__).parameters
    kwargs = {k: v for k, v in ours.items() if k in keys and k not in ("torch_dtype", "dtype", "rope_theta", "rope_scaling")}
    # transformers 5 moved rope_theta into rope_parameters.
    if "rope_parameters" in keys:
        kwargs["rope_parameters"] = {"rope_type": "default", "rope_theta": ours["rope_theta"]}
    else:
        kwargs["rope_theta"] = ours["rope_theta"]
    return Qwen3Config(**kwargs, attn_implementation="sdpa")


def make_llm(config):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(DT)  # initialise in the training dtype, on the device: no f32 copy
    try:
        with DEV:
            return Qwen3ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)


class Compressor(torch.nn.Module):
    """TC-SSA's MoE compressor at inference: top-2 routing, the weighted mean per slot, an expert each."""

    def __init__(self, width=1024, slots=16, top_k=2):
        super().__init__()
        self.top_k = top_k
        self.gate = torch.nn.Linear(width, slots)
        self.experts = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(width, 512), torch.nn.GELU(), torch.nn.Dropout(0.1),
                                torch.nn.Linear(512, width), torch.nn.LayerNorm(width)) for _ in range(slots))

    def forward(self, x):
        p = F.softmax(self.gate(x), dim=-1)
        top, idx = p.topk(self.top_k, dim=-1)
        w = torch.zeros_like(p).scatter_(1, idx, top)
        c = (w.t() @ x) / (w.sum(0).unsqueeze(-1) + 1e-9)
        return torch.stack([c[j] + self.experts[j](c[j]) for j in range(len(self.experts))])


config = make_config()
llm = make_llm(config)
llm.train()
compressor = Compressor().to(DEV).eval().requires_grad_(False)
projector = torch.nn.Sequential(torch.nn.Linear(1024, 2048), torch.nn.GELU(), torch.nn.Linear(2048, config.hidden_size)).to(DEV)
if args.stage == 1:
    llm.requires_grad_(False)
trained = [p for p in [*projector.parameters(), *llm.parameters()] if p.requires_grad]
optimizer = torch.optim.AdamW(trained, lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, fused=CUDA)

lengths = saved["lengths"]
B, T = len(lengths), saved["sequenceLength"]
ids = torch.tensor(saved["ids"], device=DEV).view(B, T)
labels = torch.tensor(saved["labels"], device=DEV).view(B, T)
mask = (torch.arange(T, device=DEV)[None] < torch.tensor(lengths, device=DEV)[:, None]).long()
image_rows = torch.tensor(saved["imageTokenIndices"], device=DEV)
offsets = saved["patchOffsets"]
features = torch.from_numpy(np.fromfile(os.path.join(args.batch_dir, "features.f32"), dtype=np.float32)).view(-1, saved["featureWidth"]).to(DEV)
if CUDA:
    torch.cuda.synchronize()
setup_seconds = time.perf_counter() - started


def step():
    with torch.no_grad():
        slides = torch.cat([compressor(features[offsets[s]:offsets[s + 1]]) for s in range(len(offsets) - 1)])
    tokens = projector(slides).to(DT)  # (S·K, hidden)
    embeds = llm.get_input_embeddings()(ids).view(B * T, -1).index_copy(0, image_rows, tokens).view(B, T, -1)
    loss = llm(inputs_embeds=embeds, attention_mask=mask, labels=labels, use_cache=False).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trained, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


if CUDA:
    torch.cuda.reset_peak_memory_stats()
times, loss = [], float("nan")
for i in range(1 + args.steps):
    t0 = time.perf_counter()
    loss = step()  # .item() waits for the device
    if CUDA:
        torch.cuda.synchronize()
    if i > 0:
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"torch stage {args.stage} step {i}{' (warm-up)' if i == 0 else ''}: {(time.perf_counter() - t0) * 1e3:.0f} ms, loss {loss:.4f}", flush=True)
ms = sorted(times)[len(times) // 2]

h, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
hq, hkv, d, vocab = config.num_attention_heads, config.num_key_value_heads, config.head_dim, config.vocab_size
layer_params = h * (hq + 2 * hkv) * d + hq * d * h + 3 * h * inter
tokens = sum(lengths)
answer_tokens = sum(1 for label in saved["labels"] if label != -100)
forward = 2 * layers * layer_params * tokens + 4 * layers * hq * d * sum(n * n / 2 for n in lengths) + 2 * vocab * h * answer_tokens
flops = (3 if args.stage == 2 else 2) * forward
write({
    "side": "torch", "stage": args.stage, "device": args.device, "setupSeconds": setup_seconds, "stepMs": ms, "steps": len(times),
    "loss": loss, "tokens": tokens, "answerTokens": answer_tokens, "tokensPerSecond": tokens / (ms / 1e3), "modelTflops": flops / 1e12,
    "mfu": flops / (ms / 1e3) / (PEAK_TFLOPS * 1e12) if CUDA else None,
    "peakAllocatedBytes": torch.cuda.max_memory_allocated() if CUDA else None,
    "torch": torch.__version__, "transformers": transformers.__version__,
    "optimizer": f"torch.optim.AdamW{' (fused)' if CUDA else ''}: moments in the parameters' dtype ({str(DT).replace('torch.', '')} for the LLM)",
})
