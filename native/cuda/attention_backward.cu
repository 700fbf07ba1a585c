// Causal grouped-query attention backward on the GPU, in the FlashAttention-2 manner: the
// probabilities are recomputed from the forward's log-sum-exp, never stored. See
// wsi/ops/attention.h for the op.
//
//   q, out, dout, dq (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse, delta (B, Hq, T) f32;
//   seq_lens (B) i32 or null.
//   p_ij = exp(scale·q_i·k_j − lse_i) for visible keys (j < len, j <= i when causal), else 0;
//   delta_i = dout_i·out_i;  ds_ij = p_ij·(dout_i·v_j − delta_i);
//   dq_i = scale·Σ_j ds_ij·k_j;  dk_j = scale·Σ_{h in group, i} ds_ij·q_i;  dv_j = Σ_{h, i} p_ij·dout_i.
// All gradients are overwritten (=).
//
// Three kernels:
//  1. delta: one warp per row, rowsum(dout ∘ out).
//  2. dK, dV: one block per kKeyRows keys of one (b, key-value head), kRowLanes threads per key
//     holding k_j, v_j and the dk_j, dv_j accumulators in registers; it walks every query head of
//     the group and every query tile (from the first one that can see its keys when causal),
//     with q and dout tiles in shared memory. Each key row has one owner: no atomics.
//  3. dQ: a separate pass (no atomics, deterministic): one block per kQueryRows rows of one
//     (b, query head), walking the key tiles as the forward does.
// Arithmetic is f32 on CUDA cores; D ≤ 128. bf16 / f16 inputs with D = 64 or 128 run kernels 2
// and 3 on tensor cores instead (attention_backward_flash.cu, or attention_backward_tc.cu), as
// WSI_VQA_ATTENTION says (attention_paths.h).
#include <cfloat>

#include "attention_common.cuh"
#include "attention_paths.h"
#include "check.h"
#include "ops.h"

namespace wsi::cuda {
namespace {

using namespace attn;

constexpr int kDeltaThreads = 256;
constexpr int kKeyRows = 64;    // keys per block of the dK/dV kernel
constexpr int kQueryTile = 16;  // query rows per shared-memory tile of the dK/dV kernel
constexpr int kQueryRows = 64;  // query rows per block of the dQ kernel
constexpr int kKeyTile = 32;    // keys per shared-memory tile of the dQ kernel
constexpr int kThreads = 64 * kRowLanes;
static_assert(kKeyRows * kRowLanes == kThreads && kQueryRows * kRowLanes == kThreads, "one row per lane group");

// delta[b, h, i] = Σ_d dout[b, i, h, d]·out[b, i, h, d]: one warp per row.
__global__ void attention_delta_kernel(float* delta, const void* out, DType out_dtype, const void* dout,
                                       DType dout_dtype, Layout L) {
  const int64_t rows = L.batch * L.q_heads * L.tokens;
  const int64_t warps_per_block = kDeltaThreads / 32;
  const int lane = threadIdx.x % 32;
  for (int64_t r = int64_t(blockIdx.x) * warps_per_block + threadIdx.x / 32; r < rows;
       r += int64_t(gridDim.x) * warps_per_block) {
    // r enumerates (b, h, i) in delta's order.
    const int64_t i = r % L.tokens, h = (r / L.tokens) % L.q_heads, b = r / (L.tokens * L.q_heads);
    const int64_t base = L.q_row(b, i, h);
    float sum = 0.0f;
    for (int64_t d = lane; d < L.dim; d += 32) sum += load_f32(dout, dout_dtype, base + d) * load_f32(out, out_dtype, base + d);
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) delta[r] = sum;
  }
}

struct BackwardInputs {
  const void *q, *k, *v, *dout;
  DType in_dtype, dout_dtype;
  const float *lse, *delta;
  const int32_t* seq_lens;
};

template <int kMaxDim>
__global__ void __launch_bounds__(kThreads)
    attention_dkdv_kernel(void* dk, DType dk_dtype, void* dv, DType dv_dtype, BackwardInputs in, Layout L,
                          float scale, bool causal) {
  constexpr int kDims = kMaxDim / kRowLanes;
  __shared__ float q_tile[kQueryTile][kMaxDim];     // (kQueryTile, D) of query head h
  __shared__ float dout_tile[kQueryTile][kMaxDim];  // (kQueryTile, D)
  __shared__ float lse_tile[kQueryTile], delta_tile[kQueryTile];

  const int64_t b = blockIdx.z, hkv = blockIdx.y;
  const int64_t first_key = int64_t(blockIdx.x) * kKeyRows;
  const int lane = threadIdx.x % kRowLanes;
  const int64_t j = first_key + threadIdx.x / kRowLanes;
  const int64_t len = valid_length(in.seq_lens, b, L.tokens);
  const bool key_valid = j < len;

  float k_reg[kDims], v_reg[kDims], dk_acc[kDims], dv_acc[kDims];
  const int64_t key_offset = L.kv_row(b, j < L.tokens ? j : 0, hkv);
  load_row(k_reg, in.k, in.in_dtype, key_offset, L.dim, lane);
  load_row(v_reg, in.v, in.in_dtype, key_offset, L.dim, lane);
#pragma unroll
  for (int d = 0; d < kDims; ++d) dk_acc[d] = dv_acc[d] = 0.0f;

  // Query rows that can see any of this block's keys: [query_begin, len).
  const int64_t query_begin = causal ? first_key - first_key % kQueryTile : 0;
  for (int64_t h = hkv * L.group(); h < (hkv + 1) * L.group(); ++h) {
    for (int64_t i0 = query_begin; i0 < len; i0 += kQueryTile) {
      load_tile<kQueryTile, kMaxDim>(q_tile, in.q, in.in_dtype, L, false, b, i0, h, len - i0);
      load_tile<kQueryTile, kMaxDim>(dout_tile, in.dout, in.dout_dtype, L, false, b, i0, h, len - i0);
      if (threadIdx.x < kQueryTile) {
        const int64_t i = i0 + threadIdx.x;
        lse_tile[threadIdx.x] = i < len ? in.lse[L.stat(b, h, i)] : 0.0f;
        delta_tile[threadIdx.x] = i < len ? in.delta[L.stat(b, h, i)] : 0.0f;
      }
      __syncthreads();
#pragma unroll 2
      for (int ii = 0; ii < kQueryTile; ++ii) {
        float qk = 0.0f, dov = 0.0f;
#pragma unroll
        for (int d = 0; d < kDims; ++d) {
          qk += k_reg[d] * q_tile[ii][lane + d * kRowLanes];
          dov += v_reg[d] * dout_tile[ii][lane + d * kRowLanes];
        }
        qk = row_sum(qk);
        dov = row_sum(dov);
        const int64_t i = i0 + ii;
        const bool visible = key_valid && i < len && (!causal || j <= i);
        const float p = visible ? __expf(qk * scale - lse_tile[ii]) : 0.0f;
        const float ds = p * (dov - delta_tile[ii]);
#pragma unroll
        for (int d = 0; d < kDims; ++d) {
          dv_acc[d] += p * dout_tile[ii][lane + d * kRowLanes];
          dk_acc[d] += ds * q_tile[ii][lane + d * kRowLanes];
        }
      }
      __syncthreads();  // the tiles are overwritten next
    }
  }
  if (j >= L.tokens) return;
  store_row(dk, dk_dtype, L.kv_row(b, j, hkv), dk_acc, scale, L.dim, lane);
  store_row(dv, dv_dtype, L.kv_row(b, j, hkv), dv_acc, 1.0f, L.dim, lane);
}

template <int kMaxDim>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(void* dq, DType dq_dtype, BackwardInputs in, Layout L, float scale, bool causal) {
  constexpr int kDims = kMaxDim / kRowLanes;
  __shared__ float k_tile[kKeyTile][kMaxDim];  // (kKeyTile, D) of head hkv
  __shared__ float v_tile[kKeyTile][kMaxDim];

  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / L.group();
  const int64_t first_row = int64_t(blockIdx.x) * kQueryRows;
  const int lane = threadIdx.x % kRowLanes;
  const int64_t i = first_row + threadIdx.x / kRowLanes;
  const int64_t len = valid_length(in.seq_lens, b, L.tokens);
  const bool row_valid = i < len;

  float q_reg[kDims], dout_reg[kDims], dq_acc[kDims];
  const int64_t row_offset = L.q_row(b, i < L.tokens ? i : 0, h);
  load_row(q_reg, in.q, in.in_dtype, row_offset, L.dim, lane);
  load_row(dout_reg, in.dout, in.dout_dtype, row_offset, L.dim, lane);
#pragma unroll
  for (int d = 0; d < kDims; ++d) dq_acc[d] = 0.0f;
  const float row_lse = row_valid ? in.lse[L.stat(b, h, i)] : 0.0f;
  const float row_delta = row_valid ? in.delta[L.stat(b, h, i)] : 0.0f;

  int64_t key_end = len;
  if (causal && first_row + kQueryRows < key_end) key_end = first_row + kQueryRows;
  for (int64_t j0 = 0; j0 < key_end; j0 += kKeyTile) {
    load_tile<kKeyTile, kMaxDim>(k_tile, in.k, in.in_dtype, L, true, b, j0, hkv, key_end - j0);
    load_tile<kKeyTile, kMaxDim>(v_tile, in.v, in.in_dtype, L, true, b, j0, hkv, key_end - j0);
    __syncthreads();
#pragma unroll 2
    for (int jj = 0; jj < kKeyTile; ++jj) {
      float qk = 0.0f, dov = 0.0f;
#pragma unroll
      for (int d = 0; d < kDims; ++d) {
        qk += q_reg[d] * k_tile[jj][lane + d * kRowLanes];
        dov += dout_reg[d] * v_tile[jj][lane + d * kRowLanes];
      }
      qk = row_sum(qk);
      dov = row_sum(dov);
      const int64_t j = j0 + jj;
      const bool visible = row_valid && j < key_end && (!causal || j <= i);
      const float p = visible ? __expf(qk * scale - row_lse) : 0.0f;
      const float ds = p * (dov - row_delta);
#pragma unroll
      for (int d = 0; d < kDims; ++d) dq_acc[d] += ds * k_tile[jj][lane + d * kRowLanes];
    }
    __syncthreads();
  }
  if (i >= L.tokens) return;
  store_row(dq, dq_dtype, L.q_row(b, i, h), dq_acc, scale, L.dim, lane);
}

}  // namespace

void attention_backward(const AttentionBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const Layout L{args.q.dim(0), args.q.dim(1), args.q.dim(2), args.k.dim(2), args.q.dim(3)};
  if (L.batch == 0 || L.tokens == 0 || L.q_heads == 0) return;
  WSI_CHECK(L.dim <= 128, ErrorCode::Unsupported, "attention_backward on CUDA: head dim ", L.dim, " is more than 128");
  WSI_CHECK(L.batch <= 65535 && L.q_heads <= 65535, ErrorCode::Unsupported, "attention_backward on CUDA: ", L.batch,
            " sequences of ", L.q_heads, " heads is more than the grid allows");
  const float scale = args.softmax_scale();
  float* delta = args.delta.as<float>();

  const int64_t rows = L.batch * L.q_heads * L.tokens;
  attention_delta_kernel<<<blocks_for(rows * 32, kDeltaThreads), kDeltaThreads, 0, stream>>>(
      delta, args.out.data, args.out.dtype, args.dout.data, args.dout.dtype, L);
  WSI_CUDA_CHECK_LAUNCH();

  const AttentionPath path = attention_path();
  if (path == AttentionPath::Auto && attention_backward_flash(args, stream)) return;
  if (path != AttentionPath::CudaCores && attention_backward_tensor_core(args, stream)) return;
  const BackwardInputs in{args.q.data,  args.k.data,          args.v.data, args.dout.data,
                          args.q.dtype, args.dout.dtype,      args.lse.as<const float>(), delta,
                          args.seq_lens.defined() ? args.seq_lens.as<const int32_t>() : nullptr};
  const dim3 kv_grid(unsigned((L.tokens + kKeyRows - 1) / kKeyRows), unsigned(L.kv_heads), unsigned(L.batch));
  const dim3 q_grid(unsigned((L.tokens + kQueryRows - 1) / kQueryRows), unsigned(L.q_heads), unsigned(L.batch));
  auto launch = [&](auto dkdv_kernel, auto dq_kernel) {
    dkdv_kernel<<<kv_grid, kThreads, 0, stream>>>(args.dk.data, args.dk.dtype, args.dv.data, args.dv.dtype, in, L,
                                                  scale, args.causal);
    WSI_CUDA_CHECK_LAUNCH();
    dq_kernel<<<q_grid, kThreads, 0, stream>>>(args.dq.data, args.dq.dtype, in, L, scale, args.causal);
    WSI_CUDA_CHECK_LAUNCH();
  };
  if (L.dim <= 64)
    launch(attention_dkdv_kernel<64>, attention_dq_kernel<64>);
  else
    launch(attention_dkdv_kernel<128>, attention_dq_kernel<128>);
}

}  // namespace wsi::cuda
