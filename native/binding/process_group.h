// NativeProcessGroup: the JavaScript handle of a process group (lib/distributed/processGroup.ts wraps it).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "wsi/distributed/process_group.h"

namespace wsi::binding {

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeProcessGroup(const Napi::CallbackInfo& info);

 private:
  dist::ProcessGroup& group(Napi::Env env);
  Napi::Value all_reduce(const Napi::CallbackInfo& info);
  Napi::Value all_reduce_async(const Napi::CallbackInfo& info);
  Napi::Value wait(const Napi::CallbackInfo& info);
  Napi::Value reduce_scatter(const Napi::CallbackInfo& info);
  Napi::Value all_gather(const Napi::CallbackInfo& info);
  Napi::Value broadcast(const Napi::CallbackInfo& info);
  Napi::Value barrier(const Napi::CallbackInfo& info);
  Napi::Value all_reduce_host(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  std::unique_ptr<dist::ProcessGroup> group_;
  // Collectives started by allReduceAsync and not yet waited for, by the handle JavaScript holds.
  std::unordered_map<uint32_t, std::shared_ptr<dist::Work>> pending_;
  uint32_t next_handle_ = 0;
};

// connectGloo(options) and connectNccl(options, device, uniqueId): promises of a NativeProcessGroup,
// the rendezvous running off the main thread (rank 0's main thread serves the store meanwhile).
Napi::Value connect_gloo(const Napi::CallbackInfo& info);
Napi::Value connect_nccl(const Napi::CallbackInfo& info);
// ncclUniqueId(): the id rank 0 hands to the others through the store.
Napi::Value nccl_unique_id(const Napi::CallbackInfo& info);

}  // namespace wsi::binding
