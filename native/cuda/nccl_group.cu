// The NCCL process group: CUDA tensors, collectives on the default stream (the stream every op
// of the core runs on), NCCL opened at run time. The declarations below are NCCL's stable ABI
// (nccl.h), written out so that building needs nothing beyond nvcc and cudart.
#include <cuda_runtime.h>

#include <cstring>

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
enum ncclDataType_t { ncclUint8 = 1, ncclFloat32 = 7, ncclFloat64 = 8 };
enum ncclRedOp_t { ncclSum = 0, ncclAvg = 4 };

struct NcclApi {
  ncclResult_t (*get_unique_id)(ncclUniqueId*);
  ncclResult_t (*comm_init_rank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*comm_destroy)(ncclComm_t);
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

class NcclGroup : public ProcessGroup {
 public:
  NcclGroup(const GroupOptions& o, int device, const std::vector<char>& unique_id) : device_(device), world_size_(o.world_size) {
    WSI_CHECK(unique_id.size() == sizeof(ncclUniqueId), ErrorCode::Distributed, "the NCCL unique id from rank 0 has ",
              unique_id.size(), " bytes, expected ", sizeof(ncclUniqueId));
    ncclUniqueId id;
    std::memcpy(&id, unique_id.data(), sizeof id);
    WSI_CUDA_CHECK(cudaSetDevice(device));
    check(nccl().comm_init_rank(&comm_, o.world_size, id, o.rank), "ncclCommInitRank");
  }
  ~NcclGroup() override {
    if (comm_) nccl().comm_destroy(comm_);
  }

  const char* backend() const override { return "nccl"; }
  Device device() const override { return Device::cuda(device_); }

  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_all_reduce(*this, t);
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    check(nccl().all_reduce(t.data, t.data, size_t(t.numel()), ncclFloat32, redop(op), comm_, nullptr), "all_reduce");
  }

  void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) override {
    check_reduce_scatter(*this, world_size_, in, out);
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    check(nccl().reduce_scatter(in.data, out.data, size_t(out.numel()), ncclFloat32, redop(op), comm_, nullptr), "reduce_scatter");
  }

  void all_gather(const Tensor& in, const Tensor& out) override {
    check_all_gather(*this, world_size_, in, out);
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    check(nccl().all_gather(in.data, out.data, in.nbytes(), ncclUint8, comm_, nullptr), "all_gather");
  }

  void broadcast(const Tensor& t, int root) override {
    check_broadcast(*this, world_size_, t, root);
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    check(nccl().broadcast(t.data, t.data, t.nbytes(), ncclUint8, root, comm_, nullptr), "broadcast");
  }

  void barrier() override {
    double one = 1;
    all_reduce_host(&one, 1);
  }

  void all_reduce_host(double* values, size_t count) override {
    WSI_CUDA_CHECK(cudaSetDevice(device_));
    void* buffer = nullptr;
    WSI_CUDA_CHECK(cudaMalloc(&buffer, count * sizeof(double)));
    try {
      WSI_CUDA_CHECK(cudaMemcpy(buffer, values, count * sizeof(double), cudaMemcpyHostToDevice));
      check(nccl().all_reduce(buffer, buffer, count, ncclFloat64, ncclSum, comm_, nullptr), "all_reduce");
      WSI_CUDA_CHECK(cudaMemcpy(values, buffer, count * sizeof(double), cudaMemcpyDeviceToHost));
    } catch (...) {
      cudaFree(buffer);
      throw;
    }
    cudaFree(buffer);
  }

 private:
  static ncclRedOp_t redop(ReduceOp op) { return op == ReduceOp::Avg ? ncclAvg : ncclSum; }

  ncclComm_t comm_ = nullptr;
  int device_;
  int world_size_;
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
