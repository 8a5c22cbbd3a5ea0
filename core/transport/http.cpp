// The generic HTTP rules for trying again (see http.hpp).
#include "core/transport/http.hpp"

#include <cstdio>

#include <glib.h>

#include "core/util/gobj.hpp"

namespace genfill {

std::string HttpResponse::header(std::string_view name) const {
  for (const auto &[k, v] : headers)
    if (k.size() == name.size() && g_ascii_strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  return {};
}

namespace {

// "Wed, 21 Oct 2015 07:28:00 GMT" -> seconds from now (0 when past), or -1 when unreadable.
double seconds_until_http_date(const std::string &text) {
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  char mon[4] = {};
  if (std::sscanf(text.c_str(), "%*3s, %d %3s %d %d:%d:%d GMT", &day, mon, &year, &hh, &mm, &ss) != 6) return -1;
  GPtr<GDateTime> when;
  for (int m = 0; m < 12; ++m)
    if (g_ascii_strcasecmp(mon, months[m]) == 0) when = adopt(g_date_time_new_utc(year, m + 1, day, hh, mm, ss));
  if (!when) return -1;
  GPtr<GDateTime> now = adopt(g_date_time_new_now_utc());
  double d = double(g_date_time_difference(when.get(), now.get())) / G_USEC_PER_SEC;
  return d > 0 ? d : 0;
}

// A header's value without surrounding blanks.
std::string header_value(const HttpResponse &resp, std::string_view name) {
  std::string v = resp.header(name);
  size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : v.substr(a, b - a + 1);
}

// A whole non-negative decimal number, or -1.
double plain_number(const std::string &text) {
  if (text.empty() || !g_ascii_isdigit(text[0])) return -1;
  char *end = nullptr;
  double v = g_ascii_strtod(text.c_str(), &end);
  return end && *end == 0 && v >= 0 && v < 1e9 ? v : -1;
}

}  // namespace

bool retry_is_safe(int status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

RetryAdvice http_retry_advice(const HttpResponse &resp) {
  RetryAdvice advice;
  advice.retry = retry_is_safe(resp.status);
  // OpenAI's servers say so explicitly. "false" is always heeded; "true" only where a retry is
  // safe anyway: on a 2xx or another 4xx another try could make (and bill) a second picture.
  if (header_value(resp, "x-should-retry") == "false") advice.retry = false;
  if (!advice.retry) return advice;

  if (double ms = plain_number(header_value(resp, "retry-after-ms")); ms >= 0) {
    advice.delay_s = ms / 1000.0;
  } else if (std::string ra = header_value(resp, "retry-after"); !ra.empty()) {
    double v = plain_number(ra);
    advice.delay_s = v >= 0 ? v : seconds_until_http_date(ra);  // seconds, or an HTTP-date
  }
  return advice;
}

}  // namespace genfill
