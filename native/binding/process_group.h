// NativeProcessGroup: the JavaScript handle of a process group (lib/distributed/processGroup.ts wraps it).
#pragma once

#include <napi.h>

#include <memory>

#include "wsi/distributed/process_group.h"

namespace wsi::binding {

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeProcessGroup(const Napi::CallbackInfo& info);

 private:
  dist::ProcessGroup& group(Napi::Env env);
  Napi::Value all_reduce(const Napi::CallbackInfo& info);
  Napi::Value reduce_scatter(const Napi::CallbackInfo& info);
  Napi::Value all_gather(const Napi::CallbackInfo& info);
  Napi::Value broadcast(const Napi::CallbackInfo& info);
  Napi::Value barrier(const Napi::CallbackInfo& info);
  Napi::Value all_reduce_host(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  std::unique_ptr<dist::ProcessGroup> group_;
};

// connectGloo(options) and connectNccl(options, device, uniqueId): promises of a NativeProcessGroup,
// the rendezvous running off the main thread (rank 0's main thread serves the store meanwhile).
Napi::Value connect_gloo(const Napi::CallbackInfo& info);
Napi::Value connect_nccl(const Napi::CallbackInfo& info);
// ncclUniqueId(): the id rank 0 hands to the others through the store.
Napi::Value nccl_unique_id(const Napi::CallbackInfo& info);

}  // namespace wsi::binding
