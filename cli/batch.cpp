// genfill batch: a manifest of edits and generations (core/batch), several calls in flight,
// resumable through the journal beside the manifest.
#include "core/util/i18n.hpp"
#include "cli/cli.hpp"

#include "core/batch/batch.hpp"
#include "core/util/text.hpp"

namespace genfill::cli {

namespace {

void print_report_json(const std::string &manifest, const std::string &journal, const batch::Report &r,
                       const std::vector<std::string> &jobs) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  json_member(b.get(), "manifest", manifest);
  json_member(b.get(), "journal", journal);
  json_member(b.get(), "done", int64_t(r.counts.done));
  json_member(b.get(), "failed", int64_t(r.counts.failed));
  json_member(b.get(), "skipped", int64_t(r.counts.skipped));
  json_member(b.get(), "left", int64_t(r.counts.left));
  json_builder_set_member_name(b.get(), "cost_usd");
  json_builder_add_double_value(b.get(), r.counts.cost_usd);
  json_member(b.get(), "max_in_flight", int64_t(r.max_in_flight));
  json_builder_set_member_name(b.get(), "jobs");  // --batch-api: the service's jobs
  json_builder_begin_array(b.get());
  for (const std::string &j : jobs) json_builder_add_string_value(b.get(), j.c_str());
  json_builder_end_array(b.get());
  json_builder_set_member_name(b.get(), "seconds");
  json_builder_add_double_value(b.get(), r.seconds);
  json_builder_set_member_name(b.get(), "lines");
  json_builder_begin_array(b.get());
  for (const batch::LineResult &l : r.lines) {
    json_builder_begin_object(b.get());
    json_member(b.get(), "line", int64_t(l.number));
    json_member(b.get(), "state",
                std::string(l.skipped ? "skipped" : l.ok ? "done" : !l.waiting.empty() ? "submitted" : "failed"));
    if (!l.waiting.empty()) json_member(b.get(), "job", l.waiting);
    json_member(b.get(), "output", l.output);
    json_member(b.get(), "tries", int64_t(l.tries));
    json_builder_set_member_name(b.get(), "cost_usd");
    json_builder_add_double_value(b.get(), l.cost_usd);
    if (!l.ok && l.waiting.empty()) {
      json_builder_set_member_name(b.get(), "error");
      json_builder_begin_object(b.get());
      json_member(b.get(), "code", l.error_code);
      json_member(b.get(), "message", l.error);
      json_builder_end_object(b.get());
    }
    json_builder_end_object(b.get());
  }
  json_builder_end_array(b.get());
  json_builder_end_object(b.get());
  print_json(b.get());
}

}  // namespace

int cmd_batch(int argc, char **argv) {
  gchar *provider = nullptr, *model = nullptr, *endpoint = nullptr;
  gint jobs = 4;
  gdouble timeout = 300;
  gboolean json = FALSE, quiet = FALSE, verbose = FALSE, force = FALSE, batch_api = FALSE, detach = FALSE;
  gdouble poll = 10;
  GOptionEntry entries[] = {
      {"provider", 'p', 0, G_OPTION_ARG_STRING, &provider, N_("Service for every line (default: the default service)"),
       "NAME"},
      {"model", 'm', 0, G_OPTION_ARG_STRING, &model, N_("Model for the lines that name none (default: the service's)"),
       "MODEL"},
      {"endpoint", 0, 0, G_OPTION_ARG_STRING, &endpoint,
       N_("Base URL of a compatible service or relay (default: the provider's own)"), "URL"},
      {"jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, N_("Calls in flight at once, 1-16 (default 4)"), "N"},
      {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, N_("Seconds to wait for an answer (default 300)"), "S"},
      {"force", 'f', 0, G_OPTION_ARG_NONE, &force, N_("Replace output files this batch did not write"), nullptr},
      {"batch-api", 0, 0, G_OPTION_ARG_NONE, &batch_api,
       N_("Send the lines as one job of the service's Batch API (Gemini: half the price, answered within a day)"),
       nullptr},
      {"detach", 0, 0, G_OPTION_ARG_NONE, &detach,
       N_("With --batch-api: submit and return; run the manifest again to collect the answers"), nullptr},
      {"poll", 0, 0, G_OPTION_ARG_DOUBLE, &poll,
       N_("With --batch-api: seconds before asking how the job stands, doubling up to 300 (default 10)"), "S"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print what happened as JSON on stdout"), nullptr},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, N_("No progress on stderr"), nullptr},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log requests (never keys) on stderr"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx =
      option_context(N_("MANIFEST — run every line of a JSON Lines manifest (see genfill(1))"), entries);
  struct Free {
    gchar **p[3];
    ~Free() {
      for (gchar **x : p) g_free(*x);
    }
  } free_them{{&provider, &model, &endpoint}};
  if (!parse_options(ctx.get(), argc, argv)) return kExitUsage;
  Common logging;
  logging.verbose = verbose;
  setup_logging(logging);
  try {
    if (argc != 2) throw UsageError(_("genfill batch: give one MANIFEST (see genfill batch --help)"));
    if (jobs < 1 || jobs > 16) throw UsageError(_("--jobs must be 1-16."));
    if (detach && !batch_api) throw UsageError(_("--detach goes with --batch-api."));
    if (!(poll >= 0.01 && poll <= 3600)) throw UsageError(_("--poll must be 0.01-3600 seconds."));
    const std::string manifest_path = argv[1];
    Cancel cancel;
    JobSettings base;
    if (provider) base.provider = provider;
    base.model = model ? model : "";
    base.endpoint = endpoint ? endpoint : "";
    base.prompt = "-";
    base.transport.timeout_s = timeout;
    // The service, model, endpoint and key, resolved and checked once for the whole run.
    const PreparedJob checked = prepare(base, Task::Generate);
    base.provider = std::string(checked.provider->name());
    base.api_key = checked.settings.api_key;
    base.prompt.clear();
    const std::string run_key = base.provider + " " + base.model + " " + checked.base_url;
    const batch::Manifest manifest = batch::read_manifest(manifest_path, run_key);
    batch::Journal journal(batch::journal_path(manifest_path));
    batch::Options opts;
    opts.base = base;
    opts.jobs = jobs;
    opts.force = force;
    cancel.check();
    const batch::ProgressFn say = [&](const batch::Counts &c, const std::string &note) {
      if (quiet) return;
      if (!note.empty()) std::fprintf(stderr, "%s\n", printable(note).c_str());
      std::fprintf(stderr, "%s\n",
                   format(_("%d done, %d failed, %d left (%d done before); $%.2f so far"), c.done, c.failed, c.left,
                          c.skipped, c.cost_usd)
                       .c_str());
    };
    batch::Report report;
    std::vector<std::string> jobs_used;
    if (batch_api) {
      batch::ApiOptions api;
      api.detach = detach;
      api.poll_initial_s = poll;
      batch::ApiReport r = batch::run_batch_api(manifest, journal, opts, api, cancel.c, say);
      report = std::move(r.report);
      jobs_used = std::move(r.jobs);
      if (detach && !quiet)
        for (const std::string &j : jobs_used)
          std::fprintf(stderr, "%s\n",
                       format(_("Submitted as %s: run the same command without --detach, later, to collect it."),
                              j.c_str())
                           .c_str());
    } else {
      report = batch::run_direct(manifest, journal, opts, cancel.c, say);
    }
    if (json) {
      print_report_json(manifest_path, journal.path(), report, jobs_used);
    } else if (!quiet) {
      for (const batch::LineResult &l : report.lines)
        if (!l.ok && l.waiting.empty())
          std::fprintf(stderr, "%s\n",
                       format(_("Line %d failed: %s"), l.number, printable(l.error).c_str()).c_str());
      std::fprintf(stderr, "%s\n",
                   format(_("Batch: %d written, %d failed, %d already done; $%.2f (journal: %s)."),
                          report.counts.done, report.counts.failed, report.counts.skipped, report.counts.cost_usd,
                          journal.path().c_str())
                       .c_str());
    }
    if (cancelling_signal) return cancelling_signal == SIGTERM ? kExitTerminated : kExitCancelled;
    // Detached: what waits in the job is not a failure.
    return report.counts.failed > 0 ? kExitFailed : kExitOk;
  } catch (const UsageError &e) {
    report_error(e, json);
    return kExitUsage;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

}  // namespace genfill::cli
