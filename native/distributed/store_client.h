// The C++ side of the TCP store that rank 0 serves from JavaScript (lib/distributed/store.ts): the
// rendezvous of Gloo runs on a worker thread and reads its peers' addresses through it.
// Wire format of a request: op (u8), key length (u32 LE), key, value length (u32 LE), value.
// SET answers one byte; GET waits until the key is set and answers length (u32 LE) and value.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace wsi::dist {

class StoreClient {
 public:
  // Connects, retrying until `timeout` while rank 0 starts its server.
  StoreClient(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  void set(const std::string& key, const std::vector<char>& value);
  // Waits for the key up to the timeout; a Distributed error naming the key after it.
  std::vector<char> get(const std::string& key);

 private:
  void send_all(const void* data, size_t bytes);
  void receive_all(void* data, size_t bytes, const std::string& key);

  int socket_ = -1;
  std::string where_;
  std::chrono::milliseconds timeout_;
};

}  // namespace wsi::dist
