// genfill — the ledger of what was spent, and the monthly budget (see ledger.hpp).
#include "core/cost/ledger.hpp"

#include <cerrno>
#include <cmath>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/edit/record.hpp"
#include "core/util/day.hpp"
#include "core/util/error.hpp"
#include "core/util/gjson.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

namespace {

constexpr const char *kBudgetVariable = "GENFILL_MONTHLY_BUDGET_USD";
constexpr double kMostBudget = 1e6;  // a budget beyond is a typo, not a budget

// $XDG_<WHICH>_HOME, read now (GLib keeps the first value it read for the whole process).
std::string xdg_dir(const char *variable, const char *fallback) {
  const char *v = g_getenv(variable);
  if (v && g_path_is_absolute(v)) return v;
  GCharPtr path(g_build_filename(g_get_home_dir(), fallback, nullptr));
  return path.get();
}

std::string budget_path() {
  GCharPtr path(g_build_filename(xdg_dir("XDG_CONFIG_HOME", ".config").c_str(), "genfill", "budget.json", nullptr));
  return path.get();
}

std::string now_utc_text(const char *format) {
  GPtr<GDateTime> now = adopt(g_date_time_new_now_utc());
  GCharPtr text(g_date_time_format(now.get(), format));
  return text.get();
}

// Writes all of `text` to `fd`; false on an error.
bool write_all(int fd, const std::string &text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

std::string text_member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : "";
}

// "$12.40": amounts in messages about budgets, always to the cent.
std::string dollars(double usd) { return format("$%.2f", usd); }

}  // namespace

std::string ledger_path() {
  GCharPtr path(
      g_build_filename(xdg_dir("XDG_DATA_HOME", ".local/share").c_str(), "genfill", "usage.jsonl", nullptr));
  return path.get();
}

std::string this_month_utc() { return now_utc_text("%Y-%m"); }

bool append_to_ledger(const LedgerEntry &e, std::string *why) {
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  const std::pair<const char *, std::string> texts[] = {
      {"time", e.time.empty() ? now_utc_text("%Y-%m-%dT%H:%M:%SZ") : e.time},
      {"provider", e.provider}, {"model", e.model}, {"operation", e.operation}};
  for (const auto &[name, value] : texts) {
    json_builder_set_member_name(b.get(), name);
    json_builder_add_string_value(b.get(), value.c_str());
  }
  add_usage_and_cost(b.get(), e.usage, e.cost);
  json_builder_end_object(b.get());
  const std::string line = json_text(b.get()) + "\n";

  const std::string path = ledger_path();
  GCharPtr dir(g_path_get_dirname(path.c_str()));
  auto fail = [&](const char *what) {
    if (why) *why = format("%s %s: %s", what, path.c_str(), g_strerror(errno));
    return false;
  };
  if (g_mkdir_with_parents(dir.get(), 0700) != 0) return fail("cannot create the folder of");
  const int fd = g_open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot open");
  // Other runs append too: one line at a time, whole.
  while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  const bool ok = write_all(fd, line);
  const int saved = errno;
  close(fd);  // also lets go of the lock
  errno = saved;
  return ok || fail("cannot write");
}

Spending read_ledger(const std::string &since) {
  if (!since.empty() && !is_iso_day(since))
    throw Error(ErrorCode::InvalidInput, format(_("\"%s\" is not a day: give it as YYYY-MM-DD."), since.c_str()));
  Spending s;
  const std::string path = ledger_path();
  const int fd = g_open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) return s;
    throw Error(ErrorCode::InvalidInput, format(_("Cannot read %s: %s"), path.c_str(), g_strerror(errno)));
  }
  while (flock(fd, LOCK_SH) != 0 && errno == EINTR) {
  }
  std::string all;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all.append(buf, size_t(n));
  }
  close(fd);

  GPtr<JsonParser> parser = adopt(json_parser_new());
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    const std::string line = all.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    JsonNode *root = json_parser_load_from_data(parser.get(), line.c_str(), gssize(line.size()), nullptr)
                         ? json_parser_get_root(parser.get()) : nullptr;
    JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : nullptr;
    const std::string time = o ? text_member(o, "time") : "";
    if (!o || time.size() < 10 || !is_iso_day(time.substr(0, 10))) {
      ++s.unreadable_lines;
      continue;
    }
    if (!since.empty() && time.substr(0, 10) < since) continue;
    const std::string provider = text_member(o, "provider"), model = text_member(o, "model");
    JsonNode *cost_node = json_object_get_member(o, "cost");
    JsonObject *cost = cost_node && JSON_NODE_HOLDS_OBJECT(cost_node) ? json_node_get_object(cost_node) : nullptr;
    JsonNode *usd_node = cost ? json_object_get_member(cost, "usd") : nullptr;
    double usd = 0;
    if (usd_node && JSON_NODE_HOLDS_VALUE(usd_node) &&
        (json_node_get_value_type(usd_node) == G_TYPE_DOUBLE || json_node_get_value_type(usd_node) == G_TYPE_INT64)) {
      usd = json_node_get_double(usd_node);
      if (!std::isfinite(usd) || usd < 0 || usd > kMostBudget) usd = 0;
      JsonNode *estimated = json_object_get_member(cost, "estimated");
      if (estimated && JSON_NODE_HOLDS_VALUE(estimated) && json_node_get_value_type(estimated) == G_TYPE_BOOLEAN &&
          json_node_get_boolean(estimated))
        ++s.estimated_calls;
    } else {
      ++s.unpriced_calls;
    }
    s.total_usd += usd;
    ++s.calls;
    for (auto *bucket : {&s.by_month[time.substr(0, 7)], &s.by_provider[provider], &s.by_model[provider + "/" + model]}) {
      bucket->usd += usd;
      ++bucket->calls;
    }
  }
  return s;
}

std::optional<double> monthly_budget(std::string *source) {
  if (const char *v = g_getenv(kBudgetVariable); v && *v) {
    char *end = nullptr;
    const double usd = g_ascii_strtod(v, &end);
    if (!end || *end || !std::isfinite(usd) || usd < 0 || usd > kMostBudget)
      throw Error(ErrorCode::InvalidInput,
                  format(_("%s must be an amount in US dollars, such as 20 or 7.50; it is \"%s\"."), kBudgetVariable, v));
    if (source) *source = kBudgetVariable;
    return usd;
  }
  const std::string path = budget_path();
  gchar *text = nullptr;
  gsize len = 0;
  if (!g_file_get_contents(path.c_str(), &text, &len, nullptr)) return std::nullopt;
  GCharPtr holder(text);
  GPtr<JsonParser> parser = adopt(json_parser_new());
  JsonNode *root = json_parser_load_from_data(parser.get(), text, gssize(len), nullptr)
                       ? json_parser_get_root(parser.get()) : nullptr;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : nullptr;
  JsonNode *n = o ? json_object_get_member(o, "monthly_usd") : nullptr;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      (json_node_get_value_type(n) != G_TYPE_DOUBLE && json_node_get_value_type(n) != G_TYPE_INT64))
    throw Error(ErrorCode::InvalidInput,
                format(_("%s does not hold a budget ({\"monthly_usd\": 20}): correct it or remove it."), path.c_str()));
  const double usd = json_node_get_double(n);
  if (!std::isfinite(usd) || usd < 0 || usd > kMostBudget)
    throw Error(ErrorCode::InvalidInput,
                format(_("%s does not hold a budget ({\"monthly_usd\": 20}): correct it or remove it."), path.c_str()));
  if (source) *source = path;
  return usd;
}

void set_monthly_budget(std::optional<double> usd) {
  const std::string path = budget_path();
  if (!usd) {
    if (g_remove(path.c_str()) != 0 && errno != ENOENT)
      throw Error(ErrorCode::InvalidInput, format(_("Cannot remove %s: %s"), path.c_str(), g_strerror(errno)));
    return;
  }
  if (!std::isfinite(*usd) || *usd < 0 || *usd > kMostBudget)
    throw Error(ErrorCode::InvalidInput, _("A monthly budget is an amount in US dollars from 0 to 1000000."));
  GCharPtr dir(g_path_get_dirname(path.c_str()));
  g_mkdir_with_parents(dir.get(), 0700);
  char amount[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_dtostr(amount, sizeof amount, *usd);
  const std::string text = std::string("{\"monthly_usd\": ") + amount + "}\n";
  GError *error = nullptr;
  if (!g_file_set_contents_full(path.c_str(), text.c_str(), gssize(text.size()), G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                &error)) {
    std::string why = error ? error->message : "";
    g_clear_error(&error);
    throw Error(ErrorCode::InvalidInput, format(_("Cannot save the budget in %s: %s"), path.c_str(), why.c_str()));
  }
}

void check_budget(const Cost &estimate) {
  std::string source;
  const std::optional<double> budget = monthly_budget(&source);
  if (!budget || !estimate.known) return;
  const std::string month = this_month_utc();
  const Spending spent = read_ledger(month + "-01");
  const double so_far = spent.by_month.count(month) ? spent.by_month.at(month).usd : 0;
  if (so_far + estimate.usd <= *budget) return;
  const std::string how = source == kBudgetVariable
                              ? format(_("To go on, raise %s."), kBudgetVariable)
                              : _("To go on, raise the monthly budget (genfill usage --set-budget AMOUNT, or Filters › "
                                  "Generative › Spending and Budget in GIMP).");
  throw Error(ErrorCode::OverBudget,
              format(_("Not sent: this would cost about %s, and %s has been spent this month (%s) against a monthly "
                       "budget of %s. %s"),
                     usd_text(estimate.usd).c_str(), dollars(so_far).c_str(), month.c_str(),
                     dollars(*budget).c_str(), how.c_str()));
}

}  // namespace genfill
