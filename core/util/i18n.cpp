#include "core/util/i18n.hpp"

#include <cstdarg>

#include <glib.h>

#include "core/util/gobj.hpp"

namespace genfill {

std::string format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  GCharPtr s(g_strdup_vprintf(fmt, args));
  va_end(args);
  return s ? s.get() : "";
}

void init_i18n() {
  static bool done = false;
  if (done) return;
  done = true;
  const char *dir = g_getenv("GENFILL_LOCALEDIR");
  bindtextdomain(GETTEXT_PACKAGE, dir && *dir ? dir : GENFILL_LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
}

}  // namespace genfill
