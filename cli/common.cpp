// genfill — command line: what every command shares (options, signals, output files, errors).
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.hpp"
#include "core/edit/services.hpp"
#include "core/image/image.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill::cli {

namespace {

// "Service: gemini, openai, imagen, openai-chat (default: gemini)", from the registry.
const char *service_help() {
  static const std::string help = [] {
    std::string names;
    for (const ServiceInfo &s : services()) names += (names.empty() ? "" : ", ") + s.name;
    return format(_("Service: %s (default: %s)"), names.c_str(), default_service().name.c_str());
  }();
  return help.c_str();
}

}  // namespace

void add_common(GOptionContext *ctx, Common &c) {
  GOptionEntry entries[] = {
      {"provider", 'p', 0, G_OPTION_ARG_STRING, &c.provider, service_help(), "NAME"},
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
      {"quality", 0, 0, G_OPTION_ARG_STRING, &c.quality,
       N_("Quality, for models that take one (OpenAI: low, medium, high, auto; see genfill models)"), "Q"},
      {"image-size", 0, 0, G_OPTION_ARG_STRING, &c.image_size,
       N_("Answer size, for models that offer several (Gemini: 512, 1K, 2K, 4K); default: the smallest that covers"),
       "SIZE"},
      {"estimate", 0, 0, G_OPTION_ARG_NONE, &c.estimate,
       N_("Say what the run would cost and send nothing (no key needed)"), nullptr},
      {"previews", 0, 0, G_OPTION_ARG_FILENAME, &c.previews,
       N_("Write the drafts the model shows while it works to DIR (draft-1.png ...), for models that stream"), "DIR"},
      {"no-stream", 0, 0, G_OPTION_ARG_NONE, &c.no_stream,
       N_("Ask for the answer whole, without drafts (for relays that cannot stream)"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  g_option_context_add_main_entries(ctx, entries, nullptr);
}

void Cancel::check() const {
  if (requested()) throw Error(ErrorCode::Cancelled, _("Cancelled."));
}

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

namespace {

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

}  // namespace

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

Previews::Previews(const char *dir, bool force, const Image *input) : dir_(dir ? dir : ""), input_(input) {
  if (dir_.empty()) return;
  GStatBuf st;
  if (g_stat(dir_.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    throw UsageError(format(_("%s is a file, not a folder: give --previews a folder."), dir_.c_str()));
  GCharPtr first(g_build_filename(dir_.c_str(), "draft-1.png", nullptr));
  if (!force && g_file_test(first.get(), G_FILE_TEST_EXISTS))
    throw UsageError(format(_("%s already holds drafts: choose another folder, or give --force to replace them."),
                            dir_.c_str()));
  made_dir_ = !g_file_test(dir_.c_str(), G_FILE_TEST_IS_DIR);
  if (g_mkdir_with_parents(dir_.c_str(), 0777) != 0)
    throw Error(ErrorCode::InvalidInput,
                format(_("Could not make the folder %s: %s"), dir_.c_str(), g_strerror(errno)));
}

Previews::~Previews() {
  if (keep_) return;
  for (const std::string &f : written_) g_unlink(f.c_str());
  if (made_dir_) g_rmdir(dir_.c_str());  // only when empty: the folder this run made
}

void Previews::take(const Progress &p) {
  if (dir_.empty() || !p.draft) return;
  const Draft &d = *p.draft;
  Image whole;
  const Rect &r = d.region;
  const bool onto_input = input_ && !r.empty() && r.x >= 0 && r.y >= 0 && r.right() <= input_->width &&
                          r.bottom() <= input_->height;
  if (onto_input) {
    whole = *input_;
    const Image placed = d.picture.width == r.w && d.picture.height == r.h ? d.picture : scale(d.picture, r.w, r.h);
    composite(whole, placed, Mask(r.w, r.h, 255), r);
  }
  const std::string name = "draft-" + std::to_string(d.number) + ".png";
  GCharPtr file(g_build_filename(dir_.c_str(), name.c_str(), nullptr));
  const std::vector<uint8_t> png = encode_png(onto_input ? whole : d.picture, 3);
  GErrorOut err;
  // Written whole or not at all (a viewer watching the folder never sees half a file).
  if (!g_file_set_contents(file.get(), reinterpret_cast<const char *>(png.data()), gssize(png.size()), err.out())) {
    g_warning("draft not written: %s", err.message().c_str());
    return;
  }
  written_.push_back(file.get());
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

GOptionContextPtr option_context(const char *summary, GOptionEntry *entries) {
  GOptionContextPtr ctx(g_option_context_new(summary));
  g_option_context_set_translation_domain(ctx.get(), GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx.get(), entries, nullptr);
  return ctx;
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
  if (c.provider) s.provider = c.provider;  // else the default service
  s.model = c.model ? c.model : "";
  s.endpoint = c.endpoint ? c.endpoint : "";
  s.prompt = c.prompt ? c.prompt : "";
  s.variations = c.n;
  if (c.seed >= 0) s.seed = c.seed;
  s.transport.timeout_s = c.timeout;
  s.quality = c.quality ? c.quality : "";
  s.image_size = c.image_size ? c.image_size : "";
  s.stream = !c.no_stream;
  return s;
}

void setup_logging(const Common &c) {
  g_log_writer_default_set_use_stderr(TRUE);  // logs never mix with --json on stdout
  if (c.verbose) g_setenv("G_MESSAGES_DEBUG", "genfill", TRUE);
}

}  // namespace genfill::cli
