// Elementwise math of the Qwen3 layer ops shared by both backends, in f32.
#pragma once

#include <cmath>

#include "wsi/host_device.h"

namespace wsi {

WSI_HOST_DEVICE float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

WSI_HOST_DEVICE float silu(float x) { return x * sigmoid(x); }

// d silu(x) / dx = σ(x)·(1 + x·(1 − σ(x))).
WSI_HOST_DEVICE float silu_grad(float x) {
  const float s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}

// The rotary angle of pair i (i < D/2) at `position`, as transformers computes it in f32:
// inv_freq = 1 / θ^(2i/D), angle = position·inv_freq.
WSI_HOST_DEVICE float rope_angle(int32_t position, int64_t i, int64_t head_dim, float theta) {
  const float inv_freq = 1.0f / powf(theta, float(2 * i) / float(head_dim));
  return float(position) * inv_freq;
}

}  // namespace wsi
