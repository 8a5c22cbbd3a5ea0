#include "core/providers/provider.hpp"

#include <cstdio>

#include <glib.h>

#include "core/providers/registry.hpp"
#include "core/util/error.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

std::string HttpResponse::header(std::string_view name) const {
  for (const auto &[k, v] : headers)
    if (g_ascii_strncasecmp(k.c_str(), name.data(), name.size()) == 0 && k.size() == name.size()) return v;
  return {};
}

namespace {

// "Wed, 21 Oct 2015 07:28:00 GMT" -> seconds from now (0 when past), or -1 when unreadable.
double seconds_until_http_date(const std::string &text) {
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  char mon[4] = {};
  if (std::sscanf(text.c_str(), "%*3s, %d %3s %d %d:%d:%d GMT", &day, mon, &year, &hh, &mm, &ss) != 6) return -1;
  GDateTime *when = nullptr;
  for (int m = 0; m < 12; ++m)
    if (g_ascii_strcasecmp(mon, months[m]) == 0) when = g_date_time_new_utc(year, m + 1, day, hh, mm, ss);
  if (!when) return -1;
  GDateTime *now = g_date_time_new_now_utc();
  double d = double(g_date_time_difference(when, now)) / G_USEC_PER_SEC;
  g_date_time_unref(now);
  g_date_time_unref(when);
  return d > 0 ? d : 0;
}

}  // namespace

RetryAdvice http_retry_advice(const HttpResponse &resp) {
  RetryAdvice advice;
  const int s = resp.status;
  if (s >= 200 && s < 300) return advice;
  advice.retry = s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
  std::string should = resp.header("x-should-retry");
  if (should == "false") advice.retry = false;
  if (should == "true") advice.retry = true;
  if (!advice.retry) return advice;

  if (std::string ms = resp.header("retry-after-ms"); !ms.empty()) {
    char *end = nullptr;
    double v = g_ascii_strtod(ms.c_str(), &end);
    if (end && *end == 0 && v >= 0) advice.delay_s = v / 1000.0;
  }
  if (std::string ra = resp.header("retry-after"); advice.delay_s < 0 && !ra.empty()) {
    char *end = nullptr;
    double v = g_ascii_strtod(ra.c_str(), &end);
    if (end && *end == 0 && v >= 0) {
      advice.delay_s = v;
    } else if (double d = seconds_until_http_date(ra); d >= 0) {
      advice.delay_s = d;
    }
  }
  return advice;
}

Error common_status_error(const std::string &service, int status, const std::string &message, std::string detail) {
  if (status >= 500)
    return Error(ErrorCode::ServerError,
                 status == 503 ? format(_("%s is overloaded right now. Try again in a moment."), service.c_str())
                               : format(_("%s had a problem (error %d). Try again in a moment."), service.c_str(), status),
                 std::move(detail), status);
  if (status == 413)
    return Error(ErrorCode::BadRequest, format(_("The picture is too large for %s. Select a smaller area."), service.c_str()),
                 std::move(detail), status);
  if (status >= 400)
    return Error(ErrorCode::BadRequest,
                 format(_("%s rejected the request: %s"), service.c_str(),
                        message.empty() ? format(_("error %d"), status).c_str() : message.c_str()),
                 std::move(detail), status);
  return Error(ErrorCode::BadResponse, format(_("%s sent an answer genfill does not understand."), service.c_str()),
               std::move(detail),
               status);
}

RetryAdvice Provider::retry_advice(const HttpResponse &resp) const { return http_retry_advice(resp); }

const std::vector<const Provider *> &all_providers() {
  // One line per provider, in the order users see them.
  static const std::vector<const Provider *> providers = {
      &gemini_provider(),
      &openai_provider(),
  };
  return providers;
}

const Provider *find_provider(std::string_view name) {
  for (const Provider *p : all_providers())
    if (p->name() == name) return p;
  return nullptr;
}

}  // namespace genfill
