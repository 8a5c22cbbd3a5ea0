// genfill plug-in — its windows: the procedures' dialogs, the key dialog (asked for when no key
// is set up; offered to be forgotten when the service rejects the one kept), and the progress
// window with its Cancel button.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "core/cost/cost.hpp"
#include "core/edit/job.hpp"
#include "core/edit/services.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill::plugin {

// Shows GIMP's progress while the job runs; in interactive mode also a small window with a
// Cancel button wired to the job's GCancellable (the status bar's stop button kills the
// plug-in outright, which is safe too: nothing is written before the answer is in memory).
class Waiting {
public:
  Waiting(bool interactive, const std::string &title);
  ~Waiting();
  Waiting(const Waiting &) = delete;
  Waiting &operator=(const Waiting &) = delete;
  GCancellable *cancellable() const { return cancel_.get(); }
  void update(const Progress &p);

private:
  void show_draft(const Draft &d);
  void tick();  // the elapsed time, each pulse

  GPtr<GCancellable> cancel_;
  guint pulse_ = 0;
  GtkWidget *window_ = nullptr, *label_ = nullptr, *bar_ = nullptr;
  GtkWidget *draft_ = nullptr, *draft_label_ = nullptr;  // the latest draft, where it will land
  std::string stage_;
  double fraction_ = -1;
  gint64 started_us_ = g_get_monotonic_time();
};

// What a dialog shows of the run as its settings stand: the estimated cost (or why there is
// none), and whether the model takes a quality and an image size (their fields are greyed out
// otherwise). Made by the procedure, which knows the picture (procedures.cpp).
struct DialogEstimate {
  Cost cost;
  std::string problem;  // why there is no estimate: the settings' mistake, in the user's words
  bool takes_quality = false, takes_image_size = false;
};
using Estimator = std::function<DialogEstimate(GimpProcedureConfig *)>;

// The procedure's dialog (edit: the Edit with Prompt layout; else Generate's), with the run's
// estimated cost kept up to date. False when the user cancelled it.
bool run_dialog(GimpProcedure *procedure, GimpProcedureConfig *config, const char *title, bool edit,
                const Estimator &estimate);
// Expand Canvas's dialog: prompt (optional), service, model, an aspect preset that fills in the
// margins for `image`, the margins, variations. False when the user cancelled it.
bool run_expand_dialog(GimpProcedure *procedure, GimpProcedureConfig *config, GimpImage *image,
                       const Estimator &estimate);
// The Spending and Budget window: what the ledger holds, and the monthly budget to set. True
// when the user saved a change.
bool run_spending_dialog();

// Provider, model and key resolved before any pixel is read; asks for a missing key when `ui`.
PreparedJob prepare_with_key(JobSettings &settings, bool ui, Task task);

// The service rejected the key kept in the keyring: offer to forget it, so that the next run
// asks for a new one instead of failing the same way.
void offer_to_forget_key(const PreparedJob &job);

// The service does not serve the model asked for and names one of its own to use instead: asks
// whether to switch to it (the 404 was not billed). True when the user agreed: `config`'s model
// is then the replacement, remembered for the next run too.
bool offer_replacement(const Error &e, GimpProcedureConfig *config);

// Runs a procedure body, and once more after a way out the user took (a retired model switched
// to its replacement); nothing was placed by the failed attempt.
template <typename Body>
GimpValueArray *with_way_outs(bool ui, GimpProcedureConfig *config, Body &&body) {
  for (int attempt = 0;; ++attempt) {
    try {
      return body();
    } catch (const Error &e) {
      if (!ui || attempt > 0 || !offer_replacement(e, config)) throw;
    }
  }
}

// Runs a job while showing progress (and, interactively, a Cancel button). `title`: what the
// progress says first ("" = "Waiting for Gemini…").
template <typename Job>
auto while_waiting(bool ui, const PreparedJob &job, Job &&run, const std::string &title = {}) {
  std::optional<Error> rejected;
  {
    Waiting waiting(ui, title.empty() ? format(_("Waiting for %s…"), job.short_service.c_str()) : title);
    try {
      return run(waiting.cancellable(), [&](const Progress &p) { waiting.update(p); });
    } catch (const Error &e) {
      if (!ui || e.code() != ErrorCode::BadKey || job.key_source != "keyring") throw;
      rejected = e;
    }
  }  // the progress window is gone before the question comes
  offer_to_forget_key(job);
  throw *rejected;
}

}  // namespace genfill::plugin
