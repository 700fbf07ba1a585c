// Causal grouped-query attention forward on the GPU, flash style: the T×T score matrix never
// exists. See wsi/ops/attention.h for the op.
//
//   q, out (B, T, Hq, D); k, v (B, T, Hkv, D); lse (B, Hq, T) f32; seq_lens (B) i32 or null.
//   s_ij = scale·q_i·k_j for keys j < len (and j <= i when causal);
//   out_i = Σ_j exp(s_ij − lse_i)·v_j, lse_i = log Σ_j exp(s_ij); padding rows: out 0, lse 0.
//
// One block computes kQueryRows rows of one (b, query head): kRowLanes threads per row, each
// holding its interleaved share of q_i and of the output accumulator in registers. The block
// walks the keys in tiles of kKeyTile rows copied to shared memory as f32, with the online
// softmax (running max m, running sum l, accumulator rescaled by exp(m_old − m_new)). Causal
// blocks stop at their last query row. Arithmetic is f32 on CUDA cores; D ≤ 128.
//
// bf16 / f16 inputs with D = 64 or 128 go to the flash kernel (attention_forward_flash.cu) or
// the wmma one (attention_forward_tc.cu) instead, as WSI_VQA_ATTENTION says (attention_paths.h).
#include <cfloat>
#include <cstdlib>
#include <cstring>

#include "attention_common.cuh"
#include "attention_paths.h"
#include "check.h"
#include "ops.h"

namespace wsi::cuda {
namespace {

using namespace attn;

constexpr int kQueryRows = 64;
constexpr int kKeyTile = 32;
constexpr int kThreads = kQueryRows * kRowLanes;

template <int kMaxDim>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(void* out, DType out_dtype, float* lse, const void* q, const void* k, const void* v,
                             DType in_dtype, const int32_t* seq_lens, Layout L, float scale, bool causal) {
  constexpr int kDims = kMaxDim / kRowLanes;
  __shared__ float k_tile[kKeyTile][kMaxDim];  // (kKeyTile, D) of head hkv
  __shared__ float v_tile[kKeyTile][kMaxDim];

  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / L.group();
  const int64_t first_row = int64_t(blockIdx.x) * kQueryRows;
  const int row_in_block = threadIdx.x / kRowLanes, lane = threadIdx.x % kRowLanes;
  const int64_t i = first_row + row_in_block;
  const int64_t len = valid_length(seq_lens, b, L.tokens);
  const bool row_valid = i < len;

  float q_reg[kDims], acc[kDims];
  load_row(q_reg, q, in_dtype, L.q_row(b, i < L.tokens ? i : 0, h), L.dim, lane);
#pragma unroll
  for (int d = 0; d < kDims; ++d) acc[d] = 0.0f;
  float m = -FLT_MAX, l = 0.0f;  // -FLT_MAX, not -inf: exp(m_old − m_new) stays finite

  // Keys this block needs: [0, key_end).
  int64_t key_end = len;
  if (causal && first_row + kQueryRows < key_end) key_end = first_row + kQueryRows;
  for (int64_t j0 = 0; j0 < key_end; j0 += kKeyTile) {
    load_tile<kKeyTile, kMaxDim>(k_tile, k, in_dtype, L, true, b, j0, hkv, key_end - j0);
    load_tile<kKeyTile, kMaxDim>(v_tile, v, in_dtype, L, true, b, j0, hkv, key_end - j0);
    __syncthreads();

    float s[kKeyTile];
    float tile_max = -FLT_MAX;
#pragma unroll
    for (int jj = 0; jj < kKeyTile; ++jj) {
      float partial = 0.0f;
#pragma unroll
      for (int d = 0; d < kDims; ++d) partial += q_reg[d] * k_tile[jj][lane + d * kRowLanes];
      const float dot = row_sum(partial);
      const int64_t j = j0 + jj;
      const bool visible = row_valid && j < key_end && (!causal || j <= i);
      s[jj] = visible ? dot * scale : -FLT_MAX;
      tile_max = fmaxf(tile_max, s[jj]);
    }
    const float m_new = fmaxf(m, tile_max);
    const float correction = __expf(m - m_new);
    l *= correction;
#pragma unroll
    for (int d = 0; d < kDims; ++d) acc[d] *= correction;
#pragma unroll
    for (int jj = 0; jj < kKeyTile; ++jj) {
      const float p = s[jj] == -FLT_MAX ? 0.0f : __expf(s[jj] - m_new);
      l += p;
#pragma unroll
      for (int d = 0; d < kDims; ++d) acc[d] += p * v_tile[jj][lane + d * kRowLanes];
    }
    m = m_new;
    __syncthreads();  // the tiles are overwritten next
  }

  if (i >= L.tokens) return;
  const float inv = row_valid && l > 0.0f ? 1.0f / l : 0.0f;
  store_row(out, out_dtype, L.q_row(b, i, h), acc, inv, L.dim, lane);
  if (lane == 0) lse[L.stat(b, h, i)] = row_valid && l > 0.0f ? m + logf(l) : 0.0f;
}

}  // namespace

// WSI_VQA_ATTENTION, read once (see attention_paths.h).
AttentionPath attention_path() {
  static const AttentionPath path = [] {
    const char* value = std::getenv("WSI_VQA_ATTENTION");
    if (!value || !*value || std::strcmp(value, "auto") == 0) return AttentionPath::Auto;
    if (std::strcmp(value, "wmma") == 0) return AttentionPath::Wmma;
    WSI_CHECK(std::strcmp(value, "cuda-cores") == 0, ErrorCode::Unsupported,
              "WSI_VQA_ATTENTION must be 'auto', 'wmma' or 'cuda-cores', got '", value, "'");
    return AttentionPath::CudaCores;
  }();
  return path;
}

void attention(const AttentionArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const Layout L{args.q.dim(0), args.q.dim(1), args.q.dim(2), args.k.dim(2), args.q.dim(3)};
  if (L.batch == 0 || L.tokens == 0 || L.q_heads == 0) return;
  WSI_CHECK(L.dim <= 128, ErrorCode::Unsupported, "attention on CUDA: head dim ", L.dim, " is more than 128");
  WSI_CHECK(L.batch <= 65535 && L.q_heads <= 65535, ErrorCode::Unsupported, "attention on CUDA: ", L.batch,
            " sequences of ", L.q_heads, " heads is more than the grid allows");
  const AttentionPath path = attention_path();
  if (path == AttentionPath::Auto && attention_forward_flash(args, stream)) return;
  if (path != AttentionPath::CudaCores && attention_forward_tensor_core(args, stream)) return;
  const dim3 grid(unsigned((L.tokens + kQueryRows - 1) / kQueryRows), unsigned(L.q_heads), unsigned(L.batch));
  const int32_t* lens = args.seq_lens.defined() ? args.seq_lens.as<const int32_t>() : nullptr;
  auto launch = [&](auto kernel) {
    kernel<<<grid, kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.lse.as<float>(), args.q.data,
                                          args.k.data, args.v.data, args.q.dtype, lens, L, args.softmax_scale(),
                                          args.causal);
  };
  if (L.dim <= 64)
    launch(attention_forward_kernel<64>);
  else
    launch(attention_forward_kernel<128>);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda
