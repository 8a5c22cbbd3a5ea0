// One edit or generation through the core job, against the in-process loopback fake: what each
// model is asked for (sizes, image sizes, input fidelity), as the catalog says.
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "core/catalog/models.hpp"
#include "core/edit/job.hpp"
#include "core/plan/plan.hpp"
#include "core/util/error.hpp"
#include "fake_server.hpp"

using namespace genfill;
using genfill::test::FakeServer;
using genfill::test::RecordedRequest;

namespace {

Image pattern(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x), p[1] = uint8_t(y), p[2] = uint8_t(x ^ y), p[3] = 255;
    }
  return img;
}

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
    const Plan plan = plan_region(w, h, selection, resolve(s).model);
    const Image picture = pattern(w, h);
    std::optional<Mask> mask;
    if (!selection.empty()) mask = Mask(plan.region.w, plan.region.h, 255);
    JobResult r = run_edit(s, plan, crop(picture, plan.region), mask, {});
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

  FakeServer server;
};

TEST_F(JobTest, ImageSizeIsAskedOfGemini3OnlyAndCoversTheRegion) {
  // A 1920x1080 picture: 16:9, more than Gemini 3's 1K answer (1376x768), so 2K.
  Plan plan;
  RecordedRequest big = edit("gemini", "gemini-3-pro-image-preview", 1920, 1080, {}, nullptr, &plan);
  EXPECT_EQ(big.aspect, "16:9");
  EXPECT_EQ(big.image_size, "2K");
  EXPECT_EQ(plan.out_w, 2752);
  // The upload is the region at its own size: it fits in the 2K answer.
  ASSERT_EQ(big.image_sizes.size(), 1u);
  EXPECT_EQ(big.image_sizes[0], std::make_pair(1920, 1080));
  // A small selection: 1K.
  RecordedRequest small = edit("gemini", "gemini-3-pro-image-preview", 1600, 1200, Rect{600, 500, 300, 200});
  EXPECT_EQ(small.image_size, "1K");
  // 3.1 Flash also has 512 for small regions.
  EXPECT_EQ(edit("gemini", "gemini-3.1-flash-image-preview", 1600, 1200, Rect{600, 500, 200, 200}).image_size, "512");
  // Gemini 2.5 and 2.0 have one size: never an imageSize (the fake, like the service, refuses it).
  for (const char *model : {"gemini-2.5-flash-image", "gemini-2.0-flash-exp-image-generation"}) {
    RecordedRequest r = edit("gemini", model, 1920, 1080);
    EXPECT_EQ(r.image_size, "") << model;
    EXPECT_EQ(r.aspect, "16:9") << model;
  }
}

// A region that needs Gemini 3's 4K answer is uploaded at about 4.3 MP at most (a larger PNG
// would pass Gemini's 20 MB inline limit), and a host taking results at the upload's scale gets
// them at the finer scale of the 4K answer, not at the smaller upload's.
TEST_F(JobTest, A4KAnswerComesBackFinerThanItsCappedUpload) {
  JobSettings s = settings("gemini", "gemini-3-pro-image-preview");
  const Plan plan = plan_region(6000, 4000, Rect{}, resolve(s).model);
  ASSERT_EQ(plan.image_size, "4K");
  ASSERT_LE(double(plan.canvas_w) * plan.canvas_h, 4.3e6 + plan.canvas_w + plan.canvas_h);
  ASSERT_LT(plan.canvas_w, plan.out_w);
  s.results_at_upload_scale = true;
  // The host reads the region at the upload's size, as the plug-in does.
  JobResult r = run_edit(s, plan, pattern(plan.content.w, plan.content.h), std::nullopt, {});
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
  for (const char *model : {"gpt-image-1", "gpt-image-1.5", "gpt-image-2"})
    EXPECT_EQ(edit("openai", model, 640, 480).input_fidelity, "high") << model;
  EXPECT_EQ(edit("openai", "gpt-image-1-mini", 640, 480).input_fidelity, "") << "mini refuses it";
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
  // gpt-image-1: still one of its three sizes.
  const std::set<std::string> three = {"1024x1024", "1536x1024", "1024x1536"};
  EXPECT_TRUE(three.count(edit("openai", "gpt-image-1", 1920, 1080).size));
  EXPECT_TRUE(three.count(edit("openai", "gpt-image-1", 500, 1400).size));
}

TEST_F(JobTest, GenerateAsksForASizeThatCoversTheOneWanted) {
  JobSettings g3 = settings("gemini", "gemini-3-pro-image-preview");
  JobResult r = run_generate(g3, "", 2400, 1350, {});
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].width, 2400);
  EXPECT_EQ(r.images[0].height, 1350);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].aspect, "16:9");
  EXPECT_EQ(recs[0].image_size, "2K");
  server.reset();
  run_generate(settings("openai", "gpt-image-2"), "21:9", 0, 0, {});
  ASSERT_EQ(server.requests().size(), 1u);
  int w = 0, h = 0;
  ASSERT_EQ(std::sscanf(server.requests()[0].size.c_str(), "%dx%d", &w, &h), 2);
  EXPECT_NEAR(double(w) / h, 21.0 / 9.0, 0.01);
  server.reset();
  run_generate(settings("gemini", "gemini-2.5-flash-image"), "", 3000, 3000, {});
  EXPECT_EQ(server.requests().at(0).image_size, "");
}

TEST_F(JobTest, TransparentGenerationKeepsItsAlpha) {
  JobSettings s = settings("openai", "gpt-image-1");
  s.transparent = true;
  JobResult r = run_generate(s, "", 300, 200, {});
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
  JobSettings s = settings("gemini", "gemini-2.5-flash-image");
  s.transparent = true;
  try {
    run_generate(s, "1:1", 0, 0, {});
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    const std::string m = e.message();
    EXPECT_NE(m.find("Gemini 2.5 Flash Image cannot make a transparent background"), std::string::npos) << m;
    EXPECT_NE(m.find("gpt-image-1"), std::string::npos) << "names models that can: " << m;
  }
  EXPECT_EQ(server.request_count(), 0u) << "nothing sent";
  // Without it, the same model generates.
  s.transparent = false;
  EXPECT_EQ(run_generate(s, "1:1", 0, 0, {}).images.size(), 1u);
}

}  // namespace
