// genfill — what has been spent: every billed call appends one line to the user's ledger
// ($XDG_DATA_HOME/genfill/usage.jsonl: time, provider, model, operation, usage, cost; never a
// prompt or a key), from every host, safely when several runs write at once; the ledger summed
// by month, provider and model; and the monthly budget a run is checked against before it sends.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/cost/cost.hpp"
#include "core/providers/provider.hpp"

namespace genfill {

// The ledger's file: $XDG_DATA_HOME/genfill/usage.jsonl (~/.local/share/genfill/usage.jsonl),
// read from the environment at each call.
std::string ledger_path();

struct LedgerEntry {
  std::string time;       // "2026-12-05T21:14:03Z"; "" = now
  std::string provider, model;
  std::string operation;  // "edit", "generate", "expand"
  Usage usage;
  Cost cost;
};

// Appends one line (under an exclusive lock, in one write, so that runs writing at once never
// mix their lines). Returns false, with `why`, when it could not be written: the edit stands.
bool append_to_ledger(const LedgerEntry &entry, std::string *why = nullptr);

struct SpendingLine {
  double usd = 0;
  int64_t calls = 0;
};

struct Spending {
  double total_usd = 0;
  int64_t calls = 0;
  int64_t unpriced_calls = 0;     // calls of models the catalog has no price for (counted, not summed)
  int64_t estimated_calls = 0;    // calls whose cost is the estimate (the service reported no usage)
  int64_t unreadable_lines = 0;   // lines that are not a ledger entry (skipped)
  std::map<std::string, SpendingLine> by_month, by_provider, by_model;  // "2026-12"; "gemini"; "gemini/<id>"
};

// The ledger summed, from `since` ("YYYY-MM-DD", "" = from the start) on. An absent ledger is
// nothing spent. Throws Error{InvalidInput} for a `since` that is not a day.
Spending read_ledger(const std::string &since = {});

// This calendar month (UTC) so far: "2026-12".
std::string this_month_utc();

// The monthly budget in USD: GENFILL_MONTHLY_BUDGET_USD when set, else the one saved in
// $XDG_CONFIG_HOME/genfill/budget.json (set_monthly_budget); nullopt = none. `source` says which
// ("GENFILL_MONTHLY_BUDGET_USD" or the file's path). Error{InvalidInput} for a variable that is
// not an amount.
std::optional<double> monthly_budget(std::string *source = nullptr);
// Saves the budget for every host (nullopt removes it). Error{InvalidInput} for a negative or
// absurd amount; Error when the file cannot be written.
void set_monthly_budget(std::optional<double> usd);

// Before sending: Error{OverBudget} when a budget is set and this month's spending plus
// `estimate` would go over it; the message says the spending, the budget and how to raise it.
// A model without prices cannot be checked and passes.
void check_budget(const Cost &estimate);

}  // namespace genfill
