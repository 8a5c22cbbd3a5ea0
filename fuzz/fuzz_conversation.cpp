// libFuzzer target: the conversation loader on any conversation.json (the cache folder is the
// user's, but anything may have written there), with a few real picture files beside it that
// the text may name. A conversation it accepts goes on through the next exchange as an edit
// would take it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <glib.h>
#include <glib/gstdio.h>

#include "core/conversation/conversation.hpp"
#include "core/image/image.hpp"

namespace {

const std::string &conversation_id() {
  static const std::string id = "0123456789abcdef0123456789abcdef";
  return id;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // A private cache: set before GLib reads XDG_CACHE_HOME for the first time.
  gchar *tmp = g_dir_make_tmp("genfill-fuzz-conversation-XXXXXX", nullptr);
  if (!tmp) std::abort();
  g_setenv("XDG_CACHE_HOME", tmp, TRUE);
  const std::string dir = genfill::conversation_dir(conversation_id());
  g_mkdir_with_parents(dir.c_str(), 0700);
  genfill::Image img(4, 3);
  const std::vector<uint8_t> png = genfill::encode_png(img);
  for (const char *name : {"0.png", "1.png", "a.jpg"}) {
    gchar *path = g_build_filename(dir.c_str(), name, nullptr);
    g_file_set_contents(path, reinterpret_cast<const char *>(png.data()), gssize(png.size()), nullptr);
    g_free(path);
  }
  g_free(tmp);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gchar *path = g_build_filename(genfill::conversation_dir(conversation_id()).c_str(), "conversation.json", nullptr);
  // Without fsync: the file is rewritten on every run.
  const bool written = g_file_set_contents_full(path, reinterpret_cast<const char *>(data), gssize(size),
                                                G_FILE_SET_CONTENTS_NONE, 0600, nullptr);
  g_free(path);
  if (!written) return 0;
  std::optional<genfill::Conversation> c = genfill::load_conversation(conversation_id());
  if (!c) return 0;
  if (c->turns.empty() || c->turns.size() > 2 * genfill::kMaxExchanges) std::abort();
  genfill::add_exchange(*c, genfill::Turn{"user", {}}, genfill::Turn{"model", {}});
  if (c->turns.size() > 2 * genfill::kMaxExchanges) std::abort();
  return 0;
}
