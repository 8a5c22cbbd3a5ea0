// genfill — command line: generative edits and generation over the same core as the GIMP plug-in.
// This file picks the command; each command lives in its own file (see cli.hpp).
#include <clocale>
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "core/catalog/models.hpp"
#include "core/image/image.hpp"
#include "core/util/i18n.hpp"

using namespace genfill;
using namespace genfill::cli;

namespace {

const char *kUsage = N_(
    "Usage:\n"
    "  genfill edit --prompt TEXT [options] INPUT -o OUTPUT.png\n"
    "  genfill generate --prompt TEXT [options] -o OUTPUT.png\n"
    "  genfill expand [--left PX] [--right PX] [--top PX] [--bottom PX | --to-aspect W:H] INPUT -o OUTPUT.png\n"
    "  genfill batch [--jobs N] [--provider P] [--model M] [--json] MANIFEST.jsonl\n"
    "  genfill providers [--json]\n"
    "  genfill models [--provider P] [--endpoint URL] [--refresh] [--json]\n"
    "  genfill key set|delete PROVIDER\n"
    "  genfill key status [--json]\n"
    "  genfill usage [--since YYYY-MM-DD] [--json] [--set-budget USD | --no-budget]\n"
    "  genfill --version\n"
    "\n"
    "Run \"genfill COMMAND --help\" for a command's options.\n");

}  // namespace

int main(int argc, char **argv) {
  keep_pictures_off_the_heap();
  std::setlocale(LC_ALL, "");
  init_i18n();
  textdomain(GETTEXT_PACKAGE);
  if (argc < 2) {
    std::fputs(_(kUsage), stderr);
    return kExitUsage;
  }
  std::string cmd = argv[1];
  // Sub-commands parse their own options; argv[1] becomes the program name for them.
  int sub_argc = argc - 1;
  char **sub_argv = argv + 1;
  if (cmd == "edit") return cmd_edit(sub_argc, sub_argv);
  if (cmd == "generate") return cmd_generate(sub_argc, sub_argv);
  if (cmd == "expand") return cmd_expand(sub_argc, sub_argv);
  if (cmd == "batch") return cmd_batch(sub_argc, sub_argv);
  if (cmd == "providers") return cmd_providers(sub_argc, sub_argv);
  if (cmd == "models") return cmd_models(sub_argc, sub_argv);
  if (cmd == "key") return cmd_key(sub_argc, sub_argv);
  if (cmd == "usage") return cmd_usage(sub_argc, sub_argv);
  if (cmd == "--version" || cmd == "version") {
    std::printf("genfill %s\n", GENFILL_VERSION);
    const CatalogStamp catalog = shipped_catalog_stamp();
    if (!catalog.path.empty())
      std::printf("%s\n", (catalog.date.empty() ? format(_("model catalog: %s"), catalog.path.c_str())
                                                : format(_("model catalog of %s: %s"), catalog.date.c_str(),
                                                         catalog.path.c_str()))
                              .c_str());
    return kExitOk;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(_(kUsage), stdout);
    return kExitOk;
  }
  std::fprintf(stderr, _("genfill: unknown command \"%s\"\n\n%s"), cmd.c_str(), _(kUsage));
  return kExitUsage;
}
