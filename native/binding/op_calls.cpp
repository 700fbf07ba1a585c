#include "op_calls.h"

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "addon_state.h"
#include "arguments.h"
#include "native_tensor.h"
#include "promise_worker.h"
#include "wsi/cuda_runtime.h"
#include "wsi/ops.h"

namespace wsi::binding {
namespace {

// An op call ready to run anywhere: its arguments parsed, the storages they use kept alive.
struct PreparedCall {
  std::function<void()> run;
  std::vector<std::shared_ptr<Storage>> keep_alive;
  Device device;  // where the op runs (the device of its tensors)
};

// Fills an op's Args from a JavaScript object, checking every key.
class JsArgsReader {
 public:
  JsArgsReader(Napi::Env env, const char* op, Napi::Object object, PreparedCall& call)
      : env_(env), op_(op), object_(object), call_(call) {}

  void output(const char* name, Tensor& t) { tensor(name, t, true); }
  void input(const char* name, Tensor& t) { tensor(name, t, true); }
  void optional(const char* name, Tensor& t) { tensor(name, t, false); }

  void flag(const char* name, bool& v) {
    Napi::Value value = take(name);
    if (value.IsUndefined()) return;
    if (!value.IsBoolean()) throw_type_error(env_, concat(op_, ": argument '", name, "' must be a boolean"));
    v = value.As<Napi::Boolean>().Value();
  }
  void number(const char* name, float& v) {
    Napi::Value value = take(name);
    if (value.IsUndefined()) return;
    if (!value.IsNumber()) throw_type_error(env_, concat(op_, ": argument '", name, "' must be a number"));
    v = value.As<Napi::Number>().FloatValue();
  }
  void integer(const char* name, int64_t& v) {
    Napi::Value value = take(name);
    if (value.IsUndefined()) return;
    const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0.5;
    if (!value.IsNumber() || d != double(int64_t(d)))
      throw_type_error(env_, concat(op_, ": argument '", name, "' must be an integer"));
    v = int64_t(d);
  }

  // After visiting: any key the op does not know is a typo worth reporting.
  void reject_unknown_keys() {
    Napi::Array keys = object_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      if (!seen_.count(key)) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        throw_type_error(env_, concat(op_, ": unknown argument '", key, "' (it takes ", known, ")"));
      }
    }
  }

 private:
  Napi::Value take(const char* name) {
    seen_.insert(name);
    return object_.Get(name);
  }

  void tensor(const char* name, Tensor& t, bool required) {
    Napi::Value value = take(name);
    if (value.IsUndefined() || value.IsNull()) {
      if (required) throw_type_error(env_, concat(op_, ": tensor argument '", name, "' is missing"));
      return;
    }
    NativeTensor* native = NativeTensor::from(env_, value);
    if (!native) throw_type_error(env_, concat(op_, ": argument '", name, "' must be a tensor"));
    t = guard(env_, [&] { return native->view(concat(op_, ": tensor '", name, "'").c_str()); });
    call_.keep_alive.push_back(native->storage());
    call_.device = t.device;
  }

  Napi::Env env_;
  const char* op_;
  Napi::Object object_;
  PreparedCall& call_;
  std::set<std::string> seen_;
};

// Describes an op's arguments for ops().
class SchemaWriter {
 public:
  explicit SchemaWriter(Napi::Env env)
      : outputs(Napi::Array::New(env)), inputs(Napi::Array::New(env)), optional_inputs(Napi::Array::New(env)),
        attributes(Napi::Object::New(env)) {}

  void output(const char* name, Tensor&) { outputs.Set(outputs.Length(), name); }
  void input(const char* name, Tensor&) { inputs.Set(inputs.Length(), name); }
  void optional(const char* name, Tensor&) { optional_inputs.Set(optional_inputs.Length(), name); }
  void flag(const char* name, bool&) { attributes.Set(name, "boolean"); }
  void number(const char* name, float&) { attributes.Set(name, "number"); }
  void integer(const char* name, int64_t&) { attributes.Set(name, "integer"); }

  Napi::Array outputs, inputs, optional_inputs;
  Napi::Object attributes;
};

struct OpEntry {
  const char* name;
  std::function<PreparedCall(Napi::Env, Napi::Object)> prepare;
  std::function<Napi::Object(Napi::Env)> schema;
};

template <class Args>
OpEntry make_entry(const char* name, void (*fn)(const Args&)) {
  return OpEntry{
      name,
      [name, fn](Napi::Env env, Napi::Object object) {
        PreparedCall call;
        Args args;
        JsArgsReader reader(env, name, object, call);
        args.visit(reader);
        reader.reject_unknown_keys();
        call.run = [fn, args] { fn(args); };
        return call;
      },
      [](Napi::Env env) {
        Args args;
        SchemaWriter writer(env);
        args.visit(writer);
        Napi::Object schema = Napi::Object::New(env);
        schema.Set("outputs", writer.outputs);
        schema.Set("inputs", writer.inputs);
        schema.Set("optionalInputs", writer.optional_inputs);
        schema.Set("attributes", writer.attributes);
        return schema;
      },
  };
}

const std::vector<OpEntry>& registry() {
  static const std::vector<OpEntry> entries = {
#define WSI_OP_ENTRY(name, Args) make_entry<Args>(#name, &ops::name),
      WSI_OPS(WSI_OP_ENTRY)
#undef WSI_OP_ENTRY
  };
  return entries;
}

PreparedCall prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = read_string(env, info[0], "op");
  if (!info[1].IsObject()) throw_type_error(env, concat(name, ": 'args' must be an object"));
  for (const OpEntry& entry : registry())
    if (name == entry.name) return entry.prepare(env, info[1].As<Napi::Object>());
  throw_range_error(env, concat("there is no op called '", name, "'"));
}

}  // namespace

Napi::Value run_op(const Napi::CallbackInfo& info) {
  PreparedCall call = prepare(info);
  guard(info.Env(), [&] { call.run(); });
  return info.Env().Undefined();
}

// The op runs on a libuv worker thread. A GPU op is waited for there, so that the promise settles
// when the result is there, and a kernel's failure rejects it.
Napi::Value run_op_async(const Napi::CallbackInfo& info) {
  PreparedCall call = prepare(info);
  return PromiseWorker::queue(
      info.Env(), "wsi-vqa:op", ErrorCode::Internal,
      [call] {
        call.run();
        if (call.device.is_cuda()) cuda::synchronize(call.device.index);
      },
      [](Napi::Env env) { return env.Undefined(); });
}

Napi::Value list_ops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);
  for (const OpEntry& entry : registry()) {
    Napi::Object op = entry.schema(env);
    op.Set("name", entry.name);
    Napi::Object backends = Napi::Object::New(env);
    backends.Set("cpu", ops::supports(entry.name, Device::cpu()));
    backends.Set("cuda", ops::supports(entry.name, Device::cuda(0)));
    op.Set("backends", backends);
    list.Set(list.Length(), op);
  }
  return list;
}

}  // namespace wsi::binding
