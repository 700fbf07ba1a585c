// A process group: the ranks of a data-parallel run and the collectives between them. Gloo
// serves CPU tensors (when the build found libgloo), NCCL serves CUDA tensors (opened at run time).
// The ranks find each other through the TCP store that rank 0 serves (lib/distributed/store.ts).
// Every collective is called by every rank in the same order; a peer that dies or a rank that
// waits longer than the timeout is a Distributed error, never a hang.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "wsi/tensor.h"

namespace wsi::dist {

enum class ReduceOp { Sum, Avg };

// A collective under way (all_reduce_async). wait() returns once its result may be used by the
// ops that follow: on the CPU it has finished; on CUDA the device's stream waits for it, after the
// host has seen it finish within the group's timeout (else the communicator is aborted). Errors of
// the collective are thrown by wait().
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

struct GroupOptions {
  int rank = 0;
  int world_size = 1;
  std::string store_host;  // where rank 0's TCP store listens
  int store_port = 0;
  std::string key_prefix;  // keeps the keys of one group apart from another's in the same store
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual const char* backend() const = 0;
  virtual Device device() const = 0;

  // In place: every rank ends with the sum (or mean) of every rank's `t` (f32).
  virtual void all_reduce(const Tensor& t, ReduceOp op) = 0;
  // The same, started without waiting for it, so that the backward pass computes on while
  // gradients travel; `t` must stay untouched until wait(). Collectives run in the order they
  // are started, waited for or not.
  virtual std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) = 0;
  // `in` holds world_size equal chunks; rank r's `out` gets the reduction of every rank's chunk r.
  // `out` may be chunk r of `in` itself.
  virtual void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) = 0;
  // `out` = every rank's `in`, in rank order (any dtype). `in` may be rank r's chunk of `out` itself.
  virtual void all_gather(const Tensor& in, const Tensor& out) = 0;
  // Every rank's `t` becomes root's (any dtype).
  virtual void broadcast(const Tensor& t, int root) = 0;
  virtual void barrier() = 0;
  // Sums a few f64 values on the host across ranks (losses, token counts, norms).
  virtual void all_reduce_host(double* values, size_t count) = 0;
};

// Gloo over TCP; throws Unsupported when the build has no Gloo.
std::unique_ptr<ProcessGroup> connect_gloo(const GroupOptions& options);
// NCCL on `device`; rank 0 makes the unique id (nccl_unique_id) and the others receive it
// through the store. Throws Unsupported without the CUDA backend, MissingLibrary without NCCL.
std::unique_ptr<ProcessGroup> connect_nccl(const GroupOptions& options, int device, const std::vector<char>& unique_id);
std::vector<char> nccl_unique_id();
bool gloo_compiled();

// Checks shared by every backend: the group's device, f32 for reductions, sizes that fit the
// world size, a root that is a rank.
void check_all_reduce(const ProcessGroup& group, const Tensor& t);
void check_reduce_scatter(const ProcessGroup& group, int world_size, const Tensor& in, const Tensor& out);
void check_all_gather(const ProcessGroup& group, int world_size, const Tensor& in, const Tensor& out);
void check_broadcast(const ProcessGroup& group, int world_size, const Tensor& t, int root);

}  // namespace wsi::dist
