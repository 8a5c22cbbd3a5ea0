// genfill tests — helpers every test program shares: the recorded fixtures, temporary
// folders, and the code of a thrown Error. Header-only; include it from any test.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "core/util/error.hpp"

namespace genfill::test {

// The folder of recorded answers (tests/fixtures), from GENFILL_FIXTURES (tests/meson.build).
inline std::string fixtures_dir() {
  const char *dir = g_getenv("GENFILL_FIXTURES");
  return dir ? dir : "";
}

// The bytes of one fixture, by its path under tests/fixtures; a missing one fails the test.
inline std::string fixture(const std::string &name) {
  const std::string path = fixtures_dir() + "/" + name;
  gchar *data = nullptr;
  gsize len = 0;
  EXPECT_TRUE(g_file_get_contents(path.c_str(), &data, &len, nullptr)) << path;
  std::string s(data ? data : "", len);
  g_free(data);
  return s;
}

// The names of the files in one fixture folder, sorted.
inline std::vector<std::string> fixture_names(const std::string &dir) {
  std::vector<std::string> names;
  GDir *d = g_dir_open((fixtures_dir() + "/" + dir).c_str(), 0, nullptr);
  while (const char *n = d ? g_dir_read_name(d) : nullptr) names.push_back(n);
  if (d) g_dir_close(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The HTTP status a fixture stands for: "error_429_..." -> 429, responses -> 200.
inline int status_of(const std::string &name) {
  return name.rfind("error_", 0) == 0 ? std::atoi(name.c_str() + 6) : 200;
}

// The code of the Error f throws, by name ("invalid-input", ...); "none" when it throws nothing.
inline std::string code_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return error_code_name(e.code());
  }
  return "none";
}

// A new empty folder under the system's temporary folder ("genfill-PREFIX-XXXXXX").
inline std::string make_tmp_dir(const std::string &prefix) {
  gchar *d = g_dir_make_tmp(("genfill-" + prefix + "-XXXXXX").c_str(), nullptr);
  std::string s = d ? d : "";
  g_free(d);
  return s;
}

// Removes a folder and everything in it; links are removed, never followed.
inline void remove_tree(const std::string &dir) {
  if (GDir *d = g_dir_open(dir.c_str(), 0, nullptr)) {
    while (const char *name = g_dir_read_name(d)) {
      const std::string p = dir + "/" + name;
      if (g_file_test(p.c_str(), G_FILE_TEST_IS_DIR) && !g_file_test(p.c_str(), G_FILE_TEST_IS_SYMLINK)) remove_tree(p);
      else g_remove(p.c_str());
    }
    g_dir_close(d);
  }
  g_rmdir(dir.c_str());
}

}  // namespace genfill::test
