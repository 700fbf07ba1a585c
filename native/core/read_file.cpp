// read_regular_file: open (O_NONBLOCK), fstat, one allocation of the file's size, pread until
// done. The messages are those of lib/io/fileBytes.ts, which reads the same way in JavaScript.
#include "wsi/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wsi/error.h"

namespace wsi {
namespace {

std::string reason(int error) {
  if (error == ENOENT) return "no such file";
  if (error == EACCES) return "permission denied";
  if (error == EISDIR) return "is a directory";
  return std::strerror(error);
}

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::Io, concat(path, ": cannot read file (", why, ")"));
}

// Closes the descriptor however the read ends.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() { close(fd); }
};

}  // namespace

std::shared_ptr<Storage> read_regular_file(const std::string& path, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(path, reason(errno));
  const FileDescriptor file{fd};
  struct stat info {};
  if (fstat(fd, &info) != 0) fail(path, reason(errno));
  if (!S_ISREG(info.st_mode)) {
    const char* kind = S_ISDIR(info.st_mode) ? "a directory" : S_ISFIFO(info.st_mode) ? "a FIFO (named pipe)" : S_ISSOCK(info.st_mode) ? "a socket" : "a device";
    fail(path, concat("it is ", kind, ", not a regular file"));
  }
  const auto size = static_cast<size_t>(info.st_size);
  if (size > max_bytes) fail(path, concat(size, " bytes, more than the ", max_bytes, " bytes this reader takes"));
  std::shared_ptr<Storage> storage = Storage::allocate(size, Device::cpu());
  auto* bytes = static_cast<char*>(storage->data());
  size_t done = 0;
  while (done < size) {
    const ssize_t got = pread(fd, bytes + done, size - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(path, reason(errno));
    if (got == 0) {
      throw Error(ErrorCode::Io, concat(path, ": file ended at byte ", done, ", expected ", size, " bytes from 0 (truncated, or shrinking while read?)"));
    }
    done += static_cast<size_t>(got);
  }
  return storage;
}

}  // namespace wsi
