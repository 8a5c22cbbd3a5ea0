// genfill — command line: generative edits and generation over the same core as the GIMP plug-in.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "core/catalog/models.hpp"
#include "core/edit/job.hpp"
#include "core/edit/services.hpp"
#include "core/image/image.hpp"
#include "core/keys/keys.hpp"
#include "core/served/served.hpp"
#include "core/util/day.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"
#include "core/util/text.hpp"

using namespace genfill;

namespace {

// Cancelled: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, as a shell reports a program the
// signal ended.
constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitCancelled = 130, kExitTerminated = 143;

const char *kUsage = N_(
    "Usage:\n"
    "  genfill edit --prompt TEXT [options] INPUT -o OUTPUT.png\n"
    "  genfill generate --prompt TEXT [options] -o OUTPUT.png\n"
    "  genfill providers [--json]\n"
    "  genfill models [--provider P] [--endpoint URL] [--refresh] [--json]\n"
    "  genfill key set|delete PROVIDER\n"
    "  genfill key status [--json]\n"
    "  genfill --version\n"
    "\n"
    "Run \"genfill COMMAND --help\" for a command's options.\n");

// Options shared by edit and generate.
struct Common {
  gchar *provider = nullptr, *prompt = nullptr, *model = nullptr, *endpoint = nullptr, *output = nullptr;
  gint64 seed = -1;
  gint n = 1;
  gdouble timeout = 300;
  gboolean json = FALSE, quiet = FALSE, verbose = FALSE, force = FALSE;
  ~Common() {
    g_free(provider); g_free(prompt); g_free(model); g_free(endpoint); g_free(output);
  }
};

void add_common(GOptionContext *ctx, Common &c) {
  GOptionEntry entries[] = {
      {"provider", 'p', 0, G_OPTION_ARG_STRING, &c.provider,
       N_("Service: gemini (default), openai, imagen or openai-chat"), "NAME"},
      {"prompt", 0, 0, G_OPTION_ARG_STRING, &c.prompt, N_("What to do, in plain words"), "TEXT"},
      {"model", 'm', 0, G_OPTION_ARG_STRING, &c.model, N_("Model id (default: the provider's default)"), "MODEL"},
      {"endpoint", 0, 0, G_OPTION_ARG_STRING, &c.endpoint,
       N_("Base URL of a compatible service or relay (default: the provider's own)"), "URL"},
      {"seed", 0, 0, G_OPTION_ARG_INT64, &c.seed, N_("Seed, where the model takes one (default: none)"), "N"},
      {"n", 'n', 0, G_OPTION_ARG_INT, &c.n, N_("Number of images, 1-10 (default 1)"), "N"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &c.output, N_("Output PNG (with -n > 1: OUTPUT-1.png ...)"), "FILE"},
      {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &c.timeout, N_("Seconds to wait for an answer (default 300)"), "S"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &c.json, N_("Print what happened as JSON on stdout"), nullptr},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &c.quiet, N_("No progress on stderr"), nullptr},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &c.verbose, N_("Log requests (never keys) on stderr"), nullptr},
      {"force", 'f', 0, G_OPTION_ARG_NONE, &c.force, N_("Replace output files that already exist"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  g_option_context_add_main_entries(ctx, entries, nullptr);
}

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
int cancelling_signal = 0;

// Ctrl-C and SIGTERM cancel whatever the command is doing. GLib notes the signal at once and
// handles it on the main context: while the command works without one (reading or writing
// files), requested() looks.
struct Cancel {
  GCancellable *c = g_cancellable_new();
  guint sigint = 0, sigterm = 0;
  Cancel() {
    sigint = g_unix_signal_add(SIGINT, &Cancel::on_sigint, c);
    sigterm = g_unix_signal_add(SIGTERM, &Cancel::on_sigterm, c);
  }
  ~Cancel() {
    g_source_remove(sigint);
    g_source_remove(sigterm);
    g_object_unref(c);
  }
  bool requested() const {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    return g_cancellable_is_cancelled(c);
  }
  // Throws Error{Cancelled} once a signal came.
  void check() const {
    if (requested()) throw Error(ErrorCode::Cancelled, _("Cancelled."));
  }
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
std::vector<std::string> output_names(const std::string &output, int count) {
  if (count <= 1) return {output};
  std::string stem = output, ext = ".png";
  if (auto dot = output.rfind('.'); dot != std::string::npos && output.find('/', dot) == std::string::npos) {
    stem = output.substr(0, dot);
    ext = output.substr(dot);
  }
  std::vector<std::string> names;
  for (int i = 1; i <= count; ++i) names.push_back(stem + "-" + std::to_string(i) + ext);
  return names;
}

// The same file: by device and inode when both exist (links, hard links, "./x" and "x"), else by
// canonical path.
bool same_file(const std::string &a, const std::string &b) {
  GStatBuf sa, sb;
  if (g_stat(a.c_str(), &sa) == 0 && g_stat(b.c_str(), &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  auto canonical = [](const std::string &path) {
    GCharPtr dir(g_path_get_dirname(path.c_str())), base(g_path_get_basename(path.c_str()));
    char *real = realpath(dir.get(), nullptr);
    GCharPtr full(g_build_filename(real ? real : dir.get(), base.get(), nullptr));
    std::free(real);
    GCharPtr clean(g_canonicalize_filename(full.get(), nullptr));
    return std::string(clean.get());
  };
  return canonical(a) == canonical(b);
}

// A mistake in what the command was asked to do, found after the options were read: reported
// like any error, with the usage exit code.
struct UsageError : Error {
  explicit UsageError(std::string message) : Error(ErrorCode::InvalidInput, std::move(message)) {}
};

// Before anything is asked of the service (and paid for): no output may be one of the files the
// command reads, and none may already exist unless --force.
void check_outputs(const std::vector<std::string> &outputs, const std::vector<std::string> &inputs, bool force) {
  for (const std::string &out : outputs) {
    for (const std::string &in : inputs)
      if (same_file(out, in))
        throw UsageError(format(_("The output %s is also an input (%s): choose another output file."), out.c_str(),
                                in.c_str()));
    GStatBuf st;
    if (g_lstat(out.c_str(), &st) != 0) continue;
    if (!force)
      throw UsageError(format(_("%s already exists: choose another output file, or give --force to replace it."),
                              out.c_str()));
    if (S_ISDIR(st.st_mode))
      throw UsageError(format(_("%s is a folder, not a file: choose another output file."), out.c_str()));
  }
}

// All pictures or none: each is written to a temporary file beside its output (.NAME.XXXXXX),
// and only when every one is written (and nothing was cancelled) are they renamed into place; a
// replaced file (--force) is replaced at once, never left half written. On a failure only the
// files this run made are removed.
void write_all(const std::vector<Image> &images, const std::vector<std::string> &names, const Cancel &cancel,
               bool force) {
  std::vector<std::string> temps, placed;
  auto clean_up = [&] {
    for (std::string &t : temps)
      if (!t.empty()) g_unlink(t.c_str()), t.clear();
    for (const std::string &p : placed) g_unlink(p.c_str());
    placed.clear();
  };
  auto fail = [&](const std::string &name, const std::string &why) {
    clean_up();
    throw Error(ErrorCode::InvalidInput, format(_("Could not write %s: %s"), name.c_str(), why.c_str()));
  };
  try {
    for (size_t i = 0; i < names.size(); ++i) {
      cancel.check();
      const std::vector<uint8_t> png = encode_png(images[i], 6);
      GCharPtr dir(g_path_get_dirname(names[i].c_str())), base(g_path_get_basename(names[i].c_str()));
      const std::string leaf = "." + std::string(base.get()) + ".XXXXXX";
      GCharPtr tmp(g_build_filename(dir.get(), leaf.c_str(), nullptr));
      const int fd = g_mkstemp_full(tmp.get(), O_WRONLY | O_CLOEXEC, 0666);
      if (fd < 0) fail(names[i], g_strerror(errno));
      temps.push_back(tmp.get());
      int why = 0;
      for (size_t done = 0; done < png.size() && !why;) {
        const ssize_t n = write(fd, png.data() + done, png.size() - done);
        if (n > 0) done += size_t(n);
        else if (n == 0 || errno != EINTR) why = n == 0 ? EIO : errno;
      }
      if (!why && fsync(fd) != 0) why = errno;
      if (close(fd) != 0 && !why) why = errno;
      if (why) fail(names[i], g_strerror(why));
    }
    cancel.check();  // the last moment to stop: nothing is in place yet
  } catch (...) {
    clean_up();
    throw;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    // Without --force, never over a file that appeared since the check: a hard link fails on an
    // existing name (where the file system has no hard links, the name is looked at once more).
    if (!force) {
      if (link(temps[i].c_str(), names[i].c_str()) == 0) {
        placed.push_back(names[i]);
        g_unlink(temps[i].c_str());
        temps[i].clear();
        continue;
      }
      GStatBuf st;
      if (errno == EEXIST || g_lstat(names[i].c_str(), &st) == 0) fail(names[i], g_strerror(EEXIST));
    }
    if (g_rename(temps[i].c_str(), names[i].c_str()) != 0) fail(names[i], g_strerror(errno));
    temps[i].clear();
    placed.push_back(names[i]);
  }
}

void json_usage(JsonBuilder *b, const Usage &u) {
  json_builder_set_member_name(b, "usage");
  json_builder_begin_object(b);
  auto member = [b](const char *name, int64_t v) {
    if (v < 0) return;
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
  };
  member("input_tokens", u.input_tokens);
  member("output_tokens", u.output_tokens);
  member("total_tokens", u.total_tokens);
  json_builder_end_object(b);
}

void print_json(JsonBuilder *b) {
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  json_generator_set_pretty(gen.get(), TRUE);
  JsonNode *root = json_builder_get_root(b);
  json_generator_set_root(gen.get(), root);
  GCharPtr text(json_generator_to_data(gen.get(), nullptr));
  json_node_unref(root);
  std::printf("%s\n", text.get());
}

void print_success_json(const char *command, const JobResult &r, const std::vector<std::string> &files,
                        const std::optional<Rect> &region, const std::string &conversation = {}) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  json_builder_set_member_name(b.get(), "command");
  json_builder_add_string_value(b.get(), command);
  json_builder_set_member_name(b.get(), "provider");
  json_builder_add_string_value(b.get(), r.provider.c_str());
  json_builder_set_member_name(b.get(), "model");
  json_builder_add_string_value(b.get(), r.model.c_str());
  json_builder_set_member_name(b.get(), "files");
  json_builder_begin_array(b.get());
  for (const std::string &f : files) json_builder_add_string_value(b.get(), f.c_str());
  json_builder_end_array(b.get());
  if (region) {
    json_builder_set_member_name(b.get(), "region");
    json_builder_begin_object(b.get());
    const char *names[] = {"x", "y", "width", "height"};
    int values[] = {region->x, region->y, region->w, region->h};
    for (int i = 0; i < 4; ++i) {
      json_builder_set_member_name(b.get(), names[i]);
      json_builder_add_int_value(b.get(), values[i]);
    }
    json_builder_end_object(b.get());
  }
  json_builder_set_member_name(b.get(), "text");
  json_builder_add_string_value(b.get(), r.text.c_str());
  json_builder_set_member_name(b.get(), "finish_reason");
  json_builder_add_string_value(b.get(), r.finish_reason.c_str());
  json_usage(b.get(), r.usage);
  if (!conversation.empty()) {
    json_builder_set_member_name(b.get(), "conversation");
    json_builder_add_string_value(b.get(), conversation.c_str());
  }
  if (!r.seam.empty()) {  // what the seam correction found, one entry per file
    json_builder_set_member_name(b.get(), "seam");
    json_builder_begin_array(b.get());
    for (const seam::Report &sr : r.seam) {
      json_builder_begin_object(b.get());
      json_builder_set_member_name(b.get(), "registered");
      json_builder_add_boolean_value(b.get(), sr.registered);
      const char *names[] = {"dx", "dy", "scale"};
      double values[] = {sr.dx, sr.dy, sr.scale};
      for (int i = 0; i < 3; ++i) {
        json_builder_set_member_name(b.get(), names[i]);
        json_builder_add_double_value(b.get(), values[i]);
      }
      json_builder_set_member_name(b.get(), "colour_matched");
      json_builder_add_boolean_value(b.get(), sr.colour_matched);
      json_builder_set_member_name(b.get(), "gain");
      json_builder_begin_array(b.get());
      for (double g : sr.gain) json_builder_add_double_value(b.get(), g);
      json_builder_end_array(b.get());
      json_builder_set_member_name(b.get(), "offset");
      json_builder_begin_array(b.get());
      for (double o : sr.offset) json_builder_add_double_value(b.get(), o);
      json_builder_end_array(b.get());
      json_builder_set_member_name(b.get(), "blended");
      json_builder_add_boolean_value(b.get(), sr.blended);
      json_builder_set_member_name(b.get(), "note");
      json_builder_add_string_value(b.get(), sr.note.c_str());
      json_builder_set_member_name(b.get(), "seconds");
      json_builder_add_double_value(b.get(), sr.seconds);
      json_builder_end_object(b.get());
    }
    json_builder_end_array(b.get());
  }
  json_builder_end_object(b.get());
  print_json(b.get());
}

int report_error(const Error &e, bool json) {
  std::fprintf(stderr, "genfill: %s\n", e.message());
  if (!e.text().empty() && e.code() != ErrorCode::TextOnly)
    std::fprintf(stderr, "%s\n", format(_("The model said: %s"), e.text().c_str()).c_str());
  if (!e.detail().empty()) g_debug("%s", e.detail().c_str());
  if (json) {
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "error");
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "code");
    json_builder_add_string_value(b.get(), error_code_name(e.code()));
    json_builder_set_member_name(b.get(), "message");
    json_builder_add_string_value(b.get(), e.message());
    if (!e.text().empty()) {
      json_builder_set_member_name(b.get(), "text");
      json_builder_add_string_value(b.get(), e.text().c_str());
    }
    json_builder_end_object(b.get());
    json_builder_end_object(b.get());
    print_json(b.get());
  }
  if (e.code() == ErrorCode::Cancelled) return cancelling_signal == SIGTERM ? kExitTerminated : kExitCancelled;
  return kExitFailed;
}

bool parse_options(GOptionContext *ctx, int &argc, char **&argv) {
  GErrorOut err;
  if (!g_option_context_parse(ctx, &argc, &argv, err.out())) {
    std::fprintf(stderr, "genfill: %s\n", err.message().c_str());
    return false;
  }
  return true;
}

JobSettings settings_from(const Common &c) {
  JobSettings s;
  s.provider = c.provider ? c.provider : "gemini";
  s.model = c.model ? c.model : "";
  s.endpoint = c.endpoint ? c.endpoint : "";
  s.prompt = c.prompt ? c.prompt : "";
  s.variations = c.n;
  if (c.seed >= 0) s.seed = c.seed;
  s.transport.timeout_s = c.timeout;
  return s;
}

void setup_logging(const Common &c) {
  g_log_writer_default_set_use_stderr(TRUE);  // logs never mix with --json on stdout
  if (c.verbose) g_setenv("G_MESSAGES_DEBUG", "genfill", TRUE);
}

int cmd_edit(int argc, char **argv) {
  Common c;
  gchar *mask_path = nullptr, *continue_id = nullptr;
  gchar **refs = nullptr;
  gdouble context = 25, feather_px = 4;
  gboolean no_register = FALSE, no_colours = FALSE, no_blend = FALSE, raw = FALSE;
  GOptionEntry entries[] = {
      {"mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path,
       N_("Area to change: white (or opaque) pixels; default: the whole image"), "MASK.png"},
      {"reference", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &refs, N_("Extra picture to guide the model (repeatable)"),
       "REF.png"},
      {"context", 0, 0, G_OPTION_ARG_DOUBLE, &context,
       N_("Context sent around the selection, percent of its size (default 25)"), "PCT"},
      {"feather", 0, 0, G_OPTION_ARG_DOUBLE, &feather_px,
       N_("Soften the selection's edge inwards by this many pixels (default 4)"), "PX"},
      {"continue", 0, 0, G_OPTION_ARG_STRING, &continue_id,
       N_("Continue an earlier edit's conversation (its id is printed by --json); INPUT is that edit's result"),
       "ID"},
      {"no-register", 0, 0, G_OPTION_ARG_NONE, &no_register,
       N_("Do not correct the shift and scale of the model's answer"), nullptr},
      {"no-colour-match", 0, 0, G_OPTION_ARG_NONE, &no_colours,
       N_("Do not correct the colours of the model's answer"), nullptr},
      {"no-blend", 0, 0, G_OPTION_ARG_NONE, &no_blend,
       N_("Do not blend the answer into its surroundings across the selection's edge"), nullptr},
      {"raw", 0, 0, G_OPTION_ARG_NONE, &raw,
       N_("Composite the model's pixels untouched (no registration, colour match or blend)"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new(_("INPUT - edit a picture with a prompt"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx, entries, nullptr);
  add_common(ctx, c);
  bool ok = parse_options(ctx, argc, argv);
  g_option_context_free(ctx);
  GCharPtr mask_holder(mask_path), continue_holder(continue_id);
  std::unique_ptr<gchar *, void (*)(gchar **)> refs_holder(refs, [](gchar **v) { g_strfreev(v); });
  if (!ok) return kExitUsage;
  if (argc != 2 || !c.output || !c.prompt) {
    std::fprintf(stderr, "%s\n", _("genfill edit: give one INPUT, --prompt and -o OUTPUT.png (see genfill edit --help)"));
    return kExitUsage;
  }
  setup_logging(c);
  try {
    if (context < 0 || context > 400) throw Error(ErrorCode::InvalidInput, _("--context must be 0-400 percent."));
    if (feather_px < 0 || feather_px > 500) throw Error(ErrorCode::InvalidInput, _("--feather must be 0-500 px."));
    std::vector<std::string> inputs = {argv[1]};
    if (mask_path) inputs.push_back(mask_path);
    for (gchar **r = refs; r && *r; ++r) inputs.push_back(*r);
    std::vector<std::string> names = output_names(c.output, c.n);
    check_outputs(names, inputs, c.force);
    Cancel cancel;  // from here on Ctrl-C stops whatever is under way, and nothing is written
    JobSettings s = settings_from(c);
    s.seam = raw ? seam::Options::raw()
                 : seam::Options{!no_register, !no_colours, !no_blend};
    // A bad provider, model or key, or a model that only generates: said before anything is read.
    const PreparedJob job = prepare(s, Task::Edit);
    EditInput edit;
    edit.context = context / 100.0;
    if (continue_id) {
      if (!is_conversation_id(continue_id))
        throw Error(ErrorCode::InvalidInput,
                    format(_("\"%s\" is not a conversation id: give the id that --json printed."), continue_id));
      edit.conversation = continue_id;
      if (!c.quiet)
        edit.conversation_gone = [] {
          std::fprintf(stderr, "%s\n",
                       _("The earlier steps of this conversation are gone from the cache: this edit starts afresh "
                         "from the picture as it is."));
        };
    }

    Image input = load_image_file(argv[1]);
    std::optional<Mask> mask;
    if (mask_path) {
      Mask m = load_mask_file(mask_path);
      if (m.width != input.width || m.height != input.height)
        throw Error(ErrorCode::InvalidInput, format(_("The mask is %dx%d but the picture is %dx%d; they must match."),
                                                    m.width, m.height, input.width, input.height));
      if (mask_bounds(m).empty())
        throw Error(ErrorCode::InvalidInput, _("The mask selects nothing: paint the area to change in white."));
      mask = std::move(m);
    }
    for (gchar **r = refs; r && *r; ++r) edit.references.push_back(load_image_file(*r));
    cancel.check();

    PictureSource source(input, mask);
    EditResult result;
    {
      Reporter reporter(c.quiet);
      result = run_edit(job, edit, source, cancel.c, [&](const Progress &p) { reporter.stage(p); });
    }
    cancel.check();
    for (const seam::Report &sr : result.seam) g_debug("seam: %s (%.0f ms)", sr.summary().c_str(), sr.seconds * 1000);
    std::vector<Image> outputs;
    for (size_t i = 0; i < result.images.size(); ++i) outputs.push_back(composite_result(input, result, i, feather_px));
    if (outputs.size() < names.size()) names.resize(outputs.size());
    write_all(outputs, names, cancel, c.force);
    if (!result.text.empty() && !c.json)
      std::fprintf(stderr, "%s\n", format(_("The model said: %s"), printable(result.text).c_str()).c_str());
    if (c.json) print_success_json("edit", result, names, result.plan.region, result.conversation);
    else if (!c.quiet) for (const std::string &n : names) std::fprintf(stderr, _("Wrote %s\n"), n.c_str());
    return kExitOk;
  } catch (const UsageError &e) {
    report_error(e, c.json);
    return kExitUsage;
  } catch (const Error &e) {
    return report_error(e, c.json);
  }
}

int cmd_generate(int argc, char **argv) {
  Common c;
  gchar *size = nullptr, *aspect = nullptr;
  gchar **refs = nullptr;
  gboolean transparent = FALSE;
  GOptionEntry entries[] = {
      {"size", 's', 0, G_OPTION_ARG_STRING, &size, N_("Output size, e.g. 1536x1024"), "WxH"},
      {"aspect", 'a', 0, G_OPTION_ARG_STRING, &aspect, N_("Aspect ratio, e.g. 16:9 (default 1:1)"), "W:H"},
      {"reference", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &refs, N_("Picture to guide the model (repeatable)"),
       "REF.png"},
      {"transparent", 0, 0, G_OPTION_ARG_NONE, &transparent,
       N_("Transparent background (models that can: see genfill providers)"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new(_("- make a picture from a prompt"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx, entries, nullptr);
  add_common(ctx, c);
  bool ok = parse_options(ctx, argc, argv);
  g_option_context_free(ctx);
  GCharPtr size_holder(size), aspect_holder(aspect);
  std::unique_ptr<gchar *, void (*)(gchar **)> refs_holder(refs, [](gchar **v) { g_strfreev(v); });
  if (!ok) return kExitUsage;
  if (argc != 1 || !c.output || !c.prompt) {
    std::fprintf(stderr, "%s\n", _("genfill generate: give --prompt and -o OUTPUT.png (see genfill generate --help)"));
    return kExitUsage;
  }
  if (size && aspect) {
    std::fprintf(stderr, "%s\n", _("genfill generate: give --size or --aspect, not both"));
    return kExitUsage;
  }
  setup_logging(c);
  try {
    int w = 0, h = 0;
    if (size) {
      char tail = 0;
      if (std::sscanf(size, "%dx%d%c", &w, &h, &tail) != 2 || w < 1 || h < 1 || w > 16384 || h > 16384)
        throw Error(ErrorCode::InvalidInput, _("Give --size as WIDTHxHEIGHT, for example 1536x1024."));
    }
    std::vector<std::string> inputs;
    for (gchar **r = refs; r && *r; ++r) inputs.push_back(*r);
    std::vector<std::string> names = output_names(c.output, c.n);
    check_outputs(names, inputs, c.force);
    Cancel cancel;  // from here on Ctrl-C stops whatever is under way, and nothing is written
    JobSettings s = settings_from(c);
    s.transparent = transparent;
    const PreparedJob job = prepare(s, Task::Generate);
    std::vector<Image> references;
    for (gchar **r = refs; r && *r; ++r) references.push_back(load_image_file(*r));
    cancel.check();
    JobResult result;
    {
      Reporter reporter(c.quiet);
      result = run_generate(job, aspect ? aspect : "", w, h, references, cancel.c,
                            [&](const Progress &p) { reporter.stage(p); });
    }
    cancel.check();
    if (result.images.size() < names.size()) names.resize(result.images.size());
    write_all(result.images, names, cancel, c.force);
    if (!result.text.empty() && !c.json)
      std::fprintf(stderr, "%s\n", format(_("The model said: %s"), printable(result.text).c_str()).c_str());
    if (c.json) print_success_json("generate", result, names, std::nullopt);
    else if (!c.quiet) for (const std::string &n : names) std::fprintf(stderr, _("Wrote %s\n"), n.c_str());
    return kExitOk;
  } catch (const UsageError &e) {
    report_error(e, c.json);
    return kExitUsage;
  } catch (const Error &e) {
    return report_error(e, c.json);
  }
}

// ---------- genfill providers ----------

std::string pixel_size(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

std::string scale_text(double scale) {
  char buf[32];
  g_ascii_formatd(buf, sizeof buf, "%g", scale);
  return buf;
}

void json_member(JsonBuilder *b, const char *name, const std::string &v) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v.c_str());
}
void json_member(JsonBuilder *b, const char *name, int64_t v) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, v);
}
void json_flag(JsonBuilder *b, const char *name, bool v) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, v);
}

void model_json(JsonBuilder *b, const ModelInfo &m) {
  json_builder_begin_object(b);
  json_member(b, "id", m.id);
  json_member(b, "display_name", m.display_name);
  json_flag(b, "default", m.is_default);
  json_flag(b, "legacy", m.legacy);
  json_flag(b, "retired", is_retired(m));
  if (!m.retired.empty()) json_member(b, "shutdown", m.retired);
  if (!m.replacement.empty()) json_member(b, "replacement", m.replacement);
  json_flag(b, "edit", m.can_edit);
  json_flag(b, "mask", m.takes_mask);
  json_member(b, "max_images_per_call", int64_t(m.max_images_per_call));
  json_member(b, "max_input_images", int64_t(m.max_input_images));
  json_flag(b, "thought_images", m.thought_images);
  json_flag(b, "input_fidelity", m.input_fidelity);
  json_flag(b, "transparent", m.transparent);
  json_member(b, "size_param", std::string(m.exact_size ? "pixels" : "aspect"));
  json_builder_set_member_name(b, "aspects");
  json_builder_begin_array(b);
  for (const Aspect &a : m.aspects) {
    json_builder_begin_object(b);
    json_member(b, "ratio", a.label());
    json_member(b, "size", pixel_size(a.out_w, a.out_h));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "image_sizes");
  json_builder_begin_array(b);
  for (const ImageSize &s : m.image_sizes) {
    json_builder_begin_object(b);
    json_member(b, "name", s.name);
    json_builder_set_member_name(b, "scale");
    json_builder_add_double_value(b, s.scale);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  if (!m.default_image_size.empty()) json_member(b, "default_image_size", m.default_image_size);
  if (m.free_size) {
    const FreeSize &f = *m.free_size;
    json_builder_set_member_name(b, "free_size");
    json_builder_begin_object(b);
    json_member(b, "multiple", int64_t(f.multiple));
    json_builder_set_member_name(b, "max_ratio");
    json_builder_add_double_value(b, f.max_ratio);
    json_member(b, "max_side", int64_t(f.max_side));
    json_member(b, "min_pixels", f.min_pixels);
    json_member(b, "max_pixels", f.max_pixels);
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
}

void model_text(const ModelInfo &m) {
  std::string lifecycle;
  if (is_retired(m))
    lifecycle = " (" + format(_("retired on %s"), m.retired.c_str()) +
                (m.replacement.empty() ? "" : "; " + format(_("use %s"), m.replacement.c_str())) + ")";
  else if (!m.retired.empty())
    lifecycle = " (" + format(_("shuts down on %s"), m.retired.c_str()) + ")";
  std::printf("    %s — %s%s%s%s\n", m.id.c_str(), m.display_name.c_str(), m.is_default ? _(" (default)") : "",
              m.legacy ? _(" (legacy)") : "", lifecycle.c_str());
  std::string what = !m.can_edit ? _("makes new pictures only")
                     : m.takes_mask ? _("edits with a mask")
                                    : _("edits (the selection is described to it)");
  if (m.max_input_images > 0)
    what += "; " + format(g_dngettext(GETTEXT_PACKAGE, "up to %d picture in", "up to %d pictures in",
                                      gulong(m.max_input_images)),
                          m.max_input_images);
  what += "; " + format(g_dngettext(GETTEXT_PACKAGE, "%d picture per call", "up to %d pictures per call",
                                    gulong(m.max_images_per_call)),
                        m.max_images_per_call);
  if (m.input_fidelity) what += std::string("; ") + _("high input fidelity on edits");
  if (m.transparent) what += std::string("; ") + _("transparent backgrounds");
  if (m.thought_images) what += std::string("; ") + _("draft pictures while it thinks");
  std::printf("      %s\n", what.c_str());
  std::string sizes;
  for (const Aspect &a : m.aspects) sizes += (sizes.empty() ? "" : ", ") + a.label() + " " + pixel_size(a.out_w, a.out_h);
  if (m.free_size) {
    const FreeSize &f = *m.free_size;
    std::printf("      %s\n", format(_("sizes: any WxH of the region's shape, multiples of %d, 1:%s to %s:1, up to %s "
                                       "pixels"),
                                     f.multiple, scale_text(f.max_ratio).c_str(), scale_text(f.max_ratio).c_str(),
                                     std::to_string(f.max_pixels).c_str())
                                  .c_str());
    std::printf("      %s\n", format(_("presets: %s"), sizes.c_str()).c_str());
  } else {
    std::printf("      %s\n", format(_("sizes: %s"), sizes.c_str()).c_str());
  }
  if (!m.image_sizes.empty()) {
    std::string names;
    for (const ImageSize &s : m.image_sizes)
      names += (names.empty() ? "" : ", ") + s.name + " (x" + scale_text(s.scale) + ")";
    std::printf("      %s\n", format(_("image sizes: %s; the smallest that covers the region is asked for"),
                                     names.c_str())
                                  .c_str());
  }
}

int cmd_providers(int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry entries[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print as JSON"), nullptr},
                            {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new(_("- list providers and their models"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx, entries, nullptr);
  bool ok = parse_options(ctx, argc, argv);
  g_option_context_free(ctx);
  if (!ok || argc != 1) return kExitUsage;

  try {
    const std::vector<ModelInfo> &models = known_models();
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const ServiceInfo &service : services()) {
      const ServiceInfo *p = &service;
      const std::optional<FoundKey> key = find_service_key(service);  // whether one is set; never printed
      const std::vector<std::string> &vars = p->key_env_vars;
      std::string default_id = default_model_id(p->name);
      json_builder_begin_object(b.get());
      json_member(b.get(), "name", p->name);
      json_member(b.get(), "display_name", p->display_name);
      json_flag(b.get(), "available", true);
      json_member(b.get(), "endpoint", p->base_url);
      json_member(b.get(), "default_model", default_id);
      json_builder_set_member_name(b.get(), "key_env_vars");
      json_builder_begin_array(b.get());
      for (const std::string &v : vars) json_builder_add_string_value(b.get(), v.c_str());
      json_builder_end_array(b.get());
      json_flag(b.get(), "key_set", key.has_value());
      if (key) json_member(b.get(), "key_source", key->source);
      if (!json) {
        std::string var_list;
        for (size_t i = 0; i < vars.size(); ++i) var_list += (i ? _(" or ") : "") + vars[i];
        std::printf("%s — %s\n  %s\n  %s\n  %s\n", p->name.c_str(),
                    p->display_name.c_str(),
                    format(_("endpoint: %s"), p->base_url.c_str()).c_str(),
                    format(_("key: %s (or the desktop keyring): %s"), var_list.c_str(),
                           key ? format(_("set, from %s"), key->source.c_str()).c_str() : _("not set"))
                        .c_str(),
                    _("models:"));
      }
      json_builder_set_member_name(b.get(), "models");
      json_builder_begin_array(b.get());
      for (const ModelInfo &m : models) {
        if (m.provider != p->name) continue;
        model_json(b.get(), m);
        if (!json) model_text(m);
      }
      json_builder_end_array(b.get());
      json_builder_end_object(b.get());
    }
    // Catalog entries for providers this build does not have (newer relays, legacy services):
    // listed as unavailable, so the catalog can run ahead of the code.
    std::vector<std::string> others;
    for (const ModelInfo &m : models)
      if (!find_service(m.provider) && std::find(others.begin(), others.end(), m.provider) == others.end())
        others.push_back(m.provider);
    if (!json && !others.empty()) std::printf("%s\n", _("In the model list, for services this genfill cannot reach:"));
    for (const std::string &name : others) {
      json_builder_begin_object(b.get());
      json_member(b.get(), "name", name);
      json_flag(b.get(), "available", false);
      json_member(b.get(), "default_model", default_model_id(name));
      json_builder_set_member_name(b.get(), "models");
      json_builder_begin_array(b.get());
      if (!json) std::printf("%s — %s\n", name.c_str(), _("not available in this build"));
      for (const ModelInfo &m : models) {
        if (m.provider != name) continue;
        model_json(b.get(), m);
        if (!json) model_text(m);
      }
      json_builder_end_array(b.get());
      json_builder_end_object(b.get());
    }
    json_builder_end_array(b.get());
    if (json) {
      print_json(b.get());
    } else {
      const CatalogFiles files = catalog_files();
      const bool user = g_file_test(files.user.c_str(), G_FILE_TEST_EXISTS);
      std::printf("%s\n", format(_("Model list: %s"), files.shipped.c_str()).c_str());
      std::printf("%s\n", format(user ? _("Your additions: %s") : _("Your additions (none yet): %s"),
                                 files.user.c_str())
                              .c_str());
    }
    return kExitOk;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

// ---------- genfill models ----------

std::string status_words(const ListedModel &m) {
  std::string words;
  switch (m.status) {
  case ModelStatus::Available: words = _("available"); break;
  case ModelStatus::New: words = _("new: not in genfill's list yet"); break;
  case ModelStatus::Unlisted: words = _("not in the service's list (may still work)"); break;
  case ModelStatus::Unchecked: words = _("not checked with the service"); break;
  case ModelStatus::Retired:
    words = m.shutdown.empty() ? std::string(_("retired")) : format(_("retired on %s"), m.shutdown.c_str());
    if (!m.replacement.empty()) words += "; " + format(_("use %s"), m.replacement.c_str());
    return words;
  }
  if (!m.shutdown.empty()) words += "; " + format(_("shuts down on %s"), m.shutdown.c_str());
  if (m.is_default) words += std::string("; ") + _("default");
  return words;
}

int cmd_models(int argc, char **argv) {
  gchar *provider = nullptr, *endpoint = nullptr;
  gboolean json = FALSE, refresh = FALSE;
  gdouble timeout = 30;
  GOptionEntry entries[] = {
      {"provider", 'p', 0, G_OPTION_ARG_STRING, &provider, N_("Only this service (default: all)"), "NAME"},
      {"endpoint", 0, 0, G_OPTION_ARG_STRING, &endpoint,
       N_("Base URL of a compatible service or relay (with --provider)"), "URL"},
      {"refresh", 0, 0, G_OPTION_ARG_NONE, &refresh, N_("Ask the service again, even if its list is less than a day old"),
       nullptr},
      {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, N_("Seconds to wait for each service (default 30)"), "S"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print as JSON"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new(_("- the models each service offers today"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx, entries, nullptr);
  bool ok = parse_options(ctx, argc, argv);
  g_option_context_free(ctx);
  GCharPtr provider_holder(provider), endpoint_holder(endpoint);
  if (!ok || argc != 1) return kExitUsage;
  if (endpoint && !provider) {
    std::fprintf(stderr, "%s\n", _("genfill models: --endpoint needs --provider (see genfill models --help)"));
    return kExitUsage;
  }
  g_log_writer_default_set_use_stderr(TRUE);
  try {
    if (!(timeout > 0 && timeout <= 3600))
      throw Error(ErrorCode::InvalidInput, _("--timeout must be more than 0 and at most 3600 seconds."));
    std::vector<std::string> names;
    if (provider) names.push_back(provider);
    else for (const ServiceInfo &p : services()) names.push_back(p.name);
    Cancel cancel;
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_array(b.get());
    for (const std::string &name : names) {
      ListOptions opts;
      opts.provider = name;
      opts.endpoint = endpoint ? endpoint : "";
      opts.refresh = refresh;
      opts.transport.timeout_s = timeout;
      const ModelListing listing = list_models(opts, cancel.c);
      if (!listing.note.empty()) std::fprintf(stderr, "genfill: %s\n", listing.note.c_str());
      if (!json) {
        const std::string from = listing.source == ListSource::Live ? std::string(_("as the service lists them now"))
                                 : listing.source == ListSource::Cache
                                     ? format(_("as the service listed them on %s"), utc_minute_text(listing.fetched).c_str())
                                     : std::string(_("genfill's own list, not checked with the service"));
        std::printf("%s — %s (%s)\n", listing.provider.c_str(), listing.endpoint.c_str(), from.c_str());
        size_t width = 0;
        for (const ListedModel &m : listing.models) width = std::max(width, m.id.size());
        for (const ListedModel &m : listing.models)
          std::printf("  %-*s  %s — %s\n", int(width), m.id.c_str(), m.name.c_str(), status_words(m).c_str());
      }
      for (const ListedModel &m : listing.models) {
        json_builder_begin_object(b.get());
        json_member(b.get(), "id", m.id);
        json_member(b.get(), "provider", m.provider);
        json_member(b.get(), "name", m.name);
        json_flag(b.get(), "default", m.is_default);
        json_member(b.get(), "status", std::string(model_status_name(m.status)));
        if (!m.shutdown.empty()) json_member(b.get(), "shutdown", m.shutdown);
        if (!m.replacement.empty()) json_member(b.get(), "replacement", m.replacement);
        json_member(b.get(), "source", std::string(list_source_name(listing.source)));
        json_builder_end_object(b.get());
      }
    }
    json_builder_end_array(b.get());
    if (json) print_json(b.get());
    return kExitOk;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

// ---------- genfill key ----------

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

int cmd_key(int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry entries[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print as JSON (status)"), nullptr},
                            {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new(_("set|delete PROVIDER | status - API keys in the desktop keyring"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx, entries, nullptr);
  g_option_context_set_description(
      ctx, _("\"genfill key set PROVIDER\" reads the key from standard input (typed without echo on a terminal,\n"
             "or piped: echo \"$KEY\" | genfill key set gemini) and keeps it in the desktop keyring.\n"
             "\"genfill key delete PROVIDER\" removes it. \"genfill key status\" says, for each provider, where its\n"
             "key comes from; it never prints a key."));
  bool ok = parse_options(ctx, argc, argv);
  g_option_context_free(ctx);
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
  if (cmd == "providers") return cmd_providers(sub_argc, sub_argv);
  if (cmd == "models") return cmd_models(sub_argc, sub_argv);
  if (cmd == "key") return cmd_key(sub_argc, sub_argv);
  if (cmd == "--version" || cmd == "version") {
    std::printf("genfill %s\n", GENFILL_VERSION);
    return kExitOk;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(_(kUsage), stdout);
    return kExitOk;
  }
  std::fprintf(stderr, _("genfill: unknown command \"%s\"\n\n%s"), cmd.c_str(), _(kUsage));
  return kExitUsage;
}
