// Reading a whole regular file into host memory in one go, as slide feature files are read.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "wsi/tensor.h"

namespace wsi {

// The bytes of the regular file `path` (symbolic links followed) in fresh host memory. Opens
// without blocking, so a FIFO is refused rather than waited on; directories, FIFOs, sockets and
// devices are refused, as is a file over `max_bytes`. Errors are ErrorCode::Io naming the file.
std::shared_ptr<Storage> read_regular_file(const std::string& path, size_t max_bytes);

}  // namespace wsi
