// Top-k choice of the MoE router, shared by both backends so they pick the same slots.
#pragma once

#include <cstdint>

#include "wsi/host_device.h"

namespace wsi {

// Whether slot k of one patch's probabilities p (K) is among its top_k: fewer than top_k slots
// rank above it, where j ranks above k when p[j] > p[k], or p[j] == p[k] and j < k.
WSI_HOST_DEVICE bool in_top_k(const float* p, int64_t slots, int64_t k, int64_t top_k) {
  int64_t above = 0;
  for (int64_t j = 0; j < slots; ++j) above += (p[j] > p[k]) || (p[j] == p[k] && j < k);
  return above < top_k;
}

}  // namespace wsi
