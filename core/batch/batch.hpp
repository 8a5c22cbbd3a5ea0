// genfill — many pictures at once: a manifest of edits and generations (JSON Lines), run with
// several calls in flight that share one back-off, and a journal beside the manifest so that a
// rerun sends only what is not done. A batch is a list of edits: each line runs through
// core/edit exactly as `genfill edit` or `generate` would run it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gio/gio.h>

#include "core/edit/job.hpp"

namespace genfill::batch {

// One line of the manifest: a job, or the reason it cannot be one. Paths are resolved against
// the manifest's folder.
struct Line {
  int number = 0;            // 1-based line number in the file
  std::string hash;          // of the line's text and the run's service, model and endpoint
  std::string prompt, output, input, mask;
  std::vector<std::string> references;
  // Per-line settings (empty / unset = the run's).
  std::string model, quality, image_size, aspect;
  int width = 0, height = 0;         // generations: "size": "WxH"
  std::optional<int64_t> seed;
  double context = 0.25;             // edits: margin around the selection, as a fraction
  double feather_px = 4;             // edits: the selection's edge softened inwards
  std::string problem;               // why the line cannot run ("" = it can), in the user's words
  bool generate() const { return input.empty(); }
};

struct Manifest {
  std::string path, dir;
  std::vector<Line> lines;           // blank lines left out
};

// Reads a manifest. Throws Error{InvalidInput} only when the file cannot be read at all; a line
// that is wrong (not JSON, no prompt or output, an unknown field, two lines writing the same
// output, a missing input) keeps its problem and the other lines still run. `run_key` (the
// service, model and endpoint the run uses) goes into each line's hash.
Manifest read_manifest(const std::string &path, const std::string &run_key);

// What the journal knows of a line.
struct Entry {
  std::string state;         // "done", "failed", "submitted"
  std::string hash;          // the line's hash when it was recorded
  std::string output;        // done: the file written
  std::string sha256;        // done: the file's checksum as written
  std::string reason;        // failed: why, in the user's words
  std::string batch;         // submitted: the provider's batch job ("batches/…")
  double cost_usd = 0;
  int position = -1;         // submitted: the line's place among the job's requests
};

// The journal beside the manifest (MANIFEST.journal): one JSON line per event, appended; the
// last line about a line number wins. Never holds a key or a prompt.
class Journal {
public:
  explicit Journal(std::string path);  // reads what is there (unreadable lines are skipped)
  const std::string &path() const { return path_; }
  const Entry *find(int line) const;
  // Appends (and keeps) an entry. Throws Error{InvalidInput} when the journal cannot be written.
  void record(int line, const Entry &e);

private:
  std::string path_;
  std::map<int, Entry> entries_;
};

std::string journal_path(const std::string &manifest);
// The SHA-256 of a file's bytes, hex; "" when it cannot be read.
std::string file_sha256(const std::string &path);

// Whether a line is done: the journal says so for the same hash and its output is still the
// file that was written.
bool is_done(const Line &line, const Journal &journal);

// Why a line's output may not be written (before anything is sent): "" when it may. An output
// that exists and is not the one the journal wrote for that line is kept unless `force`.
std::string output_blocked(const Line &line, const Journal &journal, bool force);

// ---------- running ----------

struct Options {
  JobSettings base;          // service, model, endpoint, key, timeouts (prompt comes from each line)
  int jobs = 4;              // calls in flight
  bool force = false;        // replace outputs the journal does not know
  int max_tries = 4;         // per line, for answers that made nothing (429, 5xx, network)
};

struct Counts {
  int done = 0, failed = 0, left = 0, skipped = 0;  // skipped: done before this run
  double cost_usd = 0;       // of this run's lines so far
};

struct LineResult {
  int number = 0;
  bool ok = false;
  bool skipped = false;      // done before: nothing sent
  std::string output;
  std::string error;         // in the user's words
  std::string error_code;    // error_code_name()
  double cost_usd = 0;
  int tries = 0;
  std::string waiting;       // --batch-api, detached: the job it waits in ("batches/…")
};

struct Report {
  std::vector<LineResult> lines;  // in the manifest's order
  Counts counts;
  int max_in_flight = 0;          // the most calls that were in flight at once
  double seconds = 0;
};

using ProgressFn = std::function<void(const Counts &, const std::string &note)>;

// One line, exactly as `genfill edit` or `generate` would run it with `base` (its own settings
// over the run's): the output written atomically. Returns what it cost. Throws Error.
double run_line(const Line &line, JobSettings base, GCancellable *cancel = nullptr);

// Direct mode: the lines not done run through core/edit, up to opts.jobs at once, each on a
// thread of its own. A 429 or a failure that made nothing (5xx, network) puts the line back and
// pauses every worker (the service's wait or a doubling back-off), and fewer calls are let in
// flight until calls succeed again; other failures end the line. Each output is written
// atomically and recorded in the journal as it is done. Cancelling stops new calls and waits for
// none: calls in flight end with Cancelled.
Report run_direct(const Manifest &manifest, Journal &journal, const Options &opts, GCancellable *cancel = nullptr,
                  const ProgressFn &progress = {});

// ---------- the service's batch mode (Gemini's Batch API) ----------

struct ApiOptions {
  bool detach = false;          // submit and return; a later run collects
  double poll_initial_s = 10;   // the first wait between asking how the job stands, doubling
  double poll_max_s = 300;
  double deadline_s = 26 * 3600; // give up waiting (the job may still be collected by a later run)
  size_t max_inline_bytes = size_t(19) << 20;  // requests of one job together (the service takes 20 MB)
  double price_factor = 0.5;    // what the batch mode costs of the interactive price
};

struct ApiReport {
  Report report;
  std::vector<std::string> jobs;  // the jobs submitted or collected ("batches/…")
  std::string state;              // how the last job stood: "submitted", "succeeded", "failed" …
};

// The lines not done go to the service as batch jobs (one per model, split to stay under the
// inline limit): each line's request is built exactly as a direct call's would be, the job's
// name is written to the journal before anything else, and the job is polled with back-off until
// it ends. Its answers go through the same fitting, seam correction and compositing as direct
// edits. Lines the journal says were submitted are collected from their job, never submitted
// again. With detach, returns once submitted. Throws Error{InvalidInput} when the service has no
// batch mode.
ApiReport run_batch_api(const Manifest &manifest, Journal &journal, const Options &opts, const ApiOptions &api,
                        GCancellable *cancel = nullptr, const ProgressFn &progress = {});

// ---------- the scheduler, for any list of tasks (the GIMP procedure's too) ----------

// A task's outcome as the scheduler sees it.
enum class Outcome { Done, Failed, Again };

struct Work {
  // Runs the task on a worker thread; returns Again (with the error) for a failure that made
  // nothing and may be tried later. `cancel` is the run's.
  std::function<Outcome(GCancellable *cancel, std::string *error, double *retry_after_s)> run;
};

struct ScheduleStats {
  int max_in_flight = 0;
  std::vector<int> tries;  // per task
};

// Runs the tasks with at most `jobs` in flight; a task answering Again is run again after a
// pause shared by all workers (retry_after_s when it gave one, else a doubling back-off from
// 1 s, at most 60 s), and the number in flight is halved (at least 1), growing back by one per
// success. A task is tried at most max_tries times (its last Again counts as Failed).
// on_end(i, outcome, error) runs on the calling thread, in the order tasks end.
ScheduleStats schedule(std::vector<Work> &tasks, int jobs, int max_tries, GCancellable *cancel,
                       const std::function<void(size_t, Outcome, const std::string &)> &on_end);

}  // namespace genfill::batch
