// core/batch without a service: the manifest's lines and their mistakes, the journal, and the
// scheduler's calls in flight, shared pause and tries.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "core/batch/batch.hpp"
#include "core/util/gobj.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using namespace genfill::batch;

namespace {

class BatchTest : public ::testing::Test {
protected:
  void SetUp() override {
    GCharPtr dir(g_dir_make_tmp("genfill-batch-XXXXXX", nullptr));
    tmp_ = dir.get();
  }
  void TearDown() override { test::remove_tree(tmp_); }
  std::string put(const std::string &name, const std::string &text) {
    const std::string p = tmp_ + "/" + name;
    EXPECT_TRUE(g_file_set_contents(p.c_str(), text.data(), gssize(text.size()), nullptr));
    return p;
  }
  std::string tmp_;
};

TEST_F(BatchTest, EachLinesMistakeIsNamedAndTheOthersStand) {
  put("in.png", "not really a picture, but it exists");
  const std::string m = put("m.jsonl",
                            "{\"prompt\": \"a\", \"input\": \"in.png\", \"output\": \"out/a.png\", \"context\": 50}\r\n"
                            "\n"
                            "{\"prompt\": \"b\", \"output\": \"b.png\", \"size\": \"800x600\", \"seed\": 4}\n"
                            "{\"prompt\": \"c\", \"output\": \"b.png\"}\n"
                            "{\"prompt\": 3, \"output\": \"d.png\"}\n"
                            "{\"prompt\": \"e\", \"output\": \"e.png\", \"mask\": \"in.png\"}\n"
                            "{\"prompt\": \"f\", \"output\": \"f.png\", \"context\": 900}\n"
                            "{\"prompt\": \"g\", \"input\": \"in.png\", \"output\": \"in.png\"}\n"
                            "{\"prompt\": \"h\", \"output\": \"h.png\", \"_note\": \"fields starting with _ are notes\"}\n"
                            "{\"prompt\": \"i\"");
  const Manifest man = read_manifest(m, "gemini  https://x");
  ASSERT_EQ(man.lines.size(), 9u) << "the blank line is left out";
  EXPECT_EQ(man.lines[0].number, 1);
  EXPECT_EQ(man.lines[0].problem, "");
  EXPECT_EQ(man.lines[0].output, tmp_ + "/out/a.png") << "paths are the manifest folder's";
  EXPECT_DOUBLE_EQ(man.lines[0].context, 0.5);
  EXPECT_FALSE(man.lines[0].generate());
  EXPECT_EQ(man.lines[1].number, 3);
  EXPECT_TRUE(man.lines[1].generate());
  EXPECT_EQ(man.lines[1].width, 800);
  EXPECT_EQ(*man.lines[1].seed, 4);
  EXPECT_EQ(man.lines[2].problem, "line 3 writes the same output");
  EXPECT_EQ(man.lines[3].problem, "\"prompt\" must be text");
  EXPECT_EQ(man.lines[4].problem, "a \"mask\" needs an \"input\" to edit");
  EXPECT_EQ(man.lines[5].problem, "\"context\" must be from 0 to 400");
  EXPECT_EQ(man.lines[6].problem, "the output is also an input of the line");
  EXPECT_EQ(man.lines[7].problem, "");
  EXPECT_NE(man.lines[8].problem.find("not JSON"), std::string::npos) << man.lines[8].problem;
  // The hash is the line's and the run's: another service or model makes every line new.
  EXPECT_NE(read_manifest(m, "openai  https://y").lines[0].hash, man.lines[0].hash);
  EXPECT_EQ(read_manifest(m, "gemini  https://x").lines[0].hash, man.lines[0].hash);
  EXPECT_THROW(read_manifest(tmp_ + "/none.jsonl", ""), Error);
}

TEST_F(BatchTest, TheJournalsLastWordWinsAndACutLineIsSkipped) {
  const std::string out = put("a.png", "picture bytes");
  const std::string m = put("m.jsonl", "{\"prompt\": \"a\", \"output\": \"a.png\"}\n");
  const Manifest man = read_manifest(m, "k");
  {
    Journal j(journal_path(m));
    j.record(1, Entry{"failed", man.lines[0].hash, "", "", "refused", "", 0, -1});
    EXPECT_FALSE(is_done(man.lines[0], j));
    EXPECT_NE(output_blocked(man.lines[0], j, false), "") << "a file the journal did not write";
    EXPECT_EQ(output_blocked(man.lines[0], j, true), "");
    j.record(1, Entry{"done", man.lines[0].hash, man.lines[0].output, file_sha256(out), "", "", 0.07, -1});
  }
  // A crash in the middle of a write leaves a cut line: reading skips it.
  FILE *f = g_fopen(journal_path(m).c_str(), "ab");
  std::fputs("{\"line\": 1, \"state\": \"fai", f);
  std::fclose(f);
  Journal again(journal_path(m));
  ASSERT_TRUE(again.find(1));
  EXPECT_EQ(again.find(1)->state, "done");
  EXPECT_DOUBLE_EQ(again.find(1)->cost_usd, 0.07);
  EXPECT_TRUE(is_done(man.lines[0], again));
  EXPECT_EQ(output_blocked(man.lines[0], again, false), "");
  put("a.png", "changed by the user");
  EXPECT_FALSE(is_done(man.lines[0], again)) << "the output is no longer the one written";
  EXPECT_NE(output_blocked(man.lines[0], again, false), "");
}

// Eight tasks, four in flight: never more than four run at once.
TEST(Schedule, NeverMoreInFlightThanAsked) {
  std::atomic<int> now{0}, most{0};
  std::vector<Work> tasks(8, Work{[&](GCancellable *, std::string *, double *) {
    const int n = ++now;
    for (int seen = most; n > seen && !most.compare_exchange_weak(seen, n);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    --now;
    return batch::Outcome::Done;
  }});
  int ended = 0;
  const ScheduleStats s = schedule(tasks, 4, 3, nullptr, [&](size_t, batch::Outcome o, const std::string &) {
    EXPECT_EQ(o, batch::Outcome::Done);
    ++ended;
  });
  EXPECT_EQ(ended, 8);
  EXPECT_EQ(most.load(), 4);
  EXPECT_EQ(s.max_in_flight, 4);
}

// A task that comes back Again pauses every worker: no task starts during the pause it asked for.
TEST(Schedule, AnAgainPausesEveryWorker) {
  std::mutex mu;
  std::vector<double> starts;
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<bool> limited{false};
  std::vector<Work> tasks(4, Work{[&](GCancellable *, std::string *err, double *after) {
    {
      std::lock_guard lk(mu);
      starts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (!limited.exchange(true)) {  // the first call is told to wait 0.5 s
      *err = "too many requests";
      *after = 0.5;
      return batch::Outcome::Again;
    }
    return batch::Outcome::Done;
  }});
  std::vector<batch::Outcome> outcomes;
  const ScheduleStats s = schedule(tasks, 1, 3, nullptr, [&](size_t, batch::Outcome o, const std::string &) {
    outcomes.push_back(o);
  });
  ASSERT_EQ(starts.size(), 5u);
  EXPECT_GE(starts[1], 0.5) << "nothing started during the pause";
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), batch::Outcome::Done), 4);
  int total = 0;
  for (int t : s.tries) total += t;
  EXPECT_EQ(total, 5);
}

// A task that keeps coming back fails after max_tries; a cancelled run starts nothing new.
TEST(Schedule, TriesAreBoundedAndCancelStopsNewCalls) {
  std::vector<Work> again(1, Work{[](GCancellable *, std::string *err, double *after) {
    *err = "busy";
    *after = 0.01;
    return batch::Outcome::Again;
  }});
  std::string why;
  batch::Outcome last = batch::Outcome::Done;
  const ScheduleStats s = schedule(again, 2, 3, nullptr, [&](size_t, batch::Outcome o, const std::string &e) {
    last = o;
    why = e;
  });
  EXPECT_EQ(last, batch::Outcome::Failed);
  EXPECT_EQ(why, "busy");
  EXPECT_EQ(s.tries[0], 3);

  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  std::atomic<int> started{0};
  std::vector<Work> many(20, Work{[&](GCancellable *c, std::string *, double *) {
    if (++started == 2) g_cancellable_cancel(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return batch::Outcome::Done;
  }});
  int cancelled = 0;
  schedule(many, 2, 3, cancel.get(), [&](size_t, batch::Outcome o, const std::string &e) {
    if (o == batch::Outcome::Failed && e == "Cancelled.") ++cancelled;
  });
  EXPECT_LE(started.load(), 4) << "no new call after the cancel";
  EXPECT_GE(cancelled, 16);
}

}  // namespace
