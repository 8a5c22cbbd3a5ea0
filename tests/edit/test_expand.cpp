// Generative Expand in core: the margins, the picture and selection sent, the region planned for
// each combination of margins, the layer's mask and the grown picture, and what is refused
// before anything is sent.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/edit/expand.hpp"
#include "core/util/error.hpp"
#include "fake_server.hpp"

using namespace genfill;
using genfill::test::FakeServer;

namespace {

Image gradient(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x * 7), p[1] = uint8_t(y * 5), p[2] = uint8_t((x + y) * 3), p[3] = 255;
    }
  return img;
}

// A picture with features at every place and no period (smooth noise: random values on a
// 16-pixel grid, interpolated), for registration.
Image texture(int w, int h) {
  const int gw = w / 16 + 2, gh = h / 16 + 2;
  std::vector<uint8_t> grid(size_t(gw) * size_t(gh) * 3);
  uint32_t state = 12345;
  for (uint8_t &v : grid) {
    state = state * 1664525u + 1013904223u;
    v = uint8_t(state >> 24);
  }
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int gx = x / 16, gy = y / 16;
      const double fx = (x % 16) / 16.0, fy = (y % 16) / 16.0;
      uint8_t *p = img.at(x, y);
      for (int c = 0; c < 3; ++c) {
        auto g = [&](int i, int j) { return double(grid[(size_t(j) * size_t(gw) + size_t(i)) * 3 + size_t(c)]); };
        const double top = g(gx, gy) * (1 - fx) + g(gx + 1, gy) * fx;
        const double bottom = g(gx, gy + 1) * (1 - fx) + g(gx + 1, gy + 1) * fx;
        p[c] = uint8_t(top * (1 - fy) + bottom * fy + 0.5);
      }
      p[3] = 255;
    }
  return img;
}

bool is_fill(const uint8_t *p) {
  return p[0] == kExpandFill[0] && p[1] == kExpandFill[1] && p[2] == kExpandFill[2] && p[3] == 255;
}

bool contains(const Rect &outer, const Rect &inner) {
  return inner.x >= outer.x && inner.y >= outer.y && inner.right() <= outer.right() && inner.bottom() <= outer.bottom();
}

// A picture in memory that counts what it was asked to read.
class CountingSource : public RegionSource {
public:
  explicit CountingSource(const Image &picture) : inner_(picture, none_) {}
  int width() const override { return inner_.width(); }
  int height() const override { return inner_.height(); }
  Rect selection() const override { return {}; }
  RegionPixels read(const Rect &region, int width, int height) override {
    reads.push_back(region);
    return inner_.read(region, width, height);
  }
  std::vector<Rect> reads;

private:
  const std::optional<Mask> none_;
  PictureSource inner_;
};

}  // namespace

TEST(ExpandTest, MarginsForAnAspectAreCentred) {
  Margins m = margins_for_aspect(600, 400, "16:9");  // 711 x 400
  EXPECT_EQ(m.left + m.right, 111);
  EXPECT_EQ(m.left, 55);
  EXPECT_EQ(m.top + m.bottom, 0);
  m = margins_for_aspect(600, 400, "1:1");  // 600 x 600
  EXPECT_EQ(m.top, 100);
  EXPECT_EQ(m.bottom, 100);
  EXPECT_EQ(m.left + m.right, 0);
  m = margins_for_aspect(600, 400, "3:2");  // already
  EXPECT_TRUE(m.empty());
  m = margins_for_aspect(400, 600, "9:16");  // 400 x 711
  EXPECT_EQ(m.top + m.bottom, 111);
  for (const char *bad : {"", "16", "16:0", "-4:3", "4:3x", "a:b"})
    EXPECT_THROW(margins_for_aspect(600, 400, bad), Error) << bad;
}

TEST(ExpandTest, ThePromptNamesTheFillOnlyForModelsWithoutAMask) {
  const std::string gemini = expand_prompt("", false), openai = expand_prompt("a lighthouse", true);
  EXPECT_NE(gemini.find("#FF00FF"), std::string::npos) << gemini;
  EXPECT_EQ(openai.find("#FF00FF"), std::string::npos) << openai;
  EXPECT_NE(openai.find("a lighthouse"), std::string::npos) << openai;
  EXPECT_NE(gemini.find("continues"), std::string::npos) << "an empty prompt still says what to do";
}

// The picture sent: the host's pixels where the old picture is, the flat fill elsewhere, and
// the selection exactly on the new area, at full size and scaled.
TEST(ExpandTest, TheGrownPictureHoldsTheOldPixelsAndSelectsOnlyTheNewArea) {
  const Image old = gradient(600, 400);
  CountingSource picture(old);
  GrownSource grown(picture, Rect{100, 0, 600, 400}, 800, 400, Rect{0, 0, 800, 400});
  RegionPixels r = grown.read(Rect{50, 10, 200, 300}, 200, 300);
  ASSERT_TRUE(r.selection);
  ASSERT_EQ(picture.reads.size(), 1u);
  EXPECT_EQ(picture.reads[0], (Rect{0, 10, 150, 300})) << "only the overlap is read";
  for (int y = 0; y < 300; ++y)
    for (int x = 0; x < 200; ++x) {
      const bool is_new = 50 + x < 100;
      ASSERT_EQ(r.selection->at(x, y), is_new ? 255 : 0) << x << "," << y;
      if (is_new) ASSERT_TRUE(is_fill(r.pixels.at(x, y))) << x << "," << y;
      else ASSERT_EQ(std::memcmp(r.pixels.at(x, y), old.at(50 + x - 100, 10 + y), 4), 0) << x << "," << y;
    }
  // Read at half size (as the plug-in reads for the upload): the new area is still exactly the fill.
  RegionPixels half = grown.read(Rect{0, 0, 800, 400}, 400, 200);
  EXPECT_EQ(picture.reads.back(), (Rect{0, 0, 600, 400}));
  for (int y = 0; y < 200; ++y) {
    EXPECT_EQ(half.selection->at(49, y), 255);
    EXPECT_TRUE(is_fill(half.pixels.at(49, y)));
    EXPECT_EQ(half.selection->at(50, y), 0);
  }
  // A region wholly in the new area reads nothing of the host's picture.
  const size_t before = picture.reads.size();
  grown.read(Rect{0, 0, 100, 400}, 100, 400);
  EXPECT_EQ(picture.reads.size(), before);
}

class ExpandJobTest : public ::testing::Test {
protected:
  void SetUp() override { server.start(); }

  PreparedJob job(const std::string &provider, const std::string &model = {}) {
    JobSettings s;
    s.provider = provider;
    s.model = model;
    s.endpoint = provider == "openai" ? server.base_url() + "/v1" : server.base_url();
    s.api_key = "test-key-expand";
    s.seam = seam::Options::raw();
    s.transport.max_tries = 1;
    return prepare(s, Task::Edit);
  }

  FakeServer server;
};

// Every combination of margins: the region holds the whole new area, the answer lands there,
// the old picture is untouched outside the feather band and the layer's mask says so.
TEST_F(ExpandJobTest, EachCombinationOfMarginsIsPlannedAndPlaced) {
  const Image old = gradient(600, 400);
  const Margins cases[] = {{100, 0, 0, 0}, {0, 100, 0, 0}, {0, 0, 80, 0},   {0, 0, 0, 80},
                           {100, 100, 0, 0}, {0, 0, 50, 50}, {40, 60, 30, 20}};
  for (const Margins &m : cases) {
    SCOPED_TRACE(::testing::Message() << m.left << "," << m.right << "," << m.top << "," << m.bottom);
    server.reset();
    server.enqueue_json(R"({"color":"3366CC"})");
    const std::optional<Mask> none;
    PictureSource picture(old, none);
    ExpandInput in;
    in.margins = m;
    in.feather_px = 6;
    const ExpandResult r = run_expand(job("gemini"), in, picture);
    ASSERT_EQ(r.canvas_w, 600 + m.left + m.right);
    ASSERT_EQ(r.canvas_h, 400 + m.top + m.bottom);
    EXPECT_EQ(r.old, (Rect{m.left, m.top, 600, 400}));
    // The new area's strips all lie in the region sent.
    EXPECT_TRUE(!m.left || contains(r.plan.region, Rect{0, 0, m.left, r.canvas_h}));
    EXPECT_TRUE(!m.right || contains(r.plan.region, Rect{r.old.right(), 0, m.right, r.canvas_h}));
    EXPECT_TRUE(!m.top || contains(r.plan.region, Rect{0, 0, r.canvas_w, m.top}));
    EXPECT_TRUE(!m.bottom || contains(r.plan.region, Rect{0, r.old.bottom(), r.canvas_w, m.bottom}));
    const std::vector<test::RecordedRequest> recs = server.requests();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_NE(recs[0].prompt.find("#FF00FF"), std::string::npos) << "Gemini is told what the fill is";

    const Image out = composite_expand(old, r, 0);
    ASSERT_EQ(out.width, r.canvas_w);
    ASSERT_EQ(out.height, r.canvas_h);
    for (int y = 0; y < out.height; ++y)
      for (int x = 0; x < out.width; ++x) {
        const int ox = x - m.left, oy = y - m.top;
        const bool inside = ox >= 0 && oy >= 0 && ox < 600 && oy < 400;
        const uint8_t *p = out.at(x, y);
        if (!inside) {  // the model's colour, fully
          ASSERT_EQ(p[0], 0x33) << x << "," << y;
          ASSERT_EQ(p[2], 0xCC) << x << "," << y;
          ASSERT_EQ(p[3], 255) << x << "," << y;
          continue;
        }
        int d = 1 << 20;  // distance to an edge that met a margin
        if (m.left) d = std::min(d, ox);
        if (m.right) d = std::min(d, 599 - ox);
        if (m.top) d = std::min(d, oy);
        if (m.bottom) d = std::min(d, 399 - oy);
        if (d >= 6) {
          ASSERT_EQ(std::memcmp(p, old.at(ox, oy), 4), 0) << x << "," << y << ": the old picture is kept";
        }
      }
  }
}

// The kept context fits the answer in place: a drifted answer (shifted, its colours changed) is
// registered and colour-matched on the old picture beside the new area.
TEST_F(ExpandJobTest, TheKeptContextRegistersAndColourMatchesTheAnswer) {
  server.enqueue_json(R"({"drift":{"dx":7,"dy":-5,"scale":1.0,"gain":1.12,"offset":-6}})");
  const Image old = texture(600, 400);
  const std::optional<Mask> none;
  PictureSource picture(old, none);
  PreparedJob fitted = job("gemini");
  fitted.settings.seam = seam::Options{};  // all on, as users have it
  ExpandInput in;
  in.margins.left = in.margins.right = 120;
  const ExpandResult r = run_expand(fitted, in, picture);
  ASSERT_EQ(r.seam.size(), 1u);
  EXPECT_TRUE(r.seam[0].registered) << r.seam[0].note;
  EXPECT_TRUE(r.seam[0].colour_matched) << r.seam[0].note;
  EXPECT_GT(r.seam[0].dx, 2) << r.seam[0].summary();
  EXPECT_LT(r.seam[0].dy, -1) << r.seam[0].summary();
}

// A thin strip on one side of a large picture sends the strip and its context, not the photo.
TEST_F(ExpandJobTest, AThinStripSendsItsContextNotTheWholePicture) {
  const Image old = gradient(3000, 2000);
  server.enqueue_json(R"({"color":"3366CC"})");
  const std::optional<Mask> none;
  CountingSource picture(old);
  ExpandInput in;
  in.margins.right = 100;
  const ExpandResult r = run_expand(job("gemini"), in, picture);
  EXPECT_LT(r.plan.region.w, 3100 / 2) << r.plan.region.x << "," << r.plan.region.w;
  EXPECT_EQ(r.plan.region.right(), 3100);
  ASSERT_EQ(picture.reads.size(), 1u);
  EXPECT_LT(picture.reads[0].w, 3000 / 2);
}

// OpenAI takes a real mask: the mask sent has the upload's size and the prompt does not speak of
// the fill.
TEST_F(ExpandJobTest, OpenAIGetsAMaskAndNoWordOfTheFill) {
  server.enqueue_json(R"({"color":"3366CC"})");
  const Image old = gradient(600, 400);
  const std::optional<Mask> none;
  PictureSource picture(old, none);
  ExpandInput in;
  in.margins.left = in.margins.right = 100;
  run_expand(job("openai"), in, picture);
  const std::vector<test::RecordedRequest> recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_TRUE(recs[0].mask_size);
  ASSERT_EQ(recs[0].image_sizes.size(), 1u);
  EXPECT_EQ(recs[0].mask_size->first, recs[0].image_sizes[0].first);
  EXPECT_EQ(recs[0].mask_size->second, recs[0].image_sizes[0].second);
  EXPECT_EQ(recs[0].prompt.find("#FF00FF"), std::string::npos) << recs[0].prompt;
}

TEST_F(ExpandJobTest, NonsenseIsRefusedBeforeAnythingIsSent) {
  const Image old = gradient(600, 400), panorama = gradient(8000, 200);
  const std::optional<Mask> none;
  PictureSource picture(old, none), wide(panorama, none);
  auto refused = [&](RegionSource &src, Margins m) -> std::string {
    ExpandInput in;
    in.margins = m;
    try {
      run_expand(job("gemini"), in, src);
      ADD_FAILURE() << "not refused";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.message();
      return std::string(e.message());
    }
    return std::string();
  };
  EXPECT_NE(refused(picture, {}).find("margin"), std::string::npos);
  refused(picture, {-5, 10, 0, 0});
  refused(picture, {200000, 200000, 0, 0});
  EXPECT_NE(refused(wide, {0, 0, 50, 0}).find("too long and thin"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());
}
