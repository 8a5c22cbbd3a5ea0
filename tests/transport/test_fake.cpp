// The loopback fake itself: it must refuse what the real services refuse (so tests that pass
// against it can be trusted), answer in the services' formats, obey its control endpoints,
// and run as a program.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gio/gio.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "core/catalog/models.hpp"
#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/transport.hpp"
#include "core/util/day.hpp"
#include "core/util/gobj.hpp"
#include "fake_server.hpp"

using namespace genfill;
using genfill::test::FakeReply;
using genfill::test::FakeServer;
using genfill::test::RecordedRequest;

namespace {

std::string b64(const std::vector<uint8_t> &bytes) { return json::base64_encode(bytes); }

std::string png_b64(int w, int h) { return b64(encode_png(Image(w, h))); }

class FakeTest : public ::testing::Test {
protected:
  void SetUp() override { server.start(); }

  // One request, one try; the answer (or the test fails).
  HttpResponse send(const HttpRequest &req) {
    TransportOptions o;
    o.max_tries = 1;
    o.timeout_s = 10;
    Transport t(o);
    auto out = t.send_all({req}, [](const HttpResponse &) { return RetryAdvice{}; });
    EXPECT_TRUE(out.at(0).response) << (out[0].error ? out[0].error->message() : "");
    return out[0].response ? *out[0].response : HttpResponse{};
  }

  HttpRequest gemini_raw(const std::string &body, const std::string &key = "test-key-123",
                         const std::string &model = "gemini-3.1-flash-image") {
    HttpRequest r;
    r.url = server.base_url() + "/v1beta/models/" + model + ":generateContent";
    if (!key.empty()) r.headers = {{"x-goog-api-key", key}};
    r.content_type = "application/json";
    r.body = body;
    return r;
  }

  // contents with a prompt and (optionally) one inline picture, and a generationConfig.
  static std::string gemini_body(const std::string &inline_part, const std::string &config) {
    std::string parts = R"({"text":"paint it"})";
    if (!inline_part.empty()) parts += "," + inline_part;
    return R"({"contents":[{"role":"user","parts":[)" + parts + R"(]}],"generationConfig":)" + config + "}";
  }
  static std::string inline_png(int w, int h) {
    return R"({"inlineData":{"mimeType":"image/png","data":")" + png_b64(w, h) + R"("}})";
  }

  HttpRequest openai_json(const std::string &body, const std::string &key = "test-key-123") {
    HttpRequest r;
    r.url = server.base_url() + "/v1/images/generations";
    if (!key.empty()) r.headers = {{"Authorization", "Bearer " + key}};
    r.content_type = "application/json";
    r.body = body;
    return r;
  }

  HttpRequest openai_form(std::vector<FormPart> parts, const std::string &key = "test-key-123") {
    HttpRequest r;
    r.url = server.base_url() + "/v1/images/edits";
    if (!key.empty()) r.headers = {{"Authorization", "Bearer " + key}};
    r.form = std::move(parts);
    return r;
  }
  static FormPart file(const std::string &name, const std::vector<uint8_t> &bytes, const std::string &type = "image/png") {
    return FormPart{name, std::string(bytes.begin(), bytes.end()), "picture.png", type};
  }
  static FormPart text(const std::string &name, const std::string &value) { return FormPart{name, value, "", ""}; }
  static std::vector<FormPart> edit_parts(std::vector<FormPart> extra = {}) {
    std::vector<FormPart> p = {file("image", encode_png(Image(32, 32))), text("model", "gpt-image-2"),
                               text("prompt", "make it blue")};
    p.insert(p.end(), extra.begin(), extra.end());
    return p;
  }

  static std::string field(const std::string &body, const char *a, const char *b) {
    json::Doc doc = json::try_parse(body);
    return json::string(json::object(doc.object(), a), b);
  }

  FakeServer server;
};

TEST_F(FakeTest, GeminiRefusesWhatTheServiceRefuses) {
  const std::string ok_config = R"({"responseModalities":["TEXT","IMAGE"]})";
  HttpRequest key_in_url = gemini_raw(gemini_body("", ok_config));
  key_in_url.url += "?key=test-key-123";
  HttpRequest wrong_mime = gemini_raw(gemini_body(
      R"({"inlineData":{"mimeType":"image/jpeg","data":")" + png_b64(8, 8) + R"("}})", ok_config));
  HttpRequest data_url = gemini_raw(gemini_body(
      R"({"inlineData":{"mimeType":"image/png","data":"data:image/png;base64,)" + png_b64(8, 8) + R"("}})", ok_config));
  const std::string clean = png_b64(64, 64);
  HttpRequest line_break = gemini_raw(gemini_body(R"({"inlineData":{"mimeType":"image/png","data":")" +
                                                      clean.substr(0, 20) + "\\n" + clean.substr(20) + R"("}})",
                                                  ok_config));
  HttpRequest not_a_picture = gemini_raw(gemini_body(
      R"({"inlineData":{"mimeType":"image/png","data":")" + b64({0x89, 'P', 'N', 'G', 1, 2, 3, 4}) + R"("}})", ok_config));

  struct Case {
    const char *what;
    HttpRequest req;
    int status;
    const char *status_word;
  } cases[] = {
      {"no key", gemini_raw(gemini_body("", ok_config), ""), 403, "PERMISSION_DENIED"},
      {"bad key", gemini_raw(gemini_body("", ok_config), "bad-key-1"), 400, "INVALID_ARGUMENT"},
      {"key in the URL", key_in_url, 400, "INVALID_ARGUMENT"},
      {"unknown model", gemini_raw(gemini_body("", ok_config), "test-key-123", "imagen-4"), 404, "NOT_FOUND"},
      {"not JSON", gemini_raw("contents: none"), 400, "INVALID_ARGUMENT"},
      {"no contents", gemini_raw(R"({"generationConfig":{"responseModalities":["IMAGE"]}})"), 400, "INVALID_ARGUMENT"},
      {"no IMAGE modality", gemini_raw(gemini_body("", R"({"responseModalities":["TEXT"]})")), 400, "INVALID_ARGUMENT"},
      {"two candidates", gemini_raw(gemini_body("", R"({"responseModalities":["IMAGE"],"candidateCount":2})")), 400,
       "INVALID_ARGUMENT"},
      {"unknown aspect", gemini_raw(gemini_body("", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"7:3"}})")),
       400, "INVALID_ARGUMENT"},
      {"mimeType does not match", wrong_mime, 400, "INVALID_ARGUMENT"},
      {"data: URL", data_url, 400, "INVALID_ARGUMENT"},
      {"line break in base64", line_break, 400, "INVALID_ARGUMENT"},
      {"not a picture", not_a_picture, 400, "INVALID_ARGUMENT"},
  };
  std::vector<HttpResponse> answers;
  for (auto &c : cases) answers.push_back(send(c.req));  // one by one: the log keeps their order
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), std::size(cases));
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(answers[i].status, cases[i].status) << cases[i].what << ": " << answers[i].body;
    EXPECT_EQ(field(answers[i].body, "error", "status"), cases[i].status_word) << cases[i].what;
    // The provider reads the fake's errors like the real ones.
    EXPECT_THROW(find_provider("gemini")->parse(answers[i]), Error) << cases[i].what;
  }
  EXPECT_NE(answers[1].body.find("API_KEY_INVALID"), std::string::npos);
  EXPECT_NE(answers[7].body.find("Multiple candidates"), std::string::npos) << answers[7].body;
  // Records: what the fake saw, never the key.
  EXPECT_FALSE(recs[0].has_key);
  EXPECT_TRUE(recs[2].key_in_query);
  EXPECT_EQ(server.requests_json().find("test-key-123"), std::string::npos);
  EXPECT_EQ(server.requests_json().find("bad-key-1"), std::string::npos);
}

TEST_F(FakeTest, GeminiAnswersWithTheAspectsSizeOrTheInputsSize) {
  struct Case {
    std::string config, inline_part;
    int w, h;
  } cases[] = {
      {R"({"responseModalities":["TEXT","IMAGE"],"imageConfig":{"aspectRatio":"1:1"}})", "", 1024, 1024},
      {R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"2:3"}})", "", 848, 1264},
      {R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"21:9"}})", inline_png(40, 30), 1584, 672},
      {R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"9:16"}})", "", 768, 1376},
      {R"({"responseModalities":["IMAGE"]})", inline_png(40, 30), 40, 30},
      {R"({"responseModalities":["IMAGE"]})", "", 1024, 1024},
      // proto field names are accepted too
      {R"({"response_modalities":["IMAGE"],"image_config":{"aspect_ratio":"4:5"}})", "", 928, 1152},
  };
  for (auto &c : cases) {
    HttpResponse a = send(gemini_raw(gemini_body(c.inline_part, c.config)));
    ASSERT_EQ(a.status, 200) << c.config << ": " << a.body;
    Result r = find_provider("gemini")->parse(a);
    ASSERT_EQ(r.images.size(), 1u);
    EXPECT_EQ(r.images[0].mime, "image/png");
    Image img = decode_image(r.images[0].bytes);
    EXPECT_EQ(img.width, c.w) << c.config;
    EXPECT_EQ(img.height, c.h) << c.config;
    EXPECT_FALSE(r.text.empty());
    EXPECT_GT(r.usage.total_tokens, 0);
    json::Doc doc = json::try_parse(a.body);
    EXPECT_EQ(json::string(doc.object(), "modelVersion"), "gemini-3.1-flash-image");
  }
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), std::size(cases));
  EXPECT_EQ(recs[2].image_count, 1);
  EXPECT_EQ(recs[2].image_sizes.at(0), std::make_pair(40, 30));
  EXPECT_EQ(recs[2].aspect, "21:9");
  EXPECT_EQ(recs[6].aspect, "4:5");
  EXPECT_EQ(recs[0].prompt, "paint it");
}

TEST_F(FakeTest, GeminiImageSizesAreThoseOfEachModel) {
  struct Case {
    const char *model, *config;
    int status, w, h;  // w x h of the answer when 200
  } cases[] = {
      // Gemini 3 models: their own sizes, times 1, 2, 4 (and 0.5 on 3.1 Flash).
      {"gemini-3-pro-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"16:9"}})", 200, 1376, 768},
      {"gemini-3-pro-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"16:9","imageSize":"2K"}})", 200, 2752, 1536},
      {"gemini-3-pro-image", R"({"responseModalities":["IMAGE"],"image_config":{"aspect_ratio":"3:2","image_size":"1K"}})", 200, 1264, 848},
      {"gemini-3-pro-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:1","imageSize":"512"}})", 400, 0, 0},
      {"gemini-3-pro-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:1","imageSize":"2k"}})", 400, 0, 0},
      {"gemini-3-pro-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"4:1"}})", 400, 0, 0},
      {"gemini-3.1-flash-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:1","imageSize":"512"}})", 200, 512, 512},
      {"gemini-3.1-flash-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"4:1","imageSize":"1K"}})", 200, 2048, 512},
      {"gemini-3.1-flash-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:8","imageSize":"2K"}})", 200, 704, 5632},
      // Nano Banana 2.1: Flash's fourteen ratios, but no 512.
      {"gemini-nano-banana-2.1", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"8:1","imageSize":"2K"}})", 200, 5632, 704},
      {"gemini-nano-banana-2.1", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:1","imageSize":"512"}})", 400, 0, 0},
      // Flash-Lite: the ten usual ratios, at 1K only.
      {"gemini-3.1-flash-lite-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"4:3"}})", 200, 1200, 896},
      {"gemini-3.1-flash-lite-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"4:3","imageSize":"1K"}})", 200, 1200, 896},
      {"gemini-3.1-flash-lite-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"4:3","imageSize":"2K"}})", 400, 0, 0},
      {"gemini-3.1-flash-lite-image", R"({"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:4"}})", 400, 0, 0},
  };
  for (auto &c : cases) {
    HttpResponse a = send(gemini_raw(gemini_body("", c.config), "test-key-123", c.model));
    ASSERT_EQ(a.status, c.status) << c.model << " " << c.config << ": " << a.body;
    if (c.status != 200) {
      EXPECT_EQ(field(a.body, "error", "status"), "INVALID_ARGUMENT") << a.body;
      continue;
    }
    Image img = decode_image(find_provider("gemini")->parse(a).images.at(0).bytes);
    EXPECT_EQ(img.width, c.w) << c.model << " " << c.config;
    EXPECT_EQ(img.height, c.h) << c.model << " " << c.config;
  }
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), std::size(cases));
  EXPECT_EQ(recs[1].image_size, "2K");
  EXPECT_EQ(recs[2].image_size, "1K");
  EXPECT_EQ(recs[0].image_size, "");
  EXPECT_EQ(recs[12].image_size, "1K");
}

TEST_F(FakeTest, OpenAIGenerationsAreChecked) {
  struct Case {
    const char *what;
    HttpRequest req;
    int status;
  } cases[] = {
      {"no key", openai_json(R"({"model":"gpt-image-2","prompt":"x"})", ""), 401},
      {"bad key", openai_json(R"({"model":"gpt-image-2","prompt":"x"})", "bad-key-1"), 401},
      {"no model", openai_json(R"({"prompt":"x"})"), 400},
      {"no prompt", openai_json(R"({"model":"gpt-image-2"})"), 400},
      {"response_format", openai_json(R"({"model":"gpt-image-2","prompt":"x","response_format":"b64_json"})"), 400},
      {"n too big", openai_json(R"({"model":"gpt-image-2","prompt":"x","n":11})"), 400},
      {"size not WxH", openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"1024"})"), 400},
      {"gpt-image-2 size not /16", openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"1000x512"})"), 400},
      {"gpt-image-2 beyond 3:1", openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"1600x512"})"), 400},
      {"gpt-image-2 beyond 1:3", openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"512x1552"})"), 400},
      {"gpt-image-2 beyond 3840", openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"3856x2160"})"), 400},
      {"gpt-image-2 beyond 3840x2160", openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"3072x3072"})"), 400},
  };
  for (auto &c : cases) {
    HttpResponse a = send(c.req);
    EXPECT_EQ(a.status, c.status) << c.what << ": " << a.body;
    json::Doc doc = json::try_parse(a.body);
    JsonObject *err = json::object(doc.object(), "error");
    ASSERT_TRUE(err) << c.what;
    for (const char *k : {"message", "type", "param", "code"}) EXPECT_TRUE(json_object_has_member(err, k)) << c.what << k;
    EXPECT_THROW(find_provider("openai")->parse(a), Error) << c.what;
  }

  struct Good {
    std::string body;
    int n, w, h;
  } good[] = {
      {R"({"model":"gpt-image-2","prompt":"x","size":"1536x1024","n":2})", 2, 1536, 1024},
      {R"({"model":"gpt-image-2.5-sunburst","prompt":"x","size":"auto"})", 1, 1024, 1024},
      {R"({"model":"gpt-image-2.6-flare","prompt":"x","size":"2048x1152"})", 1, 2048, 1152},
      {R"({"model":"gpt-image-2","prompt":"x","size":"1008x512"})", 1, 1008, 512},
      {R"({"model":"gpt-image-2","prompt":"x","size":"1536x512"})", 1, 1536, 512},
      {R"({"model":"gpt-image-2","prompt":"x","size":"1936x1088"})", 1, 1936, 1088},
  };
  for (auto &g : good) {
    HttpResponse a = send(openai_json(g.body));
    ASSERT_EQ(a.status, 200) << g.body << ": " << a.body;
    Result r = find_provider("openai")->parse(a);
    ASSERT_EQ(int(r.images.size()), g.n);
    for (auto &e : r.images) {
      Image img = decode_image(e.bytes);
      EXPECT_EQ(img.width, g.w);
      EXPECT_EQ(img.height, g.h);
    }
    EXPECT_GT(r.usage.total_tokens, 0);
  }
}

TEST_F(FakeTest, OpenAITransparentBackgroundsHaveRealAlpha) {
  HttpResponse jpeg = send(openai_json(R"({"model":"gpt-image-2","prompt":"x","background":"transparent","output_format":"jpeg"})"));
  EXPECT_EQ(jpeg.status, 400) << jpeg.body;
  EXPECT_EQ(field(jpeg.body, "error", "param"), "background");
  HttpResponse odd = send(openai_json(R"({"model":"gpt-image-2","prompt":"x","background":"clear"})"));
  EXPECT_EQ(odd.status, 400) << odd.body;

  HttpResponse a = send(openai_json(
      R"({"model":"gpt-image-2","prompt":"a sticker","size":"1024x1024","background":"transparent","output_format":"png"})"));
  ASSERT_EQ(a.status, 200) << a.body;
  json::Doc doc = json::try_parse(a.body);
  EXPECT_EQ(json::string(doc.object(), "background"), "transparent");
  Image img = decode_image(find_provider("openai")->parse(a).images.at(0).bytes);
  ASSERT_EQ(img.width, 1024);
  EXPECT_EQ(img.at(0, 0)[3], 0) << "the corners are transparent";
  EXPECT_EQ(img.at(512, 512)[3], 255) << "the middle is opaque";
  // As an edit too (generation with references goes there).
  HttpResponse e = send(openai_form(edit_parts({text("background", "transparent"), text("output_format", "png")})));
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(decode_image(find_provider("openai")->parse(e).images.at(0).bytes).at(0, 0)[3], 0);
  // Without: opaque everywhere.
  HttpResponse o = send(openai_json(R"({"model":"gpt-image-2","prompt":"x","size":"1024x1024"})"));
  EXPECT_EQ(decode_image(find_provider("openai")->parse(o).images.at(0).bytes).at(0, 0)[3], 255);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[2].background, "transparent");
  EXPECT_EQ(recs[2].output_format, "png");
  EXPECT_EQ(recs[3].background, "transparent");
  EXPECT_EQ(recs[4].background, "");
}

TEST_F(FakeTest, OpenAIEditsAreChecked) {
  const std::vector<uint8_t> pic = encode_png(Image(32, 32));
  Mask half(32, 32, 0);
  HttpRequest json_edit = openai_json(R"({"model":"gpt-image-2","prompt":"x","image":"data:image/png;base64,AAAA"})");
  json_edit.url = server.base_url() + "/v1/images/edits";
  std::vector<FormPart> as_text = edit_parts();
  as_text[0] = text("image", "data:image/png;base64," + b64(pic));
  std::vector<FormPart> octet = edit_parts();
  octet[0].content_type = "application/octet-stream";
  std::vector<FormPart> mixed = edit_parts({file("image[]", pic)});
  std::vector<FormPart> repeated = edit_parts({file("image", pic)});

  struct Case {
    const char *what;
    HttpRequest req;
    int status;
    const char *needle;
  } cases[] = {
      {"no key", openai_form(edit_parts(), ""), 401, "invalid_api_key"},
      {"JSON edit", json_edit, 400, "multipart/form-data"},
      {"image as text", openai_form(as_text), 400, "expected one of an array of files or file"},
      {"octet-stream", openai_form(octet), 400, "unsupported_file_mimetype"},
      {"no image", openai_form({text("model", "gpt-image-2"), text("prompt", "x")}), 400, "image"},
      {"no prompt", openai_form({file("image", pic), text("model", "gpt-image-2")}), 400, "prompt"},
      {"mask without alpha", openai_form(edit_parts({file("mask", encode_png(half))})), 400, "alpha"},
      {"mask of another size", openai_form(edit_parts({file("mask", encode_png(Image(16, 16)))})), 400, "same size"},
      {"image and image[]", openai_form(mixed), 400, "image"},
      {"image twice", openai_form(repeated), 400, "image[]"},
      {"size", openai_form(edit_parts({text("size", "1000x1000")})), 400, "size"},  // not multiples of 16
      {"input_fidelity word", openai_form(edit_parts({text("input_fidelity", "max")})), 400, "input_fidelity"},
      // gpt-image-1-mini, which refused input_fidelity, is shut down: refused for that first.
      {"input_fidelity on retired mini",
       openai_form({file("image", pic), text("model", "gpt-image-1-mini"), text("prompt", "x"),
                    text("input_fidelity", "high")}),
       404, "model_not_found"},
      {"not a picture", openai_form({file("image", {1, 2, 3}), text("model", "gpt-image-2"), text("prompt", "x")}), 400,
       "invalid_image_file"},
  };
  for (auto &c : cases) {
    HttpResponse a = send(c.req);
    EXPECT_EQ(a.status, c.status) << c.what << ": " << a.body;
    EXPECT_NE(a.body.find(c.needle), std::string::npos) << c.what << ": " << a.body;
  }

  // Several pictures as image[], with a mask of the first one's size: accepted and recorded.
  server.reset();
  HttpResponse a = send(openai_form({file("image[]", encode_png(Image(48, 40))), file("image[]", pic, "image/png"),
                                     file("mask", encode_png(Image(48, 40))), text("model", "gpt-image-2"),
                                     text("prompt", "combine"), text("n", "3"), text("size", "1024x1536"),
                                     text("input_fidelity", "high")}));
  ASSERT_EQ(a.status, 200) << a.body;
  Result r = find_provider("openai")->parse(a);
  ASSERT_EQ(r.images.size(), 3u);
  EXPECT_EQ(decode_image(r.images[2].bytes).height, 1536);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].image_count, 2);
  EXPECT_EQ(recs[0].image_sizes.at(0), std::make_pair(48, 40));
  EXPECT_EQ(recs[0].image_sizes.at(1), std::make_pair(32, 32));
  EXPECT_EQ(recs[0].mask_size, std::make_optional(std::make_pair(48, 40)));
  EXPECT_EQ(recs[0].n, 3);
  EXPECT_EQ(recs[0].size, "1024x1536");
  EXPECT_EQ(recs[0].input_fidelity, "high");
  EXPECT_EQ(recs[0].prompt, "combine");
  EXPECT_EQ(recs[0].status, 200);
}

// Imagen's :predict: what the providers build is accepted; what the service refuses is refused.
TEST_F(FakeTest, ImagenPredictIsChecked) {
  auto predict = [&](const std::string &body, const std::string &key = "test-key-123",
                     const std::string &model = "imagen-4.0-generate-001") {
    HttpRequest r;
    r.url = server.base_url() + "/v1beta/models/" + model + ":predict";
    if (!key.empty()) r.headers = {{"x-goog-api-key", key}};
    r.content_type = "application/json";
    r.body = body;
    return r;
  };
  const std::string ok = R"({"instances":[{"prompt":"x"}],"parameters":{"sampleCount":1}})";
  HttpRequest key_in_url = predict(ok);
  key_in_url.url += "?key=test-key-123";
  struct Case {
    const char *what;
    HttpRequest req;
    int status;
  } cases[] = {
      {"no key", predict(ok, ""), 403},
      {"bad key", predict(ok, "bad-key-1"), 400},
      {"key in the URL", key_in_url, 400},
      {"not Imagen", predict(ok, "test-key-123", "gemini-3.1-flash-image"), 404},
      {"no prompt", predict(R"({"instances":[{}]})"), 400},
      {"two instances", predict(R"({"instances":[{"prompt":"x"},{"prompt":"y"}]})"), 400},
      {"an input picture", predict(R"({"instances":[{"prompt":"x","image":{"bytesBase64Encoded":"AAAA"}}]})"), 400},
      {"seed", predict(R"({"instances":[{"prompt":"x"}],"parameters":{"seed":3}})"), 400},
      {"five samples", predict(R"({"instances":[{"prompt":"x"}],"parameters":{"sampleCount":5}})"), 400},
      {"3:2", predict(R"({"instances":[{"prompt":"x"}],"parameters":{"aspectRatio":"3:2"}})"), 400},
  };
  for (auto &c : cases) {
    HttpResponse a = send(c.req);
    EXPECT_EQ(a.status, c.status) << c.what << ": " << a.body;
    EXPECT_THROW(find_provider("imagen")->parse(a), Error) << c.what;
  }
  EXPECT_EQ(server.requests_json().find("test-key-123"), std::string::npos);

  // The provider's own request, through the fake and back.
  server.reset();
  Request req;
  req.model = "imagen-3.0-generate-002";
  req.base_url = server.base_url();
  req.prompt = "a lighthouse";
  req.aspect = "3:4";
  req.n = 3;
  Result r = find_provider("imagen")->parse(send(find_provider("imagen")->build(req, "test-key-123")));
  ASSERT_EQ(r.images.size(), 3u);
  Image img = decode_image(r.images[0].bytes);
  EXPECT_EQ(img.width, 896);
  EXPECT_EQ(img.height, 1280);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].n, 3);
  EXPECT_EQ(recs[0].aspect, "3:4");
  EXPECT_EQ(recs[0].model, "imagen-3.0-generate-002");
  EXPECT_TRUE(recs[0].has_key);

  // "No picture": each one filtered and said so (the provider asks for reasons).
  FakeReply none;
  none.text_only = true;
  server.enqueue(none);
  try {
    find_provider("imagen")->parse(send(find_provider("imagen")->build(req, "test-key-123")));
    ADD_FAILURE() << "filtered pictures parsed";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::Refused);
  }
}

// The chat relay (OpenRouter's image form).
TEST_F(FakeTest, ChatRelayIsChecked) {
  auto chat = [&](const std::string &body, const std::string &key = "test-key-123",
                  const std::string &path = "/v1/chat/completions") {
    HttpRequest r;
    r.url = server.base_url() + path;
    if (!key.empty()) r.headers = {{"Authorization", "Bearer " + key}};
    r.content_type = "application/json";
    r.body = body;
    return r;
  };
  auto body = [](const std::string &content, const std::string &extra = R"(,"modalities":["image","text"])") {
    return R"({"model":"google/gemini-3.1-flash-image","messages":[{"role":"user","content":)" + content + "}]" +
           extra + "}";
  };
  const std::string text = R"([{"type":"text","text":"x"}])";
  const std::string pic = "data:image/png;base64," + png_b64(20, 10);
  HttpRequest key_in_url = chat(body(text));
  key_in_url.url += "?api_key=test-key-123";
  struct Case {
    const char *what;
    HttpRequest req;
    int status;
  } cases[] = {
      {"no key", chat(body(text), ""), 401},
      {"bad key", chat(body(text), "bad-key-1"), 401},
      {"key in the URL", key_in_url, 400},
      {"no image modality", chat(body(text, R"(,"modalities":["text"])")), 400},
      {"not an image model", chat(R"({"model":"openai/gpt-5","messages":[{"role":"user","content":"x"}],"modalities":["image"]})"), 404},
      {"bare base64", chat(body(R"([{"type":"image_url","image_url":{"url":")" + png_b64(4, 4) + R"("}}])")), 400},
      {"type mismatch", chat(body(R"([{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,)" + png_b64(4, 4) + R"("}}])")), 400},
      {"unknown ratio", chat(body(text, R"(,"modalities":["image","text"],"image_config":{"aspect_ratio":"7:3"})")), 400},
      {"empty content", chat(body("\"\"")), 400},
      {"last turn not the user's", chat(R"({"model":"google/gemini-3.1-flash-image","messages":[{"role":"assistant","content":"x"}],"modalities":["image"]})"), 400},
  };
  for (auto &c : cases) {
    HttpResponse a = send(c.req);
    EXPECT_EQ(a.status, c.status) << c.what << ": " << a.body;
    EXPECT_THROW(find_provider("openai-chat")->parse(a), Error) << c.what;
  }
  // OpenRouter's own path works too; the answer's size is the ratio's, else the picture's.
  HttpResponse a = send(chat(body(R"([{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":")" + pic +
                                      R"("}}])"),
                             "test-key-123", "/api/v1/chat/completions"));
  ASSERT_EQ(a.status, 200) << a.body;
  Result r = find_provider("openai-chat")->parse(a);
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(decode_image(r.images[0].bytes).width, 20);
  EXPECT_EQ(r.text, "Here is the edited picture.");
  EXPECT_GT(r.usage.total_tokens, 0);

  // The provider's own request, through the fake and back.
  server.reset();
  Request req;
  req.model = "google/gemini-3-pro-image";
  req.base_url = server.base_url() + "/v1";
  req.prompt = "a lighthouse";
  req.aspect = "16:9";
  r = find_provider("openai-chat")->parse(send(find_provider("openai-chat")->build(req, "test-key-123")));
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(decode_image(r.images[0].bytes).width, 1344);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].aspect, "16:9");
  EXPECT_EQ(recs[0].prompt, "a lighthouse");
  EXPECT_EQ(recs[0].image_count, 0);
  EXPECT_EQ(server.requests_json().find("test-key-123"), std::string::npos);
}

// Gemini as it is today: shut-down ids are gone, with Google's own words naming the model;
// every other gemini id is served, whether a list (or genfill's catalog) knows it or not.
TEST_F(FakeTest, GeminiServesTodaysModelsAndNotRetiredOnes) {
  const std::string body = gemini_body("", R"({"responseModalities":["TEXT","IMAGE"]})");
  const char *const retired[] = {"gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview",
                                 "gemini-2.5-flash-image", "gemini-2.0-flash-exp-image-generation"};
  for (const char *model : retired) {
    HttpResponse a = send(gemini_raw(body, "test-key-123", model));
    EXPECT_EQ(a.status, 404) << model << ": " << a.body;
    EXPECT_EQ(field(a.body, "error", "status"), "NOT_FOUND") << model;
    const std::string message = field(a.body, "error", "message");
    EXPECT_NE(message.find("models/" + std::string(model) + " "), std::string::npos) << message;
    EXPECT_NE(message.find("no longer available"), std::string::npos) << message;
    try {
      find_provider("gemini")->parse(a);
      ADD_FAILURE() << model << ": a 404 parsed";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::ModelNotFound) << model << ": " << e.message();
      EXPECT_NE(std::string(e.message()).find(model), std::string::npos) << e.message();
    }
  }
  // Served: the listed image models, one only the list knows, and one no list knows at all.
  const char *const served[] = {"gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-nano-banana-2.1",
                                "gemini-3.1-flash-lite-image", "gemini-9-flash-image-exp", "gemini-7-ultra-image-next"};
  for (const char *model : served) {
    HttpResponse a = send(gemini_raw(body, "test-key-123", model));
    ASSERT_EQ(a.status, 200) << model << ": " << a.body;
    EXPECT_EQ(find_provider("gemini")->parse(a).images.size(), 1u) << model;
    json::Doc doc = json::try_parse(a.body);
    EXPECT_EQ(json::string(doc.object(), "modelVersion"), model);
  }
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), std::size(retired) + std::size(served));
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].model, i < std::size(retired) ? retired[i] : served[i - std::size(retired)]);
    EXPECT_EQ(recs[i].status, i < std::size(retired) ? 404 : 200) << recs[i].model;
  }
}

// Gemini 3 models take no sampling parameters: the fake refuses them, so a client that sends
// them fails here first.
TEST_F(FakeTest, GeminiRefusesSamplingParameters) {
  for (const char *model : {"gemini-3.1-flash-image", "gemini-3-pro-image"})
    for (const char *param : {"temperature", "topP", "topK"}) {
      const std::string config =
          std::string(R"({"responseModalities":["IMAGE"],")") + param + (std::string(param) == "topK" ? R"(":40})" : R"(":0.5})");
      HttpResponse a = send(gemini_raw(gemini_body("", config), "test-key-123", model));
      EXPECT_EQ(a.status, 400) << model << " " << param << ": " << a.body;
      EXPECT_EQ(field(a.body, "error", "status"), "INVALID_ARGUMENT") << a.body;
      EXPECT_NE(field(a.body, "error", "message").find(param), std::string::npos) << a.body;
      EXPECT_THROW(find_provider("gemini")->parse(a), Error);
    }
  // The same request without them is served.
  EXPECT_EQ(send(gemini_raw(gemini_body("", R"({"responseModalities":["IMAGE"]})"))).status, 200);
}

// OpenAI as it is today: shut-down ids (and ids that were never image models) are 404
// model_not_found, naming the model; the GPT Image 2 family works with free sizes.
TEST_F(FakeTest, OpenAIServesTodaysModelsAndNotRetiredOnes) {
  const char *const retired[] = {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest",
                                 "dall-e-3"};
  for (const char *model : retired) {
    HttpResponse gen = send(openai_json(std::string(R"({"model":")") + model + R"(","prompt":"x"})"));
    HttpResponse edit = send(openai_form({file("image", encode_png(Image(32, 32))), text("model", model),
                                          text("prompt", "x")}));
    for (const HttpResponse *a : {&gen, &edit}) {
      EXPECT_EQ(a->status, 404) << model << ": " << a->body;
      EXPECT_EQ(field(a->body, "error", "code"), "model_not_found") << a->body;
      EXPECT_NE(field(a->body, "error", "message").find(std::string("`") + model + "`"), std::string::npos) << a->body;
      try {
        find_provider("openai")->parse(*a);
        ADD_FAILURE() << model << ": a 404 parsed";
      } catch (const Error &e) {
        EXPECT_EQ(e.code(), ErrorCode::ModelNotFound) << model << ": " << e.message();
        EXPECT_NE(std::string(e.message()).find(model), std::string::npos) << e.message();
      }
    }
  }
  for (const char *model : {"gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2-2026-04-21", "gpt-image-2.6-sunburst"}) {
    HttpResponse gen = send(openai_json(std::string(R"({"model":")") + model + R"(","prompt":"x","size":"1536x512"})"));
    ASSERT_EQ(gen.status, 200) << model << ": " << gen.body;
    Image img = decode_image(find_provider("openai")->parse(gen).images.at(0).bytes);
    EXPECT_EQ(img.width, 1536) << model;
    EXPECT_EQ(img.height, 512) << model;
    HttpResponse edit = send(openai_form({file("image", encode_png(Image(32, 32))), text("model", model),
                                          text("prompt", "x"), text("input_fidelity", "high")}));
    ASSERT_EQ(edit.status, 200) << model << ": " << edit.body;
    EXPECT_EQ(find_provider("openai")->parse(edit).images.size(), 1u);
  }
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 2 * std::size(retired) + 8);
  EXPECT_EQ(recs[0].model, "gpt-image-1");
  EXPECT_EQ(recs[0].status, 404);
  EXPECT_EQ(recs.back().model, "gpt-image-2.6-sunburst");
  EXPECT_EQ(recs.back().status, 200);
}

// GET /v1beta/models: Google's model list, in short pages the client must follow.
TEST_F(FakeTest, GeminiModelListIsPaged) {
  auto list = [&](const std::string &query, const std::string &key = "test-key-123") {
    HttpRequest r;
    r.method = "GET";
    r.url = server.base_url() + "/v1beta/models" + query;
    if (!key.empty()) r.headers = {{"x-goog-api-key", key}};
    return r;
  };
  std::vector<std::string> ids;
  std::map<std::string, std::vector<std::string>> methods;
  std::string token;
  int pages = 0;
  do {
    HttpResponse a = send(list(token.empty() ? "?pageSize=1000" : "?pageSize=1000&pageToken=" + token));
    ASSERT_EQ(a.status, 200) << a.body;
    json::Doc doc = json::try_parse(a.body);
    JsonArray *models = json::array(doc.object(), "models");
    ASSERT_TRUE(models) << a.body;
    EXPECT_GT(json_array_get_length(models), 0u);
    for (guint i = 0; i < json_array_get_length(models); ++i) {
      JsonObject *m = json::element_object(models, i);
      const std::string name = json::string(m, "name");
      ASSERT_EQ(name.rfind("models/", 0), 0u) << name;
      EXPECT_FALSE(json::string(m, "displayName").empty()) << name;
      JsonArray *how = json::array(m, "supportedGenerationMethods");
      ASSERT_TRUE(how) << name;
      for (guint k = 0; k < json_array_get_length(how); ++k)
        methods[name.substr(7)].push_back(json_array_get_string_element(how, k));
      ids.push_back(name.substr(7));
    }
    token = json::string(doc.object(), "nextPageToken");
    ASSERT_LT(++pages, 50) << "the list does not end";
  } while (!token.empty());
  EXPECT_GE(pages, 2) << "short pages: clients must follow nextPageToken";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "no model twice";
  auto listed = [&](const char *id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
  EXPECT_TRUE(listed("gemini-3.1-flash-image"));
  EXPECT_TRUE(listed("gemini-embedding-001"));
  EXPECT_FALSE(listed("gemini-3-pro-image-preview")) << "shut down: no longer listed";
  const auto &flash = methods["gemini-3.1-flash-image"];
  EXPECT_NE(std::find(flash.begin(), flash.end(), "generateContent"), flash.end());
  const auto &embed = methods["gemini-embedding-001"];
  EXPECT_EQ(std::find(embed.begin(), embed.end(), "generateContent"), embed.end());

  // The provider reads the same pages: image models only, across every page.
  const Provider *gemini = find_provider("gemini");
  std::vector<std::string> images;
  token.clear();
  for (int page = 0; page < 50; ++page) {
    std::optional<HttpRequest> req = gemini->build_model_list(server.base_url(), "test-key-123", token);
    ASSERT_TRUE(req);
    ModelPage got = gemini->parse_model_list(send(*req));
    for (const ServedModel &m : got.models)
      if (m.image) images.push_back(m.id);
    token = got.next_page;
    if (token.empty()) break;
  }
  EXPECT_TRUE(token.empty());
  EXPECT_NE(std::find(images.begin(), images.end(), "gemini-3.1-flash-image"), images.end());
  EXPECT_NE(std::find(images.begin(), images.end(), "gemini-9-flash-image-exp"), images.end());
  EXPECT_EQ(std::find(images.begin(), images.end(), "gemini-embedding-001"), images.end());

  // Keys: in the header only.
  server.reset();
  HttpResponse in_query = send(list("?key=test-key-123"));
  EXPECT_EQ(in_query.status, 400) << in_query.body;
  EXPECT_EQ(field(in_query.body, "error", "status"), "INVALID_ARGUMENT");
  HttpResponse none = send(list("", ""));
  EXPECT_EQ(none.status, 403) << none.body;
  EXPECT_EQ(field(none.body, "error", "status"), "PERMISSION_DENIED");
  EXPECT_THROW(gemini->parse_model_list(none), Error);
  EXPECT_EQ(send(list("?pageToken=elsewhere")).status, 400);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].method, "GET");
  EXPECT_EQ(recs[0].path, "/v1beta/models");
  EXPECT_TRUE(recs[0].key_in_query);
  EXPECT_FALSE(recs[1].has_key);
  EXPECT_EQ(recs[1].status, 403);
  EXPECT_EQ(server.requests_json().find("test-key-123"), std::string::npos);
}

// GET /v1/models: OpenAI's list, with each model's shutdown day (null when none is announced).
TEST_F(FakeTest, OpenAIModelListHasShutdownDates) {
  auto list = [&](const std::string &key) {
    HttpRequest r;
    r.method = "GET";
    r.url = server.base_url() + "/v1/models";
    if (!key.empty()) r.headers = {{"Authorization", "Bearer " + key}};
    return r;
  };
  HttpResponse a = send(list("test-key-123"));
  ASSERT_EQ(a.status, 200) << a.body;
  json::Doc doc = json::try_parse(a.body);
  EXPECT_EQ(json::string(doc.object(), "object"), "list");
  JsonArray *data = json::array(doc.object(), "data");
  ASSERT_TRUE(data) << a.body;
  std::map<std::string, std::string> shutdown;  // id -> day, "" for null
  for (guint i = 0; i < json_array_get_length(data); ++i) {
    JsonObject *m = json::element_object(data, i);
    const std::string id = json::string(m, "id");
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(json::string(m, "object"), "model") << id;
    ASSERT_TRUE(json_object_has_member(m, "shutdown_date")) << id;
    JsonNode *day = json_object_get_member(m, "shutdown_date");
    if (json_node_is_null(day)) {
      shutdown[id] = "";
    } else {
      ASSERT_EQ(json_node_get_value_type(day), G_TYPE_STRING) << id;
      shutdown[id] = json_node_get_string(day);
      EXPECT_TRUE(is_iso_day(shutdown[id])) << id << ": " << shutdown[id];
    }
  }
  const std::string today = today_utc();
  ASSERT_TRUE(shutdown.count("gpt-image-2"));
  EXPECT_EQ(shutdown["gpt-image-2"], "");
  ASSERT_TRUE(shutdown.count("gpt-image-2-2026-04-21"));
  EXPECT_GT(shutdown["gpt-image-2-2026-04-21"], today) << "announced, still to come";
  ASSERT_TRUE(shutdown.count("chatgpt-image-latest"));
  EXPECT_FALSE(shutdown["chatgpt-image-latest"].empty());
  EXPECT_LE(shutdown["chatgpt-image-latest"], today) << "listed after its day";
  EXPECT_FALSE(shutdown.count("gpt-image-2.6-sunburst")) << "served, but missing from the list";
  EXPECT_TRUE(shutdown.count("whisper-1")) << "the list holds every kind of model";

  // The provider reads it: image models by their ids, shutdown days kept.
  ModelPage page = find_provider("openai")->parse_model_list(a);
  EXPECT_TRUE(page.next_page.empty());
  bool saw_latest = false;
  for (const ServedModel &m : page.models) {
    EXPECT_EQ(m.image, m.id.find("image") != std::string::npos) << m.id;
    if (m.id == "chatgpt-image-latest") {
      saw_latest = true;
      EXPECT_EQ(m.shutdown, shutdown["chatgpt-image-latest"]);
    }
  }
  EXPECT_TRUE(saw_latest);

  HttpResponse none = send(list(""));
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_THROW(find_provider("openai")->parse_model_list(none), Error);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].method, "GET");
  EXPECT_EQ(recs[0].path, "/v1/models");
  EXPECT_TRUE(recs[0].has_key);
  EXPECT_EQ(recs[0].status, 200);
  EXPECT_EQ(recs[1].status, 401);
}

// A relay's list (OpenRouter's form) holds text models unless image models are asked for.
TEST_F(FakeTest, RelayModelListHoldsImageModelsOnlyWhenAsked) {
  auto list = [&](const std::string &path_and_query) {
    HttpRequest r;
    r.method = "GET";
    r.url = server.base_url() + path_and_query;
    r.headers = {{"Authorization", "Bearer test-key-123"}};
    return r;
  };
  // id -> whether its output_modalities hold "image"
  auto models = [](const HttpResponse &a) {
    std::map<std::string, bool> out;
    json::Doc doc = json::try_parse(a.body);
    JsonArray *data = json::array(doc.object(), "data");
    EXPECT_TRUE(data) << a.body;
    for (guint i = 0; data && i < json_array_get_length(data); ++i) {
      JsonObject *m = json::element_object(data, i);
      JsonArray *mods = json::array(json::object(m, "architecture"), "output_modalities");
      EXPECT_TRUE(mods) << a.body;
      bool image = false;
      for (guint k = 0; mods && k < json_array_get_length(mods); ++k)
        image = image || g_strcmp0(json_array_get_string_element(mods, k), "image") == 0;
      out[json::string(m, "id")] = image;
    }
    return out;
  };
  HttpResponse plain = send(list("/api/v1/models"));
  ASSERT_EQ(plain.status, 200) << plain.body;
  auto text_only = models(plain);
  EXPECT_FALSE(text_only.empty());
  for (auto &[id, image] : text_only) EXPECT_FALSE(image) << id << ": listed without being asked for";

  for (const char *path : {"/api/v1/models?output_modalities=image", "/v1/models?output_modalities=image"}) {
    HttpResponse a = send(list(path));
    ASSERT_EQ(a.status, 200) << path << ": " << a.body;
    auto all = models(a);
    ASSERT_TRUE(all.count("google/gemini-3.1-flash-image")) << path;
    EXPECT_TRUE(all["google/gemini-3.1-flash-image"]);
    EXPECT_TRUE(all.count("google/gemini-3-pro-image")) << path;
  }

  // The provider asks for image models, and tells them from the others.
  const Provider *relay = find_provider("openai-chat");
  std::optional<HttpRequest> req = relay->build_model_list(server.base_url() + "/v1", "test-key-123", "");
  ASSERT_TRUE(req);
  ModelPage page = relay->parse_model_list(send(*req));
  std::map<std::string, bool> image;
  for (const ServedModel &m : page.models) image[m.id] = m.image;
  EXPECT_TRUE(image["google/gemini-3.1-flash-image"]);
  ASSERT_TRUE(image.count("google/gemini-3.5-flash"));
  EXPECT_FALSE(image["google/gemini-3.5-flash"]);
}

TEST_F(FakeTest, ScriptedRepliesAreUsedInOrderAndCounted) {
  FakeReply green;
  green.color = "00FF00";
  green.count = 2;
  server.enqueue(green);
  server.enqueue_json(R"({"status":429,"fixture":"gemini/error_429_resource_exhausted.json","headers":{"retry-after":"7"}})");
  server.enqueue_json(R"({"text_only":true})");
  const std::string body = gemini_body("", R"({"responseModalities":["IMAGE"]})");
  std::vector<HttpResponse> a;
  for (int i = 0; i < 5; ++i) a.push_back(send(gemini_raw(body)));
  auto pixel = [](const HttpResponse &resp) {
    Image img = decode_image(find_provider("gemini")->parse(resp).images.at(0).bytes);
    return (uint32_t(img.pixels[0]) << 16) | (uint32_t(img.pixels[1]) << 8) | img.pixels[2];
  };
  EXPECT_EQ(pixel(a[0]), 0x00FF00u);
  EXPECT_EQ(pixel(a[1]), 0x00FF00u);
  EXPECT_EQ(a[2].status, 429);
  EXPECT_EQ(a[2].header("retry-after"), "7");
  EXPECT_NE(a[2].body.find("RetryInfo"), std::string::npos);
  try {
    find_provider("gemini")->parse(a[3]);
    ADD_FAILURE() << "a text-only answer was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::TextOnly);
  }
  EXPECT_EQ(pixel(a[4]), 0xFF00FFu);  // the queue is empty again: the default colour
  server.set_color(0x123456);
  EXPECT_EQ(pixel(send(gemini_raw(body))), 0x123456u);

  EXPECT_THROW(server.enqueue_json("[1,2]"), std::exception);
  EXPECT_THROW(server.enqueue_json(R"({"color":"green"})"), std::exception);
  EXPECT_THROW(server.enqueue_json(R"({"status":200,"fixture":"gemini/no_such_file.json"})"), std::exception);
}

TEST_F(FakeTest, BrokenPicturesAreRejectedByTheProviders) {
  const std::string body = gemini_body("", R"({"responseModalities":["IMAGE"]})");
  for (const char *kind : {"corrupt", "bad_base64", "huge", "bomb"}) {
    server.enqueue_json(std::string(R"({"picture":")") + kind + "\"}");
    HttpResponse a = send(gemini_raw(body));
    ASSERT_EQ(a.status, 200);
    bool failed = false;
    try {
      Result r = find_provider("gemini")->parse(a);
      decode_image(r.images.at(0).bytes, size_t(1) << 26);
    } catch (const Error &) {
      failed = true;
    }
    EXPECT_TRUE(failed) << kind;
  }
  // The bomb is a PNG that truly is 16000x16000, in well under 1 MB.
  server.enqueue_json(R"({"picture":"bomb"})");
  const std::vector<uint8_t> png = find_provider("gemini")->parse(send(gemini_raw(body))).images.at(0).bytes;
  EXPECT_LT(png.size(), size_t(1) << 20);
  ASSERT_GT(png.size(), 33u);
  auto be32 = [&](size_t at) {
    return uint32_t(png[at]) << 24 | uint32_t(png[at + 1]) << 16 | uint32_t(png[at + 2]) << 8 | png[at + 3];
  };
  EXPECT_EQ(be32(16), 16000u);
  EXPECT_EQ(be32(20), 16000u);
  EXPECT_GT(be32(33), 100000u) << "the picture data is all there (IDAT's length)";
}

// The control endpoints, over HTTP, as other programs use them.
TEST_F(FakeTest, ControlEndpointsWork) {
  auto control = [&](const char *method, const char *path, const std::string &body) {
    HttpRequest r;
    r.method = method;
    r.url = server.base_url() + path;
    r.content_type = "application/json";
    r.body = body;
    return send(r);
  };
  EXPECT_EQ(control("POST", "/_fake/enqueue", R"({"status":503,"body":"{\"error\":{\"code\":503}}","count":2})").status, 200);
  EXPECT_EQ(control("POST", "/_fake/enqueue", "not json").status, 400);
  const std::string body = gemini_body("", R"({"responseModalities":["IMAGE"]})");
  EXPECT_EQ(send(gemini_raw(body)).status, 503);

  HttpResponse log = control("GET", "/_fake/requests", "");
  ASSERT_EQ(log.status, 200);
  json::Doc doc = json::try_parse(log.body);
  ASSERT_TRUE(doc.root() && JSON_NODE_HOLDS_ARRAY(doc.root()));
  JsonArray *arr = json_node_get_array(doc.root());
  ASSERT_EQ(json_array_get_length(arr), 1u);  // control requests are not recorded
  JsonObject *rec = json::element_object(arr, 0);
  EXPECT_EQ(json::string(rec, "path"), "/v1beta/models/gemini-3.1-flash-image:generateContent");
  EXPECT_EQ(json::integer(rec, "status"), 503);
  EXPECT_TRUE(json::boolean(rec, "has_key"));
  EXPECT_EQ(json::string(rec, "model"), "gemini-3.1-flash-image");
  EXPECT_EQ(json::integer(rec, "body_bytes"), int64_t(body.size()));
  EXPECT_TRUE(json_node_is_null(json_object_get_member(rec, "mask_size")));

  EXPECT_EQ(control("POST", "/_fake/reset", "{}").status, 200);
  EXPECT_EQ(server.request_count(), 0u);
  EXPECT_EQ(send(gemini_raw(body)).status, 200);  // the second 503 was cleared with the queue
  EXPECT_EQ(control("GET", "/_fake/nothing", "").status, 404);
}

// The program: prints its URL first, serves, and ends with its standard input.
TEST(FakeProgram, ServesAndStopsAtTheEndOfItsInput) {
  GErrorOut err;
  GPtr<GSubprocess> proc = adopt(g_subprocess_new(
      GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE), err.out(), GENFILL_FAKE_SERVER_EXE,
      "--stdin-eof", "--color", "0000ff", nullptr));
  ASSERT_TRUE(proc) << err.message();
  GPtr<GDataInputStream> out = adopt(g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc.get())));
  GCharPtr line(g_data_input_stream_read_line(out.get(), nullptr, nullptr, err.out()));
  ASSERT_TRUE(line) << err.message();
  const std::string url = line.get();
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;

  Request req;
  req.model = "gemini-3.1-flash-image";
  req.base_url = url;
  req.prompt = "blue";
  req.aspect = "4:3";
  TransportOptions o;
  o.max_tries = 1;
  Transport t(o);
  auto res = t.send_all({find_provider("gemini")->build(req, "test-key-123")}, [](const HttpResponse &) { return RetryAdvice{}; });
  ASSERT_TRUE(res[0].response);
  ASSERT_EQ(res[0].response->status, 200) << res[0].response->body;
  Image img = decode_image(find_provider("gemini")->parse(*res[0].response).images.at(0).bytes);
  EXPECT_EQ(img.width, 1200);  // 4:3 for gemini-3.1-flash-image
  EXPECT_EQ(img.pixels[2], 0xFF);
  EXPECT_EQ(img.pixels[0], 0x00);

  ASSERT_TRUE(g_output_stream_close(g_subprocess_get_stdin_pipe(proc.get()), nullptr, nullptr));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(g_subprocess_wait(proc.get(), nullptr, err.out())) << err.message();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_TRUE(g_subprocess_get_if_exited(proc.get()));
  EXPECT_EQ(g_subprocess_get_exit_status(proc.get()), 0);
}

TEST(FakeProgram, RefusesABadColour) {
  GErrorOut err;
  GPtr<GSubprocess> proc = adopt(g_subprocess_new(
      GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE), err.out(),
      GENFILL_FAKE_SERVER_EXE, "--color", "purple", nullptr));
  ASSERT_TRUE(proc) << err.message();
  ASSERT_TRUE(g_subprocess_wait(proc.get(), nullptr, nullptr));
  EXPECT_EQ(g_subprocess_get_exit_status(proc.get()), 2);
}

}  // namespace
