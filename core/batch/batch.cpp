#include "core/util/i18n.hpp"
#include "core/batch/batch.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/image/image.hpp"
#include "core/util/error.hpp"
#include "core/util/gjson.hpp"
#include "core/util/gobj.hpp"

namespace genfill::batch {

namespace {

std::string sha256_hex(const std::string &bytes) {
  GCharPtr sum(g_compute_checksum_for_data(G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(bytes.data()),
                                           bytes.size()));
  return sum.get();
}

std::string resolve(const std::string &dir, const std::string &path) {
  if (path.empty() || g_path_is_absolute(path.c_str())) return path;
  GCharPtr joined(g_build_filename(dir.c_str(), path.c_str(), nullptr));
  GCharPtr canonical(g_canonicalize_filename(joined.get(), nullptr));
  return canonical.get();
}

const std::set<std::string> kFields = {"prompt", "output", "input", "mask", "references", "model", "quality",
                                       "image_size", "aspect", "size", "seed", "context", "feather"};

// One line's JSON into `line`; its problem, in the user's words, when it has one.
void read_line(Line &line, JsonObject *o, const std::string &dir) {
  auto text = [o](const char *name) -> std::optional<std::string> {
    JsonNode *n = json_object_get_member(o, name);
    if (!n) return std::string();
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) return std::nullopt;
    return std::string(json_node_get_string(n));
  };
  auto bad = [&line](const std::string &why) {
    if (line.problem.empty()) line.problem = why;
  };
  GListPtr names(json_object_get_members(o));
  for (GList *n = names.get(); n; n = n->next) {
    const char *name = static_cast<const char *>(n->data);
    if (name[0] != '_' && !kFields.count(name))
      bad(format(_("unknown field \"%s\" (a line takes prompt, output, input, mask, references, model, quality, "
                   "image_size, aspect, size, seed, context, feather)"),
                 name));
  }
  for (auto [field, into] : {std::pair<const char *, std::string *>{"prompt", &line.prompt}, {"output", &line.output},
                            {"input", &line.input}, {"mask", &line.mask}, {"model", &line.model},
                            {"quality", &line.quality}, {"image_size", &line.image_size}, {"aspect", &line.aspect}}) {
    std::optional<std::string> v = text(field);
    if (!v) bad(format(_("\"%s\" must be text"), field));
    else *into = *v;
  }
  if (JsonNode *refs = json_object_get_member(o, "references")) {
    if (!JSON_NODE_HOLDS_ARRAY(refs)) {
      bad(_("\"references\" must be a list of files"));
    } else {
      JsonArray *a = json_node_get_array(refs);
      for (guint i = 0; i < json_array_get_length(a); ++i) {
        JsonNode *r = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(r) || json_node_get_value_type(r) != G_TYPE_STRING)
          bad(_("\"references\" must be a list of files"));
        else line.references.push_back(resolve(dir, json_node_get_string(r)));
      }
    }
  }
  if (std::optional<std::string> size = text("size"); size && !size->empty()) {
    if (std::sscanf(size->c_str(), "%dx%d", &line.width, &line.height) != 2 || line.width < 1 || line.height < 1)
      bad(_("\"size\" must be WIDTHxHEIGHT, for example 1024x768"));
  }
  auto number = [&](const char *field, double lo, double hi, double *into) {
    JsonNode *n = json_object_get_member(o, field);
    if (!n) return;
    const GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) return bad(format(_("\"%s\" must be a number"), field));
    const double v = json_node_get_double(n);
    if (v < lo || v > hi) return bad(format(_("\"%s\" must be from %g to %g"), field, lo, hi));
    *into = v;
  };
  if (JsonNode *n = json_object_get_member(o, "seed")) {
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64 || json_node_get_int(n) < 0)
      bad(_("\"seed\" must be a whole number of 0 or more"));
    else line.seed = json_node_get_int(n);
  }
  double context_pct = 25;
  number("context", 0, 400, &context_pct);
  line.context = context_pct / 100.0;
  number("feather", 0, 500, &line.feather_px);
  if (line.prompt.empty()) bad(_("no \"prompt\": say what to do"));
  if (line.output.empty()) bad(_("no \"output\": name the file to write"));
  if (!line.input.empty() && line.width > 0) bad(_("\"size\" is for generations; an edit keeps its input's size"));
  if (line.input.empty() && !line.mask.empty()) bad(_("a \"mask\" needs an \"input\" to edit"));
  line.output = resolve(dir, line.output);
  line.input = resolve(dir, line.input);
  line.mask = resolve(dir, line.mask);
  for (const std::string *f : {&line.input, &line.mask})
    if (!f->empty() && line.problem.empty() && !g_file_test(f->c_str(), G_FILE_TEST_IS_REGULAR))
      bad(format(_("%s does not exist"), f->c_str()));
  for (const std::string &r : line.references)
    if (line.problem.empty() && !g_file_test(r.c_str(), G_FILE_TEST_IS_REGULAR))
      bad(format(_("%s does not exist"), r.c_str()));
  if (line.problem.empty() && !line.output.empty())
    for (const std::string *f : {&line.input, &line.mask})
      if (*f == line.output) bad(_("the output is also an input of the line"));
}

}  // namespace

Manifest read_manifest(const std::string &path, const std::string &run_key) {
  Manifest m;
  m.path = path;
  GCharPtr dir(g_path_get_dirname(path.c_str()));
  m.dir = dir.get();
  gchar *data = nullptr;
  gsize len = 0;
  GErrorOut err;
  if (!g_file_get_contents(path.c_str(), &data, &len, err.out()))
    throw Error(ErrorCode::InvalidInput, format(_("Cannot read the manifest %s: %s"), path.c_str(), err.message().c_str()));
  const std::string text(data, len);
  g_free(data);
  std::map<std::string, int> outputs;  // output -> the first line writing it
  int number = 0;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string raw = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.find_first_not_of(" \t") == std::string::npos) {
      if (end == text.size()) break;
      continue;
    }
    Line line;
    line.number = number;
    line.hash = sha256_hex(raw + "\n" + run_key);
    GErrorOut perr;
    GPtr<JsonNode> node = adopt(json_from_string(raw.c_str(), perr.out()));
    if (!node || !JSON_NODE_HOLDS_OBJECT(node.get()))
      line.problem = node ? _("not a JSON object") : format(_("not JSON (%s)"), perr.message().c_str());
    else
      read_line(line, json_node_get_object(node.get()), m.dir);
    if (line.problem.empty()) {
      auto [it, fresh] = outputs.emplace(line.output, line.number);
      if (!fresh) line.problem = format(_("line %d writes the same output"), it->second);
    }
    m.lines.push_back(std::move(line));
  }
  return m;
}

std::string journal_path(const std::string &manifest) { return manifest + ".journal"; }

std::string file_sha256(const std::string &path) {
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents(path.c_str(), &data, &len, nullptr)) return {};
  std::string bytes(data, len);
  g_free(data);
  return sha256_hex(bytes);
}

Journal::Journal(std::string path) : path_(std::move(path)) {
  std::ifstream in(path_);
  for (std::string text; std::getline(in, text);) {
    GPtr<JsonNode> node = adopt(json_from_string(text.c_str(), nullptr));
    if (!node || !JSON_NODE_HOLDS_OBJECT(node.get())) continue;  // a line cut by a crash
    JsonObject *o = json_node_get_object(node.get());
    auto s = [o](const char *name) {
      const char *v = json_object_has_member(o, name) ? json_object_get_string_member_with_default(o, name, "") : "";
      return std::string(v ? v : "");
    };
    const int line = int(json_object_get_int_member_with_default(o, "line", 0));
    if (line < 1) continue;
    Entry e{s("state"), s("hash"), s("output"), s("sha256"), s("reason"), s("batch"),
            json_object_get_double_member_with_default(o, "cost_usd", 0),
            int(json_object_get_int_member_with_default(o, "position", -1))};
    entries_[line] = std::move(e);
  }
}

const Entry *Journal::find(int line) const {
  auto it = entries_.find(line);
  return it == entries_.end() ? nullptr : &it->second;
}

void Journal::record(int line, const Entry &e) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  json_builder_set_member_name(b.get(), "time");
  GPtr<GDateTime> now = adopt(g_date_time_new_now_utc());
  GCharPtr stamp(g_date_time_format_iso8601(now.get()));
  json_builder_add_string_value(b.get(), stamp.get());
  json_builder_set_member_name(b.get(), "line");
  json_builder_add_int_value(b.get(), line);
  for (auto [name, value] : {std::pair<const char *, const std::string *>{"state", &e.state}, {"hash", &e.hash},
                            {"output", &e.output}, {"sha256", &e.sha256}, {"reason", &e.reason}, {"batch", &e.batch}}) {
    if (value->empty()) continue;
    json_builder_set_member_name(b.get(), name);
    json_builder_add_string_value(b.get(), value->c_str());
  }
  if (e.cost_usd > 0) {
    json_builder_set_member_name(b.get(), "cost_usd");
    json_builder_add_double_value(b.get(), e.cost_usd);
  }
  if (e.position >= 0) {
    json_builder_set_member_name(b.get(), "position");
    json_builder_add_int_value(b.get(), e.position);
  }
  json_builder_end_object(b.get());
  const std::string text = json_text(b.get()) + "\n";
  // Appended whole, in one write: a crash leaves at most one cut line, which reading skips.
  FILE *f = g_fopen(path_.c_str(), "ab");
  const bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  const int saved = errno;
  if (f) std::fclose(f);
  if (!ok)
    throw Error(ErrorCode::InvalidInput,
                format(_("Cannot write the journal %s: %s"), path_.c_str(), g_strerror(saved)));
  entries_[line] = e;
}

bool is_done(const Line &line, const Journal &journal) {
  const Entry *e = journal.find(line.number);
  return e && e->state == "done" && e->hash == line.hash && e->output == line.output && !e->sha256.empty() &&
         file_sha256(line.output) == e->sha256;
}

std::string output_blocked(const Line &line, const Journal &journal, bool force) {
  GStatBuf st;
  if (g_stat(line.output.c_str(), &st) != 0) {
    GCharPtr dir(g_path_get_dirname(line.output.c_str()));
    if (!g_file_test(dir.get(), G_FILE_TEST_IS_DIR)) return format(_("the folder %s does not exist"), dir.get());
    return {};
  }
  if (S_ISDIR(st.st_mode)) return format(_("%s is a folder, not a file"), line.output.c_str());
  if (force) return {};
  const Entry *e = journal.find(line.number);
  if (e && e->state == "done" && e->output == line.output && file_sha256(line.output) == e->sha256) return {};
  return format(_("%s already exists and this batch did not write it: give --force to replace it"),
                line.output.c_str());
}

// ---------- the scheduler ----------

ScheduleStats schedule(std::vector<Work> &tasks, int jobs, int max_tries, GCancellable *cancel,
                       const std::function<void(size_t, Outcome, const std::string &)> &on_end) {
  using Clock = std::chrono::steady_clock;
  const int workers = std::max(1, std::min<int>(jobs, int(tasks.size())));
  struct Ended {
    size_t index;
    Outcome outcome;
    std::string error;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<size_t> queue;
  for (size_t i = 0; i < tasks.size(); ++i) queue.push_back(i);
  std::deque<Ended> ended;
  size_t remaining = tasks.size();
  int in_flight = 0, allowed = workers;
  double backoff = 1;
  Clock::time_point resume = Clock::now();
  bool stop = false;
  ScheduleStats stats;
  stats.tries.assign(tasks.size(), 0);

  auto work = [&] {
    // The transport runs on the thread's default context: each worker has its own.
    GPtr<GMainContext> ctx = adopt(g_main_context_new());
    g_main_context_push_thread_default(ctx.get());
    std::unique_lock lk(mu);
    for (;;) {
      if (stop || queue.empty()) {
        if (stop || remaining == 0 || in_flight == 0) break;
        cv.wait(lk);  // a task in flight may come back
        continue;
      }
      if (in_flight >= allowed) {
        cv.wait(lk);
        continue;
      }
      if (Clock::now() < resume) {
        cv.wait_until(lk, resume);
        continue;
      }
      const size_t i = queue.front();
      queue.pop_front();
      ++in_flight;
      stats.max_in_flight = std::max(stats.max_in_flight, in_flight);
      const int tries = ++stats.tries[i];
      lk.unlock();
      std::string error;
      double retry_after = -1;
      Outcome outcome = Outcome::Failed;
      try {
        outcome = tasks[i].run(cancel, &error, &retry_after);
      } catch (const std::exception &e) {
        error = e.what();
      }
      lk.lock();
      --in_flight;
      const bool cancelled = cancel && g_cancellable_is_cancelled(cancel);
      if (outcome == Outcome::Again && tries < max_tries && !cancelled && !stop) {
        // Nothing was made: try it later, and slow every worker down.
        queue.push_back(i);
        allowed = std::max(1, allowed / 2);
        const double wait = retry_after >= 0 ? std::min(retry_after, 120.0) : backoff;
        backoff = std::min(60.0, backoff * 2);
        resume = std::max(resume, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double>(wait)));
      } else {
        if (outcome == Outcome::Again) outcome = Outcome::Failed;
        if (outcome == Outcome::Done) {
          allowed = std::min(workers, allowed + 1);
          backoff = 1;
        }
        ended.push_back({i, outcome, std::move(error)});
        --remaining;
      }
      cv.notify_all();
    }
    cv.notify_all();
    lk.unlock();
    g_main_context_pop_thread_default(ctx.get());
  };

  GPtr<GMainContext> caller_ctx = adopt(g_main_context_ref_thread_default());
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(work);
  {
    std::unique_lock lk(mu);
    while (remaining > 0) {
      if (ended.empty()) {
        // The caller's own sources (a signal that cancels, a host's progress) keep running.
        lk.unlock();
        while (g_main_context_iteration(caller_ctx.get(), FALSE)) {
        }
        lk.lock();
        if (!ended.empty()) continue;
        cv.wait_for(lk, std::chrono::milliseconds(50));
        if (cancel && g_cancellable_is_cancelled(cancel) && !stop) {
          stop = true;  // no new call; those in flight end with Cancelled
          for (size_t i : queue) ended.push_back({i, Outcome::Failed, _("Cancelled.")});
          remaining -= queue.size();
          queue.clear();
          cv.notify_all();
        }
        continue;
      }
      Ended e = std::move(ended.front());
      ended.pop_front();
      lk.unlock();
      if (on_end) on_end(e.index, e.outcome, e.error);
      lk.lock();
    }
    while (!ended.empty()) {  // those queued when the run was cancelled
      Ended e = std::move(ended.front());
      ended.pop_front();
      lk.unlock();
      if (on_end) on_end(e.index, e.outcome, e.error);
      lk.lock();
    }
    stop = true;
    cv.notify_all();
  }
  for (std::thread &t : threads) t.join();
  return stats;
}

// ---------- direct mode ----------

namespace {

// Whether an error means nothing was made (or billed), so the line may be tried again later.
bool made_nothing(const Error &e) {
  switch (e.code()) {
    case ErrorCode::RateLimited: return true;
    case ErrorCode::ServerError: return e.http_status() >= 500 || e.http_status() == 0;
    case ErrorCode::Network: return e.http_status() == 0;
    default: return false;
  }
}

}  // namespace

double run_line(const Line &l, JobSettings s, GCancellable *c) {
  s.prompt = l.prompt;
  if (!l.model.empty()) s.model = l.model;
  if (!l.quality.empty()) s.quality = l.quality;
  if (!l.image_size.empty()) s.image_size = l.image_size;
  if (l.seed) s.seed = l.seed;
  s.variations = 1;
  s.operation = l.generate() ? "generate" : "edit";
  std::vector<Image> refs;
  for (const std::string &r : l.references) refs.push_back(load_image_file(r));
  Image out;
  double cost = 0;
  if (l.generate()) {
    const PreparedJob job = prepare(s, genfill::Task::Generate);
    JobResult res = run_generate(job, l.aspect, l.width, l.height, refs, c);
    out = std::move(res.images.at(0));
    cost = res.cost.usd;
  } else {
    const PreparedJob job = prepare(s, genfill::Task::Edit);
    const Image input = load_image_file(l.input);
    std::optional<Mask> mask;
    if (!l.mask.empty()) mask = load_selection_mask(l.mask, input.width, input.height);
    EditInput edit;
    edit.context = l.context;
    edit.references = std::move(refs);
    PictureSource source(input, mask);
    EditResult res = run_edit(job, edit, source, c);
    out = composite_result(input, res, 0, l.feather_px);
    cost = res.cost.usd;
  }
  if (c && g_cancellable_is_cancelled(c)) throw Error(ErrorCode::Cancelled, _("Cancelled."));
  save_png_file(out, l.output);
  return cost;
}

namespace {

// Where a line stands before a run: its problem or a blocked output (failed, counted), done
// before (skipped, counted), or to run.
enum class Start { Failed, Done, Run };

Start start_line(const Line &line, const Journal &journal, bool force, LineResult &r, Counts &counts) {
  r.number = line.number;
  r.output = line.output;
  std::string why = line.problem;
  if (why.empty() && is_done(line, journal)) {
    r.ok = r.skipped = true;
    ++counts.skipped;
    return Start::Done;
  }
  if (why.empty()) why = output_blocked(line, journal, force);
  if (why.empty()) return Start::Run;
  r.error = why;
  r.error_code = error_code_name(ErrorCode::InvalidInput);
  ++counts.failed;
  return Start::Failed;
}

}  // namespace

Report run_direct(const Manifest &manifest, Journal &journal, const Options &opts, GCancellable *cancel,
                  const ProgressFn &progress) {
  const auto t0 = std::chrono::steady_clock::now();
  Report report;
  report.lines.resize(manifest.lines.size());
  Counts &counts = report.counts;
  std::vector<size_t> to_run;  // indexes into manifest.lines
  for (size_t k = 0; k < manifest.lines.size(); ++k) {
    if (start_line(manifest.lines[k], journal, opts.force, report.lines[k], counts) == Start::Run) to_run.push_back(k);
  }
  counts.left = int(to_run.size());
  if (progress) progress(counts, {});

  // Each line runs exactly as `genfill edit` / `generate` would (run_line).
  std::vector<Work> tasks;
  std::vector<double> costs(to_run.size(), 0);
  for (size_t t = 0; t < to_run.size(); ++t) {
    const Line &line = manifest.lines[to_run[t]];
    tasks.push_back(Work{[&, t, line_ptr = &line](GCancellable *c, std::string *error, double *) {
      try {
        JobSettings s = opts.base;
        s.transport.max_tries = 1;  // the scheduler tries again, for all workers at once
        costs[t] = run_line(*line_ptr, s, c);
        return Outcome::Done;
      } catch (const Error &e) {
        *error = e.message();
        report.lines[to_run[t]].error_code = error_code_name(e.code());
        return made_nothing(e) ? Outcome::Again : Outcome::Failed;
      }
    }});
  }
  known_models();  // the catalog is read once, here, before the workers share it
  const ScheduleStats stats =
      schedule(tasks, opts.jobs, opts.max_tries, cancel, [&](size_t t, Outcome outcome, const std::string &error) {
        const Line &line = manifest.lines[to_run[t]];
        LineResult &r = report.lines[to_run[t]];
        --counts.left;
        Entry e;
        e.hash = line.hash;
        if (outcome == Outcome::Done) {
          r.ok = true;
          r.cost_usd = costs[t];
          counts.cost_usd += costs[t];
          ++counts.done;
          e.state = "done";
          e.output = line.output;
          e.sha256 = file_sha256(line.output);
          e.cost_usd = costs[t];
        } else {
          r.error = error;
          if (r.error_code.empty()) r.error_code = error_code_name(ErrorCode::Cancelled);
          ++counts.failed;
          e.state = "failed";
          e.reason = error;
        }
        try {
          journal.record(line.number, e);
        } catch (const Error &je) {
          g_warning("%s", je.message());
        }
        if (progress)
          progress(counts, outcome == Outcome::Done ? format(_("line %d done"), line.number)
                                                    : format(_("line %d failed: %s"), line.number, error.c_str()));
      });
  for (size_t t = 0; t < to_run.size(); ++t) report.lines[to_run[t]].tries = stats.tries[t];
  report.max_in_flight = stats.max_in_flight;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace genfill::batch

namespace genfill::batch {

namespace {

// Thrown by the exchange that only takes the request a line would send (nothing is sent).
struct Captured : std::exception {
  std::vector<HttpRequest> requests;
  const char *what() const noexcept override { return "request taken for a batch job"; }
};

// Waits `seconds` while the caller's sources run (a signal that cancels); false when cancelled.
bool wait_for(double seconds, GCancellable *cancel) {
  const gint64 until = g_get_monotonic_time() + gint64(seconds * G_USEC_PER_SEC);
  GMainContext *ctx = g_main_context_get_thread_default();
  while (g_get_monotonic_time() < until) {
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    if (cancel && g_cancellable_is_cancelled(cancel)) return false;
    g_usleep(50 * 1000);
  }
  return !(cancel && g_cancellable_is_cancelled(cancel));
}

// One request through the transport (submitting or asking about a job), read by `read`.
template <typename Read>
auto exchange_one(const Provider &p, const HttpRequest &http, const TransportOptions &topts, GCancellable *cancel,
                  const std::string &key, Read read) {
  Transport transport(topts);
  std::vector<genfill::Outcome> outs = transport.send_all(
      {http}, [&p](const HttpResponse &r) { return p.retry_advice(r); }, cancel);
  genfill::Outcome &o = outs.at(0);
  if (o.error) throw redacted(*o.error, key);
  try {
    return read(*o.response);
  } catch (const Error &e) {
    throw redacted(e, key);
  }
}

}  // namespace

ApiReport run_batch_api(const Manifest &manifest, Journal &journal, const Options &opts, const ApiOptions &api,
                        GCancellable *cancel, const ProgressFn &progress) {
  const auto t0 = std::chrono::steady_clock::now();
  ApiReport out;
  Report &report = out.report;
  Counts &counts = report.counts;
  const PreparedJob run = prepare([&] {
    JobSettings s = opts.base;
    if (s.prompt.empty()) s.prompt = "-";
    return s;
  }(), genfill::Task::Generate);
  const Provider &provider = *run.provider;
  const std::string &key = run.settings.api_key;
  if (!provider.build_batch_get(run.base_url, "batches/x", key))
    throw Error(ErrorCode::InvalidInput,
                format(_("genfill has no batch mode for %s: run the manifest without --batch-api."),
                       service_name(provider).c_str()));
  auto say = [&](const std::string &note) {
    if (progress) progress(counts, note);
  };
  // A line that was to run (counted in `left`) ends failed.
  auto fail_line = [&](size_t k, const std::string &why, ErrorCode code) {
    LineResult &r = report.lines[k];
    r.error = why;
    r.error_code = error_code_name(code);
    ++counts.failed;
    --counts.left;
  };

  // Which lines are done, which wait in a job already submitted, which go now.
  report.lines.resize(manifest.lines.size());
  std::map<std::string, std::vector<size_t>> waiting;  // job -> lines (indexes into manifest.lines)
  std::vector<size_t> to_submit;
  for (size_t k = 0; k < manifest.lines.size(); ++k) {
    const Line &line = manifest.lines[k];
    if (start_line(line, journal, opts.force, report.lines[k], counts) != Start::Run) continue;
    const Entry *e = journal.find(line.number);
    if (e && e->state == "submitted" && e->hash == line.hash && !e->batch.empty()) {
      waiting[e->batch].push_back(k);  // never submitted twice: it is collected from its job
      continue;
    }
    to_submit.push_back(k);
  }
  counts.left = int(to_submit.size());
  for (const auto &[job, lines] : waiting) counts.left += int(lines.size());
  say({});

  // Each line's request, built as a direct call would build it (nothing is sent), grouped by
  // the model it asks.
  struct Taken {
    size_t k;
    HttpRequest http;
  };
  std::map<std::string, std::vector<Taken>> by_model;
  for (size_t k : to_submit) {
    const Line &line = manifest.lines[k];
    JobSettings s = opts.base;
    s.stream = false;
    s.price_factor = api.price_factor;
    s.exchange = [](const std::vector<HttpRequest> &reqs) -> std::vector<genfill::Outcome> {
      Captured c;
      c.requests = reqs;
      throw c;
    };
    try {
      run_line(line, s, cancel);
      fail_line(k, _("The request could not be built."), ErrorCode::InvalidInput);
    } catch (const Captured &c) {
      const std::string m = !line.model.empty() ? line.model : run.model.id;
      by_model[m].push_back(Taken{k, c.requests.at(0)});
      continue;
    } catch (const Error &e) {
      fail_line(k, e.message(), e.code());
    }
  }

  // Submitted in jobs under the inline limit; each job's name goes to the journal at once.
  const std::string display = "genfill " + std::string(GCharPtr(g_path_get_basename(manifest.path.c_str())).get());
  for (auto &[model, taken] : by_model) {
    for (size_t start = 0; start < taken.size();) {
      std::vector<std::pair<std::string, HttpRequest>> chunk;
      std::vector<size_t> lines;
      size_t bytes = 0;
      size_t i = start;
      for (; i < taken.size(); ++i) {
        const size_t size = taken[i].http.body.size();
        if (size > api.max_inline_bytes) {
          fail_line(taken[i].k,
                    format(_("This line's request is %zu MB, more than a batch job takes inline (%zu MB): run it "
                             "without --batch-api."),
                           size >> 20, api.max_inline_bytes >> 20),
                    ErrorCode::InvalidInput);
          continue;
        }
        if (!chunk.empty() && bytes + size > api.max_inline_bytes) break;
        bytes += size;
        chunk.emplace_back("line-" + std::to_string(manifest.lines[taken[i].k].number), std::move(taken[i].http));
        lines.push_back(taken[i].k);
      }
      start = i;
      if (chunk.empty()) continue;
      if (cancel && g_cancellable_is_cancelled(cancel)) {
        for (size_t k : lines) fail_line(k, _("Cancelled."), ErrorCode::Cancelled);
        continue;
      }
      try {
        const std::optional<HttpRequest> http = provider.build_batch(run.base_url, model, chunk, display, key);
        const BatchJob job = exchange_one(provider, *http, opts.base.transport, cancel, key,
                                          [&](const HttpResponse &r) { return provider.parse_batch(r); });
        for (size_t n = 0; n < lines.size(); ++n) {
          Entry e;
          e.state = "submitted";
          e.hash = manifest.lines[lines[n]].hash;
          e.batch = job.name;
          e.position = int(n);
          journal.record(manifest.lines[lines[n]].number, e);
        }
        waiting[job.name] = lines;
        out.jobs.push_back(job.name);
        say(format(g_dngettext(GETTEXT_PACKAGE, "Submitted %s with %zu line.", "Submitted %s with %zu lines.",
                               gulong(lines.size())),
                   job.name.c_str(), lines.size()));
      } catch (const Error &e) {
        for (size_t k : lines) fail_line(k, e.message(), e.code());
      }
    }
  }
  for (const auto &[job, lines] : waiting)
    if (std::find(out.jobs.begin(), out.jobs.end(), job) == out.jobs.end()) out.jobs.push_back(job);

  if (api.detach) {
    out.state = "submitted";
    for (const auto &[name, lines] : waiting)
      for (size_t k : lines) report.lines[k].waiting = name;
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }

  // Each job asked after with back-off until it ends; its answers fitted as direct ones.
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(api.deadline_s));
  for (const auto &[name, lines] : waiting) {
    double pause = api.poll_initial_s;
    BatchJob job;
    bool waited_out = false;
    for (;;) {
      try {
        const std::optional<HttpRequest> get = provider.build_batch_get(run.base_url, name, key);
        job = exchange_one(provider, *get, opts.base.transport, cancel, key,
                           [&](const HttpResponse &r) { return provider.parse_batch(r); });
      } catch (const Error &e) {
        if (e.code() == ErrorCode::Cancelled) {
          waited_out = true;
          break;
        }
        // The job stays in the journal: a later run asks again.
        for (size_t k : lines)
          fail_line(k, format(_("Could not ask how %s stands: %s"), name.c_str(), e.message()), e.code());
        job.done = false;
        break;
      }
      out.state = job.state;
      if (job.done) break;
      say(format(_("%s is %s; asking again in %g s."), name.c_str(), job.state.c_str(), pause));
      if (std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(pause)) > deadline ||
          !wait_for(pause, cancel)) {
        waited_out = true;
        break;
      }
      pause = std::min(api.poll_max_s, pause * 2);
    }
    if (waited_out) {
      // Left in the journal as submitted: the next run of the manifest collects the job.
      for (size_t k : lines)
        fail_line(k, format(_("%s has not ended yet; run the manifest again to collect it."), name.c_str()),
                  cancel && g_cancellable_is_cancelled(cancel) ? ErrorCode::Cancelled : ErrorCode::Timeout);
      continue;
    }
    if (!job.done) continue;
    if (job.state != "succeeded") {
      // Nothing came of it: the lines may be submitted again.
      for (size_t k : lines) {
        const std::string why = format(_("The batch job %s ended as %s, without answers."), name.c_str(),
                                       job.state.c_str());
        fail_line(k, why, ErrorCode::ServerError);
        Entry e;
        e.state = "failed";
        e.hash = manifest.lines[k].hash;
        e.reason = why;
        journal.record(manifest.lines[k].number, e);
      }
      say({});
      continue;
    }
    std::map<std::string, const BatchItem *> by_key;
    for (const BatchItem &item : job.items) by_key[item.key] = &item;
    for (size_t n = 0; n < lines.size(); ++n) {
      const size_t k = lines[n];
      const Line &line = manifest.lines[k];
      LineResult &r = report.lines[k];
      const Entry *submitted = journal.find(line.number);
      const int position = submitted ? submitted->position : int(n);
      const BatchItem *item = nullptr;
      if (auto it = by_key.find("line-" + std::to_string(line.number)); it != by_key.end()) item = it->second;
      // A service that drops the keys answers in the order asked (parse_batch keys those by place).
      else if (position >= 0 && size_t(position) < job.items.size() &&
               job.items[size_t(position)].key == std::to_string(position))
        item = &job.items[size_t(position)];
      Entry e;
      e.hash = line.hash;
      try {
        if (!item) throw Error(ErrorCode::BadResponse, format(_("%s holds no answer for this line."), name.c_str()));
        JobSettings s = opts.base;
        s.stream = false;
        s.answered = true;
        s.price_factor = api.price_factor;
        s.exchange = [item](const std::vector<HttpRequest> &) {
          genfill::Outcome o;
          o.response = item->answer;
          return std::vector<genfill::Outcome>{o};
        };
        r.cost_usd = run_line(line, s, cancel);
        r.ok = true;
        ++counts.done;
        --counts.left;
        counts.cost_usd += r.cost_usd;
        e.state = "done";
        e.output = line.output;
        e.sha256 = file_sha256(line.output);
        e.cost_usd = r.cost_usd;
        say(format(_("line %d done"), line.number));
      } catch (const Error &err) {
        fail_line(k, err.message(), err.code());
        e.state = "failed";
        e.reason = err.message();
        say(format(_("line %d failed: %s"), line.number, err.message()));
      }
      journal.record(line.number, e);
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace genfill::batch
