// The model catalog, and region planning: which part of the picture is sent, and at what size.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/catalog/models.hpp"
#include "core/plan/plan.hpp"
#include "core/util/error.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using namespace genfill::test;

namespace {

bool contains(Rect outer, Rect inner) {
  return inner.x >= outer.x && inner.y >= outer.y && inner.right() <= outer.right() &&
         inner.bottom() <= outer.bottom();
}

double ratio(const Aspect &a) { return double(a.w) / a.h; }
// The shape the model answers in: its output size at that aspect.
double shape(const Aspect &a) { return double(a.out_w) / a.out_h; }
double ratio(Rect r) { return double(r.w) / r.h; }

Rect clip(Rect sel, int iw, int ih) {
  int x0 = std::max(0, sel.x), y0 = std::max(0, sel.y);
  int x1 = std::min(iw, sel.right()), y1 = std::min(ih, sel.bottom());
  return Rect{x0, y0, x1 - x0, y1 - y0};
}

// The selection box plus its context margins, clamped: what the plan grows from.
Rect margin_box(int iw, int ih, Rect sel, const PlanOptions &o) {
  if (sel.empty()) return Rect{0, 0, iw, ih};
  sel = clip(sel, iw, ih);
  int mx = std::max(o.min_context, int(std::ceil(o.context * sel.w)));
  int my = std::max(o.min_context, int(std::ceil(o.context * sel.h)));
  int x0 = std::max(0, sel.x - mx), y0 = std::max(0, sel.y - my);
  return Rect{x0, y0, std::min(iw, sel.right() + mx) - x0, std::min(ih, sel.bottom() + my) - y0};
}

bool padded(const Plan &p) { return !(p.content == Rect{0, 0, p.canvas_w, p.canvas_h}); }

// What must hold for every plan.
void check_invariants(const Plan &p, int iw, int ih, Rect sel, const ModelInfo &m, const PlanOptions &o = {}) {
  SCOPED_TRACE(::testing::Message() << "image " << iw << "x" << ih << " sel " << sel.x << "," << sel.y << " "
                                    << sel.w << "x" << sel.h << " model " << m.id << " context " << o.context
                                    << "/" << o.min_context << " -> region " << p.region.x << "," << p.region.y
                                    << " " << p.region.w << "x" << p.region.h << " aspect " << p.aspect.label()
                                    << " canvas " << p.canvas_w << "x" << p.canvas_h << " content " << p.content.x
                                    << "," << p.content.y << " " << p.content.w << "x" << p.content.h);
  // The region: inside the picture, never empty, holds the selection and its margins.
  ASSERT_FALSE(p.region.empty());
  EXPECT_TRUE(contains(Rect{0, 0, iw, ih}, p.region));
  const Rect box = margin_box(iw, ih, sel, o);
  if (!sel.empty()) {
    EXPECT_TRUE(contains(p.region, clip(sel, iw, ih)));
  }
  EXPECT_TRUE(contains(p.region, box));
  // Only one side grows.
  EXPECT_TRUE(p.region.w == box.w || p.region.h == box.h);

  if (m.free_size) {
    // Free sizes: the box's own ratio, within the model's limits, a size the model takes.
    const FreeSize &f = *m.free_size;
    EXPECT_EQ(p.aspect.out_w % f.multiple, 0);
    EXPECT_EQ(p.aspect.out_h % f.multiple, 0);
    EXPECT_LE(std::max(p.aspect.out_w, p.aspect.out_h), f.max_side);
    EXPECT_LE(int64_t(p.aspect.out_w) * p.aspect.out_h, f.max_pixels);
    EXPECT_GE(int64_t(p.aspect.out_w) * p.aspect.out_h, f.min_pixels);
    EXPECT_LE(std::max(shape(p.aspect), 1 / shape(p.aspect)), f.max_ratio + 1e-9);
    const double want = std::clamp(ratio(box), 1 / f.max_ratio, f.max_ratio);
    EXPECT_LE(std::fabs(std::log(shape(p.aspect) / want)),
              double(f.multiple) / std::min(p.aspect.out_w, p.aspect.out_h) + 1e-9);
    EXPECT_EQ(p.image_size, "");
  } else {
    // The aspect: offered, and the one whose answer shape is nearest to the box on a log scale.
    bool offered = false;
    double best = 1e9;
    for (const Aspect &a : m.aspects) {
      offered |= a.w == p.aspect.w && a.h == p.aspect.h && a.out_w == p.aspect.out_w && a.out_h == p.aspect.out_h;
      best = std::min(best, std::fabs(std::log(shape(a) / ratio(box))));
    }
    EXPECT_TRUE(offered);
    EXPECT_NEAR(std::fabs(std::log(shape(p.aspect) / ratio(box))), best, 1e-9);
  }
  // The answer's size: the aspect's, at the smallest image size that covers the frame sent
  // (the region, or the region padded to the aspect's shape); the largest when none does.
  {
    const double sh = shape(p.aspect);
    const double fw = padded(p) ? std::max<double>(p.region.w, p.region.h * sh) : p.region.w;
    const double fh = padded(p) ? std::max<double>(p.region.h, p.region.w / sh) : p.region.h;
    auto at = [&](double scale) {
      return std::pair{std::max(1, int(std::lround(p.aspect.out_w * scale))),
                       std::max(1, int(std::lround(p.aspect.out_h * scale)))};
    };
    auto covers = [&](double scale) { return at(scale).first >= std::ceil(fw - 1e-9) && at(scale).second >= std::ceil(fh - 1e-9); };
    if (m.image_sizes.empty()) {
      EXPECT_EQ(p.image_size, "");
      EXPECT_EQ(p.out_w, p.aspect.out_w);
      EXPECT_EQ(p.out_h, p.aspect.out_h);
    } else {
      const ImageSize *chosen = nullptr;
      double largest = 0;
      for (const ImageSize &s : m.image_sizes) {
        largest = std::max(largest, s.scale);
        if (s.name == p.image_size) chosen = &s;
      }
      ASSERT_NE(chosen, nullptr) << "image size \"" << p.image_size << "\" is the model's";
      EXPECT_EQ(std::pair(p.out_w, p.out_h), at(chosen->scale));
      EXPECT_TRUE(covers(chosen->scale) || chosen->scale == largest);
      for (const ImageSize &s : m.image_sizes) {
        if (s.scale < chosen->scale) {
          EXPECT_FALSE(covers(s.scale)) << s.name << " would have done";
        }
      }
    }
  }

  // How far the region is from the answer's shape, and what rounding alone may explain.
  const double off = std::fabs(std::log(ratio(p.region) / shape(p.aspect)));
  const double rounding = 0.5 / p.region.w + 0.5 / p.region.h + 1e-9;
  // Whether the region spans the picture along the side that had to grow.
  const bool spans = ratio(p.region) < shape(p.aspect) ? p.region.w == iw : p.region.h == ih;

  // The canvas: at least 1x1, no larger than the answer's size, with the answer's shape
  // (the region's own shape when that is within 3 % of it).
  EXPECT_GE(p.canvas_w, 1);
  EXPECT_GE(p.canvas_h, 1);
  EXPECT_LE(p.canvas_w, p.out_w);
  EXPECT_LE(p.canvas_h, p.out_h);
  const double canvas_off = std::fabs(std::log(double(p.canvas_w) / p.canvas_h / shape(p.aspect)));
  const double canvas_rounding = 0.5 / p.canvas_w + 0.5 / p.canvas_h + 1e-9;
  if (padded(p)) {
    EXPECT_LE(canvas_off, 2 * canvas_rounding);  // the frame has the shape exactly
  } else {
    // The canvas is the region, scaled.
    EXPECT_LE(std::fabs(std::log(double(p.canvas_w) / p.canvas_h / ratio(p.region))), 2 * canvas_rounding);
  }
  // Not needlessly small: either the content is the region at its own size, or the canvas
  // fills the output size along one axis, or it is at the upload limit (about 4.3 MP).
  const bool own_size = p.content.w == p.region.w && p.content.h == p.region.h;
  const bool at_limit = double(p.canvas_w + 1) * (p.canvas_h + 1) >= 4.3e6;
  EXPECT_TRUE(own_size || p.canvas_w >= p.out_w - 1 || p.canvas_h >= p.out_h - 1 || at_limit);
  EXPECT_LE(double(p.canvas_w) * p.canvas_h, 4.3e6 + p.canvas_w + p.canvas_h);  // rounding

  // The content: inside the canvas, centred, never upscaled, with the region's shape.
  EXPECT_FALSE(p.content.empty());
  EXPECT_TRUE(contains(Rect{0, 0, p.canvas_w, p.canvas_h}, p.content));
  EXPECT_EQ(p.content.x, (p.canvas_w - p.content.w) / 2);
  EXPECT_EQ(p.content.y, (p.canvas_h - p.content.h) / 2);
  EXPECT_LE(p.content.w, p.region.w);
  EXPECT_LE(p.content.h, p.region.h);
  EXPECT_NEAR(double(p.content.w) / p.region.w, double(p.content.h) / p.region.h,
              1.0 / p.content.w + 1.0 / p.content.h + 1e-9);

  if (!padded(p)) {
    // The region itself has the answer's shape: within 1 % (or rounding, for tiny regions), or
    // within 3 % where the picture ran out.
    if (!spans) {
      EXPECT_LE(off, std::max(0.01, rounding));
    } else {
      EXPECT_LE(off, std::max(0.03, rounding));
    }
  } else {
    // Padding only where the picture ran out along the side that had to grow, and only when
    // the region is more than 3 % off.
    EXPECT_TRUE(spans);
    EXPECT_GT(off, 0.03);
  }
}

// Retired models stay in the catalog (relays may still serve them) and plan as they always did.
const ModelInfo kGemini = model_info("gemini", "gemini-2.5-flash-image");
const ModelInfo kGemini3 = model_info("gemini", "gemini-3-pro-image-preview");
const ModelInfo kGemini31 = model_info("gemini", "gemini-3.1-flash-image-preview");
const ModelInfo kOpenAI = model_info("openai", "gpt-image-1");
const ModelInfo kGpt2 = model_info("openai", "gpt-image-2");
// The Gemini models served today (the ones above were retired; planning is the same for them).
const ModelInfo kServed31 = model_info("gemini", "gemini-3.1-flash-image");
const ModelInfo kServedPro = model_info("gemini", "gemini-3-pro-image");
const ModelInfo kServedLite = model_info("gemini", "gemini-3.1-flash-lite-image");

// ---- catalog: the shipped entries --------------------------------------------------------------

using Sizes = std::vector<std::tuple<int, int, int, int>>;

Sizes sizes_of(const ModelInfo &m) {
  Sizes s;
  for (const Aspect &a : m.aspects) s.emplace_back(a.w, a.h, a.out_w, a.out_h);
  return s;
}

std::vector<std::pair<std::string, double>> image_sizes_of(const ModelInfo &m) {
  std::vector<std::pair<std::string, double>> out;
  for (const ImageSize &s : m.image_sizes) out.emplace_back(s.name, s.scale);
  return out;
}

const Sizes kGemini25Sizes = {{1, 1, 1024, 1024}, {2, 3, 832, 1248}, {3, 2, 1248, 832},  {3, 4, 864, 1184},
                              {4, 3, 1184, 864},  {4, 5, 896, 1152}, {5, 4, 1152, 896},  {9, 16, 768, 1344},
                              {16, 9, 1344, 768}, {21, 9, 1536, 672}};
const Sizes kGemini3Sizes = {{1, 1, 1024, 1024}, {2, 3, 848, 1264}, {3, 2, 1264, 848},  {3, 4, 896, 1200},
                             {4, 3, 1200, 896},  {4, 5, 928, 1152}, {5, 4, 1152, 928},  {9, 16, 768, 1376},
                             {16, 9, 1376, 768}, {21, 9, 1584, 672}};
const Sizes kGptSizes = {{1, 1, 1024, 1024}, {3, 2, 1536, 1024}, {2, 3, 1024, 1536}};

Sizes gemini31_sizes() {
  Sizes s = kGemini3Sizes;
  s.insert(s.end(), {{1, 4, 512, 2048}, {4, 1, 2048, 512}, {1, 8, 352, 2816}, {8, 1, 2816, 352}});
  return s;
}

TEST(Catalog, GeminiModels) {
  for (const char *id : {"gemini-2.5-flash-image", "gemini-2.0-flash-exp-image-generation"}) {
    ModelInfo m = model_info("gemini", id);
    EXPECT_EQ(m.id, id);
    EXPECT_EQ(m.provider, "gemini");
    EXPECT_EQ(sizes_of(m), kGemini25Sizes) << id;
    EXPECT_TRUE(m.image_sizes.empty()) << id << ": one size only, no imageSize";
    EXPECT_FALSE(m.takes_mask);
    EXPECT_FALSE(m.exact_size);
    EXPECT_TRUE(m.can_edit);
    EXPECT_FALSE(m.thought_images);
    EXPECT_FALSE(m.transparent);
    EXPECT_EQ(m.max_images_per_call, 1);
    EXPECT_EQ(m.response_modalities, (std::vector<std::string>{"TEXT", "IMAGE"})) << id;
    EXPECT_FALSE(m.display_name.empty());
  }
  EXPECT_EQ(model_info("gemini", "gemini-2.5-flash-image").max_input_images, 3);
  // Both were shut down; "legacy" now means an older request form (Imagen's :predict) only.
  EXPECT_FALSE(model_info("gemini", "gemini-2.0-flash-exp-image-generation").legacy);
  EXPECT_EQ(model_info("gemini", "gemini-2.0-flash-exp-image-generation").retired, "2026-06-01");
  EXPECT_EQ(model_info("gemini", "gemini-2.5-flash-image").retired, "2026-10-02");
  EXPECT_EQ(model_info("gemini", "gemini-2.5-flash-image").replacement, "gemini-3.1-flash-image");
  // Gemini 3: the served models and the previews they replaced.
  for (const char *id : {"gemini-3.1-flash-image", "gemini-nano-banana-2.1", "gemini-3-pro-image",
                         "gemini-3.1-flash-lite-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview"}) {
    ModelInfo m = model_info("gemini", id);
    EXPECT_EQ(m.id, id);
    EXPECT_FALSE(m.takes_mask);
    EXPECT_FALSE(m.exact_size);
    EXPECT_TRUE(m.can_edit);
    EXPECT_TRUE(m.thought_images);
    EXPECT_FALSE(m.legacy);
    EXPECT_EQ(m.max_images_per_call, 1);
    EXPECT_EQ(m.max_input_images, 14);
    EXPECT_EQ(m.response_modalities, (std::vector<std::string>{"TEXT", "IMAGE"})) << id;
    EXPECT_EQ(m.default_image_size, m.image_sizes.empty() ? "" : "1K") << id;
    // The served ones have no shutdown day; the previews were shut down on 2026-06-25. Of the
    // served ones only 3.1 Flash names a successor (deprecated for Nano Banana 2.1, no day yet).
    const bool preview = std::string(id).ends_with("-preview");
    EXPECT_EQ(m.retired, preview ? "2026-06-25" : "") << id;
    EXPECT_EQ(m.replacement.empty(), !preview && std::string(id) != "gemini-3.1-flash-image") << id;
  }
  EXPECT_EQ(model_info("gemini", "gemini-3-pro-image-preview").replacement, "gemini-3-pro-image");
  EXPECT_EQ(model_info("gemini", "gemini-3.1-flash-image-preview").replacement, "gemini-3.1-flash-image");
  const std::vector<std::pair<std::string, double>> k1to4 = {{"1K", 1}, {"2K", 2}, {"4K", 4}};
  const std::vector<std::pair<std::string, double>> k512to4 = {{"512", 0.5}, {"1K", 1}, {"2K", 2}, {"4K", 4}};
  EXPECT_EQ(sizes_of(kGemini3), kGemini3Sizes);
  EXPECT_EQ(image_sizes_of(kGemini3), k1to4);
  EXPECT_EQ(sizes_of(kGemini31), gemini31_sizes());
  EXPECT_EQ(image_sizes_of(kGemini31), k512to4);
  // Served: 3.1 Flash as its preview was (14 ratios, 512 to 4K); Nano Banana 2.1 the same
  // ratios from 1K; 3 Pro the ten usual ratios, 1K to 4K; Flash-Lite ten ratios at 1K only (no
  // imageSize is sent).
  EXPECT_EQ(sizes_of(kServed31), gemini31_sizes());
  EXPECT_EQ(image_sizes_of(kServed31), k512to4);
  EXPECT_EQ(sizes_of(model_info("gemini", "gemini-nano-banana-2.1")), gemini31_sizes());
  EXPECT_EQ(image_sizes_of(model_info("gemini", "gemini-nano-banana-2.1")), k1to4);
  EXPECT_EQ(sizes_of(kServedPro), kGemini3Sizes);
  EXPECT_EQ(image_sizes_of(kServedPro), k1to4);
  EXPECT_EQ(sizes_of(kServedLite), kGemini3Sizes);
  EXPECT_TRUE(kServedLite.image_sizes.empty());
}

TEST(Catalog, OpenAIModels) {
  for (const char *id : {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest", "gpt-image-2",
                         "gpt-image-2-2026-04-21", "gpt-image-2.5-flare", "gpt-image-2.5-sunburst",
                         "gpt-image-2.6-flare", "gpt-image-2.6-sunburst"}) {
    ModelInfo m = model_info("openai", id);
    EXPECT_EQ(m.id, id);
    EXPECT_EQ(m.provider, "openai");
    EXPECT_EQ(sizes_of(m), kGptSizes) << id;
    EXPECT_TRUE(m.takes_mask);
    EXPECT_TRUE(m.exact_size);
    EXPECT_TRUE(m.can_edit);
    EXPECT_TRUE(m.transparent);
    EXPECT_TRUE(m.image_sizes.empty());
    EXPECT_EQ(m.max_images_per_call, 10);
    EXPECT_EQ(m.max_input_images, 16);
    // input_fidelity: every GPT image model but the mini one.
    EXPECT_EQ(m.input_fidelity, std::string(id) != "gpt-image-1-mini") << id;
    // Free sizes: the gpt-image-2 family only, multiples of 16 between 1:3 and 3:1, at most
    // 2560x1440's pixels; the same limits for each.
    const bool two = std::string(id).rfind("gpt-image-2", 0) == 0;
    EXPECT_EQ(m.free_size.has_value(), two) << id;
    if (two && m.free_size) {
      EXPECT_EQ(m.free_size->multiple, kGpt2.free_size->multiple) << id;
      EXPECT_EQ(m.free_size->max_pixels, kGpt2.free_size->max_pixels) << id;
      EXPECT_EQ(m.free_size->max_ratio, kGpt2.free_size->max_ratio) << id;
    }
    // The gpt-image-2 family is served; the earlier models were shut down.
    EXPECT_EQ(m.retired.empty(), two) << id;
    EXPECT_EQ(m.replacement.empty(), two) << id;
  }
  EXPECT_EQ(kOpenAI.retired, "2026-10-23");
  EXPECT_EQ(kOpenAI.replacement, "gpt-image-2");
  for (const char *id : {"gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest"}) {
    EXPECT_EQ(model_info("openai", id).retired, "2026-12-01") << id;
    EXPECT_EQ(model_info("openai", id).replacement, "gpt-image-2.6-sunburst") << id;
  }
  ASSERT_TRUE(kGpt2.free_size);
  EXPECT_EQ(kGpt2.free_size->multiple, 16);
  EXPECT_EQ(kGpt2.free_size->max_ratio, 3);
  EXPECT_EQ(kGpt2.free_size->max_pixels, 2560 * 1440);
  EXPECT_EQ(kGpt2.free_size->max_side, 3840);
}

TEST(Catalog, RelayAndLegacyEntriesLoadWhateverTheRegistryHolds) {
  // Providers this build may not have (the registry is not consulted when loading).
  for (const char *id : {"imagen-4.0-generate-001", "imagen-3.0-generate-002"}) {
    ModelInfo m = model_info("imagen", id);
    EXPECT_EQ(m.provider, "imagen");
    EXPECT_FALSE(m.can_edit) << id << " only generates";
    EXPECT_EQ(m.max_input_images, 0);
    EXPECT_TRUE(m.legacy);
    EXPECT_FALSE(m.retired.empty()) << id << ": every Imagen model was shut down";
    EXPECT_EQ(m.replacement, "gemini-3.1-flash-image") << id;
  }
  EXPECT_EQ(image_sizes_of(model_info("imagen", "imagen-4.0-generate-001")),
            (std::vector<std::pair<std::string, double>>{{"1K", 1}, {"2K", 2}}));
  for (const char *id : {"google/gemini-3.1-flash-image", "google/gemini-nano-banana-2.1", "google/gemini-3-pro-image",
                         "google/gemini-3.1-flash-lite-image", "google/gemini-2.5-flash-image",
                         "google/gemini-3-pro-image-preview", "google/gemini-3.1-flash-image-preview"}) {
    ModelInfo m = model_info("openai-chat", id);
    EXPECT_EQ(m.provider, "openai-chat");
    EXPECT_TRUE(m.can_edit);
    EXPECT_FALSE(m.takes_mask);
  }
  EXPECT_EQ(default_model_id("openai-chat"), "google/gemini-3.1-flash-image");
  // Every Imagen model is retired: Imagen has no default, a model must be named.
  EXPECT_EQ(default_model_id("imagen"), "");
  EXPECT_EQ(default_model_id("imagen", "2026-06-01"), "imagen-4.0-generate-001") << "before the shutdowns";
  EXPECT_EQ(default_model_id("imagen", "2026-07-01"), "imagen-4.0-generate-001") << "Imagen 3 gone, 4 not yet";
  EXPECT_EQ(default_model_id("nobody"), "");
}

TEST(Catalog, TheTableIsConsistent) {
  std::set<std::string> ids;
  std::map<std::string, int> per_provider;
  for (const ModelInfo &m : known_models()) {
    EXPECT_TRUE(ids.insert(m.id).second) << m.id;
    per_provider[m.provider]++;
    ASSERT_FALSE(m.aspects.empty()) << m.id;
    for (const Aspect &a : m.aspects) {
      // The output size has the ratio it is listed under: within 3 % for models that edit (the
      // region is grown to that shape; Gemini's sizes are rounded to 16 px), within 10 % for
      // generation-only ones (Imagen answers 3:4 with 896x1280).
      const double tolerance = m.can_edit ? 0.03 : 0.10;
      EXPECT_NEAR(shape(a), ratio(a), tolerance * ratio(a)) << m.id << " " << a.label();
      EXPECT_EQ(a.out_w % 16, 0) << m.id << " " << a.label();
      EXPECT_EQ(a.out_h % 16, 0) << m.id << " " << a.label();
    }
    if (!m.image_sizes.empty()) {
      EXPECT_TRUE(std::any_of(m.image_sizes.begin(), m.image_sizes.end(),
                              [&](const ImageSize &s) { return s.name == m.default_image_size; }))
          << m.id;
    }
    // Lookup by id returns the entry itself.
    EXPECT_EQ(sizes_of(model_info(m.provider, m.id)), sizes_of(m));
  }
  EXPECT_EQ(per_provider, (std::map<std::string, int>{{"gemini", 8}, {"openai", 10}, {"imagen", 2}, {"openai-chat", 7}}));
  // Each provider's default: the served one marked so, never a retired one.
  EXPECT_EQ(default_model_id("gemini"), "gemini-3.1-flash-image");
  EXPECT_EQ(default_model_id("openai"), "gpt-image-2");
  EXPECT_EQ(known_models().front().id, "gemini-3.1-flash-image");
  std::map<std::string, int> marked;
  for (const ModelInfo &m : known_models()) {
    if (m.is_default) {
      ++marked[m.provider];
      EXPECT_TRUE(m.retired.empty()) << m.id << " is marked default but has a shutdown day";
    }
    // Lifecycle: a replacement is in the catalog (Imagen's are Gemini models) and was served on
    // the day the catalog was read (2026-12-04).
    if (!m.replacement.empty()) {
      auto instead = std::find_if(known_models().begin(), known_models().end(),
                                  [&](const ModelInfo &o) { return o.id == m.replacement; });
      ASSERT_NE(instead, known_models().end()) << m.id << " -> " << m.replacement;
      EXPECT_FALSE(is_retired(*instead, "2026-12-04")) << m.id << " -> " << m.replacement;
      EXPECT_EQ(instead->provider, m.provider == "imagen" ? "gemini" : m.provider) << m.id;
    }
  }
  EXPECT_EQ(marked, (std::map<std::string, int>{{"gemini", 1}, {"openai", 1}, {"openai-chat", 1}}));
  EXPECT_EQ(Aspect{}.label(), "1:1");
  EXPECT_EQ((Aspect{21, 9, 0, 0}.label()), "21:9");
}

TEST(Catalog, UnknownModelsTakeTheProvidersDefaults) {
  ModelInfo g = model_info("gemini", "gemini-9-image");
  EXPECT_EQ(g.id, "gemini-9-image");
  EXPECT_EQ(g.provider, "gemini");
  EXPECT_EQ(sizes_of(g), gemini31_sizes()) << "what the default, gemini-3.1-flash-image, takes";
  EXPECT_EQ(image_sizes_of(g), image_sizes_of(kServed31));
  EXPECT_EQ(g.max_input_images, 14);
  EXPECT_FALSE(g.takes_mask);
  EXPECT_FALSE(g.is_default);
  EXPECT_EQ(g.retired, "");
  EXPECT_EQ(g.display_name, "gemini-9-image");
  ModelInfo o = model_info("openai", "gpt-image-7");
  EXPECT_EQ(o.id, "gpt-image-7");
  EXPECT_EQ(sizes_of(o), kGptSizes);
  EXPECT_TRUE(o.exact_size);
  EXPECT_TRUE(o.takes_mask);
  EXPECT_EQ(o.max_images_per_call, 10);
  EXPECT_TRUE(o.free_size) << "what gpt-image-2 takes";
  // Imagen has no default (all retired): its first entry's sizes, without its shutdown day.
  ModelInfo i = model_info("imagen", "imagen-5.0-generate");
  EXPECT_EQ(i.id, "imagen-5.0-generate");
  EXPECT_EQ(sizes_of(i), sizes_of(model_info("imagen", "imagen-4.0-generate-001")));
  EXPECT_FALSE(i.can_edit);
  EXPECT_TRUE(i.legacy);
  EXPECT_EQ(i.retired, "") << "an unknown id is not known to be retired";
  EXPECT_EQ(i.replacement, "");
  EXPECT_FALSE(i.is_default);
  // The table itself is untouched.
  EXPECT_EQ(model_info("gemini", "gemini-2.5-flash-image").id, "gemini-2.5-flash-image");
  EXPECT_EQ(model_info("imagen", "imagen-4.0-generate-001").retired, "2026-08-17");
  EXPECT_EQ(find_model("imagen", "imagen-5.0-generate"), nullptr);
  EXPECT_EQ(find_model("gemini", "gpt-image-2"), nullptr) << "another provider's";
  ASSERT_NE(find_model("openai", "gpt-image-2"), nullptr);
  EXPECT_EQ(find_model("openai", "gpt-image-2")->id, "gpt-image-2");
}

TEST(Catalog, UnknownProviderIsInvalidInput) {
  EXPECT_EQ(code_of([] { model_info("nobody", "x"); }), "invalid-input");
  EXPECT_EQ(code_of([] { model_info("", "gpt-image-1"); }), "invalid-input");
  EXPECT_EQ(code_of([] { model_info("Gemini", "gemini-2.5-flash-image"); }), "invalid-input");
}

// ---- sizes: what each model is asked for ------------------------------------------------------

TEST(Sizes, Gemini3AsksForTheSmallestImageSizeThatCoversTheRegion) {
  struct Case {
    int w, h;           // whole picture of this size is sent
    const char *size;   // imageSize asked for
    int out_w, out_h;   // the answer expected
  } cases[] = {
      {800, 800, "1K", 1024, 1024},     {1024, 1024, "1K", 1024, 1024}, {1025, 1025, "2K", 2048, 2048},
      {2000, 2000, "2K", 2048, 2048},   {2049, 2049, "4K", 4096, 4096}, {9000, 9000, "4K", 4096, 4096},
      {1920, 1080, "2K", 2752, 1536},   {1376, 768, "1K", 1376, 768},   {6000, 4000, "4K", 5056, 3392},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(::testing::Message() << c.w << "x" << c.h);
    Plan p = plan_region(c.w, c.h, Rect{}, kGemini3);
    EXPECT_EQ(p.image_size, c.size);
    EXPECT_EQ(p.out_w, c.out_w);
    EXPECT_EQ(p.out_h, c.out_h);
    // The upload is at the scale of the answer: the region's own size when it fits in it.
    if (c.w <= c.out_w && c.h <= c.out_h) {
      EXPECT_EQ(p.canvas_w, c.w);
      EXPECT_EQ(p.canvas_h, c.h);
    }
    EXPECT_LE(p.canvas_w, p.out_w);
    EXPECT_LE(p.canvas_h, p.out_h);
    // Never more than about 4.3 MP uploaded: a 4K answer's region goes up smaller than it.
    EXPECT_LE(double(p.canvas_w) * p.canvas_h, 4.3e6 + 2 * (p.canvas_w + p.canvas_h)) << p.canvas_w << "x" << p.canvas_h;
    if (std::string(c.size) == "4K") {
      EXPECT_GT(double(p.canvas_w) * p.canvas_h, 4.1e6);
    }
    check_invariants(p, c.w, c.h, Rect{}, kGemini3);
  }
  // 3.1 Flash also offers 512 for small regions (the served model as its preview did); Nano
  // Banana 2.1 starts at 1K.
  for (const ModelInfo *m : {&kGemini31, &kServed31}) {
    Plan small = plan_region(4000, 3000, Rect{1000, 1000, 200, 200}, *m);
    EXPECT_EQ(small.image_size, "512") << m->id;
    EXPECT_EQ(small.out_w, 512) << m->id;
    check_invariants(small, 4000, 3000, Rect{1000, 1000, 200, 200}, *m);
  }
  const ModelInfo banana = model_info("gemini", "gemini-nano-banana-2.1");
  Plan small = plan_region(4000, 3000, Rect{1000, 1000, 200, 200}, banana);
  EXPECT_EQ(small.image_size, "1K");
  EXPECT_EQ(small.out_w, 1024);
  check_invariants(small, 4000, 3000, Rect{1000, 1000, 200, 200}, banana);
  // The served 3 Pro asks for the same sizes as its preview did.
  for (const Case &c : cases) {
    Plan p = plan_region(c.w, c.h, Rect{}, kServedPro);
    EXPECT_EQ(p.image_size, c.size) << c.w << "x" << c.h;
    EXPECT_EQ(std::pair(p.out_w, p.out_h), std::pair(c.out_w, c.out_h)) << c.w << "x" << c.h;
  }
  // A selection with context in a large photo: 1500x1000 selection -> 2250x1500 region -> 2K 3:2.
  Plan sel = plan_region(6000, 4000, Rect{2000, 1000, 1500, 1000}, kGemini3);
  EXPECT_EQ(sel.aspect.label(), "3:2");
  EXPECT_EQ(sel.image_size, "2K");
  EXPECT_EQ(sel.out_w, 2528);
  EXPECT_EQ(sel.canvas_w, 2250);
}

TEST(Sizes, ModelsWithOneSizeAskForNone) {
  for (const ModelInfo *m : {&kGemini, &kOpenAI, &kServedLite}) {
    Plan p = plan_region(8000, 6000, Rect{}, *m);
    EXPECT_EQ(p.image_size, "") << m->id;
    EXPECT_EQ(p.out_w, p.aspect.out_w);
    EXPECT_EQ(p.out_h, p.aspect.out_h);
  }
  // gpt-image-1 still answers at one of its three sizes.
  const std::set<std::pair<int, int>> three = {{1024, 1024}, {1536, 1024}, {1024, 1536}};
  for (auto [w, h] : {std::pair{1920, 1080}, std::pair{300, 900}, std::pair{5000, 5000}, std::pair{640, 480}}) {
    Plan p = plan_region(w, h, Rect{}, kOpenAI);
    EXPECT_TRUE(three.count({p.out_w, p.out_h})) << w << "x" << h << " -> " << p.out_w << "x" << p.out_h;
  }
}

TEST(Sizes, FreeSizesFollowTheRatioWithinTheLimits) {
  const FreeSize &f = *kGpt2.free_size;
  // Exact ratios where multiples of 16 allow them.
  EXPECT_EQ(sizes_of(kGpt2).size(), 3u);
  Aspect a = free_aspect(f, 16.0 / 9.0, 2560.0 * 1440);
  EXPECT_EQ(std::pair(a.out_w, a.out_h), std::pair(2560, 1440));
  EXPECT_EQ(a.label(), "16:9");
  Aspect b = free_aspect(f, 1.0, 1024.0 * 1024);
  EXPECT_EQ(std::pair(b.out_w, b.out_h), std::pair(1024, 1024));
  // The cap: never more than 2560x1440's pixels, however large the wish.
  Aspect c = free_aspect(f, 1.0, 1e9);
  EXPECT_LE(int64_t(c.out_w) * c.out_h, 2560 * 1440);
  EXPECT_EQ(c.out_w, c.out_h);
  EXPECT_GE(c.out_w, 1904);  // not needlessly small either
  // Extreme shapes are clamped to 3:1 and 1:3.
  Aspect wide = free_aspect(f, 10.0, 1e6);
  EXPECT_EQ(wide.out_w, 3 * wide.out_h);
  Aspect tall = free_aspect(f, 0.05, 1e6);
  EXPECT_EQ(tall.out_h, 3 * tall.out_w);
  // Too few pixels: raised to the model's least.
  Aspect tiny = free_aspect(f, 1.0, 100);
  EXPECT_GE(int64_t(tiny.out_w) * tiny.out_h, f.min_pixels);
  // Any ratio and size: multiples of 16, within every limit.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const double r = std::exp(std::uniform_real_distribution<double>(-2.5, 2.5)(rng));
    const double px = std::exp(std::uniform_real_distribution<double>(std::log(1e3), std::log(5e7))(rng));
    Aspect x = free_aspect(f, r, px);
    ASSERT_EQ(x.out_w % 16, 0);
    ASSERT_EQ(x.out_h % 16, 0);
    ASSERT_LE(int64_t(x.out_w) * x.out_h, f.max_pixels);
    ASSERT_GE(int64_t(x.out_w) * x.out_h, f.min_pixels);
    ASSERT_LE(std::max(x.out_w, x.out_h), f.max_side);
    const double got = double(x.out_w) / x.out_h, want = std::clamp(r, 1 / 3.0, 3.0);
    ASSERT_LE(got, 3.0 + 1e-9);
    ASSERT_GE(got, 1 / 3.0 - 1e-9);
    ASSERT_LT(std::fabs(std::log(got / want)), 0.02) << r << " " << px << " -> " << x.out_w << "x" << x.out_h;
  }
}

TEST(Sizes, Gpt2RegionsKeepTheirOwnAspect) {
  // A 16:9 photo goes up as it is (not padded to 3:2) and is asked for at its own shape.
  Plan p = plan_region(1920, 1080, Rect{}, kGpt2);
  EXPECT_EQ(p.region, (Rect{0, 0, 1920, 1080}));
  EXPECT_FALSE(padded(p));
  // 1920x1080 is not a multiple of 16: 1936x1088 is the nearest shape (1.779 for 1.778).
  EXPECT_EQ(std::pair(p.out_w, p.out_h), std::pair(1936, 1088));
  EXPECT_EQ(p.canvas_w, 1920);
  EXPECT_EQ(p.canvas_h, 1080);
  check_invariants(p, 1920, 1080, Rect{}, kGpt2);
  // The same photo with gpt-image-1: padded to 3:2.
  EXPECT_TRUE(padded(plan_region(1920, 1080, Rect{}, kOpenAI)));
  // A selection of an odd shape: the answer has the region's shape.
  Plan s = plan_region(4000, 3000, Rect{1000, 1000, 700, 300}, kGpt2);
  EXPECT_NEAR(ratio(s.region), double(s.out_w) / s.out_h, 0.01);
  check_invariants(s, 4000, 3000, Rect{1000, 1000, 700, 300}, kGpt2);
  // A strip wider than 3:1 is grown to 3:1 (padded when the picture cannot hold it).
  Plan strip = plan_region(6000, 4000, Rect{1000, 2000, 3000, 200}, kGpt2);
  EXPECT_EQ(strip.out_w, 3 * strip.out_h);
  EXPECT_NEAR(ratio(strip.region), 3.0, 0.01);
  check_invariants(strip, 6000, 4000, Rect{1000, 2000, 3000, 200}, kGpt2);
  Plan band = plan_region(5000, 500, Rect{}, kGpt2);
  EXPECT_TRUE(padded(band));
  EXPECT_EQ(band.out_w, 3 * band.out_h);
  check_invariants(band, 5000, 500, Rect{}, kGpt2);
  // A region beyond the pixel cap is asked for at the cap and uploaded at that scale.
  Plan big = plan_region(6000, 4000, Rect{}, kGpt2);
  EXPECT_LE(int64_t(big.out_w) * big.out_h, 2560 * 1440);
  EXPECT_NEAR(double(big.out_w) / big.out_h, 1.5, 0.005);
  EXPECT_EQ(big.canvas_w, big.out_w);
  check_invariants(big, 6000, 4000, Rect{}, kGpt2);
}

TEST(Sizes, GenerationChoosesAspectAndSize) {
  // gpt-image-1: one of three.
  OutputChoice o = choose_output(kOpenAI, 16.0 / 9.0);
  EXPECT_EQ(std::pair(o.out_w, o.out_h), std::pair(1536, 1024));
  // gpt-image-2: the ratio itself, at about a megapixel, or covering the size asked for.
  OutputChoice g = choose_output(kGpt2, 16.0 / 9.0);
  EXPECT_NEAR(double(g.out_w) / g.out_h, 16.0 / 9.0, 0.01);
  EXPECT_NEAR(double(g.out_w) * g.out_h, 1048576, 0.1 * 1048576);
  OutputChoice gs = choose_output(kGpt2, 2000.0 / 1000.0, 2000, 1000);
  EXPECT_EQ(std::pair(gs.out_w, gs.out_h), std::pair(2016, 1008));  // 2:1 exactly, multiples of 16
  EXPECT_EQ(gs.image_size, "");
  // Gemini 3: the default 1K without a size; the smallest covering size with one.
  OutputChoice d = choose_output(kGemini3, 1.0);
  EXPECT_EQ(d.image_size, "1K");
  EXPECT_EQ(d.out_w, 1024);
  OutputChoice big = choose_output(kGemini3, 16.0 / 9.0, 2400, 1350);
  EXPECT_EQ(big.aspect.label(), "16:9");
  EXPECT_EQ(big.image_size, "2K");
  EXPECT_EQ(std::pair(big.out_w, big.out_h), std::pair(2752, 1536));
  // Gemini 2.5: no image size ever.
  EXPECT_EQ(choose_output(kGemini, 1.0, 4000, 4000).image_size, "");
}

// ---- planning ---------------------------------------------------------------------------------

TEST(Plan, NoSelectionSendsTheWholePicture) {
  Plan p = plan_region(1920, 1080, Rect{}, kGemini);
  EXPECT_EQ(p.region, (Rect{0, 0, 1920, 1080}));
  EXPECT_EQ(p.aspect.label(), "16:9");
  EXPECT_EQ(p.canvas_w, 1344);
  EXPECT_EQ(p.canvas_h, 756);  // 16:9 exactly; the model answers 1344x768 and is mapped back
  EXPECT_EQ(p.content, (Rect{0, 0, 1344, 756}));
  check_invariants(p, 1920, 1080, Rect{}, kGemini);
  // A selection of the whole picture is the same as none.
  Plan q = plan_region(1920, 1080, Rect{0, 0, 1920, 1080}, kGemini);
  EXPECT_EQ(q.region, p.region);
  EXPECT_EQ(q.canvas_w, p.canvas_w);
}

TEST(Plan, ContextMarginIsAQuarterOrAtLeast32px) {
  // 400x400 selection in the middle of a big picture: 100 px margins.
  Plan p = plan_region(4000, 3000, Rect{1800, 1300, 400, 400}, kGemini);
  EXPECT_EQ(p.region, (Rect{1700, 1200, 600, 600}));
  EXPECT_EQ(p.aspect.label(), "1:1");
  EXPECT_EQ(p.canvas_w, 600);  // a small region uploads at its own size
  EXPECT_EQ(p.canvas_h, 600);
  // 40x40 selection: margin 32 px (25 % would be 10).
  Plan q = plan_region(4000, 3000, Rect{1000, 1000, 40, 40}, kGemini);
  EXPECT_EQ(q.region, (Rect{968, 968, 104, 104}));
  check_invariants(q, 4000, 3000, Rect{1000, 1000, 40, 40}, kGemini);
  // Per axis: 420x100 gets 105 px left and right, 32 px above and below (630x164), then
  // grows to Gemini's 21:9 shape (1536x672: 630 * 672 / 1536 = 275.6 -> 276 px high) around
  // its centre.
  Plan r = plan_region(4000, 3000, Rect{1000, 1000, 420, 100}, kGemini);
  EXPECT_EQ(r.aspect.label(), "21:9");
  EXPECT_EQ(r.region, (Rect{895, 912, 630, 276}));
  // Other options.
  Plan none = plan_region(4000, 3000, Rect{1000, 1000, 300, 300}, kGemini, PlanOptions{0.0, 0, {}});
  EXPECT_EQ(none.region, (Rect{1000, 1000, 300, 300}));
  Plan wide = plan_region(4000, 3000, Rect{1000, 1000, 300, 300}, kGemini, PlanOptions{1.0, 0, {}});
  EXPECT_EQ(wide.region, (Rect{700, 700, 900, 900}));
}

TEST(Plan, GrowsToTheNearestOfferedAspect) {
  // 300x100 selection -> 450x164 with margins (75 px; 32 px beats 25 px) -> nearest Gemini
  // aspect 21:9, answered at 1536x672, so the height grows to 450 * 672 / 1536 = 196.9 -> 197.
  Plan p = plan_region(4000, 3000, Rect{1000, 1000, 300, 100}, kGemini);
  EXPECT_EQ(p.aspect.label(), "21:9");
  EXPECT_NEAR(ratio(p.region), 1536.0 / 672.0, 0.01);
  EXPECT_EQ(p.region.h, 197);
  // OpenAI offers only 1:1, 3:2, 2:3.
  Plan o = plan_region(4000, 3000, Rect{1000, 1000, 300, 100}, kOpenAI);
  EXPECT_EQ(o.aspect.label(), "3:2");
  EXPECT_NEAR(ratio(o.region), 1.5, 0.01);
  EXPECT_EQ(o.region.w, 450);
  check_invariants(o, 4000, 3000, Rect{1000, 1000, 300, 100}, kOpenAI);
}

TEST(Plan, EveryAspectIsChosenForItsOwnShape) {
  for (const ModelInfo *m : {&kGemini, &kGemini3, &kOpenAI, &kServed31, &kServedPro, &kServedLite}) {
    for (const Aspect &a : m->aspects) {
      SCOPED_TRACE(m->id + " " + a.label());
      // A selection of exactly the answer's shape, without context: sent as it is.
      Rect sel{3000, 2000, a.out_w, a.out_h};
      Plan p = plan_region(10000, 10000, sel, *m, PlanOptions{0.0, 0, {}});
      EXPECT_EQ(p.aspect.label(), a.label());
      EXPECT_EQ(p.region, sel);
      EXPECT_FALSE(padded(p));
      EXPECT_EQ(p.canvas_w, a.out_w);
      EXPECT_EQ(p.canvas_h, a.out_h);
      check_invariants(p, 10000, 10000, sel, *m, PlanOptions{0.0, 0, {}});
      // Of the nominal ratio, with the default context: the same aspect, grown to its shape.
      // (The extreme ratios of Gemini 3.1, 1:4 to 8:1, at a size where the 32 px least margin
      // does not change the selection's shape: their short side is a quarter of 128 px.)
      const int scale = std::max(a.w, a.h) >= 4 * std::min(a.w, a.h) ? 128 : 60;
      Rect nominal{3000, 2000, a.w * scale, a.h * scale};
      Plan q = plan_region(10000, 10000, nominal, *m);
      EXPECT_EQ(q.aspect.label(), a.label());
      EXPECT_NEAR(ratio(q.region), shape(a), 0.01 * shape(a));
      check_invariants(q, 10000, 10000, nominal, *m);
      // A whole picture at the output size goes up as it is; twice as large, scaled to it.
      Plan r = plan_region(a.out_w, a.out_h, Rect{}, *m);
      EXPECT_EQ(r.aspect.label(), a.label());
      EXPECT_EQ(r.canvas_w, a.out_w);
      EXPECT_EQ(r.canvas_h, a.out_h);
      EXPECT_FALSE(padded(r));
      // (Gemini 3 answers that at 2K: it goes up at its own size.)
      Plan s = plan_region(a.out_w * 2, a.out_h * 2, Rect{}, *m);
      const int k = m->image_sizes.empty() ? 1 : 2;
      EXPECT_EQ(s.canvas_w, a.out_w * k);
      EXPECT_EQ(s.canvas_h, a.out_h * k);
      // A picture of the exact ratio but not of the output size: the nearest aspect is still a.
      Plan t = plan_region(a.w * 37, a.h * 37, Rect{}, *m);
      EXPECT_EQ(t.aspect.label(), a.label());
      EXPECT_FALSE(padded(t));
      check_invariants(t, a.w * 37, a.h * 37, Rect{}, *m);
    }
  }
}

TEST(Plan, SelectionsAtEdgesAndCornersStayInside) {
  for (Rect sel : {Rect{0, 0, 50, 50}, Rect{3950, 2950, 50, 50}, Rect{0, 1400, 4000, 10}, Rect{1990, 0, 20, 3000},
                   Rect{3999, 2999, 1, 1}, Rect{0, 0, 1, 1}, Rect{3999, 0, 1, 1}, Rect{0, 2999, 1, 1},
                   Rect{0, 0, 4000, 1}, Rect{0, 2999, 4000, 1}, Rect{3999, 0, 1, 3000}}) {
    for (const ModelInfo *m : {&kGemini, &kGemini3, &kOpenAI, &kServed31, &kServedLite}) {
      Plan p = plan_region(4000, 3000, sel, *m);
      check_invariants(p, 4000, 3000, sel, *m);
    }
  }
  // Against an edge the region is shifted inwards rather than cut: it keeps its aspect.
  Plan corner = plan_region(4000, 3000, Rect{0, 0, 50, 50}, kGemini);
  EXPECT_EQ(corner.region.x, 0);
  EXPECT_EQ(corner.region.y, 0);
  Plan top = plan_region(4000, 3000, Rect{1000, 0, 600, 40}, kOpenAI);
  EXPECT_EQ(top.region.y, 0);
  EXPECT_FALSE(padded(top));
  EXPECT_NEAR(ratio(top.region), 1.5, 0.01);
  Plan right = plan_region(4000, 3000, Rect{3990, 1000, 10, 900}, kOpenAI);
  EXPECT_EQ(right.region.right(), 4000);
  EXPECT_FALSE(padded(right));
  EXPECT_NEAR(ratio(right.region), 2.0 / 3.0, 0.01);
}

TEST(Plan, PadsWhenThePictureCannotHoldTheAspect) {
  // A very wide strip, whole picture, with OpenAI (widest 3:2): region = picture, canvas padded.
  Plan p = plan_region(3000, 500, Rect{}, kOpenAI);
  EXPECT_EQ(p.region, (Rect{0, 0, 3000, 500}));
  EXPECT_EQ(p.aspect.label(), "3:2");
  EXPECT_EQ(p.canvas_w, 1536);
  EXPECT_EQ(p.canvas_h, 1024);
  EXPECT_EQ(p.content, (Rect{0, (1024 - 256) / 2, 1536, 256}));
  check_invariants(p, 3000, 500, Rect{}, kOpenAI);
  // A 16:9 picture with OpenAI: 3:2 is nearest, and the picture is not tall enough for it.
  Plan w = plan_region(1920, 1080, Rect{}, kOpenAI);
  EXPECT_EQ(w.aspect.label(), "3:2");
  EXPECT_EQ(w.region, (Rect{0, 0, 1920, 1080}));
  EXPECT_TRUE(padded(w));
  EXPECT_EQ(w.canvas_w, 1536);
  EXPECT_EQ(w.canvas_h, 1024);
  EXPECT_EQ(w.content, (Rect{0, 80, 1536, 864}));
  // Tall: Gemini's tallest is 9:16; a 1:4 picture is padded left and right.
  Plan t = plan_region(500, 2000, Rect{}, kGemini);
  EXPECT_EQ(t.aspect.label(), "9:16");
  EXPECT_TRUE(padded(t));
  EXPECT_EQ(t.content.h, t.canvas_h);
  EXPECT_LT(t.content.w, t.canvas_w);
  check_invariants(t, 500, 2000, Rect{}, kGemini);
  // A small padded picture keeps its own size inside the canvas.
  Plan s = plan_region(300, 50, Rect{}, kOpenAI);
  EXPECT_EQ(s.content.w, 300);
  EXPECT_EQ(s.content.h, 50);
  EXPECT_EQ(s.canvas_w, 300);
  EXPECT_EQ(s.canvas_h, 200);
  // A selection spanning a wide strip's whole height.
  Plan sel = plan_region(3000, 500, Rect{1000, 100, 900, 300}, kOpenAI);
  check_invariants(sel, 3000, 500, Rect{1000, 100, 900, 300}, kOpenAI);
}

TEST(Plan, TinyPictures) {
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 7}, std::pair{9, 1}, std::pair{2, 3}, std::pair{1, 2},
                      std::pair{2, 1}, std::pair{3, 3}, std::pair{1, 5000}, std::pair{5000, 1}}) {
    for (const ModelInfo *m : {&kGemini, &kGemini3, &kOpenAI}) {
      Plan p = plan_region(w, h, Rect{}, *m);
      EXPECT_EQ(p.region, (Rect{0, 0, w, h}));
      check_invariants(p, w, h, Rect{}, *m);
      Plan s = plan_region(w, h, Rect{0, 0, 1, 1}, *m);
      check_invariants(s, w, h, Rect{0, 0, 1, 1}, *m);
      Plan e = plan_region(w, h, Rect{w - 1, h - 1, 1, 1}, *m);
      check_invariants(e, w, h, Rect{w - 1, h - 1, 1, 1}, *m);
    }
  }
  Plan one = plan_region(1, 1, Rect{}, kOpenAI);
  EXPECT_EQ(one.canvas_w, 1);
  EXPECT_EQ(one.canvas_h, 1);
  EXPECT_EQ(one.aspect.label(), "1:1");
}

TEST(Plan, HugeSelectionIsScaledDownToTheModelsSize) {
  Plan p = plan_region(12000, 8000, Rect{100, 100, 11800, 7800}, kGemini);
  EXPECT_EQ(p.region, (Rect{0, 0, 12000, 8000}));
  EXPECT_EQ(p.aspect.label(), "3:2");
  EXPECT_EQ(p.canvas_w, 1248);
  EXPECT_EQ(p.canvas_h, 832);
  Plan q = plan_region(30000, 20000, Rect{}, kGemini3);
  EXPECT_EQ(q.image_size, "4K");  // the largest Gemini 3 answer
  EXPECT_EQ(q.out_w, 5056);
  EXPECT_EQ(q.out_h, 3392);
  EXPECT_EQ(q.canvas_w, 2540);  // uploaded at the 4.3 MP limit, 3:2
  EXPECT_EQ(q.canvas_h, 1693);
  check_invariants(q, 30000, 20000, Rect{}, kGemini3);
  Plan r = plan_region(30000, 20000, Rect{5, 5, 29990, 19990}, kOpenAI);
  EXPECT_EQ(r.canvas_w, 1536);
  EXPECT_EQ(r.canvas_h, 1024);
}

TEST(Plan, BadInputs) {
  EXPECT_EQ(code_of([] { plan_region(100, 100, Rect{200, 200, 10, 10}, kGemini); }), "invalid-input");
  EXPECT_EQ(code_of([] { plan_region(100, 100, Rect{-50, 0, 40, 10}, kGemini); }), "invalid-input");
  EXPECT_EQ(code_of([] { plan_region(0, 100, Rect{}, kGemini); }), "invalid-input");
  EXPECT_EQ(code_of([] { plan_region(100, -1, Rect{}, kGemini); }), "invalid-input");
  ModelInfo bare = kGemini;
  bare.aspects.clear();
  EXPECT_EQ(code_of([&] { plan_region(100, 100, Rect{}, bare); }), "invalid-input");
  // Partly outside: clipped.
  Plan p = plan_region(100, 100, Rect{90, 90, 50, 50}, kGemini);
  check_invariants(p, 100, 100, Rect{90, 90, 10, 10}, kGemini);
  Plan q = plan_region(100, 100, Rect{-20, -20, 30, 30}, kGemini);
  check_invariants(q, 100, 100, Rect{0, 0, 10, 10}, kGemini);
  // Sizes near the limits of int do not overflow.
  Plan r = plan_region(5000, 4000, Rect{10, 10, INT_MAX - 20, INT_MAX - 20}, kGemini);
  check_invariants(r, 5000, 4000, Rect{10, 10, 4990, 3990}, kGemini);
  // Nonsense options behave as no context.
  Plan s = plan_region(5000, 4000, Rect{1000, 1000, 100, 100}, kGemini, PlanOptions{-3.0, -5, {}});
  EXPECT_EQ(s.region, (Rect{1000, 1000, 100, 100}));
  Plan t = plan_region(5000, 4000, Rect{1000, 1000, 100, 100}, kGemini, PlanOptions{std::nan(""), 0, {}});
  EXPECT_EQ(t.region, (Rect{1000, 1000, 100, 100}));
}

TEST(Plan, RandomSelectionsKeepEveryInvariant) {
  std::mt19937 rng(42);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto log_size = [&](int max) { return std::max(1, int(std::exp(std::uniform_real_distribution<double>(0, std::log(max))(rng)))); };
  const std::vector<ModelInfo> &models = known_models();
  int padded_plans = 0, unpadded = 0;
  for (int i = 0; i < 20000; ++i) {
    const int iw = log_size(20000), ih = log_size(20000);
    Rect sel;
    switch (i % 5) {
      case 0: break;  // whole picture
      case 1: sel = Rect{uniform(0, iw - 1), uniform(0, ih - 1), 1, 1}; break;
      default:
        sel.x = uniform(0, iw - 1);
        sel.y = uniform(0, ih - 1);
        sel.w = std::min(iw - sel.x, log_size(iw));
        sel.h = std::min(ih - sel.y, log_size(ih));
    }
    const ModelInfo &m = models[size_t(i) % models.size()];
    PlanOptions opts{uniform(0, 100) / 100.0, uniform(0, 64), {}};
    Plan p = plan_region(iw, ih, sel, m, opts);
    check_invariants(p, iw, ih, sel, m, opts);
    (padded(p) ? padded_plans : unpadded)++;
    if (HasFailure()) break;
  }
  // Both kinds were exercised.
  EXPECT_GT(padded_plans, 500);
  EXPECT_GT(unpadded, 5000);
}

// ---- canvas mapping -------------------------------------------------------------------------

Image smooth(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x * 255 / std::max(1, w - 1));
      p[1] = uint8_t(y * 255 / std::max(1, h - 1));
      p[2] = uint8_t(128 + 100 * std::sin(x * 0.01) * std::cos(y * 0.013));
      p[3] = 255;
    }
  return img;
}

double mean_abs_diff(const Image &a, const Image &b) {
  double err = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) err += std::abs(a.pixels[i] - b.pixels[i]);
  return err / double(a.pixels.size());
}

TEST(Canvas, RoundTripIsCloseToIdentity) {
  struct Case {
    int w, h;
    Rect sel;
    const ModelInfo *model;
  };
  for (const Case &c : {Case{300, 200, Rect{}, &kOpenAI}, Case{1200, 900, Rect{}, &kGemini},
                        Case{3000, 500, Rect{}, &kOpenAI}, Case{640, 480, Rect{100, 100, 50, 50}, &kGemini},
                        Case{500, 2000, Rect{}, &kGemini3}, Case{1, 1, Rect{}, &kOpenAI}, Case{7, 3, Rect{}, &kGemini}}) {
    SCOPED_TRACE(::testing::Message() << c.w << "x" << c.h << " " << c.model->id);
    Image picture = smooth(c.w, c.h);
    Plan plan = plan_region(c.w, c.h, c.sel, *c.model);
    Image region = crop(picture, plan.region);
    Image canvas = to_canvas(region, plan);
    ASSERT_EQ(canvas.width, plan.canvas_w);
    ASSERT_EQ(canvas.height, plan.canvas_h);
    // The answer is the canvas itself: identity, exact when nothing was scaled.
    Image back = from_canvas(canvas, plan);
    ASSERT_EQ(back.width, plan.region.w);
    ASSERT_EQ(back.height, plan.region.h);
    const bool scaled = plan.content.w != plan.region.w || plan.content.h != plan.region.h;
    if (!scaled) {
      EXPECT_EQ(back.pixels, region.pixels);
    } else {
      EXPECT_LT(mean_abs_diff(back, region), 2.0);
    }
    // An answer at another size (the model's own) maps back as well.
    Image big = scale(canvas, canvas.width * 3, canvas.height * 3);
    Image back2 = from_canvas(big, plan);
    ASSERT_EQ(back2.width, plan.region.w);
    EXPECT_LT(mean_abs_diff(back2, region), 2.5);
  }
}

TEST(Canvas, PaddingIsNeverTakenBack) {
  // The model paints the padding magenta: none of it reaches the region.
  Plan plan = plan_region(3000, 500, Rect{}, kOpenAI);
  ASSERT_TRUE(padded(plan));
  Image region = smooth(3000, 500);
  for (size_t i = 1; i < region.pixels.size(); i += 4) region.pixels[i] = 200;  // green everywhere
  Image canvas = to_canvas(region, plan);
  Image content = crop(canvas, plan.content);
  for (int f : {1, 2, 3}) {
    // The answer at f times the canvas size: magenta padding, sharp against the content.
    Image answer(plan.canvas_w * f, plan.canvas_h * f);
    for (size_t i = 0; i < answer.pixels.size(); i += 4) {
      answer.pixels[i] = 255, answer.pixels[i + 1] = 0, answer.pixels[i + 2] = 255, answer.pixels[i + 3] = 255;
    }
    Image big = scale(content, plan.content.w * f, plan.content.h * f);
    for (int y = 0; y < big.height; ++y)
      std::memcpy(answer.at(plan.content.x * f, plan.content.y * f + y), big.at(0, y), size_t(big.width) * 4);
    Image back = from_canvas(answer, plan);
    for (size_t i = 0; i < back.pixels.size(); i += 4) {
      ASSERT_GE(back.pixels[i + 1], 198) << "pixel " << i / 4 << " at answer scale " << f;  // no magenta
    }
    EXPECT_LT(mean_abs_diff(back, region), 2.5);
  }
}

TEST(Canvas, PaddingRepeatsEdgesAndMaskPaddingIsKept) {
  Plan plan = plan_region(3000, 500, Rect{}, kOpenAI);
  Image region(3000, 500);
  for (int y = 0; y < 500; ++y)
    for (int x = 0; x < 3000; ++x) {
      uint8_t *p = region.at(x, y);
      p[0] = y < 250 ? 77 : 150;
      p[1] = uint8_t(x / 12);
      p[3] = 255;
    }
  Image c = to_canvas(region, plan);
  for (int x = 0; x < c.width; x += 97) {
    // Top padding repeats the first content row, bottom padding the last.
    EXPECT_EQ(std::memcmp(c.at(x, 0), c.at(x, plan.content.y), 4), 0);
    EXPECT_EQ(std::memcmp(c.at(x, c.height - 1), c.at(x, plan.content.bottom() - 1), 4), 0);
    EXPECT_EQ(c.at(x, 0)[0], 77);
    EXPECT_EQ(c.at(x, c.height - 1)[0], 150);
  }
  Mask m = to_canvas(Mask(3000, 500, 255), plan);
  ASSERT_EQ(m.width, plan.canvas_w);
  ASSERT_EQ(m.height, plan.canvas_h);
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; x += 13)
      ASSERT_EQ(m.at(x, y), contains(plan.content, Rect{x, y, 1, 1}) ? 255 : 0) << x << "," << y;

  // Tall padding: left and right.
  Plan tall = plan_region(500, 2000, Rect{}, kGemini);
  Image col = smooth(500, 2000);
  Image t = to_canvas(col, tall);
  for (int y = 0; y < t.height; y += 31) {
    EXPECT_EQ(std::memcmp(t.at(0, y), t.at(tall.content.x, y), 4), 0);
    EXPECT_EQ(std::memcmp(t.at(t.width - 1, y), t.at(tall.content.right() - 1, y), 4), 0);
  }
}

TEST(Canvas, UnpaddedMaskAndEmptyAnswers) {
  Plan plan = plan_region(800, 600, Rect{100, 100, 200, 200}, kGemini);
  ASSERT_FALSE(padded(plan));
  Mask region_mask(plan.region.w, plan.region.h, 0);
  for (int y = 0; y < region_mask.height / 2; ++y)
    for (int x = 0; x < region_mask.width; ++x) region_mask.at(x, y) = 255;
  Mask c = to_canvas(region_mask, plan);
  EXPECT_EQ(c.width, plan.canvas_w);
  EXPECT_EQ(c.at(0, 0), 255);
  EXPECT_EQ(c.at(c.width - 1, c.height - 1), 0);
  EXPECT_EQ(code_of([&] { from_canvas(Image(), plan); }), "bad-response");
  // A 1x1 answer still fills the region.
  Image one(1, 1);
  one.pixels = {9, 8, 7, 255};
  Image back = from_canvas(one, plan);
  EXPECT_EQ(back.width, plan.region.w);
  EXPECT_EQ(back.at(back.width - 1, back.height - 1)[0], 9);
}

}  // namespace
