// genfill plug-in — timings for bench/: with GENFILL_TIMINGS=FILE set, each edit appends one
// JSON line (seconds per stage, bytes sent, the upload's PNG size, the plug-in's peak memory).
// Nothing is measured or written otherwise.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/image/image.hpp"

namespace genfill::plugin {

class StageClock {
public:
  StageClock();
  // The time since the previous mark, as `stage`, and the peak memory so far.
  void mark(const char *stage);
  // Stages timed elsewhere (the core's).
  void add(const std::vector<std::pair<std::string, double>> &more) {
    if (enabled_) stages_.insert(stages_.end(), more.begin(), more.end());
  }
  void write(const std::string &proc, Rect region, size_t bytes_sent, size_t upload_png, int variations);
  bool enabled() const { return enabled_; }

private:
  bool enabled_;
  long start_rss_kb_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
  std::vector<std::pair<std::string, double>> stages_;
  std::vector<std::pair<std::string, long>> peaks_;
};

}  // namespace genfill::plugin
