// genfill plug-in — timings for bench/ (see timings.hpp).
#include "gimp-plugin/timings.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>

#include <glib.h>

namespace genfill::plugin {

namespace {

// The process's own peak resident memory (VmHWM). getrusage's ru_maxrss would be wrong here:
// Linux keeps it across exec, so a plug-in started by a large GIMP inherits GIMP's figure.
// VmRSS at the start of a run is the plug-in's own footprint (GIMP's libraries, GTK, GEGL),
// which an edit does not add to.
long status_kb(const char *field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0) return std::atol(line.c_str() + n);
  return -1;
}

}  // namespace

StageClock::StageClock()
    : enabled_(g_getenv("GENFILL_TIMINGS") != nullptr), start_rss_kb_(enabled_ ? status_kb("VmRSS:") : -1) {}

void StageClock::mark(const char *stage) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  stages_.emplace_back(stage, std::chrono::duration<double>(now - last_).count());
  peaks_.emplace_back(stage, status_kb("VmHWM:"));  // the peak so far: which stage raised it
  last_ = now;
}

void StageClock::write(const std::string &proc, Rect region, size_t bytes_sent, size_t upload_png, int variations) {
  if (!enabled_) return;
  std::ofstream f(g_getenv("GENFILL_TIMINGS"), std::ios::app);
  f << "{\"proc\":\"" << proc << "\",\"region\":[" << region.w << "," << region.h << "],\"variations\":" << variations
    << ",\"total\":" << std::chrono::duration<double>(last_ - start_).count() << ",\"bytes_sent\":" << bytes_sent
    << ",\"upload_png\":" << upload_png << ",\"peak_rss_kb\":" << status_kb("VmHWM:")
    << ",\"start_rss_kb\":" << start_rss_kb_ << ",\"stages\":{";
  for (size_t i = 0; i < stages_.size(); ++i)
    f << (i ? "," : "") << "\"" << stages_[i].first << "\":" << stages_[i].second;
  f << "},\"peak_kb_after\":{";
  for (size_t i = 0; i < peaks_.size(); ++i)
    f << (i ? "," : "") << "\"" << peaks_[i].first << "\":" << peaks_[i].second;
  f << "}}\n";
}

}  // namespace genfill::plugin
