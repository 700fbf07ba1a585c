// Counter-based random numbers: a value is a pure function of (seed, index), so the CPU and CUDA
// backends draw the same noise and dropout masks in any order and on any number of threads.
// The mixer is SplitMix64's finalizer applied to seed and index in turn.
#pragma once

#include <cmath>
#include <cstdint>

#include "wsi/host_device.h"

namespace wsi {

WSI_HOST_DEVICE uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 64 random bits for stream element `index` of `seed`.
WSI_HOST_DEVICE uint64_t counter_bits(uint64_t seed, uint64_t index) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (index * 0x9e3779b97f4a7c15ULL));
}

// Uniform in (0, 1]: the top 24 bits, so the value is exact in f32 on every backend.
WSI_HOST_DEVICE float counter_uniform(uint64_t seed, uint64_t index) {
  return float((counter_bits(seed, index) >> 40) + 1) * (1.0f / 16777216.0f);
}

// Standard normal for element `index` (Box-Muller on two uniforms of the element's own stream).
WSI_HOST_DEVICE float counter_normal(uint64_t seed, uint64_t index) {
  const uint64_t bits = counter_bits(seed, index);
  const float u1 = float((bits >> 40) + 1) * (1.0f / 16777216.0f);          // (0, 1]
  const float u2 = float((bits >> 8) & 0xffffffULL) * (1.0f / 16777216.0f);  // [0, 1)
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

}  // namespace wsi
