// The finiteness scan of float32 data that slide features get once when they are read.
#pragma once

#include <cstddef>

namespace wsi {

// Index of the first value of data[0, count) that is infinite or NaN; count when every one is
// finite. Reads the data once, a block at a time, at memory speed.
size_t first_non_finite(const float* data, size_t count);

}  // namespace wsi
