// The matmul op through cuBLASLt, opened at run time: out (M, N) = alpha·op(a)·op(b) + beta·out
// + bias, f32 compute (no TF32) and f32 scaling, bias through the BIAS epilogue.
//
// cuBLASLt is column-major; a row-major (R, C) matrix is the column-major (C, R) matrix with
// leading dimension C. So the row-major product out = op(a)·op(b) is computed as the
// column-major outᵀ (N, M) = op(b)ᵀ (N, K) · op(a)ᵀ (K, M): cuBLASLt's "A" is our b and its "B"
// is our a, each transposed exactly when ours is. The bias (N) runs along outᵀ's rows, as the
// epilogue wants.
//
// Per device, one handle and one 32 MiB workspace are made on first use and kept for the
// process (every op of this backend runs on the one stream of its call, in order, so they are
// never used by two products at once).
#include <map>
#include <type_traits>
#include <mutex>

#include "check.h"
#include "cublaslt_api.h"
#include "matmul_paths.h"
#include "wsi/dynlib.h"

namespace wsi::cuda {
namespace lt {

const Api& api() {
  static const Api table = [] {
    const LibrarySpec& lib = cublaslt_library();
    auto get = [&](auto& fn, const char* symbol) { fn = reinterpret_cast<std::decay_t<decltype(fn)>>(require_symbol(lib, symbol)); };
    Api a{};
    get(a.create, "cublasLtCreate");
    get(a.matmul_desc_create, "cublasLtMatmulDescCreate");
    get(a.matmul_desc_destroy, "cublasLtMatmulDescDestroy");
    get(a.matmul_desc_set_attribute, "cublasLtMatmulDescSetAttribute");
    get(a.matrix_layout_create, "cublasLtMatrixLayoutCreate");
    get(a.matrix_layout_destroy, "cublasLtMatrixLayoutDestroy");
    get(a.preference_create, "cublasLtMatmulPreferenceCreate");
    get(a.preference_destroy, "cublasLtMatmulPreferenceDestroy");
    get(a.preference_set_attribute, "cublasLtMatmulPreferenceSetAttribute");
    get(a.algo_get_heuristic, "cublasLtMatmulAlgoGetHeuristic");
    get(a.matmul, "cublasLtMatmul");
    return a;
  }();
  return table;
}

}  // namespace lt

namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // what NVIDIA suggests for Hopper GEMMs

void check(lt::Status status, const char* what) {
  WSI_CHECK(status == lt::kSuccess, ErrorCode::Cuda, "cuBLASLt ", what, " failed with status ", status);
}

struct DeviceState {
  lt::Handle handle = nullptr;
  void* workspace = nullptr;
};

const DeviceState& device_state(int device) {
  static std::mutex mutex;
  static std::map<int, DeviceState> states;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = states.find(device);
  if (it != states.end()) return it->second;
  DeviceState state;
  check(lt::api().create(&state.handle), "cublasLtCreate");
  WSI_CUDA_CHECK(cudaMalloc(&state.workspace, kWorkspaceBytes));
  return states.emplace(device, state).first->second;
}

int32_t lt_type(DType dtype) {
  switch (dtype) {
    case DType::BF16: return lt::kR16BF;
    case DType::F16: return lt::kR16F;
    default: return lt::kR32F;
  }
}

// The largest power of two (up to 256) dividing the address: what the heuristic must assume.
uint32_t alignment_of(const void* p) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

// Destroys the descriptors of one call however it ends.
struct Descriptors {
  lt::MatmulDesc op = nullptr;
  lt::MatrixLayout a = nullptr, b = nullptr, d = nullptr;
  lt::Preference preference = nullptr;
  ~Descriptors() {
    const lt::Api& api = lt::api();
    if (preference) api.preference_destroy(preference);
    if (d) api.matrix_layout_destroy(d);
    if (b) api.matrix_layout_destroy(b);
    if (a) api.matrix_layout_destroy(a);
    if (op) api.matmul_desc_destroy(op);
  }
};

}  // namespace

bool cublaslt_found() { return find_library(cublaslt_library()).handle != nullptr; }

bool cublaslt_suits(const MatmulArgs& args) {
  const DType in = args.a.dtype;
  if (args.b.dtype != in || args.k() == 0) return false;
  // D's type: the inputs' own, or f32 from 16-bit inputs. The bias has D's type.
  const bool out_ok = args.out.dtype == in || (args.out.dtype == DType::F32 && in != DType::F32);
  return out_ok && (!args.bias.defined() || args.bias.dtype == args.out.dtype);
}

bool cublaslt_matmul(const MatmulArgs& args, int device, cudaStream_t stream) {
  const lt::Api& api = lt::api();
  const DeviceState& state = device_state(device);
  const MatmulShape s = matmul_shape(args);
  const int32_t in_type = lt_type(args.a.dtype), out_type = lt_type(args.out.dtype);

  Descriptors desc;
  check(api.matmul_desc_create(&desc.op, lt::kCompute32F, lt::kR32F), "cublasLtMatmulDescCreate");
  auto set = [&](int32_t attribute, const auto& value) {
    check(api.matmul_desc_set_attribute(desc.op, attribute, &value, sizeof(value)), "cublasLtMatmulDescSetAttribute");
  };
  // cuBLASLt's A is our b, its B our a (see the top of the file).
  set(lt::kDescTransA, s.trans_b ? lt::kOpT : lt::kOpN);
  set(lt::kDescTransB, s.trans_a ? lt::kOpT : lt::kOpN);
  if (args.bias.defined()) {
    set(lt::kDescEpilogue, lt::kEpilogueBias);
    const void* bias = args.bias.data;
    set(lt::kDescBiasPointer, bias);
    set(lt::kDescBiasDataType, out_type);
  }
  // Column-major shapes as stored: b is (N, K) or, with trans_b, (K, N); a is (K, M) or (M, K).
  check(api.matrix_layout_create(&desc.a, in_type, s.trans_b ? s.k : s.n, s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n),
        "cublasLtMatrixLayoutCreate");
  check(api.matrix_layout_create(&desc.b, in_type, s.trans_a ? s.m : s.k, s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k),
        "cublasLtMatrixLayoutCreate");
  check(api.matrix_layout_create(&desc.d, out_type, s.n, s.m, s.n), "cublasLtMatrixLayoutCreate");

  check(api.preference_create(&desc.preference), "cublasLtMatmulPreferenceCreate");
  auto prefer = [&](int32_t attribute, const auto& value) {
    check(api.preference_set_attribute(desc.preference, attribute, &value, sizeof(value)),
          "cublasLtMatmulPreferenceSetAttribute");
  };
  prefer(lt::kPrefMaxWorkspaceBytes, uint64_t(kWorkspaceBytes));
  prefer(lt::kPrefMinAlignmentA, alignment_of(args.b.data));
  prefer(lt::kPrefMinAlignmentB, alignment_of(args.a.data));
  prefer(lt::kPrefMinAlignmentC, alignment_of(args.out.data));
  prefer(lt::kPrefMinAlignmentD, alignment_of(args.out.data));

  lt::HeuristicResult result{};
  int found = 0;
  const lt::Status status = api.algo_get_heuristic(state.handle, desc.op, desc.a, desc.b, desc.d, desc.d,
                                                   desc.preference, 1, &result, &found);
  if (status != lt::kSuccess || found == 0) return false;  // e.g. CUBLAS_STATUS_NOT_SUPPORTED

  check(api.matmul(state.handle, desc.op, &s.alpha, args.b.data, desc.a, args.a.data, desc.b, &s.beta, args.out.data,
                   desc.d, args.out.data, desc.d, &result.algo, state.workspace, kWorkspaceBytes, stream),
        "cublasLtMatmul");
  return true;
}

}  // namespace wsi::cuda
