// genfill-fake-server: the loopback fake of the image services (Gemini, OpenAI, Imagen, chat
// relays) as a program.
//   genfill-fake-server [--port N] [--color RRGGBB] [--fixtures DIR] [--stdin-eof]
// Prints its base URL (http://127.0.0.1:PORT) on the first line of stdout and serves until
// SIGTERM or SIGINT, or, with --stdin-eof, until its standard input ends (so it cannot outlive
// a parent that holds the other end of a pipe). Gemini and Imagen base = that URL; OpenAI and
// chat-relay base = that URL + "/v1". Control endpoints: see fake_server.hpp.
#include <cstdio>
#include <memory>
#include <string>

#include <glib-unix.h>
#include <glib.h>
#include <unistd.h>

#include "fake_server.hpp"

namespace {

gboolean quit_loop(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop *>(loop));
  return G_SOURCE_REMOVE;
}

// Standard input readable: drain it; at its end (or on an error) stop serving.
gboolean on_stdin(gint fd, GIOCondition cond, gpointer loop) {
  char buf[4096];
  ssize_t n = (cond & G_IO_IN) ? read(fd, buf, sizeof buf) : 0;
  if (n > 0) return G_SOURCE_CONTINUE;
  g_main_loop_quit(static_cast<GMainLoop *>(loop));
  return G_SOURCE_REMOVE;
}

}  // namespace

int main(int argc, char **argv) {
  gint port = 0;
  gchar *color = nullptr, *fixtures = nullptr;
  gboolean stdin_eof = FALSE;
  GOptionEntry entries[] = {
      {"port", 0, 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (0 = any free one)", "N"},
      {"color", 0, 0, G_OPTION_ARG_STRING, &color, "Colour of the answered pictures (default FF00FF)", "RRGGBB"},
      {"fixtures", 0, 0, G_OPTION_ARG_FILENAME, &fixtures, "Folder of provider fixtures (default $GENFILL_FIXTURES)",
       "DIR"},
      {"stdin-eof", 0, 0, G_OPTION_ARG_NONE, &stdin_eof, "Also stop when standard input ends", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new("- loopback fake of the Gemini, OpenAI, Imagen and chat-relay image services");
  g_option_context_add_main_entries(ctx, entries, nullptr);
  GError *err = nullptr;
  const bool parsed = g_option_context_parse(ctx, &argc, &argv, &err);
  g_option_context_free(ctx);
  if (!parsed) {
    std::fprintf(stderr, "genfill-fake-server: %s\n", err->message);
    g_error_free(err);
    g_free(color);
    g_free(fixtures);
    return 2;
  }
  // Owned from here on, whatever the way out.
  std::unique_ptr<gchar, decltype(&g_free)> color_text(color, g_free), fixtures_dir(fixtures, g_free);
  uint32_t rgb = 0xFF00FF;
  if (color && !genfill::test::parse_color(color, &rgb)) {
    std::fprintf(stderr, "genfill-fake-server: --color wants six hex digits (RRGGBB), not \"%s\"\n", color);
    return 2;
  }
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "genfill-fake-server: --port must be 0..65535\n");
    return 2;
  }

  std::string dir = fixtures ? fixtures : "";
#ifdef GENFILL_FIXTURES_DIR
  if (dir.empty() && !g_getenv("GENFILL_FIXTURES")) dir = GENFILL_FIXTURES_DIR;
#endif
  {
    genfill::test::FakeServer server(dir);
    server.set_color(rgb);
    try {
      server.start(port);
    } catch (const std::exception &e) {
      std::fprintf(stderr, "genfill-fake-server: %s\n", e.what());
      return 1;
    }
    std::printf("%s\n", server.base_url().c_str());
    std::fflush(stdout);

    GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
    g_unix_signal_add(SIGTERM, quit_loop, loop);
    g_unix_signal_add(SIGINT, quit_loop, loop);
    if (stdin_eof) g_unix_fd_add(STDIN_FILENO, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR), on_stdin, loop);
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    server.stop();
  }
  return 0;
}
