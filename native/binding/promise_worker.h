// A job for a libuv worker thread, seen from JavaScript as a promise: `job` runs off the main
// thread (no JavaScript values there); `value` makes the promise's value on the main thread once
// the job is done. What the job throws rejects the promise as the core's typed error, anything
// but a wsi::Error as one with the code `fallback`.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>
#include <utility>

#include "addon_state.h"

namespace wsi::binding {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Job = std::function<void()>;
  using Value = std::function<Napi::Value(Napi::Env)>;

  // Queues the job; the worker deletes itself once the promise is settled.
  static Napi::Promise queue(Napi::Env env, const char* name, ErrorCode fallback, Job job, Value value) {
    auto* worker = new PromiseWorker(env, name, fallback, std::move(job), std::move(value));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 private:
  PromiseWorker(Napi::Env env, const char* name, ErrorCode fallback, Job job, Value value)
      : Napi::AsyncWorker(env, name),
        fallback_(fallback),
        job_(std::move(job)),
        value_(std::move(value)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  void Execute() override {
    try {
      job_();
    } catch (const Error& e) {
      error_ = e;
    } catch (const std::exception& e) {
      error_ = Error(fallback_, e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_)
      deferred_.Reject(to_js_error(env, *error_).Value());
    else
      deferred_.Resolve(value_(env));
  }

  ErrorCode fallback_;
  Job job_;
  Value value_;
  Napi::Promise::Deferred deferred_;
  std::optional<Error> error_;
};

}  // namespace wsi::binding
