#include "core/util/text.hpp"

#include <cstring>

#include <glib.h>

#include "core/util/gobj.hpp"

namespace genfill {

std::string printable(std::string_view text) {
  GCharPtr owned(g_utf8_make_valid(text.data(), gssize(text.size())));
  const gchar *valid = owned.get();
  std::string out;
  out.reserve(text.size());
  for (const gchar *p = valid, *end = valid + std::strlen(valid); p < end;) {
    const gchar *next = g_utf8_next_char(p);
    const gunichar c = g_utf8_get_char(p);
    const bool control = (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f);
    if (!control) out.append(p, size_t(next - p));
    p = next;
  }
  return out;
}

}  // namespace genfill
