// One edit or generation through the core job, against the in-process loopback fake: what each
// model is asked for (sizes, image sizes, input fidelity), as the catalog says; what a model the
// service no longer serves is answered with; and which models a service serves (core/served).
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "core/catalog/models.hpp"
#include "core/cost/ledger.hpp"
#include "core/edit/job.hpp"
#include "core/edit/services.hpp"
#include "core/plan/plan.hpp"
#include "core/providers/provider.hpp"
#include "core/served/served.hpp"
#include "core/util/day.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "fake_server.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using genfill::test::FakeServer;
using genfill::test::RecordedRequest;

namespace {

// Whether `text` names the model `id` as a word of its own (not as part of a longer id:
// "gemini-3-pro-image" is not named by "gemini-3-pro-image-preview"; a full stop may follow).
bool names(const std::string &text, const std::string &id) {
  auto id_char = [](char c) { return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '/' || c == '.'; };
  for (size_t at = text.find(id); at != std::string::npos; at = text.find(id, at + 1)) {
    const size_t end = at + id.size();
    const bool starts = at == 0 || !id_char(text[at - 1]);
    const bool ends = end == text.size() || !id_char(text[end]) ||
                      (text[end] == '.' && (end + 1 == text.size() || !g_ascii_isalnum(text[end + 1])));
    if (starts && ends) return true;
  }
  return false;
}

Image pattern(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x), p[1] = uint8_t(y), p[2] = uint8_t(x ^ y), p[3] = 255;
    }
  return img;
}

// A host's picture as the core sees it: a w x h pattern with a selection box. It answers what it
// is asked (the region at its own size, else a pattern at the size asked for, as the plug-in
// reads scaled) with the selection over all of the region, and keeps the reads it was asked for.
class PatternSource : public RegionSource {
public:
  PatternSource(int w, int h, Rect selection = {}) : w_(w), h_(h), selection_(selection) {}
  int width() const override { return w_; }
  int height() const override { return h_; }
  Rect selection() const override { return selection_; }
  RegionPixels read(const Rect &region, int width, int height) override {
    reads.push_back({region, width, height});
    RegionPixels out;
    out.pixels = width == region.w && height == region.h ? crop(pattern(w_, h_), region) : pattern(width, height);
    if (!selection_.empty()) out.selection = Mask(width, height, 255);
    return out;
  }
  struct Read {
    Rect region;
    int width, height;
  };
  std::vector<Read> reads;

private:
  int w_, h_;
  Rect selection_;
};

class JobTest : public ::testing::Test {
protected:
  void SetUp() override { server.start(); }

  JobSettings settings(const std::string &provider, const std::string &model) {
    JobSettings s;
    s.provider = provider;
    s.model = model;
    s.endpoint = provider == "openai" ? server.base_url() + "/v1" : server.base_url();
    s.api_key = "test-key-job";
    s.prompt = "paint it";
    s.seam = seam::Options::raw();
    s.transport.max_tries = 1;
    return s;
  }

  // Edits `selection` of a w x h picture with the model; returns what the fake saw.
  RecordedRequest edit(const std::string &provider, const std::string &model, int w, int h, Rect selection = {},
                       JobResult *out = nullptr, Plan *plan_out = nullptr) {
    server.reset();
    JobSettings s = settings(provider, model);
    PatternSource source(w, h, selection);
    EditResult r = run_edit(prepare(s, Task::Edit), {}, source);
    const Plan plan = r.plan;
    EXPECT_EQ(r.images.size(), 1u);
    EXPECT_EQ(r.images.at(0).width, plan.region.w);
    EXPECT_EQ(r.images.at(0).height, plan.region.h);
    if (out) *out = std::move(r);
    if (plan_out) *plan_out = plan;
    auto recs = server.requests();
    EXPECT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs.at(0).status, 200);
    return recs.at(0);
  }

  // Edits as edit() does, with a model the service refuses (404): the job must throw
  // ModelNotFound after that one request; returns what the fake saw of it.
  RecordedRequest refused_edit(const std::string &provider, const std::string &model, int w, int h,
                               Rect selection = {}, std::string *message = nullptr,
                               std::string *replacement = nullptr) {
    server.reset();
    JobSettings s = settings(provider, model);
    s.transport.max_tries = 3;  // a retry would show in the log
    s.transport.backoff_initial_s = 0.01;
    PatternSource source(w, h, selection);
    try {
      run_edit(prepare(s, Task::Edit), {}, source);
      ADD_FAILURE() << model << ": no error";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::ModelNotFound) << model << ": " << e.message();
      EXPECT_EQ(e.http_status(), 404) << model;
      if (message) *message = e.message();
      if (replacement) *replacement = e.replacement();
    }
    auto recs = server.requests();
    EXPECT_EQ(recs.size(), 1u) << model << ": nothing else is sent after the 404";
    EXPECT_EQ(recs.at(0).model, model);
    EXPECT_EQ(recs.at(0).status, 404);
    return recs.at(0);
  }

  FakeServer server;
};

TEST_F(JobTest, ImageSizeIsAskedOfModelsThatTakeItAndCoversTheRegion) {
  // A 1920x1080 picture: 16:9, more than Gemini 3's 1K answer (1376x768), so 2K.
  Plan plan;
  RecordedRequest big = edit("gemini", "gemini-3-pro-image", 1920, 1080, {}, nullptr, &plan);
  EXPECT_EQ(big.aspect, "16:9");
  EXPECT_EQ(big.image_size, "2K");
  EXPECT_EQ(plan.out_w, 2752);
  // The upload is the region at its own size: it fits in the 2K answer.
  ASSERT_EQ(big.image_sizes.size(), 1u);
  EXPECT_EQ(big.image_sizes[0], std::make_pair(1920, 1080));
  // A small selection: 1K.
  RecordedRequest small = edit("gemini", "gemini-3-pro-image", 1600, 1200, Rect{600, 500, 300, 200});
  EXPECT_EQ(small.image_size, "1K");
  // 3.1 Flash also has 512 for small regions; Nano Banana 2.1 does not (the fake refuses it there).
  EXPECT_EQ(edit("gemini", "gemini-3.1-flash-image", 1600, 1200, Rect{600, 500, 200, 200}).image_size, "512");
  EXPECT_EQ(edit("gemini", "gemini-nano-banana-2.1", 1600, 1200, Rect{600, 500, 200, 200}).image_size, "1K");
  // Flash-Lite has one size: never an imageSize, however large the region (the fake, like the
  // service, refuses any but 1K).
  RecordedRequest lite = edit("gemini", "gemini-3.1-flash-lite-image", 1920, 1080);
  EXPECT_EQ(lite.image_size, "");
  EXPECT_EQ(lite.aspect, "16:9");
}

// An image size asked for wins over the one chosen, and is priced as such; a quality likewise.
// Estimates need no key and send nothing.
TEST_F(JobTest, TheImageSizeAndQualityAskedForAreSentAndPriced) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  s.image_size = "4K";
  PatternSource source(800, 600);
  EditResult r = run_edit(prepare(s, Task::Edit), {}, source);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].image_size, "4K") << "a small picture would have been asked at 1K";
  EXPECT_EQ(r.plan.image_size, "4K");
  JobSettings no_key = s;
  no_key.api_key.clear();
  for (const char *var : {"GEMINI_API_KEY", "GOOGLE_API_KEY"}) g_unsetenv(var);
  const PreparedJob estimate_job = prepare(no_key, Task::Edit, /*need_key=*/false);
  const Cost at_4k = estimate_edit(estimate_job, {}, 800, 600, Rect{});
  no_key.image_size = "512";
  const Cost at_512 = estimate_edit(prepare(no_key, Task::Edit, false), {}, 800, 600, Rect{});
  EXPECT_TRUE(at_4k.known && at_4k.estimated);
  EXPECT_GT(at_4k.usd, 2.5 * at_512.usd) << "4K answers take 2520 tokens, 512 ones 747";
  EXPECT_EQ(server.requests().size(), 1u) << "estimates send nothing";
  EXPECT_THROW(prepare(no_key, Task::Edit), Error) << "a run still needs the key";

  JobSettings o = settings("openai", "gpt-image-2");
  o.quality = "low";
  const Cost low = estimate_generate(prepare(o, Task::Generate), "1:1", 0, 0, {});
  o.quality = "high";
  const Cost high = estimate_generate(prepare(o, Task::Generate), "1:1", 0, 0, {});
  EXPECT_GT(high.usd, 10 * low.usd);
  o.quality = "xhigh";
  EXPECT_THROW(prepare(o, Task::Generate), Error) << "gpt-image-2 takes no xhigh";
  o.model = "gpt-image-2.6-sunburst";
  EXPECT_NO_THROW(prepare(o, Task::Generate));
}

// Every call a service billed goes into the ledger, even when another call of the same run
// failed (the run then fails, as before); a call refused with an error answer does not.
TEST_F(JobTest, EveryBilledCallIsRecordedEvenWhenTheRunFails) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  s.variations = 2;  // Gemini: two calls
  test::FakeReply fail;
  fail.status = 500;
  fail.fixture = "gemini/error_500_internal.json";
  server.enqueue(fail);
  const int64_t before = read_ledger().calls;
  PatternSource source(640, 480);
  EXPECT_THROW(run_edit(prepare(s, Task::Edit), {}, source), Error);
  ASSERT_EQ(server.requests().size(), 2u);
  const Spending after = read_ledger();
  EXPECT_EQ(after.calls, before + 1) << "the call answered 200 was billed; the 500 was not";
  // The line says which model and operation, and its cost is that call's alone.
  s.variations = 1;
  PatternSource again(640, 480);
  const EditResult one = run_edit(prepare(s, Task::Edit), {}, again);
  const Spending last = read_ledger();
  EXPECT_EQ(last.calls, before + 2);
  EXPECT_NEAR(last.total_usd - after.total_usd, one.cost.usd, 1e-12);
  EXPECT_GT(last.by_model.at("gemini/gemini-3.1-flash-image").calls, 1);
}

// Streaming in the core: each variation's drafts reach the host's progress as they come
// (Draft::variation says whose), shaped as the answer will land (the region's size), and the
// answers are what plain calls give.
TEST_F(JobTest, EachVariationsDraftsReachTheHostAsTheyCome) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  s.variations = 2;  // two calls, two streams
  PatternSource source(640, 480, Rect{100, 100, 200, 150});
  std::vector<std::shared_ptr<const Draft>> drafts;
  const EditResult r = run_edit(prepare(s, Task::Edit), {}, source, nullptr, [&](const Progress &p) {
    if (p.draft) drafts.push_back(p.draft);
  });
  ASSERT_EQ(r.images.size(), 2u);
  EXPECT_TRUE(r.streamed);
  EXPECT_EQ(r.drafts, 4);
  ASSERT_EQ(drafts.size(), 4u);
  std::set<int> variations;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const Draft &d = *drafts[i];
    EXPECT_EQ(d.number, int(i) + 1);
    variations.insert(d.variation);
    EXPECT_EQ(d.region.x, r.plan.region.x);
    EXPECT_EQ(d.region.w, r.plan.region.w);
    EXPECT_EQ(d.picture.width, r.plan.region.w) << "shaped to the region";
    EXPECT_EQ(d.picture.height, r.plan.region.h);
    EXPECT_GE(d.seconds, 0);
  }
  EXPECT_EQ(variations, (std::set<int>{0, 1})) << "drafts of each variation";
  for (const RecordedRequest &rec : server.requests()) EXPECT_TRUE(rec.stream);
}

// Cancel while the stream is under way, between two drafts: the run ends with Cancelled at
// once, not when the stream would have ended.
TEST_F(JobTest, CancelEndsAStreamBetweenDrafts) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  test::FakeReply slow;
  slow.event_delay_ms = 3000;
  server.enqueue(slow);
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  PatternSource source(640, 480);
  const auto t0 = g_get_monotonic_time();
  try {
    run_edit(prepare(s, Task::Edit), {}, source, cancel.get(), [&](const Progress &p) {
      if (p.draft) g_cancellable_cancel(cancel.get());  // on the first draft
    });
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::Cancelled) << e.message();
  }
  EXPECT_LT((g_get_monotonic_time() - t0) / 1e6, 5.0) << "the first draft comes after one pause; the rest were not awaited";
}

// A stream cut inside an event, from the in-process fake: BadResponse, not asked again.
TEST_F(JobTest, AStreamCutInsideAnEventIsNotAskedAgain) {
  JobSettings s = settings("openai", "gpt-image-2");
  s.transport.max_tries = 3;
  test::FakeReply cut;
  cut.cut_after_events = 1;
  cut.count = 3;
  server.enqueue(cut);
  PatternSource source(640, 480);
  int drafts = 0;
  try {
    run_edit(prepare(s, Task::Edit), {}, source, nullptr, [&](const Progress &p) { drafts += p.draft ? 1 : 0; });
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::BadResponse) << e.message();
    EXPECT_NE(std::string(e.message()).find("billed"), std::string::npos) << e.message();
  }
  EXPECT_EQ(drafts, 1);
  EXPECT_EQ(server.requests().size(), 1u);
}

// A region that needs Gemini 3's 4K answer is uploaded at about 4.3 MP at most (a larger PNG
// would pass Gemini's 20 MB inline limit), and a host taking results at the upload's scale gets
// them at the finer scale of the 4K answer, not at the smaller upload's.
TEST_F(JobTest, A4KAnswerComesBackFinerThanItsCappedUpload) {
  JobSettings s = settings("gemini", "gemini-3-pro-image");
  s.results_at_upload_scale = true;
  // The host is asked for the region at the upload's size, as the plug-in reads it.
  PatternSource source(6000, 4000);
  EditResult r = run_edit(prepare(s, Task::Edit), {}, source);
  const Plan &plan = r.plan;
  ASSERT_EQ(plan.image_size, "4K");
  ASSERT_LE(double(plan.canvas_w) * plan.canvas_h, 4.3e6 + plan.canvas_w + plan.canvas_h);
  ASSERT_LT(plan.canvas_w, plan.out_w);
  ASSERT_EQ(source.reads.size(), 1u);
  EXPECT_EQ(source.reads[0].width, plan.content.w);
  EXPECT_EQ(source.reads[0].height, plan.content.h);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].image_size, "4K");
  EXPECT_EQ(recs[0].image_sizes.at(0), std::make_pair(plan.canvas_w, plan.canvas_h));
  ASSERT_EQ(r.images.size(), 1u);
  // The answer (5056x3392 for 3:2 at 4K) maps onto the 6000x4000 region at about 5056 px wide.
  EXPECT_GT(r.images[0].width, plan.content.w * 3 / 2);
  EXPECT_LE(r.images[0].width, 6000);
  EXPECT_NEAR(double(r.images[0].width) / r.images[0].height, 1.5, 0.01);
}

TEST_F(JobTest, InputFidelityIsHighOnEditsWhereTheModelTakesIt) {
  for (const char *model : {"gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst"})
    EXPECT_EQ(edit("openai", model, 640, 480).input_fidelity, "high") << model;
  // gpt-image-1-mini refused it; it is shut down now (404), but its request is still recorded.
  RecordedRequest mini = refused_edit("openai", "gpt-image-1-mini", 640, 480);
  EXPECT_EQ(mini.input_fidelity, "") << "mini refuses it";
}

TEST_F(JobTest, Gpt2IsAskedForTheRegionsOwnShape) {
  JobResult result;
  RecordedRequest r = edit("openai", "gpt-image-2", 1920, 1080, {}, &result);
  EXPECT_EQ(r.size, "1936x1088");  // 16:9 within multiples of 16
  EXPECT_EQ(r.image_sizes.at(0), std::make_pair(1920, 1080)) << "sent as it is, not padded";
  EXPECT_EQ(r.mask_size, std::nullopt);
  // A wide selection: its shape, clamped to 3:1.
  RecordedRequest wide = edit("openai", "gpt-image-2", 6000, 4000, Rect{1000, 2000, 3000, 200});
  int w = 0, h = 0;
  ASSERT_EQ(std::sscanf(wide.size.c_str(), "%dx%d", &w, &h), 2) << wide.size;
  EXPECT_EQ(w, 3 * h);
  EXPECT_EQ(wide.mask_size, std::make_optional(wide.image_sizes.at(0)));
  // Beyond the cap: 2560x1440's pixels at most.
  RecordedRequest huge = edit("openai", "gpt-image-2", 6000, 4000);
  ASSERT_EQ(std::sscanf(huge.size.c_str(), "%dx%d", &w, &h), 2) << huge.size;
  EXPECT_LE(w * h, 2560 * 1440);
  EXPECT_NEAR(double(w) / h, 1.5, 0.01);
  // gpt-image-1 (shut down now, and refused with 404, but its request is still recorded): one of
  // its three sizes.
  const std::set<std::string> three = {"1024x1024", "1536x1024", "1024x1536"};
  EXPECT_TRUE(three.count(refused_edit("openai", "gpt-image-1", 1920, 1080).size));
  EXPECT_TRUE(three.count(refused_edit("openai", "gpt-image-1", 500, 1400).size));
}

TEST_F(JobTest, GenerateAsksForASizeThatCoversTheOneWanted) {
  JobSettings g3 = settings("gemini", "gemini-3-pro-image");
  JobResult r = run_generate(prepare(g3, Task::Generate), "", 2400, 1350, {});
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].width, 2400);
  EXPECT_EQ(r.images[0].height, 1350);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].aspect, "16:9");
  EXPECT_EQ(recs[0].image_size, "2K");
  server.reset();
  run_generate(prepare(settings("openai", "gpt-image-2"), Task::Generate), "21:9", 0, 0, {});
  ASSERT_EQ(server.requests().size(), 1u);
  int w = 0, h = 0;
  ASSERT_EQ(std::sscanf(server.requests()[0].size.c_str(), "%dx%d", &w, &h), 2);
  EXPECT_NEAR(double(w) / h, 21.0 / 9.0, 0.01);
  server.reset();
  // A model with one size (Flash-Lite) is never asked for one, however large the picture.
  run_generate(prepare(settings("gemini", "gemini-3.1-flash-lite-image"), Task::Generate), "", 3000, 3000, {});
  EXPECT_EQ(server.requests().at(0).image_size, "");
}

TEST_F(JobTest, TransparentGenerationKeepsItsAlpha) {
  JobSettings s = settings("openai", "gpt-image-2");
  s.transparent = true;
  JobResult r = run_generate(prepare(s, Task::Generate), "", 300, 200, {});
  ASSERT_EQ(r.images.size(), 1u);
  const Image &img = r.images[0];
  ASSERT_EQ(img.width, 300);
  int clear = 0, opaque = 0;
  for (size_t i = 3; i < img.pixels.size(); i += 4) {
    clear += img.pixels[i] == 0;
    opaque += img.pixels[i] == 255;
  }
  EXPECT_GT(clear, 300 * 200 / 10) << "transparent around the subject";
  EXPECT_GT(opaque, 300 * 200 / 10) << "opaque in the middle";
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].background, "transparent");
  EXPECT_EQ(server.requests()[0].output_format, "png");
}

TEST_F(JobTest, TransparentGenerationIsRefusedBeforeSendingWhereTheModelCannot) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  s.transparent = true;
  try {
    run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {});
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    const std::string m = e.message();
    const std::string name = find_model("gemini", "gemini-3.1-flash-image")->display_name;
    EXPECT_NE(m.find(name + " cannot make a transparent background"), std::string::npos) << m;
    EXPECT_TRUE(names(m, "gpt-image-2")) << "names models that can: " << m;
  }
  EXPECT_EQ(server.request_count(), 0u) << "nothing sent";
  // Without it, the same model generates.
  s.transparent = false;
  EXPECT_EQ(run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {}).images.size(), 1u);
}

// No model named: the catalog's default for the service, today's (never a retired one).
TEST_F(JobTest, WithoutAModelTheServicesCurrentDefaultIsUsed) {
  EXPECT_EQ(edit("gemini", "", 800, 600).model, "gemini-3.1-flash-image");
  EXPECT_EQ(edit("openai", "", 800, 600).model, "gpt-image-2");
  EXPECT_EQ(server.requests().at(0).path, "/v1/images/edits");
  // Generating too.
  server.reset();
  JobResult r = run_generate(prepare(settings("gemini", ""), Task::Generate), "1:1", 0, 0, {});
  EXPECT_EQ(r.images.size(), 1u);
  EXPECT_EQ(server.requests().at(0).model, "gemini-3.1-flash-image");
}

// A model the service has shut down: one request, the service's 404, and a message that says
// which model that was, since when, and what to use instead (the catalog's replacement).
TEST_F(JobTest, ARetiredModelIsNamedWithItsReplacement) {
  // The check itself: a longer id does not name a shorter one.
  ASSERT_FALSE(names("Use gemini-3-pro-image-preview.", "gemini-3-pro-image"));
  ASSERT_FALSE(names("gpt-image-2.6-sunburst", "gpt-image-2"));
  ASSERT_TRUE(names("Use gpt-image-2.", "gpt-image-2"));
  struct Case {
    const char *provider, *model, *replacement;
  } cases[] = {
      {"gemini", "gemini-3-pro-image-preview", "gemini-3-pro-image"},
      {"gemini", "gemini-2.5-flash-image", "gemini-3.1-flash-image"},
      {"openai", "gpt-image-1", "gpt-image-2"},
      {"openai", "chatgpt-image-latest", "gpt-image-2.6-sunburst"},
  };
  for (const Case &c : cases) {
    const ModelInfo *known = find_model(c.provider, c.model);
    ASSERT_TRUE(known) << c.model;
    ASSERT_EQ(known->replacement, c.replacement) << "the catalog's word";
    std::string message, replacement;
    refused_edit(c.provider, c.model, 800, 600, {}, &message, &replacement);
    EXPECT_EQ(replacement, c.replacement) << "the way out a host offers (switch to it)";
    EXPECT_TRUE(names(message, c.model)) << message;
    EXPECT_TRUE(names(message, c.replacement)) << message;
    EXPECT_NE(message.find(known->retired), std::string::npos) << "the day it was retired: " << message;
  }
  // Generating with one: the same.
  server.reset();
  JobSettings s = settings("gemini", "gemini-3-pro-image-preview");
  s.transport.max_tries = 3;
  s.transport.backoff_initial_s = 0.01;
  try {
    run_generate(prepare(s, Task::Generate), "16:9", 0, 0, {});
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::ModelNotFound);
    EXPECT_TRUE(names(e.message(), "gemini-3-pro-image-preview")) << e.message();
    EXPECT_TRUE(names(e.message(), "gemini-3-pro-image")) << e.message();
  }
  EXPECT_EQ(server.request_count(), 1u);
}

// An id the catalog does not know, and the service does not serve: the message names it and
// the service's current default.
TEST_F(JobTest, AnUnknownModelIsNamedWithTheCurrentDefault) {
  struct Case {
    const char *provider, *model, *default_id;
  } cases[] = {
      {"openai", "dall-e-3", "gpt-image-2"},
      {"gemini", "gemini-2.5-flash-image-preview", "gemini-3.1-flash-image"},
      {"gemini", "nano-banana", "gemini-3.1-flash-image"},
  };
  for (const Case &c : cases) {
    ASSERT_FALSE(find_model(c.provider, c.model)) << c.model << " is not in the catalog";
    ASSERT_EQ(default_model_id(c.provider), c.default_id);
    std::string message, replacement;
    refused_edit(c.provider, c.model, 800, 600, {}, &message, &replacement);
    EXPECT_EQ(replacement, c.default_id) << "the way out a host offers (switch to it)";
    EXPECT_TRUE(names(message, c.model)) << message;
    EXPECT_TRUE(names(message, c.default_id)) << message;
  }
}

// A decompression bomb among the variations (a real 16000x16000 PNG, under 1 MB sent, 1 GiB
// decoded) is refused from its header with a message naming both sizes, in edits and in
// generation alike; and the decoded variations held together stay under the job's cap.
TEST_F(JobTest, APictureBombIsRefusedAndVariationsStayUnderTheCap) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  s.variations = 3;
  const Plan plan = plan_region(800, 600, {}, prepare(s, Task::Edit).model);
  PatternSource source(800, 600);
  test::FakeReply bomb;
  bomb.picture = "bomb";
  server.reset();
  server.enqueue(bomb);
  const std::string asked = std::to_string(plan.out_w) + "x" + std::to_string(plan.out_h);
  try {
    run_edit(prepare(s, Task::Edit), {}, source);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::TooLarge) << e.message();
    EXPECT_EQ(e.message(), "The service sent a picture far larger than asked for (16000x16000 for a " + asked +
                               " request); genfill did not use it.");
  }
  EXPECT_EQ(server.request_count(), 3u);
  server.reset();
  server.enqueue(bomb);
  s.variations = 1;
  try {
    run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {});
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::TooLarge) << e.message();
    EXPECT_NE(std::string(e.message()).find("(16000x16000 for a "), std::string::npos) << e.message();
  }

  // Three ordinary answers: held together only when the cap has room for all three.
  s.variations = 3;
  const size_t each = size_t(plan.out_w) * size_t(plan.out_h) * 4;
  s.max_decoded_bytes = 3 * each - 1;
  server.reset();
  try {
    run_edit(prepare(s, Task::Edit), {}, source);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::TooLarge) << e.message();
    EXPECT_NE(std::string(e.message()).find("hold at once"), std::string::npos) << e.message();
  }
  s.max_decoded_bytes = 3 * each;
  EXPECT_EQ(run_edit(prepare(s, Task::Edit), {}, source).images.size(), 3u);
}

// A model its owner deprecated without a shutdown day (the catalog names its successor, no
// retirement): the day the service stops serving it, the message names the successor, not the
// current default (which the model itself may still be).
TEST_F(JobTest, ADeprecatedModelThatStopsBeingServedIsNamedWithItsSuccessor) {
  const ModelInfo *m = find_model("gemini", "gemini-3.1-flash-image");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->retired, "") << "no shutdown day announced";
  ASSERT_EQ(m->replacement, "gemini-nano-banana-2.1");
  server.reset();
  test::FakeReply gone;
  gone.status = 404;
  gone.fixture = "gemini/error_404_model_not_found.json";
  server.enqueue(gone);
  JobSettings s = settings("gemini", "");
  PatternSource source(800, 600);
  try {
    run_edit(prepare(s, Task::Edit), {}, source);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::ModelNotFound) << e.message();
    EXPECT_TRUE(names(e.message(), "gemini-3.1-flash-image")) << e.message();
    EXPECT_TRUE(names(e.message(), "gemini-nano-banana-2.1")) << e.message();
    EXPECT_EQ(std::string(e.message()).find("current default"), std::string::npos) << e.message();
  }
  EXPECT_EQ(server.request_count(), 1u);
}

// A service that echoes the key in its error answer: whichever service, the error that comes out
// of the job (message, detail, text) holds "[key]" where the key was, never the key itself.
TEST_F(JobTest, AKeyEchoedByTheServiceNeverReachesTheError) {
  const std::string key = "relay-key-echo-0123456789abcdef";  // no pattern of a known key: only the literal catches it
  const std::pair<const char *, const char *> cases[] = {
      {"gemini", ""}, {"openai", ""}, {"imagen", "imagen-4.0-generate-001"}, {"openai-chat", ""}};
  for (const auto &[provider, model] : cases) {
    SCOPED_TRACE(provider);
    server.reset();
    test::FakeReply echo;
    echo.echo_key = true;
    server.enqueue(echo);
    JobSettings s = settings(provider, model);
    if (std::string(provider) == "openai-chat") s.endpoint = server.base_url() + "/v1";
    s.api_key = key;
    try {
      run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {});
      ADD_FAILURE() << "no error";
    } catch (const Error &e) {
      const std::string all = std::string(e.message()) + " | " + e.detail() + " | " + e.text();
      EXPECT_EQ(all.find(key), std::string::npos) << all;
      EXPECT_NE(all.find("[key]"), std::string::npos) << "the echo was not seen: " << all;
      EXPECT_EQ(e.http_status(), 400) << all;
    }
    ASSERT_EQ(server.request_count(), 1u);
    EXPECT_TRUE(server.requests().at(0).has_key);
  }
}

// Nonsense timeouts are refused before anything is sent (the CLI's --timeout, the plug-in's
// GENFILL_TIMEOUT).
TEST_F(JobTest, NonsenseTimeoutsAreRefusedBeforeSending) {
  server.reset();
  for (double bad : {std::nan(""), HUGE_VAL, 0.0, -5.0}) {
    SCOPED_TRACE(bad);
    JobSettings s = settings("gemini", "");
    s.transport.timeout_s = bad;
    EXPECT_THROW(prepare(s, Task::Generate), Error);
    try {
      run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {});
      ADD_FAILURE() << "accepted";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.message();
    }
  }
  EXPECT_EQ(server.request_count(), 0u);
}

// A plain http:// endpoint elsewhere than this computer would carry the key unencrypted.
TEST_F(JobTest, PlainHttpElsewhereIsRefusedBeforeSending) {
  JobSettings s = settings("gemini", "");
  s.endpoint = "http://genfill-test.invalid/v1";
  try {
    prepare(s, Task::Generate);
    ADD_FAILURE() << "accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.message()).find("unencrypted"), std::string::npos) << e.message();
  }
  s.endpoint = "http://localhost:" + server.base_url().substr(server.base_url().rfind(':') + 1);
  EXPECT_NO_THROW(prepare(s, Task::Generate));
}

// ---------- prepare(): everything resolved once, before any pixel is read ----------

TEST_F(JobTest, PrepareResolvesTheModelKeyAndURLOnceAndSaysWhatTheModelCanDo) {
  const PreparedJob openai = prepare(settings("openai", "gpt-image-2"), Task::Edit);
  EXPECT_EQ(openai.model.id, "gpt-image-2");
  EXPECT_EQ(openai.base_url, server.base_url() + "/v1");
  EXPECT_EQ(openai.settings.api_key, "test-key-job");
  EXPECT_EQ(openai.key_source, "") << "the host gave the key";
  EXPECT_EQ(openai.service, "OpenAI");
  EXPECT_EQ(openai.short_service, "OpenAI");
  const ModelInfo *m = find_model("openai", "gpt-image-2");
  ASSERT_TRUE(m);
  EXPECT_EQ(openai.can.edit, m->can_edit);
  EXPECT_EQ(openai.can.mask, m->takes_mask);
  EXPECT_EQ(openai.can.transparent, m->transparent);
  EXPECT_TRUE(openai.can.exact_size);
  EXPECT_EQ(openai.can.max_images_per_call, m->max_images_per_call);
  EXPECT_EQ(openai.can.max_references, m->max_input_images - 1) << "the edited picture counts";
  EXPECT_EQ(openai.can.max_variations, 10);

  // No model named: the catalog's default, the one source of it.
  const PreparedJob gemini = prepare(settings("gemini", ""), Task::Generate);
  EXPECT_EQ(gemini.model.id, default_model_id("gemini"));
  EXPECT_EQ(gemini.service, "Google Gemini");
  EXPECT_EQ(gemini.short_service, "Gemini");
  EXPECT_FALSE(gemini.can.mask);
  EXPECT_EQ(gemini.can.max_references, gemini.model.max_input_images) << "generating: all of them are references";

  // A model that only generates is refused for edits before the key is looked for.
  JobSettings imagen = settings("imagen", "imagen-4.0-generate-001");
  imagen.api_key.clear();
  g_setenv("GENFILL_NO_KEYRING", "1", TRUE);
  for (const char *var : {"GEMINI_API_KEY", "GOOGLE_API_KEY"}) g_unsetenv(var);
  try {
    prepare(imagen, Task::Edit);
    ADD_FAILURE() << "accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.message();
    EXPECT_NE(std::string(e.message()).find("only creates new pictures"), std::string::npos) << e.message();
  }
  try {  // generating, it only lacks the key
    prepare(imagen, Task::Generate);
    ADD_FAILURE() << "accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::MissingKey) << e.message();
  }
  // Unknown services and nonsense counts.
  try {
    prepare(settings("nobody", ""), Task::Edit);
    ADD_FAILURE() << "accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    const std::string said = e.message();
    EXPECT_EQ(said.rfind("Unknown provider \"nobody\". Choose one of: ", 0), 0u) << said;
    for (const ServiceInfo &service : services()) EXPECT_TRUE(names(said, service.name)) << said;
  }
  JobSettings many = settings("gemini", "");
  many.variations = 11;
  EXPECT_THROW(prepare(many, Task::Edit), Error);
  EXPECT_EQ(server.request_count(), 0u) << "nothing sent";
}

// ---------- run_edit(): the core plans, asks the host for the region, and keeps the conversation ----------

TEST_F(JobTest, AnEditAsksTheHostOnlyForThePlannedRegion) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  const PreparedJob job = prepare(s, Task::Edit);
  PatternSource source(1600, 1200, Rect{600, 500, 300, 200});
  const EditResult r = run_edit(job, {}, source);
  ASSERT_EQ(source.reads.size(), 1u) << "read once";
  EXPECT_EQ(source.reads[0].region, r.plan.region);
  EXPECT_EQ(source.reads[0].width, r.plan.region.w) << "at its own size";
  EXPECT_EQ(source.reads[0].height, r.plan.region.h);
  EXPECT_EQ(r.plan.region, plan_region(1600, 1200, Rect{600, 500, 300, 200}, job.model).region);
  EXPECT_LT(r.plan.region.w, 1600) << "not the whole picture";
  EXPECT_TRUE(r.plan.region.x <= 600 && r.plan.region.y <= 500 && r.plan.region.right() >= 900 &&
              r.plan.region.bottom() >= 700)
      << "covers the selection";
  ASSERT_TRUE(r.selection);
  EXPECT_EQ(r.selection->width, r.plan.region.w);
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].width, r.plan.region.w);
  EXPECT_GT(r.upload_bytes, 0u);

  // A wider context asks for more around the selection.
  EditInput wide;
  wide.context = 1.0;
  PatternSource again(1600, 1200, Rect{600, 500, 300, 200});
  const EditResult w = run_edit(job, wide, again);
  EXPECT_GT(w.plan.region.w, r.plan.region.w);

  // An empty prompt: nothing read, nothing sent.
  server.reset();
  s.prompt.clear();
  PatternSource unread(800, 600);
  EXPECT_THROW(run_edit(prepare(s, Task::Edit), {}, unread), Error);
  EXPECT_TRUE(unread.reads.empty());
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(JobTest, AHostsPictureIsCroppedToTheRegionAndCompositedBack) {
  const int w = 640, h = 480;
  const Image picture = pattern(w, h);
  std::optional<Mask> mask = Mask(w, h, 0);
  for (int y = 200; y < 260; ++y)
    for (int x = 300; x < 380; ++x) mask->at(x, y) = 255;
  PictureSource source(picture, mask);
  EXPECT_EQ(source.width(), w);
  EXPECT_EQ(source.selection(), (Rect{300, 200, 80, 60}));
  const Rect r{250, 150, 200, 150};
  const RegionPixels px = source.read(r, r.w, r.h);
  EXPECT_EQ(px.pixels.pixels, crop(picture, r).pixels);
  ASSERT_TRUE(px.selection);
  EXPECT_EQ(px.selection->values, crop(*mask, r).values);
  const RegionPixels half = source.read(r, r.w / 2, r.h / 2);
  EXPECT_EQ(half.pixels.width, r.w / 2);
  EXPECT_EQ(half.selection->height, r.h / 2);

  const EditResult e = run_edit(prepare(settings("gemini", ""), Task::Edit), {}, source);
  const Image whole = composite_result(picture, e, 0, 4);
  EXPECT_EQ(whole.pixels, composite_result(picture, e.images[0], e.plan, e.selection, 4).pixels);
  EXPECT_EQ(whole.width, w);
  EXPECT_EQ(std::vector<uint8_t>(whole.at(0, 0), whole.at(0, 0) + 4), std::vector<uint8_t>(picture.at(0, 0), picture.at(0, 0) + 4))
      << "outside the selection, as it was";
}

TEST_F(JobTest, TheCoreSavesTheConversationAndContinuesIt) {
  JobSettings s = settings("gemini", "gemini-3.1-flash-image");
  const PreparedJob job = prepare(s, Task::Edit);
  PatternSource first_source(800, 600);
  const EditResult first = run_edit(job, {}, first_source);
  ASSERT_TRUE(is_conversation_id(first.conversation)) << first.conversation;
  EXPECT_TRUE(server.requests().at(0).history_prompts.empty());

  // The next step names it: its earlier turn goes with the request, under the same id.
  server.reset();
  EditInput next;
  next.conversation = first.conversation;
  int gone = 0;
  next.conversation_gone = [&] { ++gone; };
  PatternSource second_source(800, 600);
  const EditResult second = run_edit(job, next, second_source);
  EXPECT_EQ(gone, 0);
  EXPECT_EQ(second.conversation, first.conversation);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].history_prompts, std::vector<std::string>{"paint it"});

  // A conversation gone from the cache: the host is told, and the edit starts afresh.
  server.reset();
  next.conversation = std::string(32, 'a');
  PatternSource third_source(800, 600);
  const EditResult third = run_edit(job, next, third_source);
  EXPECT_EQ(gone, 1);
  EXPECT_TRUE(server.requests().at(0).history_prompts.empty());
  EXPECT_TRUE(is_conversation_id(third.conversation));
  EXPECT_NE(third.conversation, first.conversation);
}

// What hosts learn of the services and conversations through core/edit, without the providers.
TEST(Services, HostsSeeEveryServiceWithItsNamesAndKeyVariables) {
  const ServiceInfo *gemini = find_service("gemini");
  ASSERT_TRUE(gemini);
  EXPECT_EQ(gemini->display_name, "Google Gemini");
  EXPECT_EQ(gemini->short_name, "Gemini");
  EXPECT_EQ(gemini->key_env_vars.at(0), "GEMINI_API_KEY");
  EXPECT_EQ(key_variables_text(*gemini), "GEMINI_API_KEY or GOOGLE_API_KEY");
  EXPECT_EQ(&service_named("openai"), find_service("openai"));
  EXPECT_FALSE(find_service("nobody"));
  EXPECT_THROW(service_named("nobody"), Error);
  for (const ServiceInfo &s : services()) {
    EXPECT_FALSE(s.display_name.empty()) << s.name;
    EXPECT_EQ(s.base_url.rfind("https://", 0), 0u) << s.name;
  }
  EXPECT_TRUE(is_conversation_id(std::string(32, 'a')));
  EXPECT_FALSE(is_conversation_id("../x"));
}

// ---------- which models a service serves: core/served against the fake ----------

// g_get_user_cache_dir() reads XDG_CACHE_HOME once per process: one fresh folder for the whole
// program, set before any test runs; each test starts with no cached list in it.
class CacheFolder : public ::testing::Environment {
public:
  void SetUp() override {
    gchar *dir = g_dir_make_tmp("genfill-test-job-XXXXXX", nullptr);
    ASSERT_TRUE(dir);
    root = dir;
    g_free(dir);
    g_setenv("XDG_CACHE_HOME", root.c_str(), TRUE);
    ASSERT_EQ(std::string(g_get_user_cache_dir()), root) << "read before the test set it";
  }
  void TearDown() override {
    if (!root.empty()) test::remove_tree(root);
  }
  static std::string root;
};
std::string CacheFolder::root;
[[maybe_unused]] ::testing::Environment *const cache_folder = ::testing::AddGlobalTestEnvironment(new CacheFolder);

class ServedTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(CacheFolder::root.empty());
    test::remove_tree(CacheFolder::root + "/genfill/models");
    // No key from anywhere but the test: no keyring, no key in the environment.
    g_setenv("GENFILL_NO_KEYRING", "1", TRUE);
    for (const Provider *p : all_providers())
      for (const std::string &var : p->key_env_vars()) g_unsetenv(var.c_str());
    server.start();
    url = server.base_url();
  }

  ListOptions options(const std::string &provider, const std::string &key = "k") {
    ListOptions o;
    o.provider = provider;
    o.endpoint = provider == "openai" ? url + "/v1" : url;
    o.api_key = key;
    o.transport.backoff_initial_s = 0.01;
    o.transport.backoff_max_s = 0.02;
    o.transport.connect_timeout_s = 5;
    return o;
  }

  static const ListedModel *entry(const ModelListing &l, const std::string &id) {
    for (const ListedModel &m : l.models)
      if (m.id == id) return &m;
    return nullptr;
  }
  static std::string status(const ModelListing &l, const std::string &id) {
    const ListedModel *m = entry(l, id);
    return m ? model_status_name(m->status) : "(absent)";
  }
  static std::vector<std::string> defaults(const ModelListing &l) {
    std::vector<std::string> out;
    for (const ListedModel &m : l.models)
      if (m.is_default) out.push_back(m.id);
    return out;
  }
  size_t list_requests() {
    size_t n = 0;
    for (const RecordedRequest &r : server.requests()) n += r.method == "GET";
    return n;
  }

  FakeServer server;
  std::string url;
};

TEST_F(ServedTest, GeminisListIsReadWholeAndMergedWithTheCatalog) {
  ModelListing l = list_models(options("gemini"));
  EXPECT_EQ(l.source, ListSource::Live);
  EXPECT_EQ(l.note, "");
  EXPECT_EQ(l.provider, "gemini");
  EXPECT_EQ(l.endpoint, url);
  EXPECT_GT(l.fetched, 0);
  EXPECT_EQ(status(l, "gemini-3.1-flash-image"), "available");
  EXPECT_EQ(defaults(l), std::vector<std::string>{"gemini-3.1-flash-image"});
  for (const char *id : {"gemini-3-pro-image", "gemini-nano-banana-2.1", "gemini-3.1-flash-lite-image"})
    EXPECT_EQ(status(l, id), "available") << id;
  // Shut down: retired, with the catalog's replacement and day.
  EXPECT_EQ(status(l, "gemini-3-pro-image-preview"), "retired");
  EXPECT_EQ(entry(l, "gemini-3-pro-image-preview")->replacement, "gemini-3-pro-image");
  EXPECT_EQ(entry(l, "gemini-3-pro-image-preview")->shutdown, find_model("gemini", "gemini-3-pro-image-preview")->retired);
  EXPECT_FALSE(entry(l, "gemini-3-pro-image-preview")->usable());
  // Served and unknown to the catalog: new. It is on the list's last page, so every page was read.
  EXPECT_EQ(status(l, "gemini-9-flash-image-exp"), "new");
  EXPECT_EQ(entry(l, "gemini-9-flash-image-exp")->name, "Gemini 9 Flash Image (experimental)");
  EXPECT_TRUE(entry(l, "gemini-9-flash-image-exp")->usable());
  // Models that make no pictures are not listed.
  for (const char *id : {"gemini-embedding-001", "gemini-3.5-flash", "veo-3.1-generate-preview"})
    EXPECT_EQ(status(l, id), "(absent)") << id;
  // The catalog's models first, in its order, then the new ones.
  ASSERT_FALSE(l.models.empty());
  EXPECT_EQ(l.models.back().id, "gemini-9-flash-image-exp");
  for (const ListedModel &m : l.models) EXPECT_EQ(m.provider, "gemini") << m.id;

  auto recs = server.requests();
  ASSERT_GE(recs.size(), 2u) << "the list comes in several pages";
  for (const RecordedRequest &r : recs) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/v1beta/models");
    EXPECT_TRUE(r.has_key);
    EXPECT_FALSE(r.key_in_query);
    EXPECT_EQ(r.status, 200);
  }
  // Kept for the next call: a file under $XDG_CACHE_HOME/genfill/models.
  const std::string path = model_list_cache_path("gemini", url);
  EXPECT_EQ(path.rfind(CacheFolder::root + "/genfill/models/", 0), 0u) << path;
  EXPECT_TRUE(g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR)) << path;
}

TEST_F(ServedTest, OpenAIsListIsMergedWithTheCatalog) {
  ModelListing l = list_models(options("openai"));
  EXPECT_EQ(l.source, ListSource::Live);
  EXPECT_EQ(l.note, "");
  EXPECT_EQ(defaults(l), std::vector<std::string>{"gpt-image-2"});
  EXPECT_EQ(status(l, "gpt-image-2"), "available");
  // Served but missing from the list, as new models are at launch: still offered.
  EXPECT_EQ(status(l, "gpt-image-2.6-sunburst"), "unlisted");
  EXPECT_TRUE(entry(l, "gpt-image-2.6-sunburst")->usable());
  EXPECT_EQ(status(l, "gpt-image-3-preview"), "new");
  // Listed with a shutdown day that has come: retired (the service's word), replacement from the catalog.
  EXPECT_EQ(status(l, "chatgpt-image-latest"), "retired");
  EXPECT_EQ(entry(l, "chatgpt-image-latest")->replacement, "gpt-image-2.6-sunburst");
  EXPECT_LE(entry(l, "chatgpt-image-latest")->shutdown, today_utc());
  // Listed with a shutdown day still to come: available, and the day is told.
  const ListedModel *dated = entry(l, "gpt-image-2-2026-04-21");
  ASSERT_TRUE(dated);
  EXPECT_EQ(model_status_name(dated->status), std::string("available"));
  EXPECT_TRUE(is_iso_day(dated->shutdown)) << dated->shutdown;
  EXPECT_GT(dated->shutdown, today_utc());
  // Not listed and retired in the catalog.
  EXPECT_EQ(status(l, "gpt-image-1"), "retired");
  EXPECT_EQ(entry(l, "gpt-image-1")->replacement, "gpt-image-2");
  for (const char *id : {"whisper-1", "gpt-5.1", "tts-1", "text-embedding-3-small"})
    EXPECT_EQ(status(l, id), "(absent)") << id;
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u) << "OpenAI answers its whole list at once";
  EXPECT_EQ(recs[0].path, "/v1/models");
  EXPECT_TRUE(recs[0].has_key);
}

TEST_F(ServedTest, TheCachedListAnswersForADayAndRefreshAsksAgain) {
  ModelListing live = list_models(options("gemini"));
  ASSERT_EQ(live.source, ListSource::Live);
  const size_t asked = list_requests();
  ASSERT_GE(asked, 2u);

  ModelListing cached = list_models(options("gemini"));
  EXPECT_EQ(cached.source, ListSource::Cache);
  EXPECT_EQ(cached.note, "") << "a fresh cache needs no excuse";
  EXPECT_EQ(cached.fetched, live.fetched);
  EXPECT_EQ(list_requests(), asked) << "nothing asked";
  ASSERT_EQ(cached.models.size(), live.models.size());
  for (size_t i = 0; i < live.models.size(); ++i) {
    EXPECT_EQ(cached.models[i].id, live.models[i].id);
    EXPECT_EQ(cached.models[i].status, live.models[i].status) << live.models[i].id;
    EXPECT_EQ(cached.models[i].is_default, live.models[i].is_default) << live.models[i].id;
    EXPECT_EQ(cached.models[i].name, live.models[i].name) << live.models[i].id;
  }

  ListOptions refresh = options("gemini");
  refresh.refresh = true;
  ModelListing again = list_models(refresh);
  EXPECT_EQ(again.source, ListSource::Live);
  EXPECT_EQ(list_requests(), 2 * asked) << "asked again, every page";
  EXPECT_EQ(status(again, "gemini-9-flash-image-exp"), "new");

  // Another endpoint has its own list.
  FakeServer other;
  other.start();
  ListOptions elsewhere = options("gemini");
  elsewhere.endpoint = other.base_url();
  EXPECT_EQ(list_models(elsewhere).source, ListSource::Live);
  EXPECT_GE(other.request_count(), 2u);
  EXPECT_EQ(list_requests(), 2 * asked);
}

TEST_F(ServedTest, WithoutAKeyTheCacheOrTheCatalogAnswers) {
  // Nothing cached: genfill's own catalog, not checked.
  ModelListing l = list_models(options("gemini", ""));
  EXPECT_EQ(l.source, ListSource::Catalog);
  EXPECT_FALSE(l.note.empty());
  EXPECT_EQ(l.fetched, 0);
  EXPECT_EQ(server.request_count(), 0u) << "not asked without a key";
  ASSERT_FALSE(l.models.empty());
  for (const ListedModel &m : l.models) {
    const ModelInfo *known = find_model("gemini", m.id);
    ASSERT_TRUE(known) << m.id << ": only the catalog's models";
    EXPECT_EQ(model_status_name(m.status), std::string(is_retired(*known) ? "retired" : "unchecked")) << m.id;
  }
  EXPECT_EQ(status(l, "gemini-3.1-flash-image"), "unchecked");
  EXPECT_EQ(status(l, "gemini-3-pro-image-preview"), "retired");
  EXPECT_EQ(status(l, "gemini-9-flash-image-exp"), "(absent)");
  EXPECT_EQ(defaults(l), std::vector<std::string>{"gemini-3.1-flash-image"});
  ModelListing o = list_models(options("openai", ""));
  EXPECT_EQ(o.source, ListSource::Catalog);
  EXPECT_FALSE(o.note.empty());
  EXPECT_EQ(status(o, "gpt-image-2.6-sunburst"), "unchecked");
  EXPECT_EQ(status(o, "gpt-image-1"), "retired");
  EXPECT_EQ(server.request_count(), 0u);

  // A list once read answers instead: the service's word, and when it was read.
  ASSERT_EQ(list_models(options("gemini")).source, ListSource::Live);
  const size_t asked = server.request_count();
  ListOptions keyless = options("gemini", "");
  keyless.refresh = true;  // wants a new list, but cannot ask for one
  ModelListing cached = list_models(keyless);
  EXPECT_EQ(cached.source, ListSource::Cache);
  EXPECT_FALSE(cached.note.empty());
  EXPECT_GT(cached.fetched, 0);
  EXPECT_EQ(status(cached, "gemini-9-flash-image-exp"), "new");
  EXPECT_EQ(status(cached, "gemini-3.1-flash-image"), "available");
  EXPECT_EQ(server.request_count(), asked);
}

TEST_F(ServedTest, AServiceThatCannotBeReachedLeavesTheCacheOrTheCatalog) {
  ASSERT_EQ(list_models(options("gemini")).source, ListSource::Live);
  ListOptions gemini = options("gemini");
  ListOptions openai = options("openai");
  gemini.refresh = openai.refresh = true;
  server.stop();  // nothing listens there now: a network error

  ModelListing cached = list_models(gemini);
  EXPECT_EQ(cached.source, ListSource::Cache);
  EXPECT_FALSE(cached.note.empty());
  EXPECT_EQ(status(cached, "gemini-9-flash-image-exp"), "new");
  EXPECT_EQ(status(cached, "gemini-3-pro-image-preview"), "retired");

  ModelListing catalog = list_models(openai);  // never read: the catalog
  EXPECT_EQ(catalog.source, ListSource::Catalog);
  EXPECT_FALSE(catalog.note.empty());
  EXPECT_EQ(status(catalog, "gpt-image-2"), "unchecked");
  EXPECT_EQ(defaults(catalog), std::vector<std::string>{"gpt-image-2"});
}

TEST_F(ServedTest, AnErrorAnswerLeavesTheCatalogWithTheServicesWords) {
  ListOptions bad = options("gemini", "bad-key-1");
  ModelListing l = list_models(bad);
  EXPECT_EQ(l.source, ListSource::Catalog);
  EXPECT_FALSE(l.note.empty());
  EXPECT_EQ(server.requests().at(0).status, 400);
  EXPECT_FALSE(g_file_test(model_list_cache_path("gemini", url).c_str(), G_FILE_TEST_EXISTS)) << "nothing cached";
  EXPECT_THROW(list_models(options("no-such-service")), Error);
}

// A service echoing the key in its answer to the list request: the note never shows it.
TEST_F(ServedTest, AKeyEchoedInAListErrorNeverReachesTheNote) {
  const std::string key = "test-key-list-echo-42";
  for (const char *provider : {"gemini", "openai"}) {
    SCOPED_TRACE(provider);
    server.reset();
    test::FakeReply echo;
    echo.lists = true;
    echo.echo_key = true;
    server.enqueue(echo);
    ModelListing l = list_models(options(provider, key));
    EXPECT_EQ(l.source, ListSource::Catalog);
    EXPECT_EQ(l.note.find(key), std::string::npos) << l.note;
    EXPECT_NE(l.note.find("[key]"), std::string::npos) << "the echo was not seen: " << l.note;
    EXPECT_EQ(server.requests().at(0).status, 400);
  }
}

// Names from a service's list are shown as they are: their control characters go, and an id
// that holds any is no model to ask for.
TEST_F(ServedTest, ControlCharactersInTheListNeverReachTheUser) {
  test::FakeReply list;
  list.lists = true;
  list.status = 200;
  list.body = R"({"models":[
      {"name":"models/gemini-evil-image","displayName":"Evil \u001b]0;pwned\u0007\u001b[2J\u009b31m name",
       "supportedGenerationMethods":["generateContent"]},
      {"name":"models/gemini-\u001b[2J-image","displayName":"Sly","supportedGenerationMethods":["generateContent"]}]})";
  server.enqueue(list);
  ModelListing l = list_models(options("gemini"));
  ASSERT_EQ(l.source, ListSource::Live) << l.note;
  const ListedModel *evil = entry(l, "gemini-evil-image");
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil->name, "Evil ]0;pwned[2J31m name");
  for (const ListedModel &m : l.models) {
    EXPECT_EQ(m.id.find('\x1b'), std::string::npos) << m.id;
    EXPECT_EQ(m.name.find('\x1b'), std::string::npos) << m.name;
  }
  // The copy kept for a day says the same.
  ModelListing cached = list_models(options("gemini"));
  ASSERT_EQ(cached.source, ListSource::Cache);
  ASSERT_TRUE(entry(cached, "gemini-evil-image"));
  EXPECT_EQ(entry(cached, "gemini-evil-image")->name, evil->name);
  EXPECT_EQ(cached.models.size(), l.models.size());
}

// Replies queued for model lists serve them only, and the others never serve a list: a list read
// meanwhile (GIMP's dialog reads one in the background) cannot use up what was queued for an
// edit. An overloaded service is retried, then the catalog answers with the service's words.
TEST_F(ServedTest, QueuedRepliesKeepToTheirKindOfRequest) {
  test::FakeReply edit_reply;
  edit_reply.status = 500;
  edit_reply.fixture = "gemini/error_500_internal.json";
  server.enqueue(edit_reply);  // for the next edit: the list below must not take it
  ASSERT_EQ(list_models(options("gemini")).source, ListSource::Live);
  for (const RecordedRequest &r : server.requests()) EXPECT_EQ(r.status, 200) << r.path;

  test::FakeReply busy;
  busy.lists = true;
  busy.status = 503;
  busy.fixture = "gemini/error_503_unavailable.json";
  busy.count = 2;  // both tries
  server.enqueue(busy);
  ListOptions again = options("gemini");
  again.refresh = true;
  const size_t before = list_requests();
  ModelListing l = list_models(again);
  EXPECT_EQ(l.source, ListSource::Cache) << "the list read a moment ago answers";
  EXPECT_EQ(list_requests() - before, 2u) << "503 is worth a second try";
  EXPECT_NE(l.note.find("overloaded"), std::string::npos) << l.note;
}

// The merge rules alone, on a made-up catalog and list.
TEST(MergeModels, StatusesDefaultsAndOrder) {
  auto model = [](const char *id, const char *provider, bool is_default = false, const char *retired = "",
                  const char *replacement = "") {
    ModelInfo m;
    m.id = id;
    m.provider = provider;
    m.display_name = std::string("Model ") + id;
    m.is_default = is_default;
    m.retired = retired;
    m.replacement = replacement;
    return m;
  };
  const std::vector<ModelInfo> catalog = {
      model("a", "p", true),
      model("b-old", "p", false, "2026-01-01", "a"),
      model("c-soon", "p", false, "2027-01-01", "a"),
      model("d-missing", "p"),
      model("x-other", "q", true),
  };
  auto served = [](const char *id, bool image, const char *shutdown = "", const char *name = "") {
    ServedModel s;
    s.id = id;
    s.image = image;
    s.shutdown = shutdown;
    s.display_name = name;
    return s;
  };
  const std::vector<ServedModel> list = {
      served("e-new", true),      served("a", true),
      served("c-soon", true, "2026-05-30"),  // the service's own day wins: it has come
      served("b-old", true),      served("f-text", false),
      served("g-gone", true, "2026-02-01", "Gone"), served("h-later", true, "2026-12-31", "Later"),
  };
  const std::string today = "2026-06-01";
  std::vector<ListedModel> m = merge_models("p", catalog, &list, today);
  std::vector<std::string> ids;
  for (const ListedModel &l : m) ids.push_back(l.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b-old", "c-soon", "d-missing", "e-new", "g-gone", "h-later"}));
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m[0].status, ModelStatus::Available);
  EXPECT_TRUE(m[0].is_default);
  EXPECT_EQ(m[0].name, "Model a");
  EXPECT_EQ(m[1].status, ModelStatus::Retired) << "listed, but its day has come";
  EXPECT_EQ(m[1].shutdown, "2026-01-01");
  EXPECT_EQ(m[1].replacement, "a");
  EXPECT_FALSE(m[1].is_default);
  EXPECT_EQ(m[2].status, ModelStatus::Retired);
  EXPECT_EQ(m[2].shutdown, "2026-05-30");
  EXPECT_EQ(m[3].status, ModelStatus::Unlisted);
  EXPECT_TRUE(m[3].usable());
  EXPECT_EQ(m[4].status, ModelStatus::New);
  EXPECT_EQ(m[4].name, "e-new") << "no name given: the id";
  EXPECT_EQ(m[4].provider, "p");
  EXPECT_EQ(m[5].status, ModelStatus::Retired);
  EXPECT_EQ(m[5].name, "Gone");
  EXPECT_EQ(m[6].status, ModelStatus::New);
  EXPECT_EQ(m[6].shutdown, "2026-12-31");
  for (size_t i = 1; i < m.size(); ++i) EXPECT_FALSE(m[i].is_default) << m[i].id;

  // No list at hand: the catalog alone, unchecked unless retired.
  std::vector<ListedModel> alone = merge_models("p", catalog, nullptr, today);
  ASSERT_EQ(alone.size(), 4u);
  EXPECT_EQ(alone[0].status, ModelStatus::Unchecked);
  EXPECT_TRUE(alone[0].is_default);
  EXPECT_EQ(alone[1].status, ModelStatus::Retired);
  EXPECT_EQ(alone[2].status, ModelStatus::Unchecked) << "its day is still to come";
  EXPECT_EQ(alone[2].shutdown, "2027-01-01");
  EXPECT_EQ(alone[3].status, ModelStatus::Unchecked);

  // The default model retired: the first model that is not becomes the default.
  std::vector<ModelInfo> later = catalog;
  later[0].retired = "2026-03-01";
  std::vector<ListedModel> after = merge_models("p", later, nullptr, today);
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0].status, ModelStatus::Retired);
  EXPECT_FALSE(after[0].is_default);
  std::vector<std::string> defaults;
  for (const ListedModel &l : after)
    if (l.is_default) defaults.push_back(l.id);
  EXPECT_EQ(defaults, std::vector<std::string>{"c-soon"}) << "b-old is retired; c-soon's day is still to come";
}

}  // namespace
