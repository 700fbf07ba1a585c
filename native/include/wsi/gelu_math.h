// GELU in its exact (erf) form and its derivative, for both backends, in f32:
//   gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)),  gelu'(x) = Φ(x) + x·φ(x),  φ(x) = e^{−x²/2}/√(2π).
// Φ(x) is computed as 0.5·erfc(−x/√2): the same value, without the cancellation of 1 + erf(x)
// that loses all relative precision for x below about −3.
#pragma once

#include <cmath>

#include "wsi/host_device.h"

namespace wsi {

WSI_HOST_DEVICE float normal_cdf(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }

WSI_HOST_DEVICE float gelu_erf(float x) { return x * normal_cdf(x); }

WSI_HOST_DEVICE float gelu_erf_grad(float x) {
  const float cdf = normal_cdf(x);
  const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  return cdf + x * pdf;
}

}  // namespace wsi
