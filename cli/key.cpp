// genfill — command line: genfill key (API keys in the desktop keyring).
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include <termios.h>
#include <unistd.h>

#include "cli/cli.hpp"
#include "core/edit/services.hpp"
#include "core/keys/keys.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill::cli {

namespace {

// The key from standard input: on a terminal one line typed without echo, otherwise the whole
// input (one key, surrounding blanks and the final newline dropped). Never from an argument: it
// would show in `ps` and the shell's history.
std::string read_key(const ServiceInfo &p) {
  constexpr size_t kMaxKey = 16 * 1024;
  std::string key;
  if (isatty(STDIN_FILENO)) {
    // Echo off before the question: nothing typed or pasted at once shows, and nothing typed
    // ahead is thrown away.
    termios old{};
    const bool quiet = tcgetattr(STDIN_FILENO, &old) == 0;
    if (quiet) {
      termios silent = old;
      silent.c_lflag &= ~tcflag_t(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &silent);
    }
    std::fprintf(stderr, "%s", format(_("API key for %s (it will not show): "), p.display_name.c_str()).c_str());
    std::fflush(stderr);
    for (int c; (c = std::getchar()) != EOF && c != '\n' && key.size() <= kMaxKey;) key += char(c);
    if (quiet) tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  } else {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, stdin)) > 0 && key.size() <= kMaxKey;) key.append(buf, n);
  }
  const size_t a = key.find_first_not_of(" \t\r\n"), b = key.find_last_not_of(" \t\r\n");
  key = a == std::string::npos ? std::string() : key.substr(a, b - a + 1);
  if (key.empty()) throw Error(ErrorCode::InvalidInput, _("The key is empty: nothing was stored."));
  if (key.size() > kMaxKey || key.find_first_of(" \t\r\n") != std::string::npos ||
      std::any_of(key.begin(), key.end(), [](char c) { return g_ascii_iscntrl(c); }))
    throw Error(ErrorCode::InvalidInput, _("That is not one API key (it holds blanks, several lines or control "
                                           "characters): nothing was stored."));
  return key;
}

}  // namespace

int cmd_key(int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry entries[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print as JSON (status)"), nullptr},
                            {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("set|delete PROVIDER | status - API keys in the desktop keyring"), entries);
  g_option_context_set_description(
      ctx.get(), _("\"genfill key set PROVIDER\" reads the key from standard input (typed without echo on a terminal,\n"
             "or piped: echo \"$KEY\" | genfill key set gemini) and keeps it in the desktop keyring.\n"
             "\"genfill key delete PROVIDER\" removes it. \"genfill key status\" says, for each provider, where its\n"
             "key comes from; it never prints a key."));
  const bool ok = parse_options(ctx.get(), argc, argv);
  const std::string action = argc > 1 ? argv[1] : "";
  if (!ok || !((action == "set" || action == "delete") ? argc == 3 : action == "status" && argc == 2)) {
    if (ok) std::fprintf(stderr, "%s\n", _("genfill key: give set PROVIDER, delete PROVIDER or status (see genfill key --help)"));
    return kExitUsage;
  }
  g_log_writer_default_set_use_stderr(TRUE);
  try {
    if (action == "set") {
      const ServiceInfo &p = service_named(argv[2]);
      keyring_store(p.name, read_key(p));
      std::fprintf(stderr, "%s\n", format(_("Stored the key for %s in the desktop keyring."),
                                          p.display_name.c_str()).c_str());
      return kExitOk;
    }
    if (action == "delete") {
      const ServiceInfo &p = service_named(argv[2]);
      const bool removed = keyring_delete(p.name);
      std::fprintf(stderr, "%s\n",
                   format(removed ? _("Removed the key for %s from the desktop keyring.")
                                  : _("The desktop keyring held no key for %s."),
                          p.display_name.c_str()).c_str());
      return kExitOk;
    }
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const ServiceInfo &service : services()) {
      const ServiceInfo *p = &service;
      std::string problem;
      const bool stored = keyring_lookup(p->name, &problem).has_value();  // never printed
      const std::optional<FoundKey> found = find_service_key(service);
      json_builder_begin_object(b.get());
      json_member(b.get(), "provider", p->name);
      json_flag(b.get(), "key_set", found.has_value());
      if (found) json_member(b.get(), "source", found->source);
      json_member(b.get(), "keyring", std::string(stored ? "stored" : problem.empty() ? "none" : "unavailable"));
      if (!problem.empty()) json_member(b.get(), "keyring_problem", problem);
      json_builder_end_object(b.get());
      if (json) continue;
      const std::string where = !found                    ? std::string(_("no key"))
                                : found->source == "keyring" ? std::string(_("key from the desktop keyring"))
                                                          : format(_("key from %s"), found->source.c_str());
      std::printf("%-12s %s%s\n", p->name.c_str(), where.c_str(),
                  stored && found && found->source != "keyring"
                      ? (std::string("; ") + _("another is stored in the keyring")).c_str()
                      : "");
      if (!problem.empty()) std::printf("%-12s %s\n", "", problem.c_str());
    }
    json_builder_end_array(b.get());
    if (json) print_json(b.get());
    return kExitOk;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

}  // namespace genfill::cli
