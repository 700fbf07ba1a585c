// The Gloo process group (CPU tensors over TCP). Compiled for real when CMake finds libgloo
// (WSI_VQA_WITH_GLOO); without it, connect_gloo says how to get it.
#include "wsi/distributed/process_group.h"
#include "wsi/error.h"

#ifdef WSI_VQA_WITH_GLOO
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>

#include <cstdlib>
#include <cstring>

#include "comm_thread.h"
#include "store_client.h"
#endif

namespace wsi::dist {

#ifdef WSI_VQA_WITH_GLOO
namespace {

// Gloo's rendezvous reads and writes addresses through our TCP store.
class GlooStore : public gloo::rendezvous::Store {
 public:
  explicit GlooStore(const GroupOptions& o) : client_(o.store_host, o.store_port, o.timeout), prefix_(o.key_prefix) {}
  void set(const std::string& key, const std::vector<char>& data) override { client_.set(prefix_ + key, data); }
  std::vector<char> get(const std::string& key) override { return client_.get(prefix_ + key); }
  void wait(const std::vector<std::string>& keys) override {
    for (const std::string& key : keys) client_.get(prefix_ + key);
  }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds&) override { wait(keys); }

 private:
  StoreClient client_;
  std::string prefix_;
};

// The interface Gloo listens on: GLOO_SOCKET_IFNAME as in PyTorch, else loopback for a
// single-machine run, else this host's name.
gloo::transport::tcp::attr device_attr(const GroupOptions& o) {
  gloo::transport::tcp::attr attr;
  if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface)
    attr.iface = iface;
  else if (o.store_host == "127.0.0.1" || o.store_host == "localhost" || o.store_host == "::1")
    attr.hostname = o.store_host == "::1" ? "::1" : "127.0.0.1";
  return attr;
}

// Runs a Gloo call, turning its exceptions (a peer gone, a timeout) into Distributed errors.
template <class Body>
void guarded(const char* what, Body body) {
  try {
    body();
  } catch (const gloo::Exception& e) {
    fail(ErrorCode::Distributed, "gloo ", what, " failed: ", e.what());
  } catch (const gloo::EnforceNotMet& e) {
    fail(ErrorCode::Distributed, "gloo ", what, " failed: ", e.what());
  }
}

class GlooGroup : public ProcessGroup {
 public:
  explicit GlooGroup(const GroupOptions& o) : world_size_(o.world_size), timeout_(o.timeout) {
    guarded("rendezvous", [&] {
      GlooStore store(o);
      auto device = gloo::transport::tcp::CreateDevice(device_attr(o));
      auto context = std::make_shared<gloo::rendezvous::Context>(o.rank, o.world_size);
      context->setTimeout(o.timeout);
      context->connectFullMesh(store, device);
      context_ = std::move(context);
    });
  }

  const char* backend() const override { return "gloo"; }
  Device device() const override { return Device::cpu(); }

  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_all_reduce(*this, t);
    comm_.run([&] { reduce(t, op); });
  }

  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check_all_reduce(*this, t);
    return std::make_shared<GlooWork>(comm_.post([=, this] { reduce(t, op); }));
  }

  // Gloo of this version has no reduce-scatter with unbound buffers: all-reduce a copy, keep
  // this rank's chunk. Twice the traffic of a ring reduce-scatter, which on the CPU is not where the time goes.
  void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) override {
    check_reduce_scatter(*this, world_size_, in, out);
    comm_.run([&] {
      scratch_.assign(in.as<float>(), in.as<float>() + in.numel());  // kept: ZeRO-1 calls this every step
      reduce(Tensor(scratch_.data(), DType::F32, Device::cpu(), {int64_t(scratch_.size())}), op);
      std::memcpy(out.data, scratch_.data() + size_t(context_->rank) * size_t(out.numel()), out.nbytes());
    });
  }

  void all_gather(const Tensor& in, const Tensor& out) override {
    check_all_gather(*this, world_size_, in, out);
    on_comm_thread("all_gather", [&] {
      gloo::AllgatherOptions opts(context_);
      // In place when `in` is this rank's chunk of `out`: Gloo then copies nothing in.
      char* own_chunk = static_cast<char*>(out.data) + size_t(context_->rank) * in.nbytes();
      if (in.data != own_chunk) opts.setInput(static_cast<char*>(in.data), in.nbytes());
      opts.setOutput(static_cast<char*>(out.data), out.nbytes());
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      gloo::allgather(opts);
    });
  }

  void broadcast(const Tensor& t, int root) override {
    check_broadcast(*this, world_size_, t, root);
    on_comm_thread("broadcast", [&] {
      gloo::BroadcastOptions opts(context_);
      opts.setOutput(static_cast<char*>(t.data), t.nbytes());
      opts.setRoot(root);
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      gloo::broadcast(opts);
    });
  }

  void barrier() override {
    on_comm_thread("barrier", [&] {
      gloo::BarrierOptions opts(context_);
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      gloo::barrier(opts);
    });
  }

  void all_reduce_host(double* values, size_t count) override {
    comm_.run([&] { sum_in_place(values, count); });
  }

 private:
  class GlooWork : public Work {
   public:
    explicit GlooWork(std::shared_future<void> done) : done_(std::move(done)) {}
    void wait() override { done_.get(); }

   private:
    std::shared_future<void> done_;
  };

  // Runs a Gloo call on the comm thread after the collectives started before it, and waits for it.
  template <class Body>
  void on_comm_thread(const char* what, Body body) {
    comm_.run([&] { guarded(what, body); });
  }

  // On the comm thread, as everything below.
  void reduce(const Tensor& t, ReduceOp op) {
    float* data = t.as<float>();
    const size_t n = size_t(t.numel());
    sum_in_place(data, n);
    if (op == ReduceOp::Avg) scale(data, n, 1.0f / float(world_size_));
  }
  template <class T>
  void sum_in_place(T* data, size_t n) {
    guarded("all_reduce", [&] {
      gloo::AllreduceOptions opts(context_);
      opts.setOutput(data, n);
      opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<T>));
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      gloo::allreduce(opts);
    });
  }
  static void scale(float* data, size_t n, float factor) {
    for (size_t i = 0; i < n; ++i) data[i] *= factor;
  }
  uint32_t next_tag() { return tag_++; }

  std::shared_ptr<gloo::Context> context_;
  int world_size_;
  std::chrono::milliseconds timeout_;
  uint32_t tag_ = 0;
  std::vector<float> scratch_;  // reduce_scatter's copy of its input
  CommThread comm_;             // last: joined before the context goes
};

}  // namespace

bool gloo_compiled() { return true; }

std::unique_ptr<ProcessGroup> connect_gloo(const GroupOptions& options) { return std::make_unique<GlooGroup>(options); }

#else

bool gloo_compiled() { return false; }

std::unique_ptr<ProcessGroup> connect_gloo(const GroupOptions&) {
  fail(ErrorCode::Unsupported,
       "this build of wsi-vqa has no Gloo backend: install libgloo-dev (Debian/Ubuntu) and rebuild (npm rebuild wsi-vqa)");
}

#endif

}  // namespace wsi::dist
