// genfill plug-in — what its parts share: the procedures' names, reading arguments, and turning
// failures into GIMP's return values (with the reason in the user's words).
#pragma once

#include <cstddef>
#include <exception>
#include <string>

#include <libgimp/gimp.h>

#include "core/util/error.hpp"
#include "core/util/i18n.hpp"

namespace genfill::plugin {

inline constexpr const char *kEdit = "plug-in-genfill-edit";
inline constexpr const char *kEditMany = "plug-in-genfill-edit-many";
inline constexpr const char *kGenerate = "plug-in-genfill-generate";
inline constexpr const char *kNewImage = "plug-in-genfill-new-image";
inline constexpr const char *kExpand = "plug-in-genfill-expand";
inline constexpr const char *kSpending = "plug-in-genfill-spending";
inline constexpr const char *kParasite = "genfill";  // the record each new layer carries

std::string config_string(GimpProcedureConfig *config, const char *name);
int config_int(GimpProcedureConfig *config, const char *name);
std::string trim(std::string s);
// "Replace the sky with a starry night over the hills" -> "Replace the sky with a starry…"
std::string short_prompt(const std::string &prompt, size_t max_chars = 40);

// Whether this run may show windows: always when interactive; when repeating with the last
// values (Filters > Repeat) only if GIMP runs with a display (not in gimp-console).
bool init_ui(GimpRunMode run_mode);

// A failed run. With a display the user reads the reason in a GIMP message (in their words, not
// after GIMP's "Execution error for ..."); otherwise the caller gets it in the return values.
GimpValueArray *fail(GimpProcedure *procedure, bool ui, const std::string &message);
// The same for an Error; a cancelled run returns GIMP_PDB_CANCEL and says nothing.
GimpValueArray *fail(GimpProcedure *procedure, bool ui, const Error &e);

// Turns whatever a procedure body throws into return values; nothing escapes to GIMP.
template <typename Body>
GimpValueArray *guarded(GimpProcedure *procedure, bool ui, Body &&body) {
  try {
    return body();
  } catch (const Error &e) {
    return fail(procedure, ui, e);
  } catch (const std::exception &e) {
    return fail(procedure, ui, format(_("genfill failed unexpectedly: %s"), e.what()));
  }
}

}  // namespace genfill::plugin
