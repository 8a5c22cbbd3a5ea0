// genfill — the command line's shared parts: options every command takes, progress, signals,
// output files and JSON. One file per command: edit.cpp (edit, generate), models.cpp
// (providers, models), key.cpp (key); main.cpp picks the command.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "core/edit/job.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

namespace genfill::cli {

// Cancelled: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, as a shell reports a program the
// signal ended.
constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitCancelled = 130, kExitTerminated = 143;


// Options shared by edit and generate.
struct Common {
  gchar *provider = nullptr, *prompt = nullptr, *model = nullptr, *endpoint = nullptr, *output = nullptr;
  gchar *quality = nullptr, *image_size = nullptr, *previews = nullptr;
  gint64 seed = -1;
  gint n = 1;
  gdouble timeout = 300;
  gboolean json = FALSE, quiet = FALSE, verbose = FALSE, force = FALSE, estimate = FALSE, no_stream = FALSE;
  ~Common() {
    g_free(provider); g_free(prompt); g_free(model); g_free(endpoint); g_free(output);
    g_free(quality); g_free(image_size); g_free(previews);
  }
};

void add_common(GOptionContext *ctx, Common &c);

// Progress on stderr: one updating line on a terminal, one line per stage otherwise.
class Reporter {
public:
  explicit Reporter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO)) {
    if (!quiet_ && tty_) tick_ = g_timeout_add(250, &Reporter::on_tick, this);
  }
  ~Reporter() {
    if (tick_) g_source_remove(tick_);
    finish();
  }
  void stage(const Progress &p) {
    if (quiet_ || p.stage == stage_) return;
    stage_ = p.stage;
    if (!tty_) std::fprintf(stderr, "%s…\n", stage_.c_str());
    draw();
  }
  void finish() {
    if (!quiet_ && tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

private:
  static gboolean on_tick(gpointer self) {
    static_cast<Reporter *>(self)->draw();
    return G_SOURCE_CONTINUE;
  }
  void draw() {
    if (quiet_ || !tty_ || stage_.empty()) return;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "\r\033[K%s… %.0f s", stage_.c_str(), s);
    std::fflush(stderr);
    drawn_ = true;
  }
  bool quiet_, tty_, drawn_ = false;
  guint tick_ = 0;
  std::string stage_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// The signal that cancelled the command (SIGINT or SIGTERM), 0 while none did.
inline int cancelling_signal = 0;

// Ctrl-C and SIGTERM cancel whatever the command is doing. GLib notes the signal at once and
// handles it on the main context: while the command works without one (reading or writing
// files), requested() looks.
struct Cancel {
  GPtr<GCancellable> owned = adopt(g_cancellable_new());
  GCancellable *c = owned.get();
  guint sigint = g_unix_signal_add(SIGINT, &Cancel::on_sigint, c);
  guint sigterm = g_unix_signal_add(SIGTERM, &Cancel::on_sigterm, c);
  ~Cancel() {
    g_source_remove(sigint);
    g_source_remove(sigterm);
  }
  bool requested() const {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    return g_cancellable_is_cancelled(c);
  }
  // Throws Error{Cancelled} once a signal came.
  void check() const;
  static gboolean on_sigint(gpointer c) { return on_signal(c, SIGINT); }
  static gboolean on_sigterm(gpointer c) { return on_signal(c, SIGTERM); }
  static gboolean on_signal(gpointer c, int sig) {
    if (!cancelling_signal) cancelling_signal = sig;
    g_cancellable_cancel(G_CANCELLABLE(c));
    return G_SOURCE_CONTINUE;
  }
};

// The files -o names: OUTPUT itself for one picture, OUTPUT-1.png ... for -n N > 1 (named by the
// number asked for, so that every name can be checked before anything is sent).
std::vector<std::string> output_names(const std::string &output, int count);

// A mistake in what the command was asked to do, found after the options were read: reported
// like any error, with the usage exit code.
struct UsageError : Error {
  explicit UsageError(std::string message) : Error(ErrorCode::InvalidInput, std::move(message)) {}
};

// Before anything is asked of the service (and paid for): no output may be one of the files the
// command reads, and none may already exist unless --force.
void check_outputs(const std::vector<std::string> &outputs, const std::vector<std::string> &inputs, bool force);
// --previews DIR: each draft written as it arrives (DIR/draft-1.png, ...), an edit's composited
// onto `input` where it will land (expand's, whose canvas is not the input's, as the region
// alone). The drafts of a run that fails are removed again unless keep() was called.
class Previews {
public:
  // dir nullptr = no previews. Refuses (before anything is sent) a DIR that is a file or that
  // already holds draft-1.png, unless force.
  Previews(const char *dir, bool force, const Image *input = nullptr);
  ~Previews();
  Previews(const Previews &) = delete;
  Previews &operator=(const Previews &) = delete;
  void take(const Progress &p);  // writes p.draft, if any
  void keep() { keep_ = true; }

private:
  std::string dir_;
  const Image *input_;
  std::vector<std::string> written_;
  bool keep_ = false, made_dir_ = false;
};

// All pictures or none (see common.cpp).
void write_all(const std::vector<Image> &images, const std::vector<std::string> &names, const Cancel &cancel,
               bool force);

bool parse_options(GOptionContext *ctx, int &argc, char **&argv);
// A command's options: its summary line and entries, translated in genfill's domain.
GOptionContextPtr option_context(const char *summary, GOptionEntry *entries);
JobSettings settings_from(const Common &c);
void setup_logging(const Common &c);
// Says what went wrong on stderr (and as JSON on stdout with --json); returns the exit code.
int report_error(const Error &e, bool json);
// --estimate: what the run would cost, on stdout ({"estimate": {...}} with --json); nothing was
// sent. Returns the exit code (0).
int print_estimate(const Common &c, const PreparedJob &job, const Cost &estimate);
// After a run, on stderr (unless --quiet or --json): what it cost.
void say_cost(const Common &c, const JobResult &result);

// ---------- JSON on stdout (json_out.cpp) ----------

void print_json(JsonBuilder *b);
// `extra`, when given, adds members of the command's own (expand: its margins and canvas).
void print_success_json(const char *command, const JobResult &r, const std::vector<std::string> &files,
                        const std::optional<Rect> &region, const std::string &conversation = {},
                        const std::function<void(JsonBuilder *)> &extra = {});
void json_member(JsonBuilder *b, const char *name, const std::string &v);
void json_member(JsonBuilder *b, const char *name, int64_t v);
void json_flag(JsonBuilder *b, const char *name, bool v);

// ---------- the commands ----------

int cmd_edit(int argc, char **argv);       // edit.cpp
int cmd_generate(int argc, char **argv);   // edit.cpp
int cmd_expand(int argc, char **argv);     // expand.cpp
int cmd_batch(int argc, char **argv);      // batch.cpp
int cmd_providers(int argc, char **argv);  // models.cpp
int cmd_models(int argc, char **argv);     // models.cpp
int cmd_key(int argc, char **argv);        // key.cpp
int cmd_usage(int argc, char **argv);      // usage.cpp

}  // namespace genfill::cli
