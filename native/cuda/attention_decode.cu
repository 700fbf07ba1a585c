// One decode step of grouped-query attention on the GPU: a new query row per sequence against
// its KV cache. See wsi/ops/attention.h for the op.
//
//   out, q (B, Hq, D); k_cache, v_cache (B, S, Hkv, D); cache_lens (B) i32 (clamped to [0, S]).
//   out[b, h] = Σ_{j < len_b} softmax_j(scale·q[b, h]·k_j)·v_j; 0 when len_b = 0.
//
// One block per (b, query head); each warp walks keys j = warp, warp + kWarps, … with its own
// online softmax, lane l owning dims l, l + 32, …; the warps' partial results (max, sum,
// accumulator) are then merged through shared memory. Arithmetic is f32; D ≤ 128.
// bf16 / f16 with D = 64 or 128 run the split-K kernels (attention_decode_flash.cu) instead,
// unless WSI_VQA_ATTENTION says otherwise (attention_paths.h).
#include <cfloat>

#include "attention_paths.h"
#include "check.h"
#include "convert.cuh"
#include "ops.h"

namespace wsi::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxDim = 128;
constexpr int kDims = kMaxDim / 32;

struct DecodeShape {
  int64_t slots, q_heads, kv_heads, dim;
};

__global__ void __launch_bounds__(kThreads)
    attention_decode_kernel(void* out, DType out_dtype, const void* q, const void* k_cache, const void* v_cache,
                            DType in_dtype, const int32_t* cache_lens, DecodeShape s, float scale) {
  __shared__ float warp_max[kWarps], warp_sum[kWarps];
  __shared__ float warp_acc[kWarps][kMaxDim];

  const int64_t b = blockIdx.y, h = blockIdx.x, hkv = h / (s.q_heads / s.kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int64_t len = cache_lens[b];
  len = len < 0 ? 0 : (len > s.slots ? s.slots : len);

  float q_reg[kDims], acc[kDims];
  const int64_t q_offset = (b * s.q_heads + h) * s.dim;
#pragma unroll
  for (int i = 0; i < kDims; ++i) {
    const int64_t d = lane + 32 * i;
    q_reg[i] = d < s.dim ? load_f32(q, in_dtype, q_offset + d) : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -FLT_MAX, l = 0.0f;
  for (int64_t j = warp; j < len; j += kWarps) {
    const int64_t offset = ((b * s.slots + j) * s.kv_heads + hkv) * s.dim;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kDims; ++i) {
      const int64_t d = lane + 32 * i;
      if (d < s.dim) dot += q_reg[i] * load_f32(k_cache, in_dtype, offset + d);
    }
    for (int o = 16; o > 0; o /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    const float score = dot * scale;
    const float m_new = fmaxf(m, score);
    const float correction = __expf(m - m_new), p = __expf(score - m_new);
    l = l * correction + p;
#pragma unroll
    for (int i = 0; i < kDims; ++i) {
      const int64_t d = lane + 32 * i;
      acc[i] = acc[i] * correction + (d < s.dim ? p * load_f32(v_cache, in_dtype, offset + d) : 0.0f);
    }
    m = m_new;
  }
  if (lane == 0) {
    warp_max[warp] = m;
    warp_sum[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kDims; ++i) warp_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();

  float total_max = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) total_max = fmaxf(total_max, warp_max[w]);
  float total_sum = 0.0f;
  for (int w = 0; w < kWarps; ++w) total_sum += warp_sum[w] * __expf(warp_max[w] - total_max);
  const float inv = total_sum > 0.0f ? 1.0f / total_sum : 0.0f;
  for (int64_t d = threadIdx.x; d < s.dim; d += kThreads) {
    float value = 0.0f;
    for (int w = 0; w < kWarps; ++w) value += warp_acc[w][d] * __expf(warp_max[w] - total_max);
    store_f32(out, out_dtype, q_offset + d, value * inv);
  }
}

}  // namespace

void attention_decode(const AttentionDecodeArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const DecodeShape s{args.k_cache.dim(1), args.q.dim(1), args.k_cache.dim(2), args.q.dim(2)};
  const int64_t batch = args.q.dim(0);
  if (batch == 0 || s.q_heads == 0) return;
  WSI_CHECK(s.dim <= kMaxDim, ErrorCode::Unsupported, "attention_decode on CUDA: head dim ", s.dim, " is more than ",
            kMaxDim);
  WSI_CHECK(batch <= 65535 && s.q_heads <= INT32_MAX, ErrorCode::Unsupported, "attention_decode on CUDA: ", batch,
            " sequences is more than the grid allows");
  if (attention_path() == AttentionPath::Auto && attention_decode_flash(args, stream)) return;
  const dim3 grid(unsigned(s.q_heads), unsigned(batch));
  attention_decode_kernel<<<grid, kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.q.data,
                                                         args.k_cache.data, args.v_cache.data, args.q.dtype,
                                                         args.cache_lens.as<const int32_t>(), s,
                                                         args.softmax_scale());
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda
