// genfill plug-in — what its parts share (see common.hpp).
#include "gimp-plugin/common.hpp"

#include <libgimp/gimpui.h>

#include "core/util/gobj.hpp"

namespace genfill::plugin {

std::string config_string(GimpProcedureConfig *config, const char *name) {
  gchar *v = nullptr;
  g_object_get(config, name, &v, nullptr);
  GCharPtr owned(v);
  return v ? v : "";
}

int config_int(GimpProcedureConfig *config, const char *name) {
  gint v = 0;
  g_object_get(config, name, &v, nullptr);
  return v;
}

std::string trim(std::string s) {
  const char *ws = " \t\r\n";
  size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

std::string short_prompt(const std::string &prompt, size_t max_chars) {
  std::string p = trim(prompt);
  for (char &c : p)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (g_utf8_strlen(p.c_str(), -1) <= glong(max_chars)) return p;
  const char *end = g_utf8_offset_to_pointer(p.c_str(), glong(max_chars));
  std::string cut(p.c_str(), size_t(end - p.c_str()));
  if (size_t sp = cut.rfind(' '); sp != std::string::npos && sp > max_chars / 2) cut.resize(sp);
  return cut + "…";
}

bool init_ui(GimpRunMode run_mode) {
  if (run_mode == GIMP_RUN_NONINTERACTIVE) return false;
  if (run_mode == GIMP_RUN_WITH_LAST_VALS && !gimp_display_name()) return false;
  gimp_ui_init("genfill");
  return true;
}

GimpValueArray *fail(GimpProcedure *procedure, bool ui, const std::string &message) {
  if (ui) {
    gimp_message(message.c_str());
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_EXECUTION_ERROR, nullptr);
  }
  return gimp_procedure_new_return_values(procedure, GIMP_PDB_EXECUTION_ERROR,
                                          g_error_new_literal(GIMP_PLUG_IN_ERROR, 0, message.c_str()));
}

GimpValueArray *fail(GimpProcedure *procedure, bool ui, const Error &e) {
  if (e.code() == ErrorCode::Cancelled) return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);
  if (!e.detail().empty()) g_debug("%s: %s", error_code_name(e.code()), e.detail().c_str());
  std::string message = e.message();
  if (!e.text().empty() && message.find(e.text().substr(0, 20)) == std::string::npos)
    message += "\n\n" + format(_("The model said: %s"), e.text().c_str());
  return fail(procedure, ui, message);
}

}  // namespace genfill::plugin
