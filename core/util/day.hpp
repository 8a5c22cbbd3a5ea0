// genfill — calendar days as "YYYY-MM-DD" (the catalog's lifecycle dates, services' shutdown dates).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <glib.h>

#include "core/util/gobj.hpp"

namespace genfill {

// Whether `s` is a real day written in full, "2026-10-02".
inline bool is_iso_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!g_ascii_isdigit(s[i])) return false;
  const std::string text(s);
  const int y = std::atoi(text.c_str()), mo = std::atoi(text.c_str() + 5), d = std::atoi(text.c_str() + 8);
  return mo >= 1 && mo <= 12 && d >= 1 && g_date_valid_dmy(GDateDay(d), GDateMonth(mo), GDateYear(y));
}

// A Unix time as "2026-12-04 16:50 UTC" (when a service's list was read, for messages).
inline std::string utc_minute_text(int64_t unix_time) {
  GPtr<GDateTime> t = adopt(g_date_time_new_from_unix_utc(unix_time));
  if (!t) return "?";
  GCharPtr text(g_date_time_format(t.get(), "%Y-%m-%d %H:%M UTC"));
  return text ? text.get() : "?";
}

}  // namespace genfill
