// A process-wide pool of CPU threads for the CPU backend. parallel_for may be called from several
// threads at once (async ops run on libuv's workers) and from inside itself: a caller waiting
// for its chunks runs queued chunks meanwhile, so nesting cannot deadlock.
#pragma once

#include <cstdint>
#include <functional>

namespace wsi {

// Calls body(begin, end) over [0, n) in chunks of at least `grain` items, in parallel.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// Number of threads parallel_for uses (the pool plus the caller).
int cpu_threads();

}  // namespace wsi
