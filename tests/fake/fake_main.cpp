// genfill-fake-server: the loopback fake of the Gemini and OpenAI image services as a program.
//   genfill-fake-server [--port N] [--color RRGGBB] [--fixtures DIR]
// Prints its base URL (http://127.0.0.1:PORT) on the first line of stdout and serves until
// SIGTERM or SIGINT. Gemini base = that URL; OpenAI base = that URL + "/v1".
#include <cstdio>
#include <string>

#include <glib-unix.h>
#include <glib.h>

#include "fake_server.hpp"

int main(int argc, char **argv) {
  gint port = 0;
  gchar *color = nullptr, *fixtures = nullptr;
  GOptionEntry entries[] = {
      {"port", 0, 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (0 = any free one)", "N"},
      {"color", 0, 0, G_OPTION_ARG_STRING, &color, "Colour of the answered pictures (default FF00FF)", "RRGGBB"},
      {"fixtures", 0, 0, G_OPTION_ARG_FILENAME, &fixtures, "Folder of provider fixtures (default $GENFILL_FIXTURES)",
       "DIR"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new("- loopback fake of the Gemini and OpenAI image services");
  g_option_context_add_main_entries(ctx, entries, nullptr);
  GError *err = nullptr;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    std::fprintf(stderr, "genfill-fake-server: %s\n", err->message);
    return 2;
  }
  g_option_context_free(ctx);

  std::string dir = fixtures ? fixtures : "";
#ifdef GENFILL_FIXTURES_DIR
  if (dir.empty() && !g_getenv("GENFILL_FIXTURES")) dir = GENFILL_FIXTURES_DIR;
#endif
  genfill::test::FakeServer server(dir);
  if (color) server.set_color(uint32_t(std::stoul(color, nullptr, 16)));
  try {
    server.start(port);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "genfill-fake-server: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", server.base_url().c_str());
  std::fflush(stdout);

  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  auto quit = +[](gpointer l) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop *>(l));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add(SIGTERM, quit, loop);
  g_unix_signal_add(SIGINT, quit, loop);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  server.stop();
  g_free(color);
  g_free(fixtures);
  return 0;
}
