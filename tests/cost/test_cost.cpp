// What a run costs: the usage the service reported priced with the catalog's prices, and the
// estimate made before sending.
#include <string>

#include <gtest/gtest.h>

#include "core/catalog/models.hpp"
#include "core/cost/cost.hpp"

using namespace genfill;

namespace {

ModelInfo gemini_like() {
  ModelInfo m;
  m.id = "g";
  m.provider = "gemini";
  m.image_sizes = {{"1K", 1}, {"4K", 4}};
  m.default_image_size = "1K";
  Prices p;
  p.text_in = 0.5, p.image_in = 0.5, p.text_out = 1.5, p.image_out = 60;
  p.image_in_tokens = 1120;
  p.image_out_tokens = {{"1K", 1120}, {"4K", 2520}};
  p.as_of = "2026-12-05";
  p.source = "test";
  m.prices = p;
  return m;
}

ModelInfo openai_like() {
  ModelInfo m;
  m.id = "o";
  m.provider = "openai";
  m.exact_size = true;
  Prices p;
  p.text_in = 5, p.image_in = 8, p.text_out = 30, p.image_out = 30;
  p.image_in_tokens = 765;
  p.image_out_tokens = {{"low", 200}, {"medium", 1767}, {"high", 7024}};
  p.as_of = "2026-12-05";
  p.source = "test";
  m.prices = p;
  return m;
}

}  // namespace

TEST(Cost, TheReportedUsageTimesThePricesByKind) {
  Usage u;
  u.input_tokens = 1123, u.input_text_tokens = 3, u.input_image_tokens = 1120;
  u.output_tokens = 1692, u.output_text_tokens = 12, u.output_image_tokens = 1680;
  u.thoughts_tokens = 214;
  const Cost c = actual_cost(gemini_like(), u, CostAsk{});
  EXPECT_TRUE(c.known);
  EXPECT_FALSE(c.estimated);
  EXPECT_EQ(c.prices_as_of, "2026-12-05");
  // 3 x 0.5 + 1120 x 0.5 + (12 + 214) x 1.5 + 1680 x 60, per million.
  EXPECT_NEAR(c.usd, (1.5 + 560 + 339 + 100800) / 1e6, 1e-12);
}

TEST(Cost, WhatTheServiceDidNotSplitIsPricedAsPictures) {
  Usage u;
  u.input_tokens = 1000, u.output_tokens = 5000;  // no details at all
  const Cost c = actual_cost(openai_like(), u, CostAsk{});
  EXPECT_NEAR(c.usd, (1000 * 8.0 + 5000 * 30.0) / 1e6, 1e-12);
  // Output split only in part: the rest as pictures.
  u.output_text_tokens = 100;
  EXPECT_NEAR(actual_cost(openai_like(), u, CostAsk{}).usd, (1000 * 8.0 + 100 * 30.0 + 4900 * 30.0) / 1e6, 1e-12);
}

TEST(Cost, NoUsageReportedMeansTheEstimateSaysSo) {
  CostAsk ask;
  ask.pictures_in = {{1024, 1024}};
  const Cost c = actual_cost(gemini_like(), Usage{}, ask);
  EXPECT_TRUE(c.known);
  EXPECT_TRUE(c.estimated);
  EXPECT_DOUBLE_EQ(c.usd, estimate_cost(gemini_like(), ask).usd);
  EXPECT_GT(c.usd, 0);
}

TEST(Cost, AModelWithoutPricesHasNoCost) {
  ModelInfo m = gemini_like();
  m.prices.reset();
  Usage u;
  u.input_tokens = 10, u.output_tokens = 10;
  EXPECT_FALSE(actual_cost(m, u, CostAsk{}).known);
  EXPECT_FALSE(estimate_cost(m, CostAsk{}).known);
}

TEST(Cost, TheEstimateFollowsSizeQualityAndVariations) {
  CostAsk ask;
  ask.prompt_bytes = 40;
  ask.pictures_in = {{1024, 1024}};
  ask.image_size = "1K";
  const double one_k = estimate_cost(gemini_like(), ask).usd;
  // 10 + 20 text tokens, 1120 in, 1120 out.
  EXPECT_NEAR(one_k, (30 * 0.5 + 1120 * 0.5 + 1120 * 60.0) / 1e6, 1e-12);
  ask.image_size = "4K";
  EXPECT_GT(estimate_cost(gemini_like(), ask).usd, 2 * one_k);
  ask.image_size = "";  // the model's default size
  EXPECT_DOUBLE_EQ(estimate_cost(gemini_like(), ask).usd, one_k);

  CostAsk o;
  o.pictures_in = {{1024, 1024}};
  o.quality = "low";
  const double low = estimate_cost(openai_like(), o).usd;
  o.quality = "high";
  const double high = estimate_cost(openai_like(), o).usd;
  EXPECT_LT(low * 10, high) << "low quality is estimated far below high";
  o.quality = "";  // the service's choice: the dearest the catalog lists
  EXPECT_DOUBLE_EQ(estimate_cost(openai_like(), o).usd, high);
  // Twice the pixels out, twice the picture tokens; four variations, four pictures.
  o.quality = "high";
  o.out_w = 2048;
  EXPECT_NEAR(estimate_cost(openai_like(), o).usd - high, 7024 * 30.0 / 1e6, 1e-9);
  o.out_w = 1024;
  o.pictures_out = 4;
  EXPECT_NEAR(estimate_cost(openai_like(), o).usd - high, 3 * 7024 * 30.0 / 1e6, 1e-9);
}

TEST(Cost, AsUsersReadIt) {
  EXPECT_EQ(usd_text(0.0672), "$0.067");
  EXPECT_EQ(usd_text(1.2), "$1.20");
  EXPECT_EQ(usd_text(0.0004), "<$0.001");
  EXPECT_EQ(usd_text(0), "$0.000");
}
