#include "process_group.h"

#include <functional>
#include <memory>

#include "addon_state.h"
#include "arguments.h"
#include "native_tensor.h"
#include "promise_worker.h"

namespace wsi::binding {
namespace {

dist::ReduceOp reduce_op(Napi::Env env, Napi::Value value) {
  const std::string op = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (op == "sum") return dist::ReduceOp::Sum;
  if (op == "avg") return dist::ReduceOp::Avg;
  throw Napi::RangeError::New(env, "'op' must be 'sum' or 'avg'");
}

Tensor tensor_arg(Napi::Env env, Napi::Value value, const char* name) {
  NativeTensor* t = NativeTensor::from(env, value);
  if (!t) throw Napi::TypeError::New(env, concat("'", name, "' must be a tensor"));
  return guard(env, [&] { return t->view(name); });
}

dist::GroupOptions group_options(Napi::Env env, Napi::Value value) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, "'options' must be an object");
  Napi::Object o = value.As<Napi::Object>();
  auto number = [&](const char* key) {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, concat("'options.", key, "' must be a number"));
    return v.As<Napi::Number>().Int64Value();
  };
  dist::GroupOptions g;
  g.rank = int(number("rank"));
  g.world_size = int(number("worldSize"));
  g.store_port = int(number("port"));
  g.timeout = std::chrono::milliseconds(number("timeoutMs"));
  g.store_host = read_string(env, o.Get("host"), "options.host");
  g.key_prefix = read_string(env, o.Get("prefix"), "options.prefix");
  if (g.world_size < 1 || g.rank < 0 || g.rank >= g.world_size)
    throw Napi::RangeError::New(env, concat("rank ", g.rank, " is not in [0, ", g.world_size, ")"));
  return g;
}

// Connects on a libuv worker thread (rank 0's main thread serves the store meanwhile); the
// promise's value is the wrapped group.
Napi::Value connect_off_thread(Napi::Env env, std::function<std::unique_ptr<dist::ProcessGroup>()> connect) {
  auto group = std::make_shared<std::unique_ptr<dist::ProcessGroup>>();
  return PromiseWorker::queue(
      env, "wsi-vqa:connect", ErrorCode::Distributed, [group, connect] { *group = connect(); },
      [group](Napi::Env env) -> Napi::Value {
        return state(env).process_group_constructor.New({Napi::External<dist::ProcessGroup>::New(env, group->release())});
      });
}

}  // namespace

Napi::Function NativeProcessGroup::define(Napi::Env env) {
  return DefineClass(env, "NativeProcessGroup",
                     {InstanceMethod<&NativeProcessGroup::all_reduce>("allReduce"),
                      InstanceMethod<&NativeProcessGroup::all_reduce_async>("allReduceAsync"),
                      InstanceMethod<&NativeProcessGroup::wait>("wait"),
                      InstanceMethod<&NativeProcessGroup::reduce_scatter>("reduceScatter"),
                      InstanceMethod<&NativeProcessGroup::all_gather>("allGather"),
                      InstanceMethod<&NativeProcessGroup::broadcast>("broadcast"),
                      InstanceMethod<&NativeProcessGroup::barrier>("barrier"),
                      InstanceMethod<&NativeProcessGroup::all_reduce_host>("allReduceHost"),
                      InstanceMethod<&NativeProcessGroup::close>("close")});
}

NativeProcessGroup::NativeProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProcessGroup>(info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "process groups are made by connectGloo / connectNccl");
  group_.reset(info[0].As<Napi::External<dist::ProcessGroup>>().Data());
}

dist::ProcessGroup& NativeProcessGroup::group(Napi::Env env) {
  if (!group_) throw to_js_error(env, Error(ErrorCode::Disposed, "the process group was used after close()"));
  return *group_;
}

Napi::Value NativeProcessGroup::all_reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Tensor t = tensor_arg(env, info[0], "tensor");
  const dist::ReduceOp op = reduce_op(env, info[1]);
  guard(env, [&] { group(env).all_reduce(t, op); });
  return env.Undefined();
}

Napi::Value NativeProcessGroup::all_reduce_async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Tensor t = tensor_arg(env, info[0], "tensor");
  const dist::ReduceOp op = reduce_op(env, info[1]);
  std::shared_ptr<dist::Work> work = guard(env, [&] { return group(env).all_reduce_async(t, op); });
  const uint32_t handle = next_handle_++;
  pending_.emplace(handle, std::move(work));
  return Napi::Number::New(env, handle);
}

Napi::Value NativeProcessGroup::wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto found = info[0].IsNumber() ? pending_.find(info[0].As<Napi::Number>().Uint32Value()) : pending_.end();
  if (found == pending_.end()) throw Napi::RangeError::New(env, "'work' is not a collective under way (already waited for?)");
  std::shared_ptr<dist::Work> work = std::move(found->second);
  pending_.erase(found);
  guard(env, [&] { work->wait(); });
  return env.Undefined();
}

Napi::Value NativeProcessGroup::reduce_scatter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Tensor in = tensor_arg(env, info[0], "input");
  const Tensor out = tensor_arg(env, info[1], "output");
  const dist::ReduceOp op = reduce_op(env, info[2]);
  guard(env, [&] { group(env).reduce_scatter(in, out, op); });
  return env.Undefined();
}

Napi::Value NativeProcessGroup::all_gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Tensor in = tensor_arg(env, info[0], "input");
  const Tensor out = tensor_arg(env, info[1], "output");
  guard(env, [&] { group(env).all_gather(in, out); });
  return env.Undefined();
}

Napi::Value NativeProcessGroup::broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Tensor t = tensor_arg(env, info[0], "tensor");
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "'root' must be a rank");
  const int root = info[1].As<Napi::Number>().Int32Value();
  guard(env, [&] { group(env).broadcast(t, root); });
  return env.Undefined();
}

Napi::Value NativeProcessGroup::barrier(const Napi::CallbackInfo& info) {
  guard(info.Env(), [&] { group(info.Env()).barrier(); });
  return info.Env().Undefined();
}

Napi::Value NativeProcessGroup::all_reduce_host(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "'values' must be a Float64Array");
  Napi::Float64Array values = info[0].As<Napi::Float64Array>();
  guard(env, [&] { group(env).all_reduce_host(values.Data(), values.ElementLength()); });
  return env.Undefined();
}

Napi::Value NativeProcessGroup::close(const Napi::CallbackInfo& info) {
  pending_.clear();  // before the group: a work refers to it
  group_.reset();
  return info.Env().Undefined();
}

Napi::Value connect_gloo(const Napi::CallbackInfo& info) {
  const dist::GroupOptions options = group_options(info.Env(), info[0]);
  return connect_off_thread(info.Env(), [options] { return dist::connect_gloo(options); });
}

Napi::Value connect_nccl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dist::GroupOptions options = group_options(env, info[0]);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "'device' must be a CUDA ordinal");
  const int device = info[1].As<Napi::Number>().Int32Value();
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "'uniqueId' must be a Uint8Array");
  Napi::Uint8Array id = info[2].As<Napi::Uint8Array>();
  std::vector<char> unique_id(id.Data(), id.Data() + id.ElementLength());
  return connect_off_thread(env, [options, device, unique_id] { return dist::connect_nccl(options, device, unique_id); });
}

Napi::Value nccl_unique_id(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<char> id = guard(env, [] { return dist::nccl_unique_id(); });
  Napi::Uint8Array out = Napi::Uint8Array::New(env, id.size());
  std::copy(id.begin(), id.end(), reinterpret_cast<char*>(out.Data()));
  return out;
}

}  // namespace wsi::binding
