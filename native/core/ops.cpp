// Dispatch: validate once, find the backend of the arguments' device, run its implementation.
#include "wsi/ops.h"

#include <cstring>

#include "wsi/error.h"

namespace wsi {
namespace {

// Finds the one device that every tensor argument of an op is on.
struct DeviceOf {
  const char* op;
  Device device;
  const char* first = nullptr;

  void tensor(const char* name, const Tensor& t) {
    if (!t.defined()) return;
    if (!first) {
      first = name;
      device = t.device;
    } else {
      WSI_CHECK(t.device == device, ErrorCode::Unsupported, op, ": tensor '", name, "' is on ", t.device.str(),
                " but '", first, "' is on ", device.str(), "; move them to one device first");
    }
  }
  void output(const char* name, Tensor& t) { tensor(name, t); }
  void input(const char* name, Tensor& t) { tensor(name, t); }
  void optional(const char* name, Tensor& t) { tensor(name, t); }
  template <class T>
  void flag(const char*, T&) {}
  template <class T>
  void number(const char*, T&) {}
  template <class T>
  void integer(const char*, T&) {}
};

template <class Args>
Device device_of(const char* op, const Args& args) {
  DeviceOf visitor{op, Device::cpu()};
  const_cast<Args&>(args).visit(visitor);
  return visitor.device;
}

const OpTable* table_for(Device device) { return device.is_cpu() ? &cpu_ops() : cuda_ops(); }

}  // namespace

namespace ops {

#define WSI_OP_DISPATCH(name, Args)                                                                  \
  void name(const Args& args) {                                                                      \
    args.validate();                                                                                 \
    const Device device = device_of(#name, args);                                                    \
    const OpTable* table = table_for(device);                                                        \
    WSI_CHECK(table && table->name, ErrorCode::Unsupported, #name " is not implemented on ",         \
              device.str(), table ? "" : " (this build has no CUDA backend)");                       \
    table->name(args, ExecContext{device});                                                          \
  }
WSI_OPS(WSI_OP_DISPATCH)
#undef WSI_OP_DISPATCH

bool supports(const char* name, Device device) {
  const OpTable* table = table_for(device);
  if (!table) return false;
#define WSI_OP_SUPPORTS(op, Args) \
  if (std::strcmp(name, #op) == 0) return table->op != nullptr;
  WSI_OPS(WSI_OP_SUPPORTS)
#undef WSI_OP_SUPPORTS
  return false;
}

}  // namespace ops
}  // namespace wsi
