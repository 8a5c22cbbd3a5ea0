// Internal to core/seam: what its registration, colour and membrane files share.
#pragma once

#include <algorithm>
#include <cstdint>
#include <future>
#include <system_error>

#include <glib.h>

namespace genfill::seam::detail {

// Runs fn(begin, end) over [0, n): in two halves on two threads when the job is `big` and the
// process may use two cores, else on the calling thread.
template <typename Fn>
void split_in_two(int n, bool big, Fn &&fn) {
  static const bool two_cores = g_get_num_processors() > 1;
  if (!big || !two_cores || n < 2) {
    fn(0, n);
    return;
  }
  const int mid = n / 2;
  std::future<void> other;
  try {
    other = std::async(std::launch::async, [&fn, mid, n] { fn(mid, n); });
  } catch (const std::system_error &) {
    fn(0, n);
    return;
  }
  fn(0, mid);
  other.get();
}

// A channel value rounded and clamped to a byte.
inline uint8_t to_u8(double v) { return uint8_t(std::clamp(v + 0.5, 0.0, 255.0)); }
inline uint8_t to_u8(float v) { return uint8_t(std::clamp(v + 0.5f, 0.f, 255.f)); }

}  // namespace genfill::seam::detail
