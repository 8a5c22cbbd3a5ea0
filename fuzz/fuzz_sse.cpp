// libFuzzer target: the server-sent events parser on any bytes, fed in chunks of any size.
// However the stream is cut into reads, the events must be the same as when it comes whole,
// and an over-long line or event must stop with Error{TooLarge}, nothing else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/transport/sse.hpp"
#include "core/util/error.hpp"

namespace {

bool same(const std::vector<genfill::SseEvent> &a, const std::vector<genfill::SseEvent> &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].type != b[i].type || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  return true;
}

// All events of `stream` fed `chunk` bytes at a time; `too_large` tells whether it stopped so.
std::vector<genfill::SseEvent> parse(std::string_view stream, size_t chunk, bool &too_large, bool &cut) {
  genfill::SseParser p(4096);
  std::vector<genfill::SseEvent> all;
  too_large = false;
  try {
    for (size_t at = 0; at < stream.size(); at += chunk) {
      auto got = p.feed(stream.substr(at, chunk));
      all.insert(all.end(), got.begin(), got.end());
    }
  } catch (const genfill::Error &e) {
    if (e.code() != genfill::ErrorCode::TooLarge) std::abort();
    too_large = true;
  }
  cut = p.cut_short();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = data[0] % 17 + 1;
  const std::string_view stream(reinterpret_cast<const char *>(data + 1), size - 1);
  bool big_whole = false, big_chunked = false, cut_whole = false, cut_chunked = false;
  const auto whole = parse(stream, stream.size() + 1, big_whole, cut_whole);
  const auto chunked = parse(stream, chunk, big_chunked, cut_chunked);
  if (big_whole != big_chunked) std::abort();
  if (!big_whole && (!same(whole, chunked) || cut_whole != cut_chunked)) std::abort();
  return 0;
}
