// The genfill command line, end to end, against the loopback fake of the services.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <glib.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/image/image.hpp"
#include "core/providers/provider.hpp"
#include "fake_process.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using genfill::test::remove_tree;
using genfill::test::FakeProcess;

namespace {

struct CliRun {
  int status = -1;  // exit code, or 128 + signal
  std::string out, err;
  double seconds = 0;
};

const char *kKey = "test-key-5f3a9c";  // an obvious fake; must never show up in any output

class CliTest : public ::testing::Test {
protected:
  void SetUp() override {
    GErrorOut err;
    GCharPtr dir(g_dir_make_tmp("genfill-cli-XXXXXX", err.out()));
    ASSERT_TRUE(dir) << err.message();
    tmp_ = dir.get();
    fake_ = std::make_unique<FakeProcess>();
    photo_path_ = g_getenv("GENFILL_TEST_PHOTO");
    photo_ = load_image_file(photo_path_);
  }
  void TearDown() override {
    fake_.reset();
    remove_tree(tmp_);
  }

  std::string path(const std::string &name) const { return tmp_ + "/" + name; }
  bool exists(const std::string &name) const { return g_file_test(path(name).c_str(), G_FILE_TEST_EXISTS); }

  std::string endpoint(const std::string &provider) const {
    return provider == "openai" || provider == "openai-chat" ? fake_->url() + "/v1" : fake_->url();
  }

  // Runs build/cli/genfill with args; the environment carries the fake key for every provider
  // unless `with_key` is false. interrupt_after >= 0 sends `signal_` (SIGINT unless set) after
  // that many seconds.
  CliRun run(std::vector<std::string> args, bool with_key = true, double interrupt_after = -1) {
    GPtr<GSubprocessLauncher> launcher =
        adopt(g_subprocess_launcher_new(GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE)));
    for (const char *var : {"GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GENFILL_CHAT_API_KEY",
                            "OPENROUTER_API_KEY"})
      g_subprocess_launcher_unsetenv(launcher.get(), var);
    if (with_key) {
      g_subprocess_launcher_setenv(launcher.get(), "GEMINI_API_KEY", kKey, TRUE);
      g_subprocess_launcher_setenv(launcher.get(), "OPENAI_API_KEY", kKey, TRUE);
      g_subprocess_launcher_setenv(launcher.get(), "GENFILL_CHAT_API_KEY", kKey, TRUE);
    }
    g_subprocess_launcher_setenv(launcher.get(), "GENFILL_NO_KEYRING", "1", TRUE);
    g_subprocess_launcher_setenv(launcher.get(), "XDG_CACHE_HOME", path("cache").c_str(), TRUE);
    for (const auto &[name, value] : env_) {
      if (value) g_subprocess_launcher_setenv(launcher.get(), name.c_str(), value->c_str(), TRUE);
      else g_subprocess_launcher_unsetenv(launcher.get(), name.c_str());
    }
    std::vector<const char *> argv{g_getenv("GENFILL_CLI")};
    for (const std::string &a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    GErrorOut err;
    auto t0 = std::chrono::steady_clock::now();
    GPtr<GSubprocess> proc = adopt(g_subprocess_launcher_spawnv(launcher.get(), argv.data(), err.out()));
    CliRun r;
    if (!proc) {
      ADD_FAILURE() << "cannot start the CLI: " << err.message();
      return r;
    }
    if (interrupt_after >= 0) {
      g_usleep(gulong(interrupt_after * 1e6));
      g_subprocess_send_signal(proc.get(), signal_);
      if (after_signal_) after_signal_();
    }
    char *out = nullptr, *errtext = nullptr;
    g_subprocess_communicate_utf8(proc.get(), nullptr, nullptr, &out, &errtext, err.out());
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.out = out ? out : "";
    r.err = errtext ? errtext : "";
    g_free(out);
    g_free(errtext);
    r.status = g_subprocess_get_if_exited(proc.get()) ? g_subprocess_get_exit_status(proc.get())
                                                     : 128 + g_subprocess_get_term_sig(proc.get());
    EXPECT_EQ(r.out.find(kKey), std::string::npos) << "the key leaked to stdout";
    EXPECT_EQ(r.err.find(kKey), std::string::npos) << "the key leaked to stderr";
    return r;
  }

  // A non-rectangular selection: an ellipse in the photo's upper left quarter.
  std::string write_ellipse_mask(Mask *out = nullptr) {
    Mask m(photo_.width, photo_.height, 0);
    double cx = photo_.width * 0.3, cy = photo_.height * 0.35, rx = photo_.width * 0.12,
           ry = photo_.height * 0.15;
    for (int y = 0; y < m.height; ++y)
      for (int x = 0; x < m.width; ++x) {
        double dx = (x - cx) / rx, dy = (y - cy) / ry;
        if (dx * dx + dy * dy <= 1.0) m.at(x, y) = 255;
      }
    std::vector<uint8_t> png = encode_png(m);
    g_file_set_contents(path("mask.png").c_str(), reinterpret_cast<const char *>(png.data()),
                        gssize(png.size()), nullptr);
    if (out) *out = m;
    return path("mask.png");
  }

  JsonObject *last_request(JsonNode *node) {
    JsonArray *arr = json_node_get_array(node);
    EXPECT_GT(json_array_get_length(arr), 0u);
    return json_array_get_object_element(arr, json_array_get_length(arr) - 1);
  }

  // The file's bytes ("" when it cannot be read).
  std::string bytes(const std::string &file) const {
    gchar *data = nullptr;
    gsize len = 0;
    if (!g_file_get_contents(file.c_str(), &data, &len, nullptr)) return {};
    std::string s(data, len);
    g_free(data);
    return s;
  }
  void put(const std::string &file, const std::string &content) const {
    ASSERT_TRUE(g_file_set_contents(file.c_str(), content.data(), gssize(content.size()), nullptr)) << file;
  }
  // The hidden files in the test's folder: temporaries left behind.
  std::set<std::string> hidden() const {
    std::set<std::string> names;
    if (GDir *d = g_dir_open(tmp_.c_str(), 0, nullptr)) {
      while (const char *name = g_dir_read_name(d))
        if (name[0] == '.') names.insert(name);
      g_dir_close(d);
    }
    return names;
  }

  int signal_ = SIGINT;
  std::function<void()> after_signal_;  // run by run() right after the signal is sent
  // Extra environment for run(): a value, or nullopt to unset the variable.
  std::vector<std::pair<std::string, std::optional<std::string>>> env_;
  std::string tmp_;
  std::unique_ptr<FakeProcess> fake_;
  std::string photo_path_;
  Image photo_;
};

// Every pixel outside the mask is the input's, bit for bit; inside (away from the edge)
// it is the fake's magenta.
void expect_masked_edit(const Image &in, const Image &out, const Mask &mask, double edge_px) {
  ASSERT_EQ(out.width, in.width);
  ASSERT_EQ(out.height, in.height);
  size_t outside_diff = 0, inside = 0, inside_magenta = 0;
  int r = int(std::ceil(edge_px)) + 1;
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < in.width; ++x) {
      const uint8_t *a = in.at(x, y), *b = out.at(x, y);
      if (mask.at(x, y) == 0) {
        if (std::memcmp(a, b, 4) != 0) ++outside_diff;
        continue;
      }
      // deep inside: all neighbours within r are selected
      bool deep = x >= r && y >= r && x < in.width - r && y < in.height - r &&
                  mask.at(x - r, y) && mask.at(x + r, y) && mask.at(x, y - r) && mask.at(x, y + r);
      if (!deep) continue;
      ++inside;
      if (std::abs(b[0] - 255) <= 2 && b[1] <= 2 && std::abs(b[2] - 255) <= 2 && b[3] == 255) ++inside_magenta;
    }
  EXPECT_EQ(outside_diff, 0u) << "pixels outside the selection changed";
  EXPECT_GT(inside, 1000u);
  EXPECT_EQ(inside_magenta, inside) << "pixels inside the selection are not the model's";
}

TEST_F(CliTest, GeminiEditHonoursTheMaskPixelForPixel) {
  Mask mask;
  std::string mask_path = write_ellipse_mask(&mask);
  CliRun r = run({"edit", "--provider", "gemini", "--endpoint", endpoint("gemini"), "--prompt",
               "replace it with a magenta balloon", "--mask", mask_path, "--feather", "0", "--json",
               photo_path_, "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  Image out = load_image_file(path("out.png"));
  expect_masked_edit(photo_, out, mask, 1);

  JsonNode *reqs = fake_->requests();
  JsonObject *req = last_request(reqs);
  EXPECT_NE(std::string(json_object_get_string_member(req, "path")).find(":streamGenerateContent"), std::string::npos)
      << "streamed: the catalog says the model streams";
  EXPECT_TRUE(json_object_get_boolean_member(req, "has_key"));
  EXPECT_FALSE(json_object_get_boolean_member(req, "key_in_query"));
  json_node_unref(reqs);

  // --json names the file and the region sent.
  GErrorOut err;
  JsonNode *doc = json_from_string(r.out.c_str(), err.out());
  ASSERT_TRUE(doc) << err.message() << r.out;
  JsonObject *o = json_node_get_object(doc);
  EXPECT_STREQ(json_object_get_string_member(o, "provider"), "gemini");
  EXPECT_STREQ(json_object_get_string_member(o, "model"), "gemini-3.1-flash-image");  // today's default
  JsonArray *files = json_object_get_array_member(o, "files");
  ASSERT_EQ(json_array_get_length(files), 1u);
  EXPECT_EQ(json_array_get_string_element(files, 0), path("out.png"));
  JsonObject *region = json_object_get_object_member(o, "region");
  Rect box = mask_bounds(mask);
  EXPECT_LE(json_object_get_int_member(region, "x"), box.x);
  EXPECT_LE(json_object_get_int_member(region, "y"), box.y);
  EXPECT_LT(json_object_get_int_member(region, "width"), photo_.width) << "only the region is sent";
  json_node_unref(doc);
}

// --json's cost is the usage it reports times the catalog's prices for the model, by kind
// (worked out here from the catalog file itself), for both services' default models.
TEST_F(CliTest, TheCostIsTheUsageTimesTheCatalogsPrices) {
  GErrorOut err;
  gchar *text = nullptr;
  ASSERT_TRUE(g_file_get_contents(g_getenv("GENFILL_MODELS_FILE"), &text, nullptr, nullptr));
  JsonNode *catalog = json_from_string(text, err.out());
  g_free(text);
  ASSERT_TRUE(catalog) << err.message();
  JsonArray *models = json_object_get_array_member(json_node_get_object(catalog), "models");
  for (const char *provider : {"gemini", "openai"}) {
    CliRun r = run({"edit", "--provider", provider, "--endpoint", endpoint(provider), "--prompt",
                    "replace it with a magenta balloon", "--json", photo_path_, "-o", path(std::string(provider) + ".png")});
    ASSERT_EQ(r.status, 0) << r.err;
    JsonNode *doc = json_from_string(r.out.c_str(), err.out());
    ASSERT_TRUE(doc) << r.out;
    JsonObject *o = json_node_get_object(doc);
    const std::string model = json_object_get_string_member(o, "model");
    JsonObject *prices = nullptr;
    for (guint i = 0; i < json_array_get_length(models); ++i) {
      JsonObject *m = json_array_get_object_element(models, i);
      if (model == json_object_get_string_member(m, "id")) prices = json_object_get_object_member(m, "prices");
    }
    ASSERT_TRUE(prices) << model << " has prices in the catalog";
    JsonObject *rate = json_object_get_object_member(prices, "usd_per_million");
    JsonObject *usage = json_object_get_object_member(o, "usage");
    auto count = [usage](const char *name) {
      return json_object_has_member(usage, name) ? double(json_object_get_int_member(usage, name)) : 0.0;
    };
    auto price = [rate](const char *kind) { return json_object_get_double_member(rate, kind); };
    ASSERT_GT(count("output_image_tokens"), 0) << provider << ": the usage by kind is reported";
    ASSERT_GT(count("input_image_tokens"), 0) << provider << ": the picture sent is counted";
    const double expected = (count("input_text_tokens") * price("text_in") + count("input_image_tokens") * price("image_in") +
                             (count("output_text_tokens") + count("thoughts_tokens")) * price("text_out") +
                             count("output_image_tokens") * price("image_out")) / 1e6;
    ASSERT_TRUE(json_object_has_member(o, "cost")) << r.out;
    JsonObject *cost = json_object_get_object_member(o, "cost");
    EXPECT_NEAR(json_object_get_double_member(cost, "usd"), expected, 1e-9) << provider << ": " << r.out;
    EXPECT_GT(expected, 0.01) << provider;
    EXPECT_FALSE(json_object_get_boolean_member(cost, "estimated"));
    EXPECT_STREQ(json_object_get_string_member(cost, "prices_as_of"), json_object_get_string_member(prices, "as_of"));
    json_node_unref(doc);
  }
  json_node_unref(catalog);
}

std::string json_string(const std::string &doc_text, const char *member) {
  GErrorOut err;
  JsonNode *doc = json_from_string(doc_text.c_str(), err.out());
  if (!doc || !JSON_NODE_HOLDS_OBJECT(doc)) {
    ADD_FAILURE() << "not JSON: " << doc_text;
    if (doc) json_node_unref(doc);
    return {};
  }
  JsonObject *o = json_node_get_object(doc);
  std::string v = json_object_has_member(o, member) ? json_object_get_string_member(o, member) : "";
  json_node_unref(doc);
  return v;
}

std::vector<std::string> strings_of(JsonObject *o, const char *member) {
  std::vector<std::string> v;
  JsonArray *a = json_object_get_array_member(o, member);
  for (guint i = 0; a && i < json_array_get_length(a); ++i) v.push_back(json_array_get_string_element(a, i));
  return v;
}

// Layer by layer: the second edit continues the first one's conversation.
TEST_F(CliTest, GeminiContinueSendsTheFirstTurnBackWithItsSignature) {
  std::string mask_path = write_ellipse_mask();
  CliRun first = run({"edit", "--provider", "gemini", "--endpoint", endpoint("gemini"), "--prompt", "make it red",
                      "--mask", mask_path, "--json", photo_path_, "-o", path("step1.png")});
  ASSERT_EQ(first.status, 0) << first.err;
  const std::string id = json_string(first.out, "conversation");
  ASSERT_EQ(id.size(), 32u) << first.out;

  CliRun second = run({"edit", "--provider", "gemini", "--endpoint", endpoint("gemini"), "--prompt",
                       "now make it yellow", "--mask", mask_path, "--continue", id, "--json", path("step1.png"), "-o",
                       path("step2.png")});
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(json_string(second.out, "conversation"), id) << "the same conversation goes on";

  JsonNode *reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(arr), 2u);
  JsonObject *one = json_array_get_object_element(arr, 0), *two = json_array_get_object_element(arr, 1);
  EXPECT_EQ(strings_of(one, "roles"), std::vector<std::string>{"user"});
  EXPECT_EQ(strings_of(two, "roles"), (std::vector<std::string>{"user", "model", "user"}));
  EXPECT_EQ(strings_of(two, "history_prompts"), std::vector<std::string>{"make it red"});
  EXPECT_EQ(json_object_get_int_member(two, "history_images"), 2) << "the picture sent and the one received";
  const std::vector<std::string> sigs = strings_of(two, "signatures");
  ASSERT_EQ(sigs.size(), 1u);
  gsize len = 0;
  guchar *raw = g_base64_decode(sigs[0].c_str(), &len);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(raw), len).rfind("fake-signature-", 0), 0u) << "returned unchanged";
  g_free(raw);
  EXPECT_EQ(std::string(json_object_get_string_member(two, "prompt")).rfind("now make it yellow", 0), 0u);
  json_node_unref(reqs);

  // A conversation gone from the cache: a single turn, and the user is told.
  remove_tree(path("cache"));
  CliRun third = run({"edit", "--provider", "gemini", "--endpoint", endpoint("gemini"), "--prompt", "and blue",
                      "--continue", id, path("step2.png"), "-o", path("step3.png")});
  ASSERT_EQ(third.status, 0) << third.err;
  EXPECT_NE(third.err.find("starts afresh"), std::string::npos) << third.err;
  reqs = fake_->requests();
  EXPECT_EQ(strings_of(last_request(reqs), "roles"), std::vector<std::string>{"user"});
  json_node_unref(reqs);

  CliRun bad = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--continue", "../../etc", "--json",
                    path("step2.png"), "-o", path("bad.png")});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("invalid-input"), std::string::npos) << bad.out;
}

TEST_F(CliTest, OpenAIContinueFoldsTheEarlierInstructionIntoThePrompt) {
  CliRun first = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "make it red",
                      "--json", photo_path_, "-o", path("step1.png")});
  ASSERT_EQ(first.status, 0) << first.err;
  const std::string id = json_string(first.out, "conversation");
  CliRun second = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt",
                       "now make it yellow", "--continue", id, "--json", path("step1.png"), "-o", path("step2.png")});
  ASSERT_EQ(second.status, 0) << second.err;
  JsonNode *reqs = fake_->requests();
  JsonObject *two = last_request(reqs);
  const std::string prompt = json_object_get_string_member(two, "prompt");
  EXPECT_NE(prompt.find("make it red"), std::string::npos) << prompt;
  EXPECT_LT(prompt.find("make it red"), prompt.find("now make it yellow")) << prompt;
  EXPECT_EQ(json_object_get_int_member(two, "image_count"), 1) << "the previous result is the only input";
  json_node_unref(reqs);
}

TEST_F(CliTest, OpenAIEditSendsAMaskOfTheImagesSize) {
  Mask mask;
  std::string mask_path = write_ellipse_mask(&mask);
  CliRun r = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "a magenta balloon",
               "--mask", mask_path, "--feather", "0", photo_path_, "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  expect_masked_edit(photo_, load_image_file(path("out.png")), mask, 1);

  JsonNode *reqs = fake_->requests();
  JsonObject *req = last_request(reqs);
  EXPECT_STREQ(json_object_get_string_member(req, "path"), "/v1/images/edits");
  EXPECT_EQ(json_object_get_int_member(req, "image_count"), 1);
  JsonArray *sizes = json_object_get_array_member(req, "image_sizes");
  JsonArray *first = json_array_get_array_element(sizes, 0);
  JsonArray *mask_size = json_object_get_array_member(req, "mask_size");
  EXPECT_EQ(json_array_get_int_element(first, 0), json_array_get_int_element(mask_size, 0));
  EXPECT_EQ(json_array_get_int_element(first, 1), json_array_get_int_element(mask_size, 1));
  // gpt-image-2 (the default) takes free sizes: both sides multiples of 16, 655,360 to 3,686,400
  // pixels, no side more than three times the other; here the shape of the region sent.
  const std::string size = json_object_get_string_member(req, "size");
  EXPECT_STREQ(json_object_get_string_member(req, "model"), "gpt-image-2");
  int w = 0, h = 0;
  ASSERT_EQ(std::sscanf(size.c_str(), "%dx%d", &w, &h), 2) << size;
  EXPECT_EQ(w % 16, 0) << size;
  EXPECT_EQ(h % 16, 0) << size;
  EXPECT_GE(int64_t(w) * h, 655360) << size;
  EXPECT_LE(int64_t(w) * h, 3686400) << size;
  EXPECT_LE(std::max(w, h), 3 * std::min(w, h)) << size;
  const double sent = double(json_array_get_int_element(first, 0)) / double(json_array_get_int_element(first, 1));
  EXPECT_NEAR(double(w) / h, sent, 0.05) << size << " for an upload of ratio " << sent;
  json_node_unref(reqs);
}

TEST_F(CliTest, FeatherStaysInsideTheSelection) {
  Mask mask;
  std::string mask_path = write_ellipse_mask(&mask);
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--mask", mask_path, "--feather", "6",
               photo_path_, "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  expect_masked_edit(photo_, load_image_file(path("out.png")), mask, 12);
}

TEST_F(CliTest, WithoutAMaskTheWholePictureIsEdited) {
  CliRun r = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "make it magenta",
               photo_path_, "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  Image out = load_image_file(path("out.png"));
  ASSERT_EQ(out.width, photo_.width);
  ASSERT_EQ(out.height, photo_.height);
  Mask all(photo_.width, photo_.height, 255);
  expect_masked_edit(photo_, out, all, 0);
}

// The fake answers with the uploaded picture drifted (shifted, scaled, brighter) and the
// selection painted: by default the result has no seam; --raw shows the drift at the edge.
TEST_F(CliTest, DriftedAnswerIsRegisteredAndLeavesNoSeam) {
  Mask mask;
  std::string mask_path = write_ellipse_mask(&mask);
  const char *drift = R"({"color":"3366CC","count":2,"drift":{"dx":7,"dy":-5,"scale":1.04,"gain":1.12,"offset":-6}})";
  fake_->enqueue(drift);
  CliRun fixed = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--mask", mask_path, "--json",
                      photo_path_, "-o", path("fixed.png")});
  ASSERT_EQ(fixed.status, 0) << fixed.err;
  CliRun raw = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--mask", mask_path, "--raw",
                    "--json", photo_path_, "-o", path("raw.png")});
  ASSERT_EQ(raw.status, 0) << raw.err;
  EXPECT_NE(fixed.out.find("\"registered\" : true"), std::string::npos) << fixed.out;
  EXPECT_NE(raw.out.find("\"registered\" : false"), std::string::npos) << raw.out;
  // The seam report is core's (core/edit/record), the same object the plug-in's parasite holds.
  EXPECT_NE(fixed.out.find("\"colour_matched\" : true"), std::string::npos) << fixed.out;
  EXPECT_NE(fixed.out.find("\"shift\" : ["), std::string::npos) << fixed.out;
  // Mean error against the original in a ring just inside the selection's edge (the edit's
  // ellipse is smaller than the selection, so the ring is context the model kept).
  auto ring_error = [&](const Image &out) {
    double err = 0, n = 0;
    for (int y = 8; y < photo_.height - 8; ++y)
      for (int x = 8; x < photo_.width - 8; ++x) {
        if (!mask.at(x, y)) continue;
        bool near = !mask.at(x - 6, y) || !mask.at(x + 6, y) || !mask.at(x, y - 6) || !mask.at(x, y + 6);
        if (!near) continue;
        for (int c = 0; c < 3; ++c) err += std::abs(out.at(x, y)[c] - double(photo_.at(x, y)[c]));
        n += 3;
      }
    return err / n;
  };
  double e_fixed = ring_error(load_image_file(path("fixed.png")));
  double e_raw = ring_error(load_image_file(path("raw.png")));
  RecordProperty("ring_error_raw", std::to_string(e_raw));
  RecordProperty("ring_error_fixed", std::to_string(e_fixed));
  EXPECT_LT(e_fixed, e_raw / 2) << "raw " << e_raw << " fixed " << e_fixed;
  EXPECT_LT(e_fixed, 6.0) << "raw " << e_raw << " fixed " << e_fixed;
}

// The services --provider takes come from the registry: every one is named, the first as the default.
TEST_F(CliTest, ProviderHelpNamesEveryServiceOfTheRegistry) {
  for (const char *command : {"edit", "generate"}) {
    CliRun help = run({command, "--help"});
    ASSERT_EQ(help.status, 0) << help.err;
    const size_t line = help.out.find("--provider");
    ASSERT_NE(line, std::string::npos) << help.out;
    const std::string text = help.out.substr(line, help.out.find('\n', line) - line);
    for (const Provider *p : all_providers()) EXPECT_NE(text.find(std::string(p->name())), std::string::npos) << text;
    EXPECT_NE(text.find("(default: " + std::string(all_providers().front()->name()) + ")"), std::string::npos)
        << text;
  }
}

// genfill --version: the version from meson's project version, and the catalog it reads with the
// day its facts were read (the catalog's top-level "date").
TEST_F(CliTest, TheVersionNamesTheCatalogAndItsDate) {
  const char *models = g_getenv("GENFILL_MODELS_FILE");
  ASSERT_TRUE(models);
  gchar *text = nullptr;
  ASSERT_TRUE(g_file_get_contents(models, &text, nullptr, nullptr));
  const std::string catalog(text);
  g_free(text);
  const size_t at = catalog.find("\"date\": \"");
  ASSERT_NE(at, std::string::npos) << "the shipped catalog has no date";
  const std::string date = catalog.substr(at + 9, 10);
  CliRun v = run({"--version"}, false);
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.out, std::string("genfill ") + GENFILL_VERSION + "\nmodel catalog of " + date + ": " + models + "\n");
}

// genfill expand: the canvas grows by the margins, the middle is the input untouched outside the
// feather band, the border is the model's; --json says margins, canvas and region.
TEST_F(CliTest, ExpandGrowsTheCanvasAndKeepsThePicture) {
  fake_->enqueue(R"({"color":"3366CC"})");
  CliRun r = run({"expand", "--endpoint", endpoint("gemini"), "--left", "100", "--right", "100", "--feather", "6",
                  "--json", photo_path_, "-o", path("wide.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  const Image out = load_image_file(path("wide.png"));
  ASSERT_EQ(out.width, photo_.width + 200);
  ASSERT_EQ(out.height, photo_.height);
  for (int y = 0; y < out.height; ++y) {
    for (int x : {0, 50, 99, photo_.width + 100, photo_.width + 199}) {
      const uint8_t *p = out.at(x, y);
      ASSERT_TRUE(p[0] == 0x33 && p[1] == 0x66 && p[2] == 0xCC && p[3] == 255) << x << "," << y;
    }
    for (int x = 6; x < photo_.width - 6; ++x)
      ASSERT_EQ(std::memcmp(out.at(100 + x, y), photo_.at(x, y), 4), 0) << x << "," << y;
  }
  JsonNode *reqs = fake_->requests();
  JsonObject *req = last_request(reqs);
  EXPECT_NE(std::string(json_object_get_string_member(req, "prompt")).find("#FF00FF"), std::string::npos);
  json_node_unref(reqs);
  GErrorOut err;
  JsonNode *doc = json_from_string(r.out.c_str(), err.out());
  ASSERT_TRUE(doc) << err.message() << r.out;
  JsonObject *o = json_node_get_object(doc);
  EXPECT_STREQ(json_object_get_string_member(o, "command"), "expand");
  JsonObject *margins = json_object_get_object_member(o, "margins");
  EXPECT_EQ(json_object_get_int_member(margins, "left"), 100);
  EXPECT_EQ(json_object_get_int_member(margins, "right"), 100);
  EXPECT_EQ(json_object_get_int_member(margins, "top"), 0);
  JsonObject *canvas = json_object_get_object_member(o, "canvas");
  EXPECT_EQ(json_object_get_int_member(canvas, "width"), photo_.width + 200);
  EXPECT_EQ(json_object_get_int_member(canvas, "height"), photo_.height);
  ASSERT_TRUE(json_object_has_member(o, "region"));
  json_node_unref(doc);

  // To an aspect: centred margins.
  fake_->enqueue(R"({"color":"3366CC"})");
  CliRun square = run({"expand", "--endpoint", endpoint("gemini"), "--to-aspect", "1:1", "--prompt", "more sky",
                       photo_path_, "-o", path("square.png")});
  ASSERT_EQ(square.status, 0) << square.err;
  const Image sq = load_image_file(path("square.png"));
  EXPECT_EQ(sq.width, sq.height);
  EXPECT_EQ(std::max(sq.width, sq.height), std::max(photo_.width, photo_.height));
}

TEST_F(CliTest, ARefusedExpandSendsAndWritesNothing) {
  for (std::vector<std::string> args : {std::vector<std::string>{},                      // no margin
                                        std::vector<std::string>{"--left", "-4"},         // negative
                                        std::vector<std::string>{"--to-aspect", "wide"},  // no W:H
                                        std::vector<std::string>{"--left", "5", "--to-aspect", "1:1"}}) {
    std::vector<std::string> argv = {"expand", "--endpoint", endpoint("gemini")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {photo_path_, "-o", path("never.png")});
    CliRun r = run(argv);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_FALSE(r.err.empty());
    EXPECT_FALSE(exists("never.png"));
  }
  EXPECT_EQ(fake_->request_count(), 0);
}

TEST_F(CliTest, GenerateSeveralImages) {
  CliRun r = run({"generate", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "a lighthouse",
               "--aspect", "3:2", "-n", "2", "-o", path("gen.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  // gpt-image-2 (the default) makes 3:2 at its usual size of about a megapixel, in multiples of 16.
  for (const char *name : {"gen-1.png", "gen-2.png"}) {
    Image img = load_image_file(path(name));
    EXPECT_EQ(img.width, 1248);
    EXPECT_EQ(img.height, 832);
  }
  EXPECT_FALSE(exists("gen.png"));
  EXPECT_EQ(fake_->request_count(), 1) << "OpenAI takes n in one call";

  CliRun g = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "a lighthouse", "--size", "640x480",
               "-n", "3", "-o", path("g.png")});
  ASSERT_EQ(g.status, 0) << g.err;
  for (const char *name : {"g-1.png", "g-2.png", "g-3.png"}) {
    Image img = load_image_file(path(name));
    EXPECT_EQ(img.width, 640);
    EXPECT_EQ(img.height, 480);
  }
  EXPECT_EQ(fake_->request_count(), 4) << "Gemini needs one call per image";
}

// Imagen (legacy :predict, as relays and old endpoints serve it): up to four pictures per call,
// the key in a header, each picture at the model's size for the ratio.
TEST_F(CliTest, ImagenGeneratesFromThePromptAlone) {
  // Every Imagen model is retired, so genfill names no default for it: the model is named (the
  // fake, like relays and old endpoints, still serves it).
  CliRun r = run({"generate", "--provider", "imagen", "-m", "imagen-4.0-generate-001", "--endpoint", endpoint("imagen"),
                  "--prompt", "a lighthouse", "--aspect", "16:9", "-n", "3", "--json", "-o", path("gen.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char *name : {"gen-1.png", "gen-2.png", "gen-3.png"}) {
    Image img = load_image_file(path(name));
    EXPECT_EQ(img.width, 1408) << name;
    EXPECT_EQ(img.height, 768) << name;
  }
  EXPECT_EQ(json_string(r.out, "provider"), "imagen");
  EXPECT_EQ(json_string(r.out, "model"), "imagen-4.0-generate-001");
  JsonNode *reqs = fake_->requests();
  ASSERT_EQ(json_array_get_length(json_node_get_array(reqs)), 1u) << "three pictures in one call";
  JsonObject *req = last_request(reqs);
  EXPECT_STREQ(json_object_get_string_member(req, "path"), "/v1beta/models/imagen-4.0-generate-001:predict");
  EXPECT_TRUE(json_object_get_boolean_member(req, "has_key"));
  EXPECT_FALSE(json_object_get_boolean_member(req, "key_in_query"));
  EXPECT_EQ(json_object_get_int_member(req, "n"), 3);
  EXPECT_STREQ(json_object_get_string_member(req, "aspect"), "16:9");
  EXPECT_STREQ(json_object_get_string_member(req, "prompt"), "a lighthouse");
  EXPECT_EQ(json_object_get_int_member(req, "status"), 200);
  json_node_unref(reqs);

  // Six pictures: four, then two.
  CliRun six = run({"generate", "-p", "imagen", "-m", "imagen-3.0-generate-002", "--endpoint", endpoint("imagen"),
                    "--prompt", "a lighthouse", "-n", "6", "-o", path("six.png")});
  ASSERT_EQ(six.status, 0) << six.err;
  EXPECT_TRUE(exists("six-6.png"));
  reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(arr), 3u);
  // Sent side by side: they may arrive in either order.
  std::multiset<int64_t> counts = {json_object_get_int_member(json_array_get_object_element(arr, 1), "n"),
                                   json_object_get_int_member(json_array_get_object_element(arr, 2), "n")};
  EXPECT_EQ(counts, (std::multiset<int64_t>{4, 2}));
  json_node_unref(reqs);
}

// An edit with a model that only generates stops before anything is sent, in plain words, and
// before a missing key would be reported.
TEST_F(CliTest, ImagenEditIsRefusedBeforeSending) {
  for (bool with_key : {true, false}) {
    CliRun r = run({"edit", "--provider", "imagen", "-m", "imagen-4.0-generate-001", "--endpoint", endpoint("imagen"),
                    "--prompt", "make it red", "--json", photo_path_, "-o", path("out.png")},
                   with_key);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("only creates new pictures"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("\"invalid-input\""), std::string::npos) << r.out;
    EXPECT_FALSE(exists("out.png"));
  }
  CliRun refs = run({"generate", "--provider", "imagen", "-m", "imagen-4.0-generate-001", "--endpoint",
                     endpoint("imagen"), "--prompt", "x", "-r", photo_path_, "-o", path("gen.png")});
  EXPECT_EQ(refs.status, 1);
  EXPECT_NE(refs.err.find("reference"), std::string::npos) << refs.err;
  EXPECT_EQ(fake_->request_count(), 0);
}

// A chat relay (OpenRouter's form): the picture, the mask as a second picture and the prompt go as
// one user message; the answer's picture comes back as a data URL and is composited pixel-exact.
TEST_F(CliTest, ChatRelayEditHonoursTheMask) {
  Mask mask;
  std::string mask_path = write_ellipse_mask(&mask);
  CliRun r = run({"edit", "--provider", "openai-chat", "--endpoint", endpoint("openai-chat"), "--prompt",
                  "replace it with a magenta balloon", "--mask", mask_path, "--feather", "0", "--json", photo_path_,
                  "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  expect_masked_edit(photo_, load_image_file(path("out.png")), mask, 1);
  EXPECT_EQ(json_string(r.out, "provider"), "openai-chat");
  EXPECT_EQ(json_string(r.out, "model"), "google/gemini-3.1-flash-image");  // the relay's default today
  EXPECT_EQ(json_string(r.out, "text"), "Here is the edited picture.");

  JsonNode *reqs = fake_->requests();
  JsonObject *req = last_request(reqs);
  EXPECT_STREQ(json_object_get_string_member(req, "path"), "/v1/chat/completions");
  EXPECT_TRUE(json_object_get_boolean_member(req, "has_key"));
  EXPECT_FALSE(json_object_get_boolean_member(req, "key_in_query"));
  EXPECT_EQ(json_object_get_int_member(req, "image_count"), 2) << "the picture and its mask";
  EXPECT_STRNE(json_object_get_string_member(req, "aspect"), "");
  EXPECT_EQ(std::string(json_object_get_string_member(req, "prompt")).rfind("replace it with a magenta balloon", 0), 0u);
  EXPECT_EQ(strings_of(req, "roles"), std::vector<std::string>{"user"});
  json_node_unref(reqs);

  // The next step goes on from the conversation: the earlier turns travel as messages.
  const std::string id = json_string(r.out, "conversation");
  CliRun next = run({"edit", "-p", "openai-chat", "--endpoint", endpoint("openai-chat"), "--prompt",
                     "now make it yellow", "--mask", mask_path, "--continue", id, path("out.png"), "-o",
                     path("step2.png")});
  ASSERT_EQ(next.status, 0) << next.err;
  reqs = fake_->requests();
  req = last_request(reqs);
  EXPECT_EQ(strings_of(req, "roles"), (std::vector<std::string>{"user", "assistant", "user"}));
  EXPECT_EQ(strings_of(req, "history_prompts"), std::vector<std::string>{"replace it with a magenta balloon"});
  EXPECT_EQ(json_object_get_int_member(req, "history_images"), 1) << "the picture sent earlier";
  json_node_unref(reqs);
}

TEST_F(CliTest, GenerateTransparentWritesRealAlpha) {
  CliRun r = run({"generate", "-p", "openai", "--endpoint", endpoint("openai"), "--prompt", "a sticker of a fox",
                  "--transparent", "--size", "400x300", "-o", path("fox.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  Image img = load_image_file(path("fox.png"));
  ASSERT_EQ(img.width, 400);
  ASSERT_EQ(img.height, 300);
  size_t clear = 0, opaque = 0;
  for (size_t i = 3; i < img.pixels.size(); i += 4) {
    clear += img.pixels[i] == 0;
    opaque += img.pixels[i] == 255;
  }
  EXPECT_GT(clear, 400u * 300 / 10);
  EXPECT_GT(opaque, 400u * 300 / 10);
  JsonNode *reqs = fake_->requests();
  JsonObject *last = last_request(reqs);
  EXPECT_STREQ(json_object_get_string_member(last, "background"), "transparent");
  EXPECT_STREQ(json_object_get_string_member(last, "output_format"), "png");
  json_node_unref(reqs);

  // Gemini cannot: a clear error before anything is sent, and no file.
  CliRun g = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "a fox", "--transparent", "-o",
                  path("g.png")});
  EXPECT_EQ(g.status, 1);
  EXPECT_NE(g.err.find("cannot make a transparent background"), std::string::npos) << g.err;
  EXPECT_FALSE(exists("g.png"));
  EXPECT_EQ(fake_->request_count(), 1);
}

struct ErrorCase {
  const char *provider;
  const char *reply;        // JSON for /_fake/enqueue
  const char *code;         // expected error code in --json
  const char *in_message;   // expected words in the message
  const char *command = "edit";  // "generate" for models that only generate
  const char *model = nullptr;   // nullptr: the provider's default
};

class CliErrorTest : public CliTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(CliErrorTest, FailsCleanlyWithAClearMessage) {
  const ErrorCase &c = GetParam();
  fake_->enqueue(c.reply);
  // Verbose, so every log line of every failure path is checked for the key too (run() does).
  std::vector<std::string> args = {c.command, "-v", "--provider", c.provider, "--endpoint", endpoint(c.provider),
                                    "--prompt", "x", "--json", "--timeout", "2", "-o", path("out.png")};
  if (c.model) args.insert(args.end(), {"--model", c.model});
  if (std::string(c.command) == "edit") args.push_back(photo_path_);
  CliRun r = run(args);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_FALSE(exists("out.png")) << "nothing is written on failure";
  EXPECT_NE(r.err.find(c.in_message), std::string::npos) << r.err;
  GErrorOut err;
  JsonNode *doc = json_from_string(r.out.c_str(), err.out());
  ASSERT_TRUE(doc) << r.out;
  JsonObject *e = json_object_get_object_member(json_node_get_object(doc), "error");
  ASSERT_TRUE(e);
  EXPECT_STREQ(json_object_get_string_member(e, "code"), c.code) << json_object_get_string_member(e, "message");
  json_node_unref(doc);
}

INSTANTIATE_TEST_SUITE_P(
    Replies, CliErrorTest,
    ::testing::Values(
        ErrorCase{"gemini", R"({"status":400,"fixture":"gemini/error_400_api_key_invalid.json"})", "bad-key", "key"},
        ErrorCase{"openai", R"({"status":401,"fixture":"openai/error_401_invalid_api_key.json"})", "bad-key", "key"},
        ErrorCase{"openai", R"({"status":400,"fixture":"openai/error_400_moderation_blocked.json"})", "refused",
                  "OpenAI"},
        ErrorCase{"gemini", R"({"status":404,"fixture":"gemini/error_404_model_not_found.json"})",
                  "model-not-found", "gemini"},
        ErrorCase{"openai", R"({"status":429,"fixture":"openai/error_429_insufficient_quota.json"})",
                  "quota-exhausted", "OpenAI"},
        ErrorCase{"gemini", R"({"status":500,"fixture":"gemini/error_500_internal.json","count":3})",
                  "server-error", "Gemini"},
        ErrorCase{"gemini", R"({"text_only":true})", "text-only", "text"},
        ErrorCase{"gemini", R"({"status":200,"fixture":"gemini/response_blocked_prompt_feedback.json"})",
                  "refused", "Gemini"},
        ErrorCase{"openai", R"({"truncate_at":40})", "bad-response", "OpenAI"},
        ErrorCase{"gemini", R"({"delay_ms":6000,"count":3})", "timeout", "time"},
        // The rest of the fault matrix: every failure ends in a clear message and no file.
        ErrorCase{"gemini", R"({"status":403,"fixture":"gemini/error_403_permission_denied_consumer_suspended.json"})",
                  "permission-denied", "suspended"},
        ErrorCase{"openai", R"({"status":403,"fixture":"openai/error_403_org_not_verified.json"})",
                  "permission-denied", "verified"},
        ErrorCase{"gemini", R"({"status":429,"fixture":"gemini/error_429_resource_exhausted_minimal.json","count":3})",
                  "rate-limited", "too many requests"},
        ErrorCase{"openai", R"({"status":502,"body":"<html>Bad gateway</html>","count":3})", "server-error",
                  "error 502"},
        ErrorCase{"gemini", R"({"status":504,"fixture":"gemini/error_504_deadline_exceeded.json","count":3})",
                  "server-error", "Gemini"},
        ErrorCase{"gemini", R"({"reset":true,"count":3})", "network", "Could not reach"},
        // A 200 cut mid-body is not asked again (it may be billed), and says so.
        ErrorCase{"gemini", R"({"reset":true,"truncate_at":100,"count":3})", "bad-response", "cut short"},
        // A service echoing the key in its error: the words come through, the key does not (run()
        // checks every line of output).
        ErrorCase{"gemini", R"({"echo_key":true})", "bad-request", "[key]"},
        ErrorCase{"openai", R"({"echo_key":true})", "bad-request", "[key]"},
        ErrorCase{"gemini", R"({"picture":"bad_base64"})", "bad-response", "damaged"},
        ErrorCase{"openai", R"({"picture":"corrupt"})", "bad-response", "cannot read"},
        ErrorCase{"gemini", R"({"picture":"tiny"})", "bad-response", "too small"},
        ErrorCase{"openai", R"({"picture":"huge"})", "too-large", "far larger than asked for"},
        ErrorCase{"gemini", R"({"huge_bytes":1073741824})", "too-large", "larger than genfill accepts"},
        ErrorCase{"openai", R"({"status":400,"fixture":"openai/error_400_invalid_size_gpt_image.json"})",
                  "bad-request", "rejected the request"},
        // The relay formats: server error, cut JSON, no picture (and what each says on top).
        ErrorCase{"imagen", R"({"status":500,"fixture":"imagen/error_500_internal.json","count":3})", "server-error",
                  "Imagen", "generate", "imagen-4.0-generate-001"},
        ErrorCase{"imagen", R"({"truncate_at":40})", "bad-response", "Imagen", "generate", "imagen-4.0-generate-001"},
        ErrorCase{"imagen", R"({"text_only":true})", "refused", "safety filters", "generate",
                  "imagen-4.0-generate-001"},
        ErrorCase{"imagen", R"({"status":404,"fixture":"imagen/error_404_model_retired.json"})", "model-not-found",
                  "retired on 2026-06-24. Use gemini-3.1-flash-image (service gemini)", "generate",
                  "imagen-3.0-generate-002"},  // the model the fixture names
        ErrorCase{"openai-chat", R"({"status":502,"fixture":"openai-chat/error_502_model_down.json","count":3})",
                  "server-error", "relay"},
        ErrorCase{"openai-chat", R"({"truncate_at":40})", "bad-response", "relay"},
        ErrorCase{"openai-chat", R"({"text_only":true})", "text-only", "text instead of a picture"},
        ErrorCase{"openai-chat", R"({"status":402,"fixture":"openai-chat/error_402_insufficient_credits.json"})",
                  "quota-exhausted", "credit"},
        ErrorCase{"openai-chat", R"({"status":403,"fixture":"openai-chat/error_403_moderation.json"})", "refused",
                  "moderation"}));

TEST_F(CliTest, ConnectionRefusedIsANetworkError) {
  // A port nobody listens on (the fake's, once it is gone).
  std::string url = fake_->url();
  fake_.reset();
  CliRun r = run({"edit", "--endpoint", url, "--prompt", "x", "--json", photo_path_, "-o", path("out.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Could not reach 127.0.0.1"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"network\""), std::string::npos) << r.out;
  EXPECT_FALSE(exists("out.png"));
  fake_ = std::make_unique<FakeProcess>();
}

TEST_F(CliTest, RetriesARateLimitThenSucceeds) {
  fake_->enqueue(R"({"status":429,"fixture":"openai/error_429_rate_limit.json","headers":{"retry-after":"1"}})");
  CliRun r = run({"edit", "-p", "openai", "--endpoint", endpoint("openai"), "--prompt", "x", photo_path_, "-o",
               path("out.png")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(fake_->request_count(), 2);
  EXPECT_GE(r.seconds, 1.0) << "Retry-After is honoured";
  EXPECT_TRUE(exists("out.png"));
}

TEST_F(CliTest, ANonsenseTimeoutIsRefusedAndNothingIsSentOrWritten) {
  for (const char *timeout : {"nan", "inf", "0", "-3"}) {
    SCOPED_TRACE(timeout);
    CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--timeout", timeout, photo_path_, "-o",
                    path("out.png")});
    EXPECT_TRUE(r.status == 1 || r.status == 2) << r.status << ": " << r.err;
    EXPECT_NE(r.err.find("more than 0"), std::string::npos) << r.err;
    EXPECT_FALSE(exists("out.png"));
  }
  EXPECT_EQ(fake_->request_count(), 0);
}

TEST_F(CliTest, MissingKeyIsAClearErrorAndSendsNothing) {
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("out.png")},
              /*with_key=*/false);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("GEMINI_API_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
  EXPECT_FALSE(exists("out.png"));
}

TEST_F(CliTest, CtrlCCancelsPromptly) {
  fake_->enqueue(R"({"delay_ms":20000})");
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("out.png")},
              true, 1.0);
  EXPECT_EQ(r.status, 130) << r.err;
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_FALSE(exists("out.png"));
}

TEST_F(CliTest, CtrlCMidDownloadCancelsPromptly) {
  fake_->enqueue(R"({"stall":true,"truncate_at":200})");  // half an answer, then silence
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("out.png")},
              true, 1.0);
  EXPECT_EQ(r.status, 130) << r.err;
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_EQ(fake_->request_count(), 1) << "cancelled, not retried";
  EXPECT_FALSE(exists("out.png"));
}

// ---------- the user's files ----------

// An output that is one of the inputs (the same name, a symbolic or a hard link to it, the mask or
// a reference picture) is refused before anything is sent, and the input is left as it was.
TEST_F(CliTest, AnOutputThatIsAnInputIsRefused) {
  const std::string photo = bytes(photo_path_);
  ASSERT_FALSE(photo.empty());
  put(path("in.png"), photo);
  ASSERT_EQ(symlink(path("in.png").c_str(), path("link.png").c_str()), 0);
  ASSERT_EQ(link(path("in.png").c_str(), path("hard.png").c_str()), 0);
  const std::string mask = write_ellipse_mask();
  const std::string mask_bytes = bytes(mask);
  put(path("ref.png"), photo);
  struct Case {
    std::string output;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {
      {path("in.png"), {}},
      {tmp_ + "/./in.png", {}},
      {path("link.png"), {}},
      {path("hard.png"), {}},
      {mask, {"--mask", mask}},
      {path("ref.png"), {"-r", path("ref.png")}},
      {path("in.png"), {"--force"}},  // --force replaces outputs, never inputs
  };
  for (const Case &c : cases) {
    std::vector<std::string> args = {"edit", "--endpoint", endpoint("gemini"), "--prompt", "x"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    args.insert(args.end(), {path("in.png"), "-o", c.output});
    CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << c.output << ": " << r.err;
    EXPECT_NE(r.err.find("is also an input"), std::string::npos) << r.err;
  }
  // Generate reads only its references.
  CliRun g = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "x", "-r", path("ref.png"), "-o",
                  path("ref.png")});
  EXPECT_EQ(g.status, 2) << g.err;
  EXPECT_NE(g.err.find("is also an input"), std::string::npos) << g.err;
  EXPECT_EQ(bytes(path("in.png")), photo);
  EXPECT_EQ(bytes(path("ref.png")), photo);
  EXPECT_EQ(bytes(mask), mask_bytes);
  EXPECT_EQ(fake_->request_count(), 0);
}

// An existing output stays unless --force; all -n names are checked before anything is sent.
TEST_F(CliTest, AnExistingOutputIsReplacedOnlyWithForce) {
  put(path("out.png"), "precious");
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--json", photo_path_, "-o",
                  path("out.png")});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"invalid-input\""), std::string::npos) << r.out;
  EXPECT_EQ(bytes(path("out.png")), "precious");

  put(path("many-3.png"), "precious too");
  CliRun n = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "x", "--size", "64x64", "-n", "3", "-o",
                  path("many.png")});
  EXPECT_EQ(n.status, 2) << n.err;
  EXPECT_NE(n.err.find("many-3.png already exists"), std::string::npos) << n.err;
  EXPECT_FALSE(exists("many-1.png"));
  EXPECT_EQ(bytes(path("many-3.png")), "precious too");
  EXPECT_EQ(fake_->request_count(), 0) << "refused before anything is sent";

  CliRun f = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--force", photo_path_, "-o",
                  path("out.png")});
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(load_image_file(path("out.png")).width, photo_.width);
  EXPECT_EQ(hidden(), std::set<std::string>{}) << "no temporary is left";
}

// -n 3 where one answer fails: no picture is written, no temporary is left, and a file that was
// there already (replaced only if all went well) is untouched.
TEST_F(CliTest, SeveralOutputsAreWrittenAllOrNone) {
  put(path("set-2.png"), "precious");
  for (const char *broken : {R"({"picture":"corrupt"})", R"({"status":400,"fixture":"gemini/error_400_api_key_invalid.json"})"}) {
    fake_->enqueue(R"({"color":"00FF00","count":2})");
    fake_->enqueue(broken);
    CliRun r = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "x", "--size", "64x64", "-n", "3",
                    "--force", "-o", path("set.png")});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_FALSE(exists("set-1.png"));
    EXPECT_FALSE(exists("set-3.png"));
    EXPECT_EQ(bytes(path("set-2.png")), "precious");
    EXPECT_EQ(hidden(), std::set<std::string>{}) << "no temporary is left";
  }
  // A picture that cannot be written (its temporary's name is one character too long for the
  // file system; the nine before it fit): the nine written are removed too.
  const std::string stem(255 - std::string(".-9.png.XXXXXX").size(), 'a');
  CliRun r = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "x", "--size", "64x64", "-n", "10",
                  "-o", path(stem + ".png")});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("Could not write"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(stem + "-1.png"));
  EXPECT_FALSE(exists(stem + "-9.png"));
  EXPECT_EQ(hidden(), std::set<std::string>{}) << "no temporary is left";
  EXPECT_EQ(bytes(path("set-2.png")), "precious");
}

// Ctrl-C (or SIGTERM) while several answers are awaited: nothing written, no temporary left;
// 130 after SIGINT, 143 after SIGTERM.
TEST_F(CliTest, CtrlCWhileSeveralAreAwaitedWritesNothing) {
  for (int sig : {SIGINT, SIGTERM}) {
    fake_->enqueue(R"({"delay_ms":20000,"count":3})");
    signal_ = sig;
    CliRun r = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "x", "--size", "64x64", "-n", "3",
                    "-o", path("set.png")},
                   true, 1.0);
    EXPECT_EQ(r.status, sig == SIGINT ? 130 : 143) << r.err;
    EXPECT_LT(r.seconds, 5.0);
    for (const char *name : {"set-1.png", "set-2.png", "set-3.png"}) EXPECT_FALSE(exists(name)) << name;
    EXPECT_EQ(hidden(), std::set<std::string>{}) << "no temporary is left";
    fake_->reset();
  }
}

// Ctrl-C while the input is still being read (a pipe whose writer is slow): once the picture is
// in, the command stops with 130 and nothing is sent or written.
TEST_F(CliTest, CtrlCWhileReadingTheInputSendsNothing) {
  ASSERT_EQ(mkfifo(path("slow.png").c_str(), 0600), 0);
  const std::string photo = bytes(photo_path_);
  after_signal_ = [&] {
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; ++i) {  // the CLI opens the pipe for reading
      fd = open(path("slow.png").c_str(), O_WRONLY | O_NONBLOCK);
      if (fd < 0) g_usleep(10000);
    }
    ASSERT_GE(fd, 0) << "the CLI never read its input";
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    for (size_t done = 0; done < photo.size();) {
      const ssize_t n = write(fd, photo.data() + done, photo.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    close(fd);
  };
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", path("slow.png"), "-o", path("out.png")},
                 true, 1.0);
  after_signal_ = nullptr;
  EXPECT_EQ(r.status, 130) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
  EXPECT_FALSE(exists("out.png"));
  EXPECT_EQ(hidden(), std::set<std::string>{});
}

// ---------- nothing the model says drives the terminal ----------

bool has_control(const std::string &s) {
  return s.find('\x1b') != std::string::npos || s.find('\x07') != std::string::npos ||
         s.find("\xc2\x9b") != std::string::npos;
}

TEST_F(CliTest, TheModelsWordsCannotDriveTheTerminal) {
  const char *evil = R"(\u001b]0;pwned\u0007\u001b[2J\u009b31m)";
  // Its words beside a picture, as text and as JSON.
  for (bool json : {false, true}) {
    fake_->enqueue(std::string(R"({"text":"Here it is )") + evil + R"( done"})");
    std::vector<std::string> args = {"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o",
                                     path(json ? "a.png" : "b.png")};
    if (json) args.push_back("--json");
    CliRun r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(has_control(r.out)) << r.out;
    EXPECT_FALSE(has_control(r.err)) << r.err;
    EXPECT_NE((json ? r.out : r.err).find("Here it is ]0;pwned[2J"), std::string::npos) << r.out << r.err;
  }
  // Its words instead of a picture, and the service's own words in an error (verbose: the detail
  // in the log too).
  const std::string error_body = std::string(R"({"error":{"code":400,"message":"Bad )") + evil +
                                 R"( request","status":"INVALID_ARGUMENT)" + evil + R"("}})";
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_object(b.get());
  json_builder_set_member_name(b.get(), "status");
  json_builder_add_int_value(b.get(), 400);
  json_builder_set_member_name(b.get(), "body");
  json_builder_add_string_value(b.get(), error_body.c_str());
  json_builder_end_object(b.get());
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  JsonNode *root = json_builder_get_root(b.get());
  json_generator_set_root(gen.get(), root);
  GCharPtr scripted(json_generator_to_data(gen.get(), nullptr));
  json_node_unref(root);
  for (const std::string &reply : {std::string(R"({"text_only":true,"text":"No. )") + evil + R"("})",
                                   std::string(scripted.get())}) {
    for (bool json : {false, true}) {
      fake_->enqueue(reply);
      std::vector<std::string> args = {"edit", "-v", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_,
                                       "-o", path("c.png")};
      if (json) args.push_back("--json");
      CliRun r = run(args);
      EXPECT_EQ(r.status, 1) << r.err;
      EXPECT_FALSE(has_control(r.out)) << r.out;
      EXPECT_FALSE(has_control(r.err)) << r.err;
      EXPECT_NE(r.err.find("]0;pwned[2J"), std::string::npos) << r.err;
    }
  }
}

TEST_F(CliTest, MaskOfTheWrongSizeIsRefusedBeforeSending) {
  Mask small(10, 10, 255);
  std::vector<uint8_t> png = encode_png(small);
  g_file_set_contents(path("small.png").c_str(), reinterpret_cast<const char *>(png.data()), gssize(png.size()),
                      nullptr);
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--mask", path("small.png"), photo_path_,
               "-o", path("out.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("must match"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
}

TEST_F(CliTest, VerboseLoggingNeverShowsTheKey) {
  fake_->enqueue(R"({"status":503,"fixture":"gemini/error_503_unavailable.json"})");
  CliRun r = run({"edit", "-v", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("o.png")});
  EXPECT_EQ(r.status, 0) << r.err;  // the retry succeeds; run() checks the key is absent from all output
  EXPECT_FALSE(r.err.empty());
}

JsonObject *provider_named(JsonArray *arr, const std::string &name) {
  for (guint i = 0; i < json_array_get_length(arr); ++i) {
    JsonObject *p = json_array_get_object_element(arr, i);
    if (json_object_get_string_member(p, "name") == name) return p;
  }
  return nullptr;
}

JsonObject *model_named(JsonObject *provider, const std::string &id) {
  JsonArray *models = json_object_get_array_member(provider, "models");
  for (guint i = 0; i < json_array_get_length(models); ++i) {
    JsonObject *m = json_array_get_object_element(models, i);
    if (json_object_get_string_member(m, "id") == id) return m;
  }
  return nullptr;
}

TEST_F(CliTest, ProvidersListsServicesModelsAndKeys) {
  CliRun r = run({"providers", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  GErrorOut err;
  JsonNode *doc = json_from_string(r.out.c_str(), err.out());
  ASSERT_TRUE(doc) << r.out;
  JsonArray *arr = json_node_get_array(doc);
  std::vector<std::string> names;
  for (guint i = 0; i < json_array_get_length(arr); ++i)
    names.push_back(json_object_get_string_member(json_array_get_object_element(arr, i), "name"));
  // The registered services first (here gemini and openai); then the catalog's others
  // (imagen, openai-chat), marked unavailable.
  std::vector<std::string> expected;
  for (const Provider *p : all_providers()) expected.push_back(std::string(p->name()));
  for (const char *other : {"imagen", "openai-chat"})
    if (!find_provider(other)) expected.push_back(other);
  EXPECT_EQ(names, expected);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 2), (std::vector<std::string>{"gemini", "openai"}));
  EXPECT_EQ(names.size(), 4u);
  JsonObject *gemini = provider_named(arr, "gemini");
  EXPECT_TRUE(json_object_get_boolean_member(gemini, "available"));
  EXPECT_TRUE(json_object_get_boolean_member(gemini, "key_set"));
  EXPECT_STREQ(json_object_get_string_member(gemini, "key_source"), "GEMINI_API_KEY");
  EXPECT_EQ(json_array_get_length(json_object_get_array_member(gemini, "key_env_vars")), 2u);
  EXPECT_STREQ(json_object_get_string_member(gemini, "default_model"), "gemini-3.1-flash-image");
  JsonObject *pro = model_named(gemini, "gemini-3-pro-image");
  ASSERT_TRUE(pro);
  EXPECT_FALSE(json_object_get_boolean_member(pro, "retired"));
  EXPECT_FALSE(json_object_has_member(pro, "replacement"));
  EXPECT_EQ(json_object_get_int_member(pro, "max_input_images"), 14);
  EXPECT_EQ(json_object_get_int_member(pro, "max_images_per_call"), 1);
  EXPECT_FALSE(json_object_get_boolean_member(pro, "mask"));
  EXPECT_TRUE(json_object_get_boolean_member(pro, "thought_images"));
  EXPECT_EQ(json_array_get_length(json_object_get_array_member(pro, "image_sizes")), 3u);
  EXPECT_EQ(json_array_get_length(json_object_get_array_member(pro, "aspects")), 10u);
  // Retired models stay listed (relays may serve them), marked, with what to use instead.
  JsonObject *preview = model_named(gemini, "gemini-3-pro-image-preview");
  ASSERT_TRUE(preview);
  EXPECT_TRUE(json_object_get_boolean_member(preview, "retired"));
  EXPECT_FALSE(json_object_get_boolean_member(preview, "default"));
  EXPECT_STREQ(json_object_get_string_member(preview, "shutdown"), "2026-06-25");
  EXPECT_STREQ(json_object_get_string_member(preview, "replacement"), "gemini-3-pro-image");
  JsonObject *openai = provider_named(arr, "openai");
  EXPECT_STREQ(json_object_get_string_member(openai, "default_model"), "gpt-image-2");
  JsonObject *gpt2 = model_named(openai, "gpt-image-2");
  ASSERT_TRUE(gpt2);
  EXPECT_TRUE(json_object_get_boolean_member(gpt2, "mask"));
  EXPECT_EQ(json_object_get_int_member(gpt2, "max_images_per_call"), 10);
  EXPECT_EQ(json_object_get_int_member(json_object_get_object_member(gpt2, "free_size"), "max_pixels"), 2560 * 1440);
  EXPECT_FALSE(json_object_get_boolean_member(model_named(openai, "gpt-image-1-mini"), "input_fidelity"));
  // Available exactly when this build has the provider (a build with an Imagen provider lists
  // it like the others).
  JsonObject *imagen = provider_named(arr, "imagen");
  EXPECT_EQ(json_object_get_boolean_member(imagen, "available"), find_provider("imagen") != nullptr);
  EXPECT_FALSE(json_object_get_boolean_member(model_named(imagen, "imagen-4.0-generate-001"), "edit"));
  JsonObject *relay = provider_named(arr, "openai-chat");
  EXPECT_STREQ(json_object_get_string_member(relay, "default_model"), "google/gemini-3.1-flash-image");
  EXPECT_TRUE(model_named(relay, "google/gemini-3-pro-image"));
  EXPECT_TRUE(json_object_get_boolean_member(model_named(relay, "google/gemini-3-pro-image-preview"), "retired"));
  json_node_unref(doc);

  // No key: said so (run() checks that no key is ever printed).
  CliRun nokey = run({"providers", "--json"}, false);
  ASSERT_EQ(nokey.status, 0);
  JsonNode *doc2 = json_from_string(nokey.out.c_str(), nullptr);
  ASSERT_TRUE(doc2);
  EXPECT_FALSE(json_object_get_boolean_member(provider_named(json_node_get_array(doc2), "openai"), "key_set"));
  json_node_unref(doc2);

  // In words.
  CliRun text = run({"providers"});
  ASSERT_EQ(text.status, 0) << text.err;
  for (const char *words : {"gemini — Google Gemini", "gpt-image-2 — GPT Image 2", "set, from OPENAI_API_KEY",
                            "image sizes: 1K (x1), 2K (x2), 4K (x4)", "multiples of 16, 1:3 to 3:1", "Model list: "})
    EXPECT_NE(text.out.find(words), std::string::npos) << words << "\n" << text.out;
  if (!find_provider("imagen")) {
    EXPECT_NE(text.out.find("imagen — not available in this build"), std::string::npos) << text.out;
  }
}

TEST_F(CliTest, TheUsersModelListAddsModelsAndABrokenOneIsNamed) {
  const std::string config = path("config");
  g_mkdir_with_parents((config + "/genfill").c_str(), 0700);
  const std::string mine = config + "/genfill/models.json";
  const std::string entry = R"({"version": 1, "models": [
  {"id": "gemini-3.5-image", "provider": "gemini", "name": "Gemini 3.5 Image", "mask": false, "edit": true,
   "max_input_images": 6, "images_per_call": 1, "size_param": "aspect",
   "aspects": [{"ratio": "1:1", "size": "1024x1024"}], "image_sizes": [{"name": "1K", "scale": 1}, {"name": "2K", "scale": 2}]}
]}
)";
  ASSERT_TRUE(g_file_set_contents(mine.c_str(), entry.c_str(), -1, nullptr));
  env_ = {{"XDG_CONFIG_HOME", config}};
  CliRun r = run({"providers"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("gemini-3.5-image — Gemini 3.5 Image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Your additions: " + mine), std::string::npos) << r.out;
  // And it is used: a new model is one entry, no code (the fake takes it for a Gemini 3 model).
  CliRun e = run({"edit", "-m", "gemini-3.5-image", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_,
                  "-o", path("four.png")});
  ASSERT_EQ(e.status, 0) << e.err;
  JsonNode *reqs = fake_->requests();
  JsonObject *last = last_request(reqs);
  EXPECT_STREQ(json_object_get_string_member(last, "model"), "gemini-3.5-image");
  EXPECT_STREQ(json_object_get_string_member(last, "aspect"), "1:1");  // its only aspect
  EXPECT_NE(std::string(json_object_get_string_member(last, "image_size")), "");  // it has image sizes
  json_node_unref(reqs);

  // A broken file: every command says which file and line, and nothing is sent.
  const int before = fake_->request_count();
  ASSERT_TRUE(g_file_set_contents(mine.c_str(), "{\"models\": [\n  {\"id\": \"x\",\n  }\n]}\n", -1, nullptr));
  for (const std::vector<std::string> &args :
       {std::vector<std::string>{"providers"}, std::vector<std::string>{"providers", "--json"},
        std::vector<std::string>{"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o",
                                 path("no.png")}}) {
    CliRun b = run(args);
    EXPECT_EQ(b.status, 1) << args[0];
    EXPECT_NE(b.err.find(mine), std::string::npos) << b.err;
    EXPECT_NE(b.err.find("line 2, column 13"), std::string::npos) << b.err;  // the trailing comma
  }
  EXPECT_FALSE(exists("no.png"));
  EXPECT_EQ(fake_->request_count(), before);
}

TEST_F(CliTest, TheModelListIsFoundWithoutBeingTold) {
  // Run from the build tree, the program reads the source tree's data/models.json.
  env_ = {{"GENFILL_MODELS_FILE", std::nullopt}};
  CliRun r = run({"providers"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("/data/models.json"), std::string::npos) << r.out;
  // A file named that does not exist is an error, not a silent fallback.
  env_ = {{"GENFILL_MODELS_FILE", path("nowhere.json")}};
  CliRun bad = run({"providers"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("nowhere.json"), std::string::npos) << bad.err;
}


// ---------- today's models ----------

// Whether `text` names the model `id` itself, not a longer id it begins (gemini-3-pro-image in
// "gemini-3-pro-image-preview" does not count).
bool names_model(const std::string &text, const std::string &id) {
  for (size_t at = text.find(id); at != std::string::npos; at = text.find(id, at + 1)) {
    const size_t end = at + id.size();
    const bool starts = at == 0 || !(g_ascii_isalnum(text[at - 1]) || text[at - 1] == '-' || text[at - 1] == '/');
    const bool more = end < text.size() && (g_ascii_isalnum(text[end]) || text[end] == '-' || text[end] == '_' ||
                                            (text[end] == '.' && end + 1 < text.size() && g_ascii_isalnum(text[end + 1])));
    if (starts && !more) return true;
  }
  return false;
}

// Without --model, each service gets its default of today.
TEST_F(CliTest, EditWithoutAModelSendsTodaysDefault) {
  for (const auto &[provider, id] : {std::pair{"gemini", "gemini-3.1-flash-image"}, std::pair{"openai", "gpt-image-2"}}) {
    fake_->reset();
    const std::string out = std::string("out-") + provider + ".png";
    CliRun r = run({"edit", "-p", provider, "--endpoint", endpoint(provider), "--prompt", "make it magenta", "--json",
                    photo_path_, "-o", path(out)});
    ASSERT_EQ(r.status, 0) << provider << ": " << r.err;
    EXPECT_TRUE(exists(out)) << provider;
    EXPECT_EQ(json_string(r.out, "model"), id) << provider;
    JsonNode *reqs = fake_->requests();
    ASSERT_EQ(json_array_get_length(json_node_get_array(reqs)), 1u) << provider;
    JsonObject *req = last_request(reqs);
    EXPECT_STREQ(json_object_get_string_member(req, "model"), id) << provider;
    EXPECT_EQ(json_object_get_int_member(req, "status"), 200) << provider;
    json_node_unref(reqs);
  }
}

struct RetiredCase {
  const char *provider, *model, *replacement;
};

class CliRetiredTest : public CliTest, public ::testing::WithParamInterface<RetiredCase> {};

// A model its service has shut down: the service says so (404), and genfill names the model and
// what to use instead; no file is written.
TEST_P(CliRetiredTest, ARetiredModelIsNamedWithItsReplacement) {
  const RetiredCase &c = GetParam();
  for (bool json : {false, true}) {
    std::vector<std::string> args = {"edit", "-p", c.provider, "-m", c.model, "--endpoint", endpoint(c.provider),
                                     "--prompt", "make it magenta", photo_path_, "-o", path("out.png")};
    if (json) args.push_back("--json");
    CliRun r = run(args);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_FALSE(exists("out.png")) << "nothing is written";
    EXPECT_TRUE(names_model(r.err, c.model)) << r.err;
    EXPECT_TRUE(names_model(r.err, c.replacement)) << r.err;
    if (!json) {
      EXPECT_TRUE(r.out.empty()) << r.out;
      continue;
    }
    GErrorOut err;
    JsonNode *doc = json_from_string(r.out.c_str(), err.out());
    ASSERT_TRUE(doc) << r.out;
    JsonObject *e = json_object_get_object_member(json_node_get_object(doc), "error");
    ASSERT_TRUE(e) << r.out;
    EXPECT_STREQ(json_object_get_string_member(e, "code"), "model-not-found");
    const std::string message = json_object_get_string_member(e, "message");
    EXPECT_TRUE(names_model(message, c.model)) << message;
    EXPECT_TRUE(names_model(message, c.replacement)) << message;
    json_node_unref(doc);
  }
  // It was the service that said no (the model was asked for, once per run: a 404 is not retried).
  JsonNode *reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(arr), 2u);
  for (guint i = 0; i < 2; ++i) {
    EXPECT_STREQ(json_object_get_string_member(json_array_get_object_element(arr, i), "model"), c.model);
    EXPECT_EQ(json_object_get_int_member(json_array_get_object_element(arr, i), "status"), 404);
  }
  json_node_unref(reqs);
}

INSTANTIATE_TEST_SUITE_P(Models, CliRetiredTest,
                         ::testing::Values(RetiredCase{"gemini", "gemini-3-pro-image-preview", "gemini-3-pro-image"},
                                           RetiredCase{"openai", "gpt-image-1", "gpt-image-2"}));

// A model neither genfill's list nor the service's list knows (tried before genfill catches up)
// is still sent as named.
TEST_F(CliTest, AModelNoListKnowsIsStillSent) {
  CliRun r = run({"edit", "-p", "gemini", "-m", "gemini-7-image-test", "--endpoint", endpoint("gemini"), "--prompt",
                  "make it magenta", "--json", photo_path_, "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(exists("out.png"));
  EXPECT_EQ(json_string(r.out, "model"), "gemini-7-image-test");
  JsonNode *reqs = fake_->requests();
  EXPECT_STREQ(json_object_get_string_member(last_request(reqs), "model"), "gemini-7-image-test");
  json_node_unref(reqs);
  // In no list indeed.
  CliRun list = run({"models", "-p", "gemini", "--endpoint", endpoint("gemini"), "--json"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_FALSE(names_model(list.out, "gemini-7-image-test")) << list.out;
}

// `genfill models --json`, parsed: id -> object, in order; every object has the documented members.
struct Listed {
  JsonNode *doc = nullptr;
  std::vector<std::string> ids;
  std::map<std::string, JsonObject *> by_id;
  ~Listed() {
    if (doc) json_node_unref(doc);
  }
  std::string str(const std::string &id, const char *member) const {
    auto it = by_id.find(id);
    if (it == by_id.end() || !json_object_has_member(it->second, member)) return "";
    return json_object_get_string_member(it->second, member);
  }
  bool is_default(const std::string &id) const {
    auto it = by_id.find(id);
    return it != by_id.end() && json_object_get_boolean_member(it->second, "default");
  }
};

void parse_listing(const std::string &text, const std::string &provider, Listed &out) {
  GErrorOut err;
  out.doc = json_from_string(text.c_str(), err.out());
  ASSERT_TRUE(out.doc) << err.message() << "\n" << text;
  ASSERT_TRUE(JSON_NODE_HOLDS_ARRAY(out.doc)) << text;
  JsonArray *arr = json_node_get_array(out.doc);
  ASSERT_GT(json_array_get_length(arr), 0u);
  const std::set<std::string> statuses = {"available", "new", "unlisted", "retired", "unchecked"};
  int defaults = 0;
  for (guint i = 0; i < json_array_get_length(arr); ++i) {
    JsonObject *m = json_array_get_object_element(arr, i);
    for (const char *member : {"id", "provider", "name", "status", "source"})
      ASSERT_TRUE(json_object_has_member(m, member) &&
                  JSON_NODE_TYPE(json_object_get_member(m, member)) == JSON_NODE_VALUE &&
                  json_node_get_value_type(json_object_get_member(m, member)) == G_TYPE_STRING)
          << member << " in entry " << i << " of " << text;
    ASSERT_TRUE(json_object_has_member(m, "default") &&
                json_node_get_value_type(json_object_get_member(m, "default")) == G_TYPE_BOOLEAN)
        << "default in entry " << i;
    const std::string id = json_object_get_string_member(m, "id");
    EXPECT_EQ(json_object_get_string_member(m, "provider"), provider) << id;
    EXPECT_STRNE(json_object_get_string_member(m, "name"), "") << id;
    EXPECT_TRUE(statuses.count(json_object_get_string_member(m, "status"))) << id;
    EXPECT_FALSE(out.by_id.count(id)) << id << " listed twice";
    defaults += json_object_get_boolean_member(m, "default");
    out.ids.push_back(id);
    out.by_id[id] = m;
  }
  EXPECT_EQ(defaults, 1) << "one default: " << text;
}

std::vector<std::string> list_paths(JsonNode *reqs) {
  std::vector<std::string> paths;
  JsonArray *arr = json_node_get_array(reqs);
  for (guint i = 0; i < json_array_get_length(arr); ++i)
    paths.push_back(json_object_get_string_member(json_array_get_object_element(arr, i), "path"));
  return paths;
}

TEST_F(CliTest, ModelsListsWhatGeminiServesToday) {
  CliRun r = run({"models", "--provider", "gemini", "--endpoint", endpoint("gemini"), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  Listed l;
  parse_listing(r.out, "gemini", l);
  if (HasFatalFailure()) return;
  EXPECT_EQ(l.str("gemini-3.1-flash-image", "status"), "available");
  EXPECT_TRUE(l.is_default("gemini-3.1-flash-image"));
  EXPECT_EQ(l.str("gemini-3-pro-image", "status"), "available");
  EXPECT_FALSE(l.is_default("gemini-3-pro-image"));
  // Served, an image model, and not in genfill's list (it is on the fake's last page of three).
  EXPECT_EQ(l.str("gemini-9-flash-image-exp", "status"), "new");
  EXPECT_EQ(l.str("gemini-9-flash-image-exp", "name"), "Gemini 9 Flash Image (experimental)");
  EXPECT_FALSE(l.is_default("gemini-9-flash-image-exp"));
  // Shut down: marked, with the day and what to use instead.
  EXPECT_EQ(l.str("gemini-3-pro-image-preview", "status"), "retired");
  EXPECT_EQ(l.str("gemini-3-pro-image-preview", "replacement"), "gemini-3-pro-image");
  EXPECT_EQ(l.str("gemini-3-pro-image-preview", "shutdown"), "2026-06-25");
  EXPECT_FALSE(l.is_default("gemini-3-pro-image-preview"));
  EXPECT_EQ(l.str("gemini-2.5-flash-image", "status"), "retired");
  // The service's models that make no pictures are left out.
  for (const char *other : {"gemini-embedding-001", "gemini-3.5-flash", "gemini-2.5-flash-preview-tts",
                            "veo-3.1-generate-preview"})
    EXPECT_FALSE(l.by_id.count(other)) << other << " is not an image model";
  for (const std::string &id : l.ids) EXPECT_EQ(l.str(id, "source"), "live") << id;
  EXPECT_TRUE(r.err.empty()) << "no note when the service answered: " << r.err;

  // Every page was read, with the key in its header (a key in the URL is refused by the fake).
  JsonNode *reqs = fake_->requests();
  EXPECT_EQ(list_paths(reqs), std::vector<std::string>(3, "/v1beta/models"));
  JsonArray *arr = json_node_get_array(reqs);
  for (guint i = 0; i < json_array_get_length(arr); ++i) {
    EXPECT_TRUE(json_object_get_boolean_member(json_array_get_object_element(arr, i), "has_key"));
    EXPECT_EQ(json_object_get_int_member(json_array_get_object_element(arr, i), "status"), 200);
  }
  json_node_unref(reqs);

  // Kept for a day: asked again, the cached list answers without a request.
  GDir *dir = g_dir_open(path("cache/genfill/models").c_str(), 0, nullptr);
  ASSERT_TRUE(dir) << "the list is cached under XDG_CACHE_HOME";
  g_dir_close(dir);
  CliRun again = run({"models", "-p", "gemini", "--endpoint", endpoint("gemini"), "--json"});
  ASSERT_EQ(again.status, 0) << again.err;
  Listed cached;
  parse_listing(again.out, "gemini", cached);
  EXPECT_EQ(cached.ids, l.ids);
  EXPECT_EQ(cached.str("gemini-9-flash-image-exp", "source"), "cache");
  EXPECT_EQ(cached.str("gemini-9-flash-image-exp", "status"), "new");
  EXPECT_EQ(fake_->request_count(), 3);
}

TEST_F(CliTest, ModelsListsWhatOpenAIServesToday) {
  CliRun r = run({"models", "--provider", "openai", "--endpoint", endpoint("openai"), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  Listed l;
  parse_listing(r.out, "openai", l);
  if (HasFatalFailure()) return;
  EXPECT_EQ(l.str("gpt-image-2", "status"), "available");
  EXPECT_TRUE(l.is_default("gpt-image-2"));
  // Served, but missing from the service's list (as new models are at launch): still usable.
  EXPECT_EQ(l.str("gpt-image-2.6-sunburst", "status"), "unlisted");
  // In the service's list, not in genfill's.
  EXPECT_EQ(l.str("gpt-image-3-preview", "status"), "new");
  // Listed with a shutdown day that has passed: retired, with genfill's word on what to use.
  EXPECT_EQ(l.str("chatgpt-image-latest", "status"), "retired");
  EXPECT_EQ(l.str("chatgpt-image-latest", "replacement"), "gpt-image-2.6-sunburst");
  EXPECT_NE(l.str("chatgpt-image-latest", "shutdown"), "");
  EXPECT_EQ(l.str("gpt-image-1", "status"), "retired");
  EXPECT_EQ(l.str("gpt-image-1", "replacement"), "gpt-image-2");
  // Shutdown announced for later: still available, and the day is given.
  EXPECT_EQ(l.str("gpt-image-2-2026-04-21", "status"), "available");
  EXPECT_NE(l.str("gpt-image-2-2026-04-21", "shutdown"), "");
  for (const char *other : {"whisper-1", "gpt-5.1", "text-embedding-3-small", "tts-1"})
    EXPECT_FALSE(l.by_id.count(other)) << other << " is not an image model";
  JsonNode *reqs = fake_->requests();
  EXPECT_EQ(list_paths(reqs), std::vector<std::string>{"/v1/models"});
  json_node_unref(reqs);
}

// No key: nothing is asked; genfill's own list answers, unchecked, and stderr says why.
TEST_F(CliTest, ModelsWithoutAKeyShowsTheCatalogUnchecked) {
  CliRun r = run({"models", "--provider", "gemini", "--endpoint", endpoint("gemini"), "--json"}, /*with_key=*/false);
  ASSERT_EQ(r.status, 0) << r.err;
  Listed l;
  parse_listing(r.out, "gemini", l);
  if (HasFatalFailure()) return;
  EXPECT_EQ(l.str("gemini-3.1-flash-image", "status"), "unchecked");
  EXPECT_TRUE(l.is_default("gemini-3.1-flash-image"));
  EXPECT_EQ(l.str("gemini-3-pro-image", "status"), "unchecked");
  EXPECT_EQ(l.str("gemini-3-pro-image-preview", "status"), "retired") << "known from genfill's own list";
  EXPECT_FALSE(l.by_id.count("gemini-9-flash-image-exp")) << "only the service knows it";
  for (const std::string &id : l.ids) {
    const std::string status = l.str(id, "status");
    EXPECT_TRUE(status == "unchecked" || status == "retired") << id << ": " << status;
    EXPECT_EQ(l.str(id, "source"), "catalog") << id;
  }
  EXPECT_NE(r.err.find("No API key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not checked"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
}

TEST_F(CliTest, ModelsEndpointNeedsAProvider) {
  CliRun r = run({"models", "--endpoint", endpoint("gemini"), "--json"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--provider"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
}

// ---------- what runs cost: --estimate, the ledger, the budget ----------

// The number a JSON document holds at `a.b` (e.g. "estimate.usd"); NaN when it has none.
double json_number(const std::string &doc_text, const std::string &dotted) {
  GErrorOut err;
  JsonNode *doc = json_from_string(doc_text.c_str(), err.out());
  if (!doc) return std::nan("");
  JsonNode *n = doc;
  for (size_t start = 0; n;) {
    const size_t dot = dotted.find('.', start);
    const std::string name = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    n = JSON_NODE_HOLDS_OBJECT(n) && json_object_has_member(json_node_get_object(n), name.c_str())
            ? json_object_get_member(json_node_get_object(n), name.c_str()) : nullptr;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const double v = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_double(n) : std::nan("");
  json_node_unref(doc);
  return v;
}

class CliCostTest : public CliTest {
protected:
  void SetUp() override {
    CliTest::SetUp();
    env_ = {{"XDG_DATA_HOME", path("data")}, {"XDG_CONFIG_HOME", path("config")},
            {"GENFILL_MONTHLY_BUDGET_USD", std::nullopt}};
  }
  std::string ledger() const { return path("data") + "/genfill/usage.jsonl"; }
  int ledger_lines() const {
    gchar *text = nullptr;
    if (!g_file_get_contents(ledger().c_str(), &text, nullptr, nullptr)) return 0;
    int n = 0;
    for (const char *c = text; *c; ++c) n += *c == '\n';
    g_free(text);
    return n;
  }
};

// --estimate sends nothing and needs no key; it is within a factor of two of what the edit then
// costs, for both services' defaults and each OpenAI quality, and low is far below high.
TEST_F(CliCostTest, TheEstimateSendsNothingAndIsWithinAFactorOfTwo) {
  struct Case {
    const char *provider, *quality;
  };
  std::map<std::string, double> estimated;
  for (const Case &c : {Case{"gemini", nullptr}, Case{"openai", "low"}, Case{"openai", "medium"}, Case{"openai", "high"}}) {
    std::vector<std::string> args = {"edit", "--provider", c.provider, "--endpoint", endpoint(c.provider), "--prompt",
                                     "replace it with a magenta balloon", "--json", photo_path_};
    if (c.quality) args.insert(args.end(), {"--quality", c.quality});
    const std::string label = std::string(c.provider) + "/" + (c.quality ? c.quality : "default");
    std::vector<std::string> estimate_args = args;
    estimate_args.push_back("--estimate");
    CliRun e = run(estimate_args, /*with_key=*/false);
    ASSERT_EQ(e.status, 0) << label << ": " << e.err;
    EXPECT_EQ(fake_->request_count(), 0) << label << ": an estimate sends nothing";
    EXPECT_EQ(ledger_lines(), 0) << label << ": nor records anything";
    const double guess = json_number(e.out, "estimate.usd");
    ASSERT_TRUE(guess > 0) << e.out;
    estimated[label] = guess;

    args.insert(args.end(), {"-o", path(label.substr(label.find('/') + 1) + c.provider + ".png")});
    CliRun r = run(args);
    ASSERT_EQ(r.status, 0) << label << ": " << r.err;
    const double actual = json_number(r.out, "cost.usd");
    EXPECT_GT(actual, 0) << r.out;
    EXPECT_LT(guess, 2 * actual) << label;
    EXPECT_GT(guess, actual / 2) << label;
    fake_->reset();
    remove_tree(path("data"));
  }
  EXPECT_LT(estimated["openai/low"] * 5, estimated["openai/high"]) << "low quality is estimated far below high";
  EXPECT_LT(estimated["openai/medium"], estimated["openai/high"]);
}

TEST_F(CliCostTest, TheQualityAndImageSizeAreSentAndChecked) {
  CliRun r = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "x", "--quality", "low",
                  photo_path_, "-o", path("low.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "a kite", "--image-size", "2K", "-o",
           path("2k.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  JsonNode *reqs = fake_->requests();
  JsonArray *a = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(a), 2u);
  EXPECT_STREQ(json_object_get_string_member(json_array_get_object_element(a, 0), "quality"), "low");
  EXPECT_STREQ(json_object_get_string_member(json_array_get_object_element(a, 1), "image_size"), "2K");
  json_node_unref(reqs);
  // Not the model's own: refused before anything is sent.
  r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--quality", "low", photo_path_, "-o",
           path("q.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("quality"), std::string::npos) << r.err;
  r = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "x", "--quality", "ultra",
           photo_path_, "-o", path("q.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("low, medium, high"), std::string::npos) << r.err;
  r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--image-size", "8K", photo_path_, "-o",
           path("q.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("512, 1K, 2K, 4K"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 2);
  EXPECT_FALSE(exists("q.png"));
}

// genfill usage --json sums exactly what the runs reported they cost; a refused call is not
// recorded, a paid answer whose picture could not be used is.
TEST_F(CliCostTest, UsageSumsExactlyWhatWasSpent) {
  double spent = 0;
  int paid = 0;
  for (const char *provider : {"gemini", "openai", "gemini"}) {
    CliRun r = run({"edit", "--provider", provider, "--endpoint", endpoint(provider), "--prompt", "a balloon", "--json",
                    photo_path_, "-o", path(std::to_string(paid) + ".png")});
    ASSERT_EQ(r.status, 0) << r.err;
    spent += json_number(r.out, "cost.usd");
    ++paid;
  }
  fake_->enqueue(R"({"status":400,"fixture":"openai/error_400_moderation_blocked.json"})");
  CliRun refused = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "x",
                        photo_path_, "-o", path("refused.png")});
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(ledger_lines(), paid) << "a refused call is not billed, so not recorded";
  fake_->enqueue(R"({"picture":"tiny"})");
  CliRun tiny = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("tiny.png")});
  EXPECT_EQ(tiny.status, 1);
  EXPECT_EQ(ledger_lines(), paid + 1) << "an answer that could not be used was paid for";

  CliRun u = run({"usage", "--json"}, false);
  ASSERT_EQ(u.status, 0) << u.err;
  EXPECT_EQ(json_number(u.out, "calls"), paid + 1);
  const double tiny_cost = json_number(u.out, "total_usd") - spent;
  EXPECT_GT(tiny_cost, 0) << u.out;
  EXPECT_LT(tiny_cost, 0.2) << u.out;
  // by service: what the openai run cost, exactly.
  EXPECT_NEAR(json_number(u.out, "by_provider.openai.usd") + json_number(u.out, "by_provider.gemini.usd"),
              json_number(u.out, "total_usd"), 1e-12);
  EXPECT_EQ(json_number(u.out, "by_provider.openai.calls"), 1);
  // Nothing of the prompt or the key goes into the ledger.
  gchar *text = nullptr;
  ASSERT_TRUE(g_file_get_contents(ledger().c_str(), &text, nullptr, nullptr));
  const std::string lines = text;
  g_free(text);
  EXPECT_EQ(lines.find("balloon"), std::string::npos);
  EXPECT_EQ(lines.find(kKey), std::string::npos);
  // --since after today: nothing.
  u = run({"usage", "--json", "--since", "2999-01-01"}, false);
  ASSERT_EQ(u.status, 0) << u.err;
  EXPECT_EQ(json_number(u.out, "calls"), 0);
  u = run({"usage", "--since", "yesterday"}, false);
  EXPECT_EQ(u.status, 1);
}

// A budget below this month's spending refuses the next run before anything is sent, saying the
// spending, the budget and how to raise it; raised, the run goes.
TEST_F(CliCostTest, ABudgetBelowThisMonthsSpendingRefusesBeforeSending) {
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--json", photo_path_, "-o", path("1.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  const double first = json_number(r.out, "cost.usd");
  ASSERT_GT(first, 0.01);
  CliRun set = run({"usage", "--set-budget", "0.05"}, false);
  ASSERT_EQ(set.status, 0) << set.err;
  fake_->reset();
  r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--json", photo_path_, "-o", path("2.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(fake_->request_count(), 0) << "refused before sending";
  EXPECT_FALSE(exists("2.png"));
  EXPECT_NE(r.out.find("over-budget"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("$0.05"), std::string::npos) << r.err;
  char first_text[32];
  std::snprintf(first_text, sizeof first_text, "$%.2f", first);
  EXPECT_NE(r.err.find(first_text), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--set-budget"), std::string::npos) << r.err;
  // The variable wins over the saved budget, and its message names it.
  env_.push_back({"GENFILL_MONTHLY_BUDGET_USD", "0.06"});
  r = run({"generate", "--endpoint", endpoint("gemini"), "--prompt", "x", "-o", path("3.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("GENFILL_MONTHLY_BUDGET_USD"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
  env_.back().second = "5";
  r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("4.png")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(fake_->request_count(), 1);
  env_.back().second = "a lot";
  r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", photo_path_, "-o", path("5.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("GENFILL_MONTHLY_BUDGET_USD"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 1);
}

// ---------- streamed answers: drafts while waiting, only the finished picture placed ----------

// The pixel at (x, y) as 0xRRGGBB.
uint32_t rgb_at(const Image &img, int x, int y) {
  const uint8_t *p = &img.pixels[(size_t(y) * img.width + x) * 4];
  return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2];
}

// A Gemini 3 edit streams: the fake's two thought pictures (grey) come as drafts, written to
// --previews composited onto the input where the answer lands; the output holds only the
// finished picture and is the very picture the same edit gives without streaming.
TEST_F(CliTest, GeminiEditShowsDraftsAndPlacesOnlyTheFinishedPicture) {
  Mask mask;
  const std::string mask_path = write_ellipse_mask(&mask);
  const std::vector<std::string> common = {"edit", "--endpoint", endpoint("gemini"), "--prompt", "a lantern",
                                           "--mask", mask_path, "--feather", "0", "--json", photo_path_};
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--previews", path("drafts"), "-o", path("out.png")});
  CliRun r = run(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("Draft 2 from Gemini"), std::string::npos) << "stderr says when a draft came: " << r.err;
  EXPECT_EQ(json_number(r.out, "streamed"), 1);
  EXPECT_EQ(json_number(r.out, "drafts"), 2);
  EXPECT_GT(json_number(r.out, "first_draft_seconds"), 0);
  JsonNode *reqs = fake_->requests();
  JsonObject *req = last_request(reqs);
  EXPECT_NE(std::string(json_object_get_string_member(req, "path")).find(":streamGenerateContent"), std::string::npos);
  EXPECT_TRUE(json_object_get_boolean_member(req, "stream"));
  json_node_unref(reqs);

  const Rect box = mask_bounds(mask);
  const int cx = box.x + box.w / 2, cy = box.y + box.h / 2;
  const uint32_t greys[] = {0x808080, 0x606060};
  for (int k = 1; k <= 2; ++k) {
    const std::string file = path("drafts/draft-" + std::to_string(k) + ".png");
    ASSERT_TRUE(g_file_test(file.c_str(), G_FILE_TEST_EXISTS)) << file;
    const Image draft = load_image_file(file);
    ASSERT_EQ(draft.width, photo_.width);
    ASSERT_EQ(draft.height, photo_.height);
    EXPECT_EQ(rgb_at(draft, cx, cy), greys[k - 1]) << "the draft where the answer will land, " << file;
    size_t outside_changed = 0;
    for (int y = 0; y < photo_.height; ++y)
      for (int x = 0; x < photo_.width; ++x)
        if (!mask.at(x, y) && rgb_at(draft, x, y) != rgb_at(photo_, x, y)) ++outside_changed;
    EXPECT_EQ(outside_changed, 0u) << "outside the selection the draft shows the input as it is";
  }
  const Image out = load_image_file(path("out.png"));
  EXPECT_EQ(rgb_at(out, cx, cy), 0xFF00FFu) << "the finished picture, not a draft";

  // The same edit asked whole: the same picture and the same usage.
  args = common;
  args.insert(args.end(), {"--no-stream", "-o", path("whole.png")});
  CliRun w = run(args);
  ASSERT_EQ(w.status, 0) << w.err;
  EXPECT_EQ(json_number(w.out, "streamed"), 0);
  EXPECT_EQ(json_number(w.out, "drafts"), 0);
  EXPECT_EQ(load_image_file(path("whole.png")).pixels, out.pixels) << "streamed or not, the same result";
  EXPECT_EQ(json_number(w.out, "usage.total_tokens"), json_number(r.out, "usage.total_tokens"));
  EXPECT_EQ(json_number(w.out, "cost.usd"), json_number(r.out, "cost.usd"));
  reqs = fake_->requests();
  req = last_request(reqs);
  EXPECT_NE(std::string(json_object_get_string_member(req, "path")).find(":generateContent"), std::string::npos);
  EXPECT_FALSE(json_object_get_boolean_member(req, "stream"));
  json_node_unref(reqs);
}

// OpenAI: stream=true with two partial images; they are the drafts; the completed event is the
// answer, with its usage.
TEST_F(CliTest, OpenAIEditShowsItsPartialImagesAsDrafts) {
  Mask mask;
  const std::string mask_path = write_ellipse_mask(&mask);
  CliRun r = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "a lantern", "--mask",
                  mask_path, "--feather", "0", "--json", "--previews", path("drafts"), photo_path_, "-o",
                  path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "drafts"), 2);
  EXPECT_GT(json_number(r.out, "usage.total_tokens"), 0) << "from the completed event";
  JsonNode *reqs = fake_->requests();
  JsonObject *req = last_request(reqs);
  EXPECT_TRUE(json_object_get_boolean_member(req, "stream"));
  EXPECT_EQ(json_object_get_int_member(req, "partial_images"), 2) << "the catalog's number of partial images";
  json_node_unref(reqs);
  const Rect box = mask_bounds(mask);
  const int cx = box.x + box.w / 2, cy = box.y + box.h / 2;
  EXPECT_EQ(rgb_at(load_image_file(path("drafts/draft-1.png")), cx, cy), 0x808080u);
  EXPECT_EQ(rgb_at(load_image_file(path("drafts/draft-2.png")), cx, cy), 0x606060u);
  expect_masked_edit(photo_, load_image_file(path("out.png")), mask, 1);
}

// A generation streams too; its drafts are the pictures as they came.
TEST_F(CliTest, AGenerationWritesItsDrafts) {
  CliRun r = run({"generate", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "a lantern",
                  "--size", "1024x1024", "--json", "--previews", path("drafts"), "-o", path("out.png")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "drafts"), 2);
  const Image d = load_image_file(path("drafts/draft-2.png"));
  EXPECT_EQ(d.width, 1024);
  EXPECT_EQ(rgb_at(d, 512, 512), 0x606060u);
}

struct StreamFault {
  const char *provider;
  const char *reply;
  const char *code;
  const char *in_message;
};

class CliStreamFaultTest : public CliTest, public ::testing::WithParamInterface<StreamFault> {};

// A stream that goes wrong after its drafts began fails with a clear message, writes nothing
// (no output, no drafts, not even the drafts' folder) and is not asked again: its 200 had begun.
TEST_P(CliStreamFaultTest, FailsCleanlyWritesNothingAndIsNotAskedAgain) {
  const StreamFault &f = GetParam();
  fake_->enqueue(f.reply);
  CliRun r = run({"edit", "--provider", f.provider, "--endpoint", endpoint(f.provider), "--prompt", "x", "--json",
                  "--timeout", "3", "--previews", path("drafts"), photo_path_, "-o", path("out.png")});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_FALSE(exists("out.png"));
  EXPECT_FALSE(exists("drafts")) << "the drafts of a failed run are taken away";
  EXPECT_TRUE(hidden().empty());
  EXPECT_NE(r.err.find(f.in_message), std::string::npos) << r.err;
  GErrorOut err;
  JsonNode *doc = json_from_string(r.out.c_str(), err.out());
  ASSERT_TRUE(doc) << r.out;
  JsonObject *e = json_object_get_object_member(json_node_get_object(doc), "error");
  ASSERT_TRUE(e);
  EXPECT_STREQ(json_object_get_string_member(e, "code"), f.code) << json_object_get_string_member(e, "message");
  json_node_unref(doc);
  EXPECT_EQ(fake_->request_count(), 1) << "a stream whose 200 had begun is never asked again";
}

INSTANTIATE_TEST_SUITE_P(
    Streams, CliStreamFaultTest,
    ::testing::Values(
        // The connection goes in the middle of an event, after a draft.
        StreamFault{"gemini", R"({"cut_after_events":2,"count":3})", "bad-response", "cut short"},
        StreamFault{"openai", R"({"cut_after_events":1,"count":3})", "bad-response", "billed"},
        // The stream ends cleanly, but before the finished picture.
        StreamFault{"gemini", R"({"end_after_events":3,"count":3})", "bad-response", "before the finished picture"},
        StreamFault{"openai", R"({"end_after_events":2,"count":3})", "bad-response", "before the finished picture"},
        // Silence after a draft: the try's time runs out between events.
        StreamFault{"gemini", R"({"stall_after_events":2,"count":3})", "timeout", "did not come within"},
        // The service's own error, inside the stream.
        StreamFault{"gemini", R"({"error_after_events":2,"count":3})", "server-error", "Gemini"},
        StreamFault{"openai", R"({"error_after_events":1,"count":3})", "server-error", "OpenAI"}));

// A model its service does not stream: asked once more, plainly (the refusal made nothing), and
// remembered, so the next run asks plainly at once.
TEST_F(CliTest, AModelThatDoesNotStreamIsAskedPlainlyAndRemembered) {
  fake_->enqueue(R"({"no_stream":true})");
  const std::vector<std::string> args = {"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt",
                                         "x", "--json", photo_path_, "-o", path("out.png")};
  CliRun r = run(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "streamed"), 0);
  JsonNode *reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(arr), 2u);
  EXPECT_TRUE(json_object_get_boolean_member(json_array_get_object_element(arr, 0), "stream"));
  EXPECT_EQ(json_object_get_int_member(json_array_get_object_element(arr, 0), "status"), 400);
  EXPECT_FALSE(json_object_get_boolean_member(json_array_get_object_element(arr, 1), "stream"));
  json_node_unref(reqs);

  fake_->reset();
  CliRun again = run({"edit", "--provider", "openai", "--endpoint", endpoint("openai"), "--prompt", "x", "--json",
                      photo_path_, "-o", path("again.png")});
  ASSERT_EQ(again.status, 0) << again.err;
  reqs = fake_->requests();
  arr = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(arr), 1u) << "asked plainly at once";
  EXPECT_FALSE(json_object_get_boolean_member(json_array_get_object_element(arr, 0), "stream"));
  json_node_unref(reqs);
}

// Drafts go only into a folder that holds none: another run's are not replaced without --force.
TEST_F(CliTest, PreviewsDoNotReplaceAnotherRunsDrafts) {
  ASSERT_EQ(g_mkdir_with_parents(path("drafts").c_str(), 0755), 0);
  put(path("drafts/draft-1.png"), "earlier");
  CliRun r = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "x", "--previews", path("drafts"),
                  photo_path_, "-o", path("out.png")});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(bytes(path("drafts/draft-1.png")), "earlier");
  EXPECT_EQ(fake_->request_count(), 0) << "refused before anything was sent";
}

// ---------- genfill batch: a manifest of edits, several calls in flight, resumable ----------

class CliBatchTest : public CliTest {
protected:
  // A manifest in the test's folder whose lines edit copies of the photo (in-N.png -> out-N.png),
  // plus any extra lines.
  std::string manifest(int edits, const std::vector<std::string> &extra = {}) {
    std::string text;
    for (int i = 1; i <= edits; ++i) {
      const std::string in = "in-" + std::to_string(i) + ".png";
      if (!exists(in)) put(path(in), bytes(photo_path_));
      text += R"({"prompt": "a lantern )" + std::to_string(i) + R"(", "input": ")" + in + R"(", "output": "out-)" +
              std::to_string(i) + ".png\"}\n";
    }
    for (const std::string &l : extra) text += l + "\n";
    put(path("batch.jsonl"), text);
    return path("batch.jsonl");
  }
  CliRun batch(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"batch", "--endpoint", endpoint("gemini"), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(path("batch.jsonl"));
    return run(args);
  }
  std::string state_of(const std::string &out, int line) {
    GErrorOut err;
    JsonNode *doc = json_from_string(out.c_str(), err.out());
    if (!doc) return "no JSON: " + out;
    JsonArray *lines = json_object_get_array_member(json_node_get_object(doc), "lines");
    std::string state = "absent";
    for (guint i = 0; lines && i < json_array_get_length(lines); ++i) {
      JsonObject *l = json_array_get_object_element(lines, i);
      if (json_object_get_int_member(l, "line") == line) state = json_object_get_string_member(l, "state");
    }
    json_node_unref(doc);
    return state;
  }
};

// Six edits with --jobs 3 against a service taking a second each: three calls in flight, every
// output written; the rerun sends nothing.
TEST_F(CliBatchTest, RunsThreeCallsInFlightAndARerunSendsNothing) {
  manifest(6);
  fake_->enqueue(R"({"delay_ms":1000,"count":6})");
  CliRun r = batch({"--jobs", "3"});
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_EQ(json_number(r.out, "done"), 6);
  EXPECT_EQ(json_number(r.out, "max_in_flight"), 3);
  EXPECT_EQ(fake_->request_count(), 6);
  for (int i = 1; i <= 6; ++i) {
    const Image out = load_image_file(path("out-" + std::to_string(i) + ".png"));
    EXPECT_EQ(out.width, photo_.width);
  }
  EXPECT_TRUE(hidden().empty()) << "outputs are written atomically, no temporary left";
  const std::string written = bytes(path("out-4.png"));
  CliRun again = batch({"--jobs", "3"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(json_number(again.out, "skipped"), 6);
  EXPECT_EQ(fake_->request_count(), 6) << "a finished manifest sends nothing";
  EXPECT_EQ(bytes(path("out-4.png")), written);
}

// A line refused by the service fails, is named, and makes the exit code 1; the others are
// written. The rerun sends only that line; a changed line is sent again, the rest not.
TEST_F(CliBatchTest, ARerunSendsOnlyTheFailedOrChangedLines) {
  manifest(4);
  fake_->enqueue(R"({"status":200,"fixture":"gemini/response_blocked_prompt_feedback.json"})");
  CliRun r = batch({"--jobs", "1"});  // in order: the first call is refused
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(state_of(r.out, 1), "failed");
  EXPECT_EQ(json_number(r.out, "done"), 3);
  EXPECT_FALSE(exists("out-1.png"));
  EXPECT_EQ(fake_->request_count(), 4);

  fake_->reset();
  CliRun again = batch({"--jobs", "1"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(state_of(again.out, 1), "done");
  EXPECT_EQ(json_number(again.out, "skipped"), 3);
  ASSERT_EQ(fake_->request_count(), 1) << "only the failed line";
  JsonNode *reqs = fake_->requests();
  EXPECT_EQ(std::string(json_object_get_string_member(last_request(reqs), "prompt")).rfind("a lantern 1", 0), 0u);
  json_node_unref(reqs);

  // Line 3 asks for something else now: it alone is sent again, and its output replaced.
  std::string text = bytes(path("batch.jsonl"));
  text.replace(text.find("a lantern 3"), 11, "a red kite");
  put(path("batch.jsonl"), text);
  fake_->reset();
  CliRun changed = batch({"--jobs", "1"});
  ASSERT_EQ(changed.status, 0) << changed.err;
  EXPECT_EQ(state_of(changed.out, 3), "done");
  EXPECT_EQ(json_number(changed.out, "skipped"), 3);
  ASSERT_EQ(fake_->request_count(), 1);
}

// A 429 puts the line back and slows the whole run down: the line is tried again after the
// pause, every line is written, and nothing is asked twice that was answered.
TEST_F(CliBatchTest, ARateLimitPutsTheLineBackAndEveryLineIsWritten) {
  manifest(4);
  fake_->enqueue(R"({"status":429,"fixture":"gemini/error_429_resource_exhausted_minimal.json"})");
  CliRun r = batch({"--jobs", "2"});
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_EQ(json_number(r.out, "done"), 4);
  EXPECT_EQ(fake_->request_count(), 5) << "four answers and the one 429";
  JsonNode *reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  int ok = 0, limited = 0;
  for (guint i = 0; i < json_array_get_length(arr); ++i) {
    const int64_t st = json_object_get_int_member(json_array_get_object_element(arr, i), "status");
    ok += st == 200;
    limited += st == 429;
  }
  json_node_unref(reqs);
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(limited, 1);
}

// An output that exists and that the journal did not write is kept unless --force; a manifest's
// own mistakes are named line by line, and the good lines still run.
TEST_F(CliBatchTest, ForeignOutputsAreKeptAndBadLinesAreNamed) {
  manifest(2, {R"({"prompt": "x", "output": "gen.png", "size": "big"})", R"({"prompt": "x", "input": "nope.png", "output": "o.png"})",
               R"({"output": "p.png"})", R"({"prompt": "x", "output": "q.png", "colour": "red"})", "[1, 2]"});
  put(path("out-2.png"), "mine");
  CliRun r = batch();
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(state_of(r.out, 1), "done");
  EXPECT_EQ(state_of(r.out, 2), "failed");
  EXPECT_EQ(bytes(path("out-2.png")), "mine");
  EXPECT_NE(r.out.find("already exists and this batch did not write it"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("WIDTHxHEIGHT"), std::string::npos);
  EXPECT_NE(r.out.find("nope.png does not exist"), std::string::npos);
  EXPECT_NE(r.out.find("no \\\"prompt\\\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown field \\\"colour\\\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(fake_->request_count(), 1) << "only the good line was sent";
  CliRun forced = batch({"--force"});
  EXPECT_EQ(state_of(forced.out, 2), "done");
  EXPECT_NE(bytes(path("out-2.png")), "mine");
  // The journal holds no prompt and no key.
  const std::string journal = bytes(path("batch.jsonl.journal"));
  EXPECT_EQ(journal.find("a lantern"), std::string::npos);
  EXPECT_EQ(journal.find(kKey), std::string::npos);
}

// A generation line (no input) makes a picture of the size it asks for.
TEST_F(CliBatchTest, ALineWithoutAnInputIsAGeneration) {
  put(path("batch.jsonl"), R"({"prompt": "a lighthouse", "output": "gen.png", "size": "640x480", "seed": 3})" "\n");
  CliRun r = batch();
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const Image g = load_image_file(path("gen.png"));
  EXPECT_EQ(g.width, 640);
  EXPECT_EQ(g.height, 480);
}

// --batch-api: the lines go as one job of Gemini's Batch API, which is polled until it ends;
// each answer is fitted as a direct edit's would be, at half the price.
TEST_F(CliBatchTest, TheBatchApiSubmitsOneJobPollsItAndWritesEveryResult) {
  manifest(2, {R"({"prompt": "a lighthouse", "output": "gen.png", "size": "640x480"})"});
  CliRun r = batch({"--batch-api", "--poll", "0.05"});
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_EQ(json_number(r.out, "done"), 3);
  JsonNode *reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  ASSERT_EQ(json_array_get_length(arr), 4u) << "one job submitted, then asked after until it ended";
  JsonObject *create = json_array_get_object_element(arr, 0);
  EXPECT_NE(std::string(json_object_get_string_member(create, "path")).find(":batchGenerateContent"),
            std::string::npos);
  EXPECT_EQ(json_object_get_int_member(create, "n"), 3) << "the three requests in it";
  EXPECT_TRUE(json_object_get_boolean_member(create, "has_key"));
  for (guint i = 1; i < 4; ++i)
    EXPECT_EQ(std::string(json_object_get_string_member(json_array_get_object_element(arr, i), "method")), "GET");
  json_node_unref(reqs);
  EXPECT_EQ(load_image_file(path("gen.png")).width, 640);
  // The same edit made directly: the same picture, at twice the price.
  fake_->reset();
  CliRun direct = run({"edit", "--endpoint", endpoint("gemini"), "--prompt", "a lantern 1", "--json", "--no-stream",
                       path("in-1.png"), "-o", path("direct.png")});
  ASSERT_EQ(direct.status, 0) << direct.err;
  EXPECT_EQ(load_image_file(path("direct.png")).pixels, load_image_file(path("out-1.png")).pixels);
  GErrorOut err;
  JsonNode *doc = json_from_string(r.out.c_str(), err.out());
  ASSERT_TRUE(doc);
  const double line1 =
      json_object_get_double_member(json_array_get_object_element(
                                        json_object_get_array_member(json_node_get_object(doc), "lines"), 0),
                                    "cost_usd");
  json_node_unref(doc);
  EXPECT_NEAR(line1, json_number(direct.out, "cost.usd") / 2, 1e-9) << "the Batch API bills half";
}

// --detach submits and returns; a later run collects the same job and never submits again.
TEST_F(CliBatchTest, AfterDetachARerunCollectsTheJobWithoutSubmittingAgain) {
  manifest(3);
  CliRun d = batch({"--batch-api", "--detach"});
  ASSERT_EQ(d.status, 0) << d.err << d.out;
  EXPECT_EQ(state_of(d.out, 1), "submitted");
  EXPECT_FALSE(exists("out-1.png"));
  EXPECT_EQ(fake_->request_count(), 1);
  EXPECT_NE(bytes(path("batch.jsonl.journal")).find("batches/fake-"), std::string::npos);
  CliRun again = batch({"--batch-api", "--detach"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(fake_->request_count(), 1) << "detached again: nothing new is submitted";
  CliRun c = batch({"--batch-api", "--poll", "0.05"});
  ASSERT_EQ(c.status, 0) << c.err << c.out;
  EXPECT_EQ(json_number(c.out, "done"), 3);
  JsonNode *reqs = fake_->requests();
  JsonArray *arr = json_node_get_array(reqs);
  int creates = 0;
  for (guint i = 0; i < json_array_get_length(arr); ++i)
    creates += std::string(json_object_get_string_member(json_array_get_object_element(arr, i), "method")) == "POST";
  json_node_unref(reqs);
  EXPECT_EQ(creates, 1) << "collected, never submitted twice";
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(exists("out-" + std::to_string(i) + ".png"));
}

// A request of the job that failed on its own is that line's failure, in its own words; the
// rerun submits that line alone.
TEST_F(CliBatchTest, AnErrorInTheJobIsItsLinesAlone) {
  manifest(3);
  fake_->enqueue(R"({"count":1})");  // the first request: answered as usual
  fake_->enqueue(R"({"status":200,"fixture":"gemini/response_blocked_prompt_feedback.json"})");
  CliRun r = batch({"--batch-api", "--poll", "0.05"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(state_of(r.out, 1), "done");
  EXPECT_EQ(state_of(r.out, 2), "failed");
  EXPECT_EQ(state_of(r.out, 3), "done");
  EXPECT_NE(r.out.find("Gemini refused the prompt"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("line 2 failed: Gemini refused the prompt"), std::string::npos) << r.err;
  fake_->reset();
  CliRun again = batch({"--batch-api", "--poll", "0.05"});
  ASSERT_EQ(again.status, 0) << again.err;
  JsonNode *reqs = fake_->requests();
  EXPECT_EQ(json_object_get_int_member(json_array_get_object_element(json_node_get_array(reqs), 0), "n"), 1)
      << "only the failed line is submitted";
  json_node_unref(reqs);
}

// A job that expired (or failed) made nothing: its lines fail, saying so, and go again next time.
TEST_F(CliBatchTest, AnExpiredJobsLinesGoAgain) {
  manifest(2);
  fake_->enqueue(R"({"batch_state":"BATCH_STATE_EXPIRED"})");
  CliRun r = batch({"--batch-api", "--poll", "0.05"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.out.find("ended as expired, without answers"), std::string::npos) << r.out;
  EXPECT_FALSE(exists("out-1.png"));
  fake_->reset();
  CliRun again = batch({"--batch-api", "--poll", "0.05"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(json_number(again.out, "done"), 2);
}

// A service that leaves the keys out of its answers: they are matched by their place.
TEST_F(CliBatchTest, AnswersWithoutKeysAreMatchedByTheirPlace) {
  manifest(3);
  fake_->enqueue(R"({"batch_state":"BATCH_STATE_SUCCEEDED","batch_drop_keys":true})");
  fake_->enqueue(R"({"color":"FF0000"})");
  fake_->enqueue(R"({"color":"00FF00"})");
  fake_->enqueue(R"({"color":"0000FF"})");
  CliRun r = batch({"--batch-api", "--poll", "0.05", "--json"});
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const uint32_t want[] = {0xFF0000, 0x00FF00, 0x0000FF};
  for (int i = 1; i <= 3; ++i) {
    const Image out = load_image_file(path("out-" + std::to_string(i) + ".png"));
    EXPECT_EQ(rgb_at(out, out.width / 2, out.height / 2), want[i - 1]) << "line " << i;
  }
}

TEST_F(CliBatchTest, AServiceWithoutABatchModeIsSaidSo) {
  manifest(1);
  CliRun r = run({"batch", "--provider", "openai", "--endpoint", endpoint("openai"), "--batch-api",
                  path("batch.jsonl")});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("no batch mode for OpenAI"), std::string::npos) << r.err;
  EXPECT_EQ(fake_->request_count(), 0);
}

}  // namespace
