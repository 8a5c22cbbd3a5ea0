// The ledger of what was spent and the monthly budget: lines appended whole when several runs
// write at once, sums by month, service and model, and the budget checked before sending.
#include <string>
#include <thread>
#include <vector>

#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "core/cost/ledger.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using genfill::test::remove_tree;

namespace {

class LedgerTest : public ::testing::Test {
protected:
  void SetUp() override {
    GCharPtr dir(g_dir_make_tmp("genfill-ledger-XXXXXX", nullptr));
    ASSERT_TRUE(dir);
    tmp_ = dir.get();
    g_setenv("XDG_DATA_HOME", (tmp_ + "/data").c_str(), TRUE);
    g_setenv("XDG_CONFIG_HOME", (tmp_ + "/config").c_str(), TRUE);
    g_unsetenv("GENFILL_MONTHLY_BUDGET_USD");
  }
  void TearDown() override {
    remove_tree(tmp_);
    g_unsetenv("GENFILL_MONTHLY_BUDGET_USD");
  }
  static LedgerEntry entry(const std::string &time, const std::string &provider, const std::string &model, double usd) {
    LedgerEntry e;
    e.time = time;
    e.provider = provider;
    e.model = model;
    e.operation = "edit";
    e.usage.input_tokens = 1123;
    e.usage.output_tokens = 1692;
    e.cost.usd = usd;
    e.cost.known = true;
    e.cost.prices_as_of = "2026-12-05";
    return e;
  }
  void append_text(const std::string &text) {
    FILE *f = g_fopen(ledger_path().c_str(), "a");
    ASSERT_TRUE(f);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  std::string tmp_;
};

TEST_F(LedgerTest, NothingRecordedIsNothingSpent) {
  const Spending s = read_ledger();
  EXPECT_EQ(s.calls, 0);
  EXPECT_EQ(s.total_usd, 0);
  EXPECT_EQ(ledger_path(), tmp_ + "/data/genfill/usage.jsonl");
}

TEST_F(LedgerTest, SumsByMonthServiceAndModel) {
  ASSERT_TRUE(append_to_ledger(entry("2026-11-30T23:59:59Z", "gemini", "gemini-3.1-flash-image", 0.10)));
  ASSERT_TRUE(append_to_ledger(entry("2026-12-01T00:00:00Z", "gemini", "gemini-3-pro-image", 0.25)));
  ASSERT_TRUE(append_to_ledger(entry("2026-12-04T10:00:00Z", "openai", "gpt-image-2", 0.5)));
  LedgerEntry unpriced = entry("2026-12-04T11:00:00Z", "openai-chat", "some/model", 0);
  unpriced.cost.known = false;
  ASSERT_TRUE(append_to_ledger(unpriced));
  const Spending s = read_ledger();
  EXPECT_EQ(s.calls, 4);
  EXPECT_EQ(s.unpriced_calls, 1);
  EXPECT_NEAR(s.total_usd, 0.85, 1e-12);
  EXPECT_NEAR(s.by_month.at("2026-11").usd, 0.10, 1e-12);
  EXPECT_NEAR(s.by_month.at("2026-12").usd, 0.75, 1e-12);
  EXPECT_EQ(s.by_month.at("2026-12").calls, 3);
  EXPECT_NEAR(s.by_provider.at("gemini").usd, 0.35, 1e-12);
  EXPECT_NEAR(s.by_model.at("openai/gpt-image-2").usd, 0.5, 1e-12);
  const Spending december = read_ledger("2026-12-01");
  EXPECT_EQ(december.calls, 3);
  EXPECT_NEAR(december.total_usd, 0.75, 1e-12);
  EXPECT_THROW(read_ledger("2026-13-01"), Error);
}

// Lines that are not entries (a crash mid-line, a hand edit, hostile values) are skipped and
// counted, never summed as money.
TEST_F(LedgerTest, LinesThatAreNotEntriesAreSkipped) {
  ASSERT_TRUE(append_to_ledger(entry("2026-12-04T10:00:00Z", "gemini", "g", 0.5)));
  append_text("{\"time\":\"2026-12-04T10:00:00Z\",\"provider\":\"gem\n");
  append_text("[1,2,3]\n{\"time\": 12}\n\n{\"time\":\"not a day\"}\n");
  append_text("{\"time\":\"2026-12-04T10:00:00Z\",\"provider\":\"x\",\"model\":\"y\",\"cost\":{\"usd\":-5}}\n");
  append_text("{\"time\":\"2026-12-04T10:00:00Z\",\"provider\":\"x\",\"model\":\"y\",\"cost\":{\"usd\":1e300}}\n");
  append_text("{\"time\":\"2026-12-04T10:00:00Z\",\"provider\":\"x\",\"model\":\"y\",\"cost\":\"lots\"}\n");
  const Spending s = read_ledger();
  EXPECT_EQ(s.unreadable_lines, 4);
  EXPECT_EQ(s.calls, 4);
  EXPECT_EQ(s.unpriced_calls, 1);
  EXPECT_NEAR(s.total_usd, 0.5, 1e-12);
}

// Runs writing at once never mix their lines: every line written is read back whole.
TEST_F(LedgerTest, RunsWritingAtOnceKeepTheirLinesWhole) {
  constexpr int kWriters = 8, kEach = 60;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([w] {
      for (int i = 0; i < kEach; ++i) {
        LedgerEntry e = entry("2026-12-05T12:00:00Z", "p" + std::to_string(w), std::string(200 + i, 'm'), 0.01);
        append_to_ledger(e);
      }
    });
  for (std::thread &t : writers) t.join();
  const Spending s = read_ledger();
  EXPECT_EQ(s.unreadable_lines, 0);
  EXPECT_EQ(s.calls, kWriters * kEach);
  EXPECT_NEAR(s.total_usd, kWriters * kEach * 0.01, 1e-9);
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(s.by_provider.at("p" + std::to_string(w)).calls, kEach);
}

TEST_F(LedgerTest, AnUnwritableLedgerSaysWhyAndDoesNotThrow) {
  g_setenv("XDG_DATA_HOME", "/proc/genfill-no-such-place", TRUE);
  std::string why;
  EXPECT_FALSE(append_to_ledger(entry("", "g", "m", 0.1), &why));
  EXPECT_NE(why.find("/proc/genfill-no-such-place"), std::string::npos) << why;
}

TEST_F(LedgerTest, TheBudgetIsSavedAndTheVariableWins) {
  EXPECT_FALSE(monthly_budget());
  set_monthly_budget(12.5);
  std::string source;
  ASSERT_TRUE(monthly_budget(&source));
  EXPECT_EQ(*monthly_budget(), 12.5);
  EXPECT_NE(source.find("budget.json"), std::string::npos);
  g_setenv("GENFILL_MONTHLY_BUDGET_USD", "3", TRUE);
  EXPECT_EQ(*monthly_budget(&source), 3);
  EXPECT_EQ(source, "GENFILL_MONTHLY_BUDGET_USD");
  for (const char *bad : {"-1", "ten", "5$", "nan", "1e9"}) {
    g_setenv("GENFILL_MONTHLY_BUDGET_USD", bad, TRUE);
    EXPECT_THROW(monthly_budget(), Error) << bad;
  }
  g_unsetenv("GENFILL_MONTHLY_BUDGET_USD");
  set_monthly_budget(std::nullopt);
  EXPECT_FALSE(monthly_budget());
  EXPECT_THROW(set_monthly_budget(-3), Error);
}

TEST_F(LedgerTest, ARunOverTheBudgetIsRefusedSayingTheSpendingAndTheBudget) {
  const std::string month = this_month_utc();
  ASSERT_TRUE(append_to_ledger(entry(month + "-01T08:00:00Z", "gemini", "g", 4.20)));
  ASSERT_TRUE(append_to_ledger(entry("2001-01-01T08:00:00Z", "gemini", "g", 100)));  // another month
  Cost next;
  next.usd = 0.5;
  next.known = true;
  EXPECT_NO_THROW(check_budget(next)) << "no budget, no limit";
  set_monthly_budget(5);
  EXPECT_NO_THROW(check_budget(next)) << "4.20 + 0.50 is within 5";
  next.usd = 0.9;
  try {
    check_budget(next);
    ADD_FAILURE() << "4.20 + 0.90 goes over 5";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::OverBudget);
    const std::string m = e.message();
    EXPECT_NE(m.find("$4.20"), std::string::npos) << m;
    EXPECT_NE(m.find("$5.00"), std::string::npos) << m;
    EXPECT_NE(m.find("--set-budget"), std::string::npos) << m;
  }
  Cost unpriced;  // a model without prices cannot be checked
  EXPECT_NO_THROW(check_budget(unpriced));
  set_monthly_budget(0);
  next.usd = 0.001;
  EXPECT_THROW(check_budget(next), Error) << "a budget of 0 stops every priced run";
}

}  // namespace
