// Region planning: which part of the picture is sent, and at what size.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "core/catalog/models.hpp"
#include "core/plan/plan.hpp"
#include "core/util/error.hpp"

using namespace genfill;

namespace {

bool contains(Rect outer, Rect inner) {
  return inner.x >= outer.x && inner.y >= outer.y && inner.right() <= outer.right() &&
         inner.bottom() <= outer.bottom();
}

double ratio(const Aspect &a) { return double(a.w) / a.h; }

// What must hold for every plan.
void check_invariants(const Plan &p, int iw, int ih, Rect sel, const ModelInfo &m) {
  SCOPED_TRACE(::testing::Message() << "image " << iw << "x" << ih << " sel " << sel.x << "," << sel.y << " "
                                    << sel.w << "x" << sel.h << " model " << m.id);
  ASSERT_FALSE(p.region.empty());
  EXPECT_TRUE(contains(Rect{0, 0, iw, ih}, p.region));
  if (!sel.empty()) {
    EXPECT_TRUE(contains(p.region, sel));
  }
  bool offered = false;
  for (const Aspect &a : m.aspects) offered |= a.w == p.aspect.w && a.h == p.aspect.h;
  EXPECT_TRUE(offered);
  EXPECT_GE(p.canvas_w, 1);
  EXPECT_GE(p.canvas_h, 1);
  EXPECT_LE(p.canvas_w, p.aspect.out_w);
  EXPECT_LE(p.canvas_h, p.aspect.out_h);
  // The canvas has the model's aspect, within rounding of one pixel.
  EXPECT_NEAR(double(p.canvas_w) / p.canvas_h, ratio(p.aspect),
              ratio(p.aspect) * (1.0 / p.canvas_w + 1.0 / p.canvas_h) + 1e-9);
  EXPECT_TRUE(contains(Rect{0, 0, p.canvas_w, p.canvas_h}, p.content));
  EXPECT_FALSE(p.content.empty());
  // Never upscaled: the content is at most the region's size.
  EXPECT_LE(p.content.w, p.region.w);
  EXPECT_LE(p.content.h, p.region.h);
}

const ModelInfo kGemini = model_info("gemini", "gemini-2.5-flash-image");
const ModelInfo kOpenAI = model_info("openai", "gpt-image-1");

TEST(Catalog, KnownAndUnknownModels) {
  EXPECT_EQ(kGemini.aspects.size(), 10u);
  EXPECT_FALSE(kGemini.takes_mask);
  EXPECT_TRUE(kOpenAI.takes_mask);
  EXPECT_EQ(kOpenAI.aspects.size(), 3u);
  ModelInfo future = model_info("gemini", "gemini-9-image");
  EXPECT_EQ(future.id, "gemini-9-image");
  EXPECT_EQ(future.aspects.size(), kGemini.aspects.size());
  EXPECT_THROW(model_info("nobody", "x"), Error);
  int gemini = 0, openai = 0;
  for (const ModelInfo &m : known_models()) (m.provider == "gemini" ? gemini : openai)++;
  EXPECT_EQ(gemini, 4);
  EXPECT_EQ(openai, 4);
}

TEST(Plan, NoSelectionSendsTheWholePicture) {
  Plan p = plan_region(1920, 1080, Rect{}, kGemini);
  EXPECT_EQ(p.region, (Rect{0, 0, 1920, 1080}));
  EXPECT_EQ(p.aspect.label(), "16:9");
  EXPECT_EQ(p.canvas_w, 1344);
  EXPECT_EQ(p.canvas_h, 756);  // 16:9 exactly; the model answers 1344x768 and is mapped back
  check_invariants(p, 1920, 1080, Rect{}, kGemini);
}

TEST(Plan, ContextMarginIsAQuarterOrAtLeast32px) {
  // 400x400 selection in the middle of a big picture: 100 px margins.
  Plan p = plan_region(4000, 3000, Rect{1800, 1300, 400, 400}, kGemini);
  EXPECT_EQ(p.region, (Rect{1700, 1200, 600, 600}));
  EXPECT_EQ(p.aspect.label(), "1:1");
  EXPECT_EQ(p.canvas_w, 600);  // a small region uploads at its own size
  // 40x40 selection: margin 32 px (25 % would be 10).
  Plan q = plan_region(4000, 3000, Rect{1000, 1000, 40, 40}, kGemini);
  EXPECT_EQ(q.region, (Rect{968, 968, 104, 104}));
  check_invariants(q, 4000, 3000, Rect{1000, 1000, 40, 40}, kGemini);
}

TEST(Plan, GrowsToTheNearestOfferedAspect) {
  // 300x100 selection -> 450x164 with margins (75 px; 32 px beats 25 px) -> nearest Gemini ratio
  // 21:9, so the height grows to 450 / (21/9) = 193.
  Plan p = plan_region(4000, 3000, Rect{1000, 1000, 300, 100}, kGemini);
  EXPECT_EQ(p.aspect.label(), "21:9");
  EXPECT_NEAR(double(p.region.w) / p.region.h, 21.0 / 9.0, 0.01);
  EXPECT_EQ(p.region.h, 193);
  // OpenAI offers only 1:1, 3:2, 2:3.
  Plan o = plan_region(4000, 3000, Rect{1000, 1000, 300, 100}, kOpenAI);
  EXPECT_EQ(o.aspect.label(), "3:2");
  EXPECT_NEAR(double(o.region.w) / o.region.h, 1.5, 0.01);
  EXPECT_EQ(o.region.w, 450);
  check_invariants(o, 4000, 3000, Rect{1000, 1000, 300, 100}, kOpenAI);
}

TEST(Plan, SelectionsAtEdgesAndCornersStayInside) {
  for (Rect sel : {Rect{0, 0, 50, 50}, Rect{3950, 2950, 50, 50}, Rect{0, 1400, 4000, 10}, Rect{1990, 0, 20, 3000},
                   Rect{3999, 2999, 1, 1}}) {
    for (const ModelInfo *m : {&kGemini, &kOpenAI}) {
      Plan p = plan_region(4000, 3000, sel, *m);
      check_invariants(p, 4000, 3000, sel, *m);
    }
  }
  Plan corner = plan_region(4000, 3000, Rect{0, 0, 50, 50}, kGemini);
  EXPECT_EQ(corner.region.x, 0);
  EXPECT_EQ(corner.region.y, 0);
}

TEST(Plan, PadsWhenThePictureCannotHoldTheAspect) {
  // A very wide strip, whole picture, with OpenAI (widest 3:2): region = picture, canvas padded.
  Plan p = plan_region(3000, 500, Rect{}, kOpenAI);
  EXPECT_EQ(p.region, (Rect{0, 0, 3000, 500}));
  EXPECT_EQ(p.aspect.label(), "3:2");
  EXPECT_EQ(p.canvas_w, 1536);
  EXPECT_EQ(p.canvas_h, 1024);
  EXPECT_EQ(p.content.w, 1536);
  EXPECT_EQ(p.content.h, 256);
  EXPECT_EQ(p.content.y, (1024 - 256) / 2);
  check_invariants(p, 3000, 500, Rect{}, kOpenAI);
}

TEST(Plan, TinyPictures) {
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 7}, std::pair{9, 1}, std::pair{2, 3}}) {
    for (const ModelInfo *m : {&kGemini, &kOpenAI}) {
      Plan p = plan_region(w, h, Rect{}, *m);
      EXPECT_EQ(p.region, (Rect{0, 0, w, h}));
      check_invariants(p, w, h, Rect{}, *m);
      Plan s = plan_region(w, h, Rect{0, 0, 1, 1}, *m);
      check_invariants(s, w, h, Rect{0, 0, 1, 1}, *m);
    }
  }
}

TEST(Plan, HugeSelectionIsScaledDownToTheModelsSize) {
  Plan p = plan_region(12000, 8000, Rect{100, 100, 11800, 7800}, kGemini);
  EXPECT_EQ(p.region, (Rect{0, 0, 12000, 8000}));
  EXPECT_EQ(p.aspect.label(), "3:2");
  EXPECT_EQ(p.canvas_w, 1248);
  EXPECT_EQ(p.canvas_h, 832);
}

TEST(Plan, SelectionOutsideThePictureIsAnError) {
  EXPECT_THROW(plan_region(100, 100, Rect{200, 200, 10, 10}, kGemini), Error);
  EXPECT_THROW(plan_region(0, 100, Rect{}, kGemini), Error);
  // Partly outside: clipped.
  Plan p = plan_region(100, 100, Rect{90, 90, 50, 50}, kGemini);
  check_invariants(p, 100, 100, Rect{90, 90, 10, 10}, kGemini);
}

TEST(Plan, RandomSelectionsKeepEveryInvariant) {
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    int iw = 1 + int(rng() % 6000), ih = 1 + int(rng() % 6000);
    Rect sel{int(rng() % unsigned(iw)), int(rng() % unsigned(ih)), 0, 0};
    sel.w = 1 + int(rng() % unsigned(iw - sel.x));
    sel.h = 1 + int(rng() % unsigned(ih - sel.y));
    const ModelInfo &m = (i % 2) ? kGemini : kOpenAI;
    PlanOptions opts{double(rng() % 100) / 100.0, int(rng() % 64)};
    Plan p = plan_region(iw, ih, sel, m, opts);
    check_invariants(p, iw, ih, sel, m);
    // Where the picture has room on the short side, the region itself has the aspect.
    bool padded = p.content.w < p.canvas_w - 1 || p.content.h < p.canvas_h - 1;
    if (!padded) {
      EXPECT_NEAR(double(p.region.w) / p.region.h, ratio(p.aspect), ratio(p.aspect) * 0.01 + 2.0 / p.region.h);
    }
    if (HasFailure()) break;
  }
}

TEST(Canvas, RoundTripIsCloseToIdentity) {
  Image region(300, 200);
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 300; ++x) {
      uint8_t *p = region.at(x, y);
      p[0] = uint8_t(x * 255 / 299);
      p[1] = uint8_t(y * 255 / 199);
      p[2] = 128;
      p[3] = 255;
    }
  Plan plan = plan_region(300, 200, Rect{}, kOpenAI);
  Image canvas = to_canvas(region, plan);
  ASSERT_EQ(canvas.width, plan.canvas_w);
  Image back = from_canvas(canvas, plan);
  ASSERT_EQ(back.width, 300);
  ASSERT_EQ(back.height, 200);
  double err = 0;
  for (size_t i = 0; i < back.pixels.size(); ++i) err += std::abs(back.pixels[i] - region.pixels[i]);
  EXPECT_LT(err / back.pixels.size(), 1.0);

  // A bigger answer (the model's own size) maps back just as well.
  Image big = scale(canvas, canvas.width * 3, canvas.height * 3);
  Image back2 = from_canvas(big, plan);
  double err2 = 0;
  for (size_t i = 0; i < back2.pixels.size(); ++i) err2 += std::abs(back2.pixels[i] - region.pixels[i]);
  EXPECT_LT(err2 / back2.pixels.size(), 1.5);
}

TEST(Canvas, PaddingRepeatsEdgesAndMaskPaddingIsKept) {
  Plan plan = plan_region(3000, 500, Rect{}, kOpenAI);
  Image region(3000, 500);
  for (size_t i = 0; i < region.pixels.size(); i += 4) region.pixels[i] = 77, region.pixels[i + 3] = 255;
  Image c = to_canvas(region, plan);
  EXPECT_EQ(c.at(10, 0)[0], 77);  // top padding repeats the first row
  EXPECT_EQ(c.at(10, 0)[3], 255);
  Mask m = to_canvas(Mask(3000, 500, 255), plan);
  EXPECT_EQ(m.at(10, 0), 0);
  EXPECT_EQ(m.at(10, plan.content.y + 5), 255);
}

}  // namespace
