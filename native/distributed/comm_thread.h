// One thread that runs jobs in the order they are posted. The Gloo group runs every collective on
// it: an asynchronous all-reduce then overlaps the caller's work, every collective still starts
// in the order all ranks agree on, and Gloo's context is only ever used from one thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace wsi::dist {

class CommThread {
 public:
  CommThread() : thread_([this] { loop(); }) {}
  // Runs what was posted, then stops.
  ~CommThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    posted_.notify_one();
    thread_.join();
  }
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  // Queues `job`; the future is ready when it has run, and rethrows what it threw.
  std::shared_future<void> post(std::function<void()> job) {
    std::packaged_task<void()> task(std::move(job));
    std::shared_future<void> done = task.get_future().share();
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(task));
    }
    posted_.notify_one();
    return done;
  }

  // Runs `job` after everything posted before it, and waits for it.
  void run(std::function<void()> job) { post(std::move(job)).get(); }

 private:
  void loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock lock(mutex_);
        posted_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        task = std::move(jobs_.front());
        jobs_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable posted_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the members it uses exist
};

}  // namespace wsi::dist
