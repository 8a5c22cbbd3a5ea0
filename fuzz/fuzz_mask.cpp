// libFuzzer target: the CLI's mask reader on any file content.
#include <cstddef>
#include <cstdint>
#include <string>

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "core/image/image.hpp"
#include "core/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::string path = [] {
    gchar *p = g_build_filename(g_get_tmp_dir(), ("genfill-fuzz-mask-" + std::to_string(getpid()) + ".png").c_str(),
                                nullptr);
    std::string s = p;
    g_free(p);
    return s;
  }();
  if (!g_file_set_contents(path.c_str(), reinterpret_cast<const char *>(data), gssize(size), nullptr)) return 0;
  try {
    genfill::Mask m = genfill::load_mask_file(path);
    (void)genfill::mask_bounds(m);
  } catch (const genfill::Error &) {
  }
  return 0;
}
