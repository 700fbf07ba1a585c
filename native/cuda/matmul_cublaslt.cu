// The matmul op through cuBLASLt, opened at run time: out (M, N) = alpha·op(a)·op(b) + beta·out
// + bias, f32 scaling, bias through the BIAS epilogue. Compute is f32; f32 inputs may use TF32
// tensor cores (10-bit mantissa products, f32 sums) when WSI_VQA_TF32=1 says so: off by default.
//
// cuBLASLt is column-major; a row-major (R, C) matrix is the column-major (C, R) matrix with
// leading dimension C. So the row-major product out = op(a)·op(b) is computed as the
// column-major outᵀ (N, M) = op(b)ᵀ (N, K) · op(a)ᵀ (K, M): cuBLASLt's "A" is our b and its "B"
// is our a, each transposed exactly when ours is. The bias (N) runs along outᵀ's rows, as the
// epilogue wants.
//
// Per device, one handle and one 32 MiB workspace are made on first use and kept for the
// process (every op of this backend runs on the one stream of its call, in order, so they are
// never used by two products at once). Each shape's plan — descriptors and the heuristic's
// algorithm, or the answer that there is none — is made once and kept (PlanCache below); only
// the bias pointer is set per call.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>

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

// WSI_VQA_TF32, read once: "1" lets f32 products use TF32 tensor cores, unset or "0" does not.
bool tf32_allowed() {
  static const bool allowed = [] {
    const char* value = std::getenv("WSI_VQA_TF32");
    if (!value || !*value || std::strcmp(value, "0") == 0) return false;
    if (std::strcmp(value, "1") == 0) return true;
    fail(ErrorCode::Unsupported, "WSI_VQA_TF32 must be '1' (allow TF32 for f32 matmuls) or '0', got '", value, "'");
  }();
  return allowed;
}

// What the descriptors and the heuristic's choice depend on.
struct PlanKey {
  int device;
  int64_t m, n, k;
  bool trans_a, trans_b, bias, tf32;
  int32_t in_type, out_type;
  uint32_t align_a, align_b, align_out;

  bool operator<(const PlanKey& o) const {
    auto tie = [](const PlanKey& p) {
      return std::tie(p.device, p.m, p.n, p.k, p.trans_a, p.trans_b, p.bias, p.tf32, p.in_type, p.out_type, p.align_a,
                      p.align_b, p.align_out);
    };
    return tie(*this) < tie(o);
  }
};

// One shape's descriptors and algorithm; found is false when cuBLASLt offers none.
struct Plan {
  lt::MatmulDesc op = nullptr;
  lt::MatrixLayout a = nullptr, b = nullptr, d = nullptr;
  lt::MatmulAlgo algo{};
  bool found = false;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    const lt::Api& api = lt::api();
    if (d) api.matrix_layout_destroy(d);
    if (b) api.matrix_layout_destroy(b);
    if (a) api.matrix_layout_destroy(a);
    if (op) api.matmul_desc_destroy(op);
  }
};

// Destroys a preference however the heuristic's call ends.
struct PreferenceGuard {
  lt::Preference preference = nullptr;
  ~PreferenceGuard() {
    if (preference) lt::api().preference_destroy(preference);
  }
};

// Descriptors for the key's shape and the heuristic's best algorithm for them.
std::unique_ptr<Plan> make_plan(const PlanKey& key, lt::Handle handle) {
  const lt::Api& api = lt::api();
  auto plan = std::make_unique<Plan>();
  const int32_t compute = key.tf32 ? lt::kCompute32FFastTF32 : lt::kCompute32F;
  check(api.matmul_desc_create(&plan->op, compute, lt::kR32F), "cublasLtMatmulDescCreate");
  auto set = [&](int32_t attribute, const auto& value) {
    check(api.matmul_desc_set_attribute(plan->op, attribute, &value, sizeof(value)), "cublasLtMatmulDescSetAttribute");
  };
  // cuBLASLt's A is our b, its B our a (see the top of the file).
  set(lt::kDescTransA, key.trans_b ? lt::kOpT : lt::kOpN);
  set(lt::kDescTransB, key.trans_a ? lt::kOpT : lt::kOpN);
  if (key.bias) {
    set(lt::kDescEpilogue, lt::kEpilogueBias);
    set(lt::kDescBiasDataType, key.out_type);
  }
  // Column-major shapes as stored: b is (N, K) or, with trans_b, (K, N); a is (K, M) or (M, K).
  const int64_t m = key.m, n = key.n, k = key.k;
  check(api.matrix_layout_create(&plan->a, key.in_type, key.trans_b ? k : n, key.trans_b ? n : k, key.trans_b ? k : n),
        "cublasLtMatrixLayoutCreate");
  check(api.matrix_layout_create(&plan->b, key.in_type, key.trans_a ? m : k, key.trans_a ? k : m, key.trans_a ? m : k),
        "cublasLtMatrixLayoutCreate");
  check(api.matrix_layout_create(&plan->d, key.out_type, n, m, n), "cublasLtMatrixLayoutCreate");

  PreferenceGuard pref;
  check(api.preference_create(&pref.preference), "cublasLtMatmulPreferenceCreate");
  auto prefer = [&](int32_t attribute, const auto& value) {
    check(api.preference_set_attribute(pref.preference, attribute, &value, sizeof(value)),
          "cublasLtMatmulPreferenceSetAttribute");
  };
  prefer(lt::kPrefMaxWorkspaceBytes, uint64_t(kWorkspaceBytes));
  prefer(lt::kPrefMinAlignmentA, key.align_b);
  prefer(lt::kPrefMinAlignmentB, key.align_a);
  prefer(lt::kPrefMinAlignmentC, key.align_out);
  prefer(lt::kPrefMinAlignmentD, key.align_out);

  lt::HeuristicResult result{};
  int found = 0;
  const lt::Status status =
      api.algo_get_heuristic(handle, plan->op, plan->a, plan->b, plan->d, plan->d, pref.preference, 1, &result, &found);
  plan->found = status == lt::kSuccess && found > 0;  // e.g. CUBLAS_STATUS_NOT_SUPPORTED: none
  if (plan->found) plan->algo = result.algo;
  return plan;
}

// Every shape's plan, for the process. Training sees few shapes (one per layer and sequence
// length bucket); should a run see very many, the cache starts afresh rather than grow.
constexpr size_t kMaxPlans = 4096;

class PlanCache {
 public:
  // Runs the product under the cache's lock (a plan's descriptor takes the bias pointer per call,
  // and a plan is destroyed only when no call holds it); false when there is no algorithm.
  bool run(const PlanKey& key, const MatmulArgs& args, const MatmulShape& s, const DeviceState& state,
           cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      if (plans_.size() >= kMaxPlans) plans_.clear();
      it = plans_.emplace(key, make_plan(key, state.handle)).first;
    }
    const Plan& plan = *it->second;
    if (!plan.found) return false;
    const lt::Api& api = lt::api();
    if (key.bias) {
      const void* bias = args.bias.data;
      check(api.matmul_desc_set_attribute(plan.op, lt::kDescBiasPointer, &bias, sizeof(bias)),
            "cublasLtMatmulDescSetAttribute");
    }
    check(api.matmul(state.handle, plan.op, &s.alpha, args.b.data, plan.a, args.a.data, plan.b, &s.beta, args.out.data,
                     plan.d, args.out.data, plan.d, &plan.algo, state.workspace, kWorkspaceBytes, stream),
          "cublasLtMatmul");
    return true;
  }

 private:
  std::mutex mutex_;
  std::map<PlanKey, std::unique_ptr<Plan>> plans_;
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache;  // never destroyed: cuBLASLt may be gone at exit
  return *cache;
}

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
  const DeviceState& state = device_state(device);
  const MatmulShape s = matmul_shape(args);
  PlanKey key{};
  key.device = device;
  key.m = s.m;
  key.n = s.n;
  key.k = s.k;
  key.trans_a = s.trans_a;
  key.trans_b = s.trans_b;
  key.bias = args.bias.defined();
  key.tf32 = args.a.dtype == DType::F32 && tf32_allowed();
  key.in_type = lt_type(args.a.dtype);
  key.out_type = lt_type(args.out.dtype);
  key.align_a = alignment_of(args.a.data);
  key.align_b = alignment_of(args.b.data);
  key.align_out = alignment_of(args.out.data);
  return plan_cache().run(key, args, s, state, stream);
}

}  // namespace wsi::cuda
