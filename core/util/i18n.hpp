// genfill — translation: every user-visible string goes through gettext (domain "genfill").
#pragma once

#include <glib/gi18n-lib.h>

#include <string>

namespace genfill {

// printf into a std::string; use with _("...%s...") so translators see whole sentences.
std::string format(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

// Binds the "genfill" domain to $GENFILL_LOCALEDIR or the installed locale folder (once).
void init_i18n();

}  // namespace genfill
