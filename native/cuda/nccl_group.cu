// The NCCL process group: CUDA tensors, collectives on a stream of their own, NCCL opened at run
// time. The declarations below are NCCL's stable ABI (nccl.h), written out so that building
// needs nothing beyond nvcc and cudart.
#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "check.h"
#include "wsi/distributed/process_group.h"
#include "wsi/dynlib.h"
#include "wsi/error.h"

namespace wsi::dist {
namespace {

using ncclComm_t = struct ncclComm*;
struct ncclUniqueId {
  char internal[128];
};
using ncclResult_t = int;
enum ncclDataType_t { ncclUint8 = 1, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9 };  // bf16: NCCL 2.10+
enum ncclRedOp_t { ncclSum = 0, ncclAvg = 4 };

struct NcclApi {
  ncclResult_t (*get_unique_id)(ncclUniqueId*);
  ncclResult_t (*comm_init_rank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*comm_destroy)(ncclComm_t);
  ncclResult_t (*comm_abort)(ncclComm_t);
  ncclResult_t (*comm_get_async_error)(ncclComm_t, ncclResult_t*);
  ncclResult_t (*all_reduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*reduce_scatter)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*all_gather)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*broadcast)(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  const char* (*error_string)(ncclResult_t);
};

const NcclApi& nccl() {
  static const NcclApi api = [] {
    const LibrarySpec& lib = nccl_library();
    auto sym = [&](const char* name) { return require_symbol(lib, name); };
    NcclApi a{};
    a.get_unique_id = reinterpret_cast<decltype(a.get_unique_id)>(sym("ncclGetUniqueId"));
    a.comm_init_rank = reinterpret_cast<decltype(a.comm_init_rank)>(sym("ncclCommInitRank"));
    a.comm_destroy = reinterpret_cast<decltype(a.comm_destroy)>(sym("ncclCommDestroy"));
    a.comm_abort = reinterpret_cast<decltype(a.comm_abort)>(sym("ncclCommAbort"));
    a.comm_get_async_error = reinterpret_cast<decltype(a.comm_get_async_error)>(sym("ncclCommGetAsyncError"));
    a.all_reduce = reinterpret_cast<decltype(a.all_reduce)>(sym("ncclAllReduce"));
    a.reduce_scatter = reinterpret_cast<decltype(a.reduce_scatter)>(sym("ncclReduceScatter"));
    a.all_gather = reinterpret_cast<decltype(a.all_gather)>(sym("ncclAllGather"));
    a.broadcast = reinterpret_cast<decltype(a.broadcast)>(sym("ncclBroadcast"));
    a.error_string = reinterpret_cast<decltype(a.error_string)>(sym("ncclGetErrorString"));
    return a;
  }();
  return api;
}

void check(ncclResult_t result, const char* what) {
  if (result != 0) fail(ErrorCode::Distributed, "NCCL ", what, " failed: ", nccl().error_string(result));
}

// Collectives run on the group's own stream, ordered after the work the default stream (where
// every op of the core runs) had queued when they were started: an asynchronous all-reduce then
// travels while the backward pass computes on. Every collective is waited for by the host before
// the default stream may depend on it — the blocking ones at once, a started one at
// Work::wait — and the host watches the clock as it waits: a collective that has not finished
// within the timeout, or a communicator that reports an error, aborts the communicator and
// throws, where NCCL alone would wait forever for a lost peer. (Were the default stream to wait
// for a collective the host had not seen finish, the next copy to or from the GPU would block on
// it, out of reach of any timeout.)
class NcclGroup : public ProcessGroup {
 public:
  NcclGroup(const GroupOptions& o, int device, const std::vector<char>& unique_id)
      : device_(device), world_size_(o.world_size), timeout_(o.timeout) {
    WSI_CHECK(unique_id.size() == sizeof(ncclUniqueId), ErrorCode::Distributed, "the NCCL unique id from rank 0 has ",
              unique_id.size(), " bytes, expected ", sizeof(ncclUniqueId));
    ncclUniqueId id;
    std::memcpy(&id, unique_id.data(), sizeof id);
    WSI_CUDA_CHECK(cudaSetDevice(device));
    WSI_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    WSI_CUDA_CHECK(cudaEventCreateWithFlags(&inputs_ready_, cudaEventDisableTiming));
    check(nccl().comm_init_rank(&comm_, o.world_size, id, o.rank), "ncclCommInitRank");
  }
  ~NcclGroup() override {
    if (comm_) nccl().comm_destroy(comm_);
    if (host_buffer_) cudaFree(host_buffer_);
    cudaEventDestroy(inputs_ready_);
    cudaStreamDestroy(stream_);
  }

  const char* backend() const override { return "nccl"; }
  Device device() const override { return Device::cuda(device_); }

  // f32, or bf16 (gradients sent at half the bytes: --grad-reduce-dtype bf16), which Gloo lacks.
  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_reducible(t);
    finish(start_all_reduce(t, op));
  }

  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check_reducible(t);
    return std::make_shared<NcclWork>(*this, start_all_reduce(t, op));
  }

  void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) override {
    check_reduce_scatter(*this, world_size_, in, out);
    finish(start("reduce_scatter", [&](cudaStream_t s) {
      return nccl().reduce_scatter(in.data, out.data, size_t(out.numel()), ncclFloat32, redop(op), comm_, s);
    }));
  }

  void all_gather(const Tensor& in, const Tensor& out) override {
    check_all_gather(*this, world_size_, in, out);
    finish(start("all_gather", [&](cudaStream_t s) {
      return nccl().all_gather(in.data, out.data, in.nbytes(), ncclUint8, comm_, s);
    }));
  }

  void broadcast(const Tensor& t, int root) override {
    check_broadcast(*this, world_size_, t, root);
    finish(start("broadcast", [&](cudaStream_t s) {
      return nccl().broadcast(t.data, t.data, t.nbytes(), ncclUint8, root, comm_, s);
    }));
  }

  void barrier() override {
    double one = 1;
    all_reduce_host(&one, 1);
  }

  // Through the group's device buffer for host values, made with the group and grown only when a
  // call needs more (cudaMalloc and cudaFree synchronise the device: never per call).
  void all_reduce_host(double* values, size_t count) override {
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    if (count > host_buffer_count_) {
      if (host_buffer_) cudaFree(host_buffer_);
      host_buffer_ = nullptr;
      host_buffer_count_ = 0;
      WSI_CUDA_CHECK(cudaMalloc(&host_buffer_, count * sizeof(double)));
      host_buffer_count_ = count;
    }
    WSI_CUDA_CHECK(cudaMemcpy(host_buffer_, values, count * sizeof(double), cudaMemcpyHostToDevice));
    finish(start("all_reduce", [&](cudaStream_t s) {
      return nccl().all_reduce(host_buffer_, host_buffer_, count, ncclFloat64, ncclSum, comm_, s);
    }));
    WSI_CUDA_CHECK(cudaMemcpy(values, host_buffer_, count * sizeof(double), cudaMemcpyDeviceToHost));
  }

 private:
  // A collective on the group's stream: what it is (for errors) and the event after it.
  struct Started {
    const char* what;
    cudaEvent_t done;
  };

  class NcclWork : public Work {
   public:
    // The group outlives its works: the binding drops them before it closes the group.
    NcclWork(NcclGroup& group, Started started) : group_(group), started_(started) {}
    ~NcclWork() override { cudaEventDestroy(started_.done); }
    void wait() override {
      group_.await(started_);
      WSI_CUDA_CHECK(cudaStreamWaitEvent(nullptr, started_.done, 0));
    }

   private:
    NcclGroup& group_;
    Started started_;
  };

  void check_reducible(const Tensor& t) const {
    if (t.dtype == DType::BF16)
      WSI_CHECK(t.device == device(), ErrorCode::Unsupported, "the nccl group works on ", device().str(),
                " tensors, got ", t.describe());
    else
      check_all_reduce(*this, t);
  }

  Started start_all_reduce(const Tensor& t, ReduceOp op) {
    const ncclDataType_t type = t.dtype == DType::BF16 ? ncclBfloat16 : ncclFloat32;
    return start("all_reduce", [&](cudaStream_t s) {
      return nccl().all_reduce(t.data, t.data, size_t(t.numel()), type, redop(op), comm_, s);
    });
  }

  // Queues `call` on the group's stream after what the default stream has queued so far.
  template <class Call>
  Started start(const char* what, Call call) {
    WSI_CHECK(comm_ != nullptr, ErrorCode::Distributed, "NCCL ", what, ": the communicator was aborted by an earlier failure");
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    WSI_CUDA_CHECK(cudaEventRecord(inputs_ready_, nullptr));
    WSI_CUDA_CHECK(cudaStreamWaitEvent(stream_, inputs_ready_, 0));
    check(call(stream_), what);
    cudaEvent_t done = nullptr;
    WSI_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    WSI_CUDA_CHECK(cudaEventRecord(done, stream_));
    return {what, done};
  }

  // The host waits for the collective (within the timeout), then the default stream's next ops
  // follow it.
  void finish(Started started) {
    try {
      await(started);
    } catch (...) {
      cudaEventDestroy(started.done);
      throw;
    }
    const cudaError_t waited = cudaStreamWaitEvent(nullptr, started.done, 0);
    cudaEventDestroy(started.done);
    WSI_CUDA_CHECK(waited);
  }

  // The host waits for the collective, within the timeout.
  void await(const Started& started) {
    WSI_CHECK(comm_ != nullptr, ErrorCode::Distributed, "NCCL ", started.what, ": the communicator was aborted by an earlier failure");
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
      const cudaError_t state = cudaEventQuery(started.done);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) WSI_CUDA_CHECK(state);
      ncclResult_t async_error = 0;
      check(nccl().comm_get_async_error(comm_, &async_error), "ncclCommGetAsyncError");
      if (async_error != 0 && async_error != kInProgress)
        abort_with(concat("NCCL ", started.what, " failed on a peer or the network: ", nccl().error_string(async_error)));
      if (std::chrono::steady_clock::now() > deadline)
        abort_with(concat("NCCL ", started.what, " did not finish within ", timeout_.count(),
                          " ms: a rank is gone or stuck"));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  [[noreturn]] void abort_with(const std::string& message) {
    nccl().comm_abort(comm_);
    comm_ = nullptr;
    fail(ErrorCode::Distributed, message, "; the communicator was aborted, this process group cannot be used again");
  }

  static ncclRedOp_t redop(ReduceOp op) { return op == ReduceOp::Avg ? ncclAvg : ncclSum; }
  static constexpr ncclResult_t kInProgress = 7;  // ncclInProgress: a non-blocking call still running

  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t inputs_ready_ = nullptr;
  void* host_buffer_ = nullptr;  // all_reduce_host's device copy, host_buffer_count_ doubles
  size_t host_buffer_count_ = 0;
  int device_;
  int world_size_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::vector<char> nccl_unique_id() {
  ncclUniqueId id;
  check(nccl().get_unique_id(&id), "ncclGetUniqueId");
  return std::vector<char>(id.internal, id.internal + sizeof id.internal);
}

std::unique_ptr<ProcessGroup> connect_nccl(const GroupOptions& options, int device, const std::vector<char>& unique_id) {
  return std::make_unique<NcclGroup>(options, device, unique_id);
}

}  // namespace wsi::dist
