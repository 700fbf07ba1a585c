// The addon's entry point: module functions, per-environment state, and info().
#include <napi.h>

#include "addon_state.h"
#include "host_buffers.h"
#include "native_tensor.h"
#include "op_calls.h"
#include "process_group.h"
#include "wsi/cpu_gemm.h"
#include "wsi/cuda_runtime.h"
#include "wsi/distributed/process_group.h"
#include "wsi/dynlib.h"
#include "wsi/ops.h"
#include "wsi/thread_pool.h"

namespace wsi::binding {
namespace {

Napi::Value library_path(Napi::Env env, const LibrarySpec& spec) {
  const LoadedLibrary& lib = find_library(spec);
  return lib.handle ? Napi::String::New(env, lib.path) : env.Null();
}

// info(): what this build has and what this machine offers.
Napi::Value info(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("available", true);
  cpu.Set("threads", cpu_threads());
  cpu.Set("gemm", cpu_gemm_kernel());

  const cuda::Status status = cuda::status();
  Napi::Object gpu = Napi::Object::New(env);
  gpu.Set("compiled", status.compiled);
  gpu.Set("available", status.available);
  if (!status.available) gpu.Set("reason", status.reason);
  Napi::Array devices = Napi::Array::New(env);
  for (const cuda::DeviceInfo& d : status.devices) {
    Napi::Object device = Napi::Object::New(env);
    device.Set("index", d.index);
    device.Set("name", d.name);
    device.Set("computeCapability", concat(d.major, ".", d.minor));
    device.Set("memoryBytes", double(d.memory_bytes));
    devices.Set(devices.Length(), device);
  }
  gpu.Set("devices", devices);
  gpu.Set("cublasLt", status.compiled ? library_path(env, cublaslt_library()) : env.Null());
  gpu.Set("nccl", status.compiled ? library_path(env, nccl_library()) : env.Null());

  Napi::Object gloo = Napi::Object::New(env);
  gloo.Set("compiled", dist::gloo_compiled());

  Napi::Object backends = Napi::Object::New(env);
  backends.Set("cpu", cpu);
  backends.Set("cuda", gpu);
  backends.Set("gloo", gloo);
  return backends;
}

// setErrorClasses({WsiVqaError, ShapeError, ...}): the classes native errors are thrown as.
Napi::Value set_error_classes(const Napi::CallbackInfo& call) {
  if (!call[0].IsObject()) throw Napi::TypeError::New(call.Env(), "'classes' must be an object of error classes");
  state(call.Env()).error_classes = Napi::Persistent(call[0].As<Napi::Object>());
  return call.Env().Undefined();
}

Napi::Value synchronize(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  guard(env, [&] {
    for (const cuda::DeviceInfo& d : cuda::status().devices) cuda::synchronize(d.index);
  });
  return env.Undefined();
}

Napi::Value supports(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  const std::string name = call[0].IsString() ? call[0].As<Napi::String>().Utf8Value() : "";
  Device device;
  const std::string device_text = call[1].IsString() ? call[1].As<Napi::String>().Utf8Value() : "";
  if (!parse_device(device_text, device)) throw Napi::RangeError::New(env, "'device' must be 'cpu' or 'cuda:N'");
  return Napi::Boolean::New(env, ops::supports(name.c_str(), device));
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* s = new AddonState();
  env.SetInstanceData<AddonState>(s);
  Napi::Function tensor_class = NativeTensor::define(env);
  s->tensor_constructor = Napi::Persistent(tensor_class);
  s->process_group_constructor = Napi::Persistent(NativeProcessGroup::define(env));

  exports.Set("NativeTensor", tensor_class);
  exports.Set("empty", Napi::Function::New<create_empty>(env, "empty"));
  exports.Set("fromBytes", Napi::Function::New<create_from_bytes>(env, "fromBytes"));
  exports.Set("runOp", Napi::Function::New<run_op>(env, "runOp"));
  exports.Set("runOpAsync", Napi::Function::New<run_op_async>(env, "runOpAsync"));
  exports.Set("ops", Napi::Function::New<list_ops>(env, "ops"));
  exports.Set("supports", Napi::Function::New<supports>(env, "supports"));
  exports.Set("info", Napi::Function::New<info>(env, "info"));
  exports.Set("synchronize", Napi::Function::New<synchronize>(env, "synchronize"));
  exports.Set("connectGloo", Napi::Function::New<connect_gloo>(env, "connectGloo"));
  exports.Set("connectNccl", Napi::Function::New<connect_nccl>(env, "connectNccl"));
  exports.Set("ncclUniqueId", Napi::Function::New<nccl_unique_id>(env, "ncclUniqueId"));
  exports.Set("hostBuffer", Napi::Function::New<host_buffer>(env, "hostBuffer"));
  exports.Set("readFile", Napi::Function::New<read_file>(env, "readFile"));
  exports.Set("findNonFinite", Napi::Function::New<find_non_finite>(env, "findNonFinite"));
  exports.Set("setErrorClasses", Napi::Function::New<set_error_classes>(env, "setErrorClasses"));
  return exports;
}

AddonState& state(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

}  // namespace wsi::binding

static Napi::Object init_addon(Napi::Env env, Napi::Object exports) { return wsi::binding::init(env, exports); }

NODE_API_MODULE(wsi_vqa, init_addon)
