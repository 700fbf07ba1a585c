// Calling ops of the table from JavaScript: runOp(name, args) and runOpAsync(name, args), where
// args is an object of NativeTensors and attributes named as in each op's visit(); and the op
// listing, ops().
#pragma once

#include <napi.h>

namespace wsi::binding {

Napi::Value run_op(const Napi::CallbackInfo& info);
Napi::Value run_op_async(const Napi::CallbackInfo& info);
Napi::Value list_ops(const Napi::CallbackInfo& info);

}  // namespace wsi::binding
