// first_non_finite: a float32 is infinite or NaN exactly when its exponent bits are all ones.
// Each block of values is or-reduced branch-free (the compiler vectorises the loop); only a
// block that holds a bad value is searched again for its index.
#include "wsi/finite.h"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace wsi {

size_t first_non_finite(const float* data, size_t count) {
  constexpr uint32_t kExponent = 0x7f800000u;
  constexpr size_t kBlock = 4096;
  const auto bad = [&](size_t i) { return (std::bit_cast<uint32_t>(data[i]) & kExponent) == kExponent; };
  for (size_t start = 0; start < count; start += kBlock) {
    const size_t end = std::min(count, start + kBlock);
    uint32_t any = 0;
    for (size_t i = start; i < end; ++i) any |= uint32_t(bad(i));
    if (any == 0) continue;
    for (size_t i = start; i < end; ++i)
      if (bad(i)) return i;
  }
  return count;
}

}  // namespace wsi
