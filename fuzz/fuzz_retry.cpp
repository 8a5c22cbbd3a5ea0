// libFuzzer target: the retry decision on any status and any headers (Retry-After as seconds
// or an HTTP date, retry-after-ms, x-should-retry, Google's RetryInfo in the body), for the
// generic HTTP rules and each provider's refinement. The advice must be usable: no NaN, no
// infinite or negative wait other than "use the backoff" (-1).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/providers/google.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace {

void check(const genfill::RetryAdvice &a) {
  if (std::isnan(a.delay_s) || std::isinf(a.delay_s) || (a.delay_s < 0 && a.delay_s != -1)) std::abort();
}

}  // namespace

// Input: two bytes of status, then lines "name: value" (names lower-cased, as the transport
// gives them); after an empty line, the body.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  genfill::HttpResponse resp;
  resp.status = (int(data[0]) << 8 | data[1]) % 1000;
  std::string_view rest(reinterpret_cast<const char *>(data + 2), size - 2);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) {
      resp.body.assign(rest);
      break;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char &c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    resp.headers.emplace_back(std::move(name), std::string(value));
  }
  try {
    check(genfill::http_retry_advice(resp));
    check(genfill::google_retry_advice(resp));
    for (const genfill::Provider *p : genfill::all_providers()) check(p->retry_advice(resp));
  } catch (const genfill::Error &) {
  }
  return 0;
}
