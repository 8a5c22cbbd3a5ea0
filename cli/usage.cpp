// genfill — command line: what runs cost. genfill usage sums the ledger (and sets the monthly
// budget); --estimate and the line after a run say what one run costs.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/cli.hpp"
#include "core/cost/ledger.hpp"
#include "core/util/i18n.hpp"

namespace genfill::cli {

namespace {

void json_usd(JsonBuilder *b, const char *name, double usd) {
  json_builder_set_member_name(b, name);
  json_builder_add_double_value(b, usd);
}

void json_lines(JsonBuilder *b, const char *name, const std::map<std::string, SpendingLine> &lines) {
  json_builder_set_member_name(b, name);
  json_builder_begin_object(b);
  for (const auto &[key, line] : lines) {
    json_builder_set_member_name(b, key.c_str());
    json_builder_begin_object(b);
    json_usd(b, "usd", line.usd);
    json_member(b, "calls", line.calls);
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
}

void print_lines(const char *title, const std::map<std::string, SpendingLine> &lines) {
  if (lines.empty()) return;
  std::printf("%s\n", title);
  for (const auto &[key, line] : lines)
    std::printf("  %-44s %10s  %s\n", key.c_str(), usd_text(line.usd).c_str(),
                format(g_dngettext(GETTEXT_PACKAGE, "%lld call", "%lld calls", gulong(line.calls)),
                       static_cast<long long>(line.calls)).c_str());
}

}  // namespace

int print_estimate(const Common &c, const PreparedJob &job, const Cost &estimate) {
  if (c.json) {
    GPtr<JsonBuilder> b = adopt(json_builder_new());
    json_builder_begin_object(b.get());
    json_builder_set_member_name(b.get(), "estimate");
    json_builder_begin_object(b.get());
    if (estimate.known) json_usd(b.get(), "usd", estimate.usd);
    json_flag(b.get(), "known", estimate.known);
    if (estimate.known) json_member(b.get(), "prices_as_of", estimate.prices_as_of);
    json_member(b.get(), "provider", std::string(job.provider->name()));
    json_member(b.get(), "model", job.model.id);
    json_member(b.get(), "variations", int64_t(job.settings.variations));
    if (!job.settings.quality.empty()) json_member(b.get(), "quality", job.settings.quality);
    if (!job.settings.image_size.empty()) json_member(b.get(), "image_size", job.settings.image_size);
    json_builder_end_object(b.get());
    json_builder_end_object(b.get());
    print_json(b.get());
  } else if (estimate.known) {
    std::printf("%s\n", format(_("About %s with %s (the catalog's prices of %s). Nothing was sent."),
                               usd_text(estimate.usd).c_str(), job.model.id.c_str(), estimate.prices_as_of.c_str())
                            .c_str());
  } else {
    std::printf("%s\n", format(_("The catalog has no prices for %s, so there is no estimate. Nothing was sent."),
                               job.model.id.c_str())
                            .c_str());
  }
  return kExitOk;
}

void say_cost(const Common &c, const JobResult &r) {
  if (c.quiet || c.json || !r.cost.known) return;
  std::fprintf(stderr, "%s\n",
               (r.cost.estimated ? format(_("Cost: about %s (the service reported no usage; estimated)."),
                                          usd_text(r.cost.usd).c_str())
                                 : format(_("Cost: %s (the usage reported, at the catalog's prices of %s)."),
                                          usd_text(r.cost.usd).c_str(), r.cost.prices_as_of.c_str()))
                   .c_str());
}

int cmd_usage(int argc, char **argv) {
  gchar *since = nullptr, *set_budget = nullptr;
  gboolean json = FALSE, no_budget = FALSE;
  GOptionEntry entries[] = {
      {"since", 0, 0, G_OPTION_ARG_STRING, &since, N_("Only calls from this day on"), "YYYY-MM-DD"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the sums as JSON on stdout"), nullptr},
      {"set-budget", 0, 0, G_OPTION_ARG_STRING, &set_budget,
       N_("Refuse runs that would take this calendar month's spending over this many US dollars"), "USD"},
      {"no-budget", 0, 0, G_OPTION_ARG_NONE, &no_budget, N_("Remove the monthly budget"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("- what genfill has spent, by month, service and model"), entries);
  const bool ok = parse_options(ctx.get(), argc, argv);
  GCharPtr since_holder(since), budget_holder(set_budget);
  if (!ok) return kExitUsage;
  if (argc != 1 || (set_budget && no_budget)) {
    std::fprintf(stderr, "%s\n", _("genfill usage: see genfill usage --help"));
    return kExitUsage;
  }
  g_log_writer_default_set_use_stderr(TRUE);
  try {
    if (set_budget || no_budget) {
      std::optional<double> usd;
      if (set_budget) {
        char *end = nullptr;
        usd = g_ascii_strtod(set_budget, &end);
        if (!end || end == set_budget || *end)
          throw UsageError(format(_("\"%s\" is not an amount: give the budget in US dollars, such as 20."), set_budget));
      }
      set_monthly_budget(usd);
      if (!json)
        std::printf("%s\n", usd ? format(_("Monthly budget set to %s."), usd_text(*usd).c_str()).c_str()
                                : _("Monthly budget removed."));
    }
    const Spending s = read_ledger(since ? since : "");
    std::string source;
    const std::optional<double> budget = monthly_budget(&source);
    const std::string month = this_month_utc();
    const Spending this_month = since ? read_ledger(month + "-01") : s;
    const double month_usd = this_month.by_month.count(month) ? this_month.by_month.at(month).usd : 0;
    if (json) {
      GPtr<JsonBuilder> b = adopt(json_builder_new());
      json_builder_begin_object(b.get());
      json_usd(b.get(), "total_usd", s.total_usd);
      json_member(b.get(), "calls", s.calls);
      json_member(b.get(), "unpriced_calls", s.unpriced_calls);
      json_member(b.get(), "estimated_calls", s.estimated_calls);
      if (s.unreadable_lines) json_member(b.get(), "unreadable_lines", s.unreadable_lines);
      if (since) json_member(b.get(), "since", std::string(since));
      json_lines(b.get(), "by_month", s.by_month);
      json_lines(b.get(), "by_provider", s.by_provider);
      json_lines(b.get(), "by_model", s.by_model);
      json_usd(b.get(), "this_month_usd", month_usd);
      if (budget) {
        json_usd(b.get(), "monthly_budget_usd", *budget);
        json_member(b.get(), "budget_from", source);
      }
      json_member(b.get(), "ledger", ledger_path());
      json_builder_end_object(b.get());
      print_json(b.get());
      return kExitOk;
    }
    if (s.calls == 0) {
      std::printf("%s\n", format(_("Nothing spent yet (%s)."), ledger_path().c_str()).c_str());
    } else {
      std::printf("%s\n", format(g_dngettext(GETTEXT_PACKAGE, "%s in %lld call", "%s in %lld calls", gulong(s.calls)),
                                 usd_text(s.total_usd).c_str(), static_cast<long long>(s.calls))
                              .c_str());
      print_lines(_("By month:"), s.by_month);
      print_lines(_("By service:"), s.by_provider);
      print_lines(_("By model:"), s.by_model);
      if (s.unpriced_calls)
        std::printf("%s\n", format(g_dngettext(GETTEXT_PACKAGE, "%lld call of a model without prices is not in the sums.",
                                               "%lld calls of models without prices are not in the sums.",
                                               gulong(s.unpriced_calls)),
                                   static_cast<long long>(s.unpriced_calls))
                                .c_str());
    }
    if (budget)
      std::printf("%s\n", format(_("This month (%s): %s of a monthly budget of %s."), month.c_str(),
                                 usd_text(month_usd).c_str(), usd_text(*budget).c_str())
                              .c_str());
    return kExitOk;
  } catch (const UsageError &e) {
    report_error(e, json);
    return kExitUsage;
  } catch (const Error &e) {
    return report_error(e, json);
  }
}

}  // namespace genfill::cli
