#include "store_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>

#include "wsi/error.h"

namespace wsi::dist {
namespace {

enum Op : uint8_t { kSet = 1, kGet = 2 };

int connect_once(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

void put_u32(std::vector<char>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

}  // namespace

StoreClient::StoreClient(const std::string& host, int port, std::chrono::milliseconds timeout)
    : where_(concat(host, ":", port)), timeout_(timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((socket_ = connect_once(host, port, timeout)) < 0) {
    if (std::chrono::steady_clock::now() >= deadline)
      fail(ErrorCode::Distributed, "cannot reach the rendezvous store at ", where_, " within ", timeout.count(),
           " ms (is rank 0 running, and MASTER_ADDR/MASTER_PORT right?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

StoreClient::~StoreClient() {
  if (socket_ >= 0) close(socket_);
}

void StoreClient::send_all(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::send(socket_, p, bytes, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(ErrorCode::Distributed, "the rendezvous store at ", where_, " closed the connection: ", std::strerror(errno));
    p += n;
    bytes -= size_t(n);
  }
}

void StoreClient::receive_all(void* data, size_t bytes, const std::string& key) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::recv(socket_, p, bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      fail(ErrorCode::Distributed, "waited ", timeout_.count(), " ms for '", key, "' in the rendezvous store at ", where_,
           ": a rank did not arrive");
    if (n <= 0) fail(ErrorCode::Distributed, "the rendezvous store at ", where_, " closed the connection while waiting for '", key, "'");
    p += n;
    bytes -= size_t(n);
  }
}

void StoreClient::set(const std::string& key, const std::vector<char>& value) {
  std::vector<char> request{char(kSet)};
  put_u32(request, uint32_t(key.size()));
  request.insert(request.end(), key.begin(), key.end());
  put_u32(request, uint32_t(value.size()));
  request.insert(request.end(), value.begin(), value.end());
  send_all(request.data(), request.size());
  char ack = 0;
  receive_all(&ack, 1, key);
}

std::vector<char> StoreClient::get(const std::string& key) {
  std::vector<char> request{char(kGet)};
  put_u32(request, uint32_t(key.size()));
  request.insert(request.end(), key.begin(), key.end());
  put_u32(request, 0);
  send_all(request.data(), request.size());
  unsigned char length[4];
  receive_all(length, 4, key);
  const uint32_t bytes = uint32_t(length[0]) | uint32_t(length[1]) << 8 | uint32_t(length[2]) << 16 | uint32_t(length[3]) << 24;
  std::vector<char> value(bytes);
  if (bytes > 0) receive_all(value.data(), bytes, key);
  return value;
}

}  // namespace wsi::dist
