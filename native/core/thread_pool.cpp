#include "wsi/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

#include "wsi/error.h"

namespace wsi {
namespace {

// One parallel_for call: its chunks, the first exception a chunk threw, and a countdown.
struct Job {
  const std::function<void(int64_t, int64_t)>* body;
  std::atomic<int64_t> remaining{0};
  std::mutex error_mutex;
  std::exception_ptr error;
};

struct Chunk {
  Job* job;
  int64_t begin, end;
};

// Threads to run: WSI_VQA_CPU_THREADS when set, else the CPUs this process may run on (a
// container's or taskset's share, not the whole machine's), so the pool never oversubscribes.
unsigned thread_count() {
  if (const char* value = std::getenv("WSI_VQA_CPU_THREADS"); value && *value) {
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    WSI_CHECK(*end == '\0' && n >= 1 && n <= 1024, ErrorCode::Unsupported,
              "WSI_VQA_CPU_THREADS must be a whole number from 1 to 1024, got '", value, "'");
    return unsigned(n);
  }
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

class Pool {
 public:
  explicit Pool(unsigned threads) {
    for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return int(workers_.size()) + 1; }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
    const int64_t max_chunks = int64_t(threads()) * 4;  // some slack for uneven chunks
    const int64_t chunks = std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1, max_chunks);
    if (chunks == 1) {
      body(0, n);
      return;
    }
    Job job;
    job.body = &body;
    job.remaining = chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int64_t c = 0; c < chunks; ++c) queue_.push_back({&job, n * c / chunks, n * (c + 1) / chunks});
    }
    wake_.notify_all();
    // Help until our own job is finished: this is what makes nested calls safe.
    while (job.remaining.load(std::memory_order_acquire) > 0) {
      Chunk chunk;
      if (take(chunk)) {
        execute(chunk);
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return job.remaining.load() == 0 || !queue_.empty(); });
      }
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  bool take(Chunk& chunk) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) return false;
    chunk = queue_.front();
    queue_.pop_front();
    return true;
  }

  void execute(const Chunk& chunk) {
    try {
      (*chunk.job->body)(chunk.begin, chunk.end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(chunk.job->error_mutex);
      if (!chunk.job->error) chunk.job->error = std::current_exception();
    }
    if (chunk.job->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the waiter's predicate check
      done_.notify_all();
    }
  }

  void work() {
    for (;;) {
      Chunk chunk;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        chunk = queue_.front();
        queue_.pop_front();
      }
      execute(chunk);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<Chunk> queue_;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool instance(thread_count());
  return instance;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  pool().run(n, grain, body);
}

int cpu_threads() { return pool().threads(); }

}  // namespace wsi
