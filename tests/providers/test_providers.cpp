// Request building and response parsing of both providers, against the wire reference
// (REFERENCE §1, §3) and every stored fixture.
#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/sse.hpp"
#include "core/util/error.hpp"
#include "core/util/text.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using namespace genfill::test;

namespace {

const char *kKey = "test-key-123";

// ---------------- fixtures and helpers ----------------

// The fixtures that are answers of a service: errors and responses (also legacy Imagen ones).
bool is_answer(const std::string &name) {
  return name.ends_with(".json") && (name.rfind("error_", 0) == 0 || name.rfind("response_", 0) == 0 ||
                                     name.find("_response") != std::string::npos);
}

// A stored "HTTP/1.1 429 ...\nheader: value\n\nbody" file.
HttpResponse http_fixture(const std::string &name) {
  std::string text = fixture(name);
  HttpResponse r;
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (first) {
      r.status = std::atoi(line.c_str() + line.find(' ') + 1);
      first = false;
      continue;
    }
    size_t colon = line.find(':');
    std::string name_lc = line.substr(0, colon);
    for (char &c : name_lc) c = g_ascii_tolower(c);
    r.headers.emplace_back(name_lc, line.substr(line.find_first_not_of(' ', colon + 1)));
  }
  r.body = text.substr(pos);
  return r;
}

std::vector<uint8_t> bytes_of(const std::string &s) { return {s.begin(), s.end()}; }

Image pattern(int w, int h, uint8_t seed) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x * 7 + seed), p[1] = uint8_t(y * 5 + seed), p[2] = uint8_t(x + y), p[3] = 255;
    }
  return img;
}

EncodedImage png_of(int w, int h, uint8_t seed = 90) {
  EncodedImage e;
  e.bytes = encode_png(pattern(w, h, seed));
  e.mime = "image/png";
  e.width = w;
  e.height = h;
  return e;
}

// A mask with hard and soft values all over.
Mask soft_mask(int w, int h) {
  Mask m(w, h, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at(x, y) = uint8_t((x * 37 + y * 11) % 256);
  m.at(0, 0) = 0;
  m.at(1, 0) = 255;
  m.at(2, 0) = 127;
  m.at(3, 0) = 128;
  return m;
}

std::string header(const HttpRequest &r, const std::string &name) {
  for (auto &[k, v] : r.headers)
    if (g_ascii_strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

std::set<std::string> members(JsonObject *o) {
  std::set<std::string> out;
  GList *names = o ? json_object_get_members(o) : nullptr;
  for (GList *l = names; l; l = l->next) out.insert(static_cast<const char *>(l->data));
  g_list_free(names);
  return out;
}

struct Failure {
  bool thrown = false;
  ErrorCode code = ErrorCode::InvalidInput;
  std::string message, detail, text;
  int http_status = 0;
};

Failure parse_failure(const Provider &p, int status, const std::string &body,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  Failure f;
  try {
    p.parse(HttpResponse{status, std::move(headers), body});
  } catch (const Error &e) {
    f.thrown = true;
    f.code = e.code();
    f.message = e.message();
    f.detail = e.detail();
    f.text = e.text();
    f.http_status = e.http_status();
  }
  return f;
}

ErrorCode parse_error(const Provider &p, int status, const std::string &body, std::string *message = nullptr,
                      std::string *text = nullptr) {
  Failure f = parse_failure(p, status, body);
  if (!f.thrown) {
    ADD_FAILURE() << "no error for " << body.substr(0, 80);
    return ErrorCode(-1);
  }
  if (message) *message = f.message;
  if (text) *text = f.text;
  return f.code;
}

ErrorCode build_error(const Provider &p, const Request &req) {
  try {
    p.build(req, kKey);
  } catch (const Error &e) {
    return e.code();
  }
  ADD_FAILURE() << "build accepted the request";
  return ErrorCode(-1);
}

bool contains(const std::string &hay, const std::string &needle) { return hay.find(needle) != std::string::npos; }

const Provider &gemini() { return *find_provider("gemini"); }
const Provider &openai() { return *find_provider("openai"); }

HttpResponse with_headers(int status, std::vector<std::pair<std::string, std::string>> headers, std::string body = "") {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

// ---------------- registry and the response type ----------------

TEST(Registry, BothProvidersInOrder) {
  ASSERT_EQ(all_providers().size(), 4u);  // the relay formats come after these (test_relays.cpp)
  EXPECT_EQ(all_providers()[0]->name(), "gemini");
  EXPECT_EQ(all_providers()[1]->name(), "openai");
  for (const Provider *p : all_providers()) EXPECT_EQ(find_provider(p->name()), p);
  EXPECT_EQ(find_provider("nope"), nullptr);
  EXPECT_EQ(find_provider(""), nullptr);
  EXPECT_EQ(find_provider("Gemini"), nullptr);

  EXPECT_EQ(gemini().display_name(), "Google Gemini");
  EXPECT_EQ(gemini().default_base_url(), "https://generativelanguage.googleapis.com");
  EXPECT_EQ(gemini().key_env_vars(), (std::vector<std::string>{"GEMINI_API_KEY", "GOOGLE_API_KEY"}));
  EXPECT_EQ(openai().display_name(), "OpenAI");
  EXPECT_EQ(openai().default_base_url(), "https://api.openai.com/v1");
  EXPECT_EQ(openai().key_env_vars(), (std::vector<std::string>{"OPENAI_API_KEY"}));
}

TEST(HttpResponse, HeaderLookupIgnoresCase) {
  HttpResponse r{429, {{"retry-after", "12"}, {"x-request-id", "req_1"}}, ""};
  EXPECT_EQ(r.header("retry-after"), "12");
  EXPECT_EQ(r.header("Retry-After"), "12");
  EXPECT_EQ(r.header("X-REQUEST-ID"), "req_1");
  EXPECT_EQ(r.header("retry"), "");           // no prefix matches
  EXPECT_EQ(r.header("retry-after-ms"), "");  // nor longer names
  EXPECT_EQ(r.header(""), "");
}

// ---------------- Gemini requests (REFERENCE §1.1-1.3, §1.8) ----------------

Request gemini_request() {
  Request r;
  r.model = "gemini-3.1-flash-image";
  r.base_url = "https://generativelanguage.googleapis.com";
  r.prompt = "make it a watercolor";
  r.aspect = "16:9";
  return r;
}

JsonArray *gemini_parts(const json::Doc &doc) {
  return json::array(json::element_object(json::array(doc.object(), "contents"), 0), "parts");
}

TEST(GeminiRequest, GenerateHasTheDocumentedShape) {
  Request req = gemini_request();
  req.seed = 42;
  HttpRequest http = gemini().build(req, kKey);
  EXPECT_EQ(http.method, "POST");
  EXPECT_EQ(http.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-3.1-flash-image:generateContent");
  ASSERT_EQ(http.headers.size(), 1u);
  EXPECT_EQ(http.headers[0].first, "x-goog-api-key");
  EXPECT_EQ(http.headers[0].second, kKey);
  EXPECT_FALSE(contains(http.url, kKey)) << "the key travels in the header only";
  EXPECT_FALSE(contains(http.url, "key="));
  EXPECT_FALSE(contains(http.body, kKey));
  EXPECT_EQ(http.content_type, "application/json");
  EXPECT_TRUE(http.form.empty());

  json::Doc doc = json::try_parse(http.body);
  JsonObject *root = doc.object();
  ASSERT_TRUE(root);
  EXPECT_EQ(members(root), (std::set<std::string>{"contents", "generationConfig"}));
  JsonArray *contents = json::array(root, "contents");
  ASSERT_EQ(json_array_get_length(contents), 1u);
  JsonObject *content = json::element_object(contents, 0);
  EXPECT_EQ(json::string(content, "role"), "user");
  JsonArray *parts = json::array(content, "parts");
  ASSERT_EQ(json_array_get_length(parts), 1u);
  EXPECT_EQ(members(json::element_object(parts, 0)), std::set<std::string>{"text"});
  EXPECT_EQ(json::string(json::element_object(parts, 0), "text"), "make it a watercolor");

  JsonObject *config = json::object(root, "generationConfig");
  EXPECT_EQ(members(config), (std::set<std::string>{"responseModalities", "imageConfig", "seed"}));
  JsonArray *mods = json::array(config, "responseModalities");
  ASSERT_EQ(json_array_get_length(mods), 2u);
  EXPECT_STREQ(json_array_get_string_element(mods, 0), "TEXT");
  EXPECT_STREQ(json_array_get_string_element(mods, 1), "IMAGE");
  EXPECT_EQ(members(json::object(config, "imageConfig")), std::set<std::string>{"aspectRatio"});
  EXPECT_EQ(json::string(json::object(config, "imageConfig"), "aspectRatio"), "16:9");
  EXPECT_EQ(json::integer(config, "seed"), 42);
  EXPECT_FALSE(json_object_has_member(config, "candidateCount"));
}

TEST(GeminiRequest, NoAspectAndNoSeedLeaveThemOut) {
  Request req = gemini_request();
  req.aspect.clear();
  req.width = 1024;  // Gemini takes no pixel size: ignored
  req.height = 768;
  json::Doc doc = json::try_parse(gemini().build(req, kKey).body);
  JsonObject *config = json::object(doc.object(), "generationConfig");
  EXPECT_EQ(members(config), std::set<std::string>{"responseModalities"});
  EXPECT_FALSE(contains(gemini().build(req, kKey).body, "1024"));
}

TEST(GeminiRequest, ImageSizeAndModalitiesAsAsked) {
  // Gemini 3: imageSize next to aspectRatio, uppercase as the service wants it.
  Request req = gemini_request();
  req.model = "gemini-3-pro-image";
  req.image_size = "2K";
  json::Doc doc = json::try_parse(gemini().build(req, kKey).body);
  JsonObject *image_config = json::object(json::object(doc.object(), "generationConfig"), "imageConfig");
  EXPECT_EQ(members(image_config), (std::set<std::string>{"aspectRatio", "imageSize"}));
  EXPECT_EQ(json::string(image_config, "imageSize"), "2K");
  EXPECT_EQ(json::string(image_config, "aspectRatio"), "16:9");
  // A size alone.
  req.aspect.clear();
  json::Doc alone = json::try_parse(gemini().build(req, kKey).body);
  EXPECT_EQ(members(json::object(json::object(alone.object(), "generationConfig"), "imageConfig")),
            std::set<std::string>{"imageSize"});
  // No size: no imageSize (models of one size, Flash-Lite and the retired 2.5, are sent none).
  json::Doc none = json::try_parse(gemini().build(gemini_request(), kKey).body);
  EXPECT_FALSE(json_object_has_member(json::object(json::object(none.object(), "generationConfig"), "imageConfig"),
                                      "imageSize"));
  // Response modalities as the catalog says; both when it says nothing.
  Request image_only = gemini_request();
  image_only.response_modalities = {"IMAGE"};
  json::Doc io = json::try_parse(gemini().build(image_only, kKey).body);
  JsonArray *mods = json::array(json::object(io.object(), "generationConfig"), "responseModalities");
  ASSERT_EQ(json_array_get_length(mods), 1u);
  EXPECT_STREQ(json_array_get_string_element(mods, 0), "IMAGE");
}

TEST(GeminiRequest, SeedFitsTheInt32Field) {
  Request req = gemini_request();
  req.seed = (int64_t(1) << 40) + 7;
  json::Doc doc = json::try_parse(gemini().build(req, kKey).body);
  int64_t seed = json::integer(json::object(doc.object(), "generationConfig"), "seed");
  EXPECT_GE(seed, 0);
  EXPECT_LE(seed, INT32_MAX);
  EXPECT_EQ(seed, 7);
}

TEST(GeminiRequest, EditSendsInlineImagesAndTheMaskAsTheSecondPicture) {
  Request req = gemini_request();
  EncodedImage edited = png_of(64, 36, 1);
  EncodedImage reference = png_of(20, 20, 7);
  reference.mime = "image/webp";  // the type given is the type sent
  req.images = {edited, reference};
  const Mask m = soft_mask(64, 36);
  req.mask = m;
  HttpRequest http = gemini().build(req, kKey);
  json::Doc doc = json::try_parse(http.body);
  JsonArray *parts = gemini_parts(doc);
  ASSERT_EQ(json_array_get_length(parts), 4u);  // text, image, mask, reference

  const std::string text = json::string(json::element_object(parts, 0), "text");
  EXPECT_EQ(text.rfind("make it a watercolor", 0), 0u) << "the prompt comes first";
  EXPECT_TRUE(contains(text, "second image is a mask")) << text;
  EXPECT_TRUE(contains(text, "white")) << text;

  std::vector<std::string> mimes;
  std::vector<std::vector<uint8_t>> payloads;
  for (guint i = 1; i < 4; ++i) {
    JsonObject *part = json::element_object(parts, i);
    EXPECT_EQ(members(part), std::set<std::string>{"inlineData"});
    JsonObject *data = json::object(part, "inlineData");
    ASSERT_TRUE(data);
    EXPECT_EQ(members(data), (std::set<std::string>{"mimeType", "data"}));
    const std::string b64 = json::string(data, "data");
    EXPECT_FALSE(contains(b64, "data:")) << "bare base64, no data: URL";
    EXPECT_FALSE(contains(b64, "\n"));
    mimes.push_back(json::string(data, "mimeType"));
    payloads.push_back(json::base64_decode(b64, "test"));
  }
  EXPECT_EQ(mimes, (std::vector<std::string>{"image/png", "image/png", "image/webp"}));
  EXPECT_EQ(payloads[0], edited.bytes) << "the picture travels byte for byte";
  EXPECT_EQ(payloads[2], reference.bytes);

  // The mask: black and white, white = change, cut at half coverage, same size as the picture.
  Image mask = decode_image(payloads[1]);
  ASSERT_EQ(mask.width, 64);
  ASSERT_EQ(mask.height, 36);
  int white = 0;
  for (int y = 0; y < 36; ++y)
    for (int x = 0; x < 64; ++x) {
      const uint8_t want = m.at(x, y) >= 128 ? 255 : 0;
      const uint8_t *p = mask.at(x, y);
      ASSERT_EQ(p[0], want) << x << "," << y;
      ASSERT_EQ(p[1], want);
      ASSERT_EQ(p[2], want);
      ASSERT_EQ(p[3], 255);
      white += want == 255;
    }
  EXPECT_GT(white, 0);
  EXPECT_LT(white, 64 * 36);
  EXPECT_EQ(mask.at(2, 0)[0], 0);
  EXPECT_EQ(mask.at(3, 0)[0], 255);
}

TEST(GeminiRequest, WithoutAMaskTheTextIsThePromptAlone) {
  Request req = gemini_request();
  req.images = {png_of(8, 8), png_of(4, 4)};
  json::Doc doc = json::try_parse(gemini().build(req, kKey).body);
  JsonArray *parts = gemini_parts(doc);
  ASSERT_EQ(json_array_get_length(parts), 3u);
  EXPECT_EQ(json::string(json::element_object(parts, 0), "text"), "make it a watercolor");
}

TEST(GeminiRequest, ModelPrefixEscapingAndEndpoint) {
  Request req = gemini_request();
  req.model = "models/gemini-3-pro-image";
  req.base_url = "http://127.0.0.1:8080/relay";
  EXPECT_EQ(gemini().build(req, kKey).url,
            "http://127.0.0.1:8080/relay/v1beta/models/gemini-3-pro-image:generateContent");
  req.model = "odd model/x?y";
  EXPECT_EQ(gemini().build(req, kKey).url,
            "http://127.0.0.1:8080/relay/v1beta/models/odd%20model%2Fx%3Fy:generateContent");
}

TEST(GeminiRequest, OnePicturePerCallAndKnownPictureTypes) {
  Request req = gemini_request();
  req.n = 2;
  EXPECT_EQ(build_error(gemini(), req), ErrorCode::InvalidInput);
  req.n = 0;
  EXPECT_EQ(build_error(gemini(), req), ErrorCode::InvalidInput);

  req.n = 1;
  EncodedImage unnamed = png_of(4, 4);
  unnamed.mime.clear();  // sniffed from the bytes
  req.images = {unnamed};
  json::Doc doc = json::try_parse(gemini().build(req, kKey).body);
  EXPECT_EQ(json::string(json::object(json::element_object(gemini_parts(doc), 1), "inlineData"), "mimeType"),
            "image/png");
  req.images[0].bytes = {'G', 'I', 'F', '8', '9', 'a', 0, 0};
  EXPECT_EQ(build_error(gemini(), req), ErrorCode::InvalidInput);
  req.images[0] = png_of(4, 4);
  req.images[0].mime = "image/gif";
  EXPECT_EQ(build_error(gemini(), req), ErrorCode::InvalidInput);
}

// ---------------- Gemini responses: every fixture (REFERENCE §1.6, §1.10) ----------------

// The base64 of the last non-thought inlineData part of candidates[0], as the reference says.
std::vector<uint8_t> expected_gemini_image(const std::string &body) {
  json::Doc doc = json::try_parse(body);
  JsonArray *parts = json::array(
      json::object(json::element_object(json::array(doc.object(), "candidates"), 0), "content"), "parts");
  std::string last;
  for (guint i = 0; parts && i < json_array_get_length(parts); ++i) {
    JsonObject *p = json::element_object(parts, i);
    if (!json::boolean(p, "thought") && json::object(p, "inlineData"))
      last = json::string(json::object(p, "inlineData"), "data");
  }
  return last.empty() ? std::vector<uint8_t>{} : json::base64_decode(last, "test");
}

TEST(GeminiResponse, EveryFixtureParsesToAResultOrTheRightError) {
  const std::map<std::string, ErrorCode> expected = {
      {"error_400_api_key_invalid.json", ErrorCode::BadKey},
      {"error_400_failed_precondition_location.json", ErrorCode::PermissionDenied},
      {"error_400_invalid_argument_unknown_field.json", ErrorCode::BadRequest},
      {"error_400_multiple_candidates.json", ErrorCode::BadRequest},
      {"error_401_unauthenticated_bad_oauth.json", ErrorCode::BadKey},
      {"error_403_permission_denied_consumer_suspended.json", ErrorCode::PermissionDenied},
      {"error_403_permission_denied_no_key.json", ErrorCode::PermissionDenied},
      {"error_404_model_not_found.json", ErrorCode::ModelNotFound},
      {"error_429_resource_exhausted.json", ErrorCode::RateLimited},
      {"error_429_resource_exhausted_minimal.json", ErrorCode::RateLimited},
      {"error_429_wrapped_in_array.json", ErrorCode::RateLimited},
      {"error_500_internal.json", ErrorCode::ServerError},
      {"error_503_unavailable.json", ErrorCode::ServerError},
      {"error_504_deadline_exceeded.json", ErrorCode::ServerError},
      {"response_blocked_prompt_feedback.json", ErrorCode::Refused},
      {"response_blocked_prompt_feedback_safety_ratings.json", ErrorCode::Refused},
      {"response_candidate_image_safety_no_content.json", ErrorCode::Refused},
      {"response_candidate_image_safety_with_text.json", ErrorCode::Refused},
      {"response_candidate_image_prohibited_content.json", ErrorCode::Refused},
      {"response_finish_no_image.json", ErrorCode::TextOnly},  // NO_IMAGE with a text part: hand the text back
      {"response_text_only_stop_no_image.json", ErrorCode::TextOnly},
      // The retired Imagen :predict format is not generateContent: not understood, said so.
      {"imagen_predict_response.json", ErrorCode::BadResponse},
      {"imagen_predict_response_one_filtered.json", ErrorCode::BadResponse},
      {"imagen_predict_response_all_filtered_empty.json", ErrorCode::BadResponse},
  };
  const std::set<std::string> successes = {"response_success_text_and_image.json",
                                           "response_success_image_only_gemini3_with_thoughts.json",
                                           "response_edit_success_with_image_input_tokens.json"};
  size_t checked = 0;
  for (const std::string &name : fixture_names("gemini")) {
    if (!is_answer(name)) continue;
    SCOPED_TRACE(name);
    const std::string body = fixture("gemini/" + name);
    const int status = status_of(name);
    if (successes.count(name)) {
      Result res = gemini().parse(HttpResponse{status, {}, body});
      ASSERT_EQ(res.images.size(), 1u);
      EXPECT_EQ(res.images[0].bytes, expected_gemini_image(body));
      EXPECT_EQ(res.images[0].mime, "image/png");
      EXPECT_GT(decode_image(res.images[0].bytes).width, 0);
      EXPECT_EQ(res.finish_reason, "STOP");
      ++checked;
      continue;
    }
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "a new fixture needs an expectation here";
    Failure f = parse_failure(gemini(), status, body);
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, it->second) << error_code_name(f.code) << ": " << f.message;
    EXPECT_TRUE(contains(f.message, "Gemini")) << f.message;
    EXPECT_FALSE(contains(f.message, "{")) << "no JSON in what users read: " << f.message;
    EXPECT_EQ(f.http_status, status);
    if (status != 200) {
      EXPECT_EQ(f.detail.rfind("HTTP " + std::to_string(status), 0), 0u) << f.detail;
    }
    EXPECT_FALSE(contains(f.message + f.detail, "SYNTHETIC")) << "quoted keys are hidden: " << f.detail;
    ++checked;
  }
  EXPECT_EQ(checked, expected.size() + successes.size()) << "a fixture listed here is missing";
}

TEST(GeminiResponse, ErrorMessagesSayWhatHappened) {
  auto message_of = [](const std::string &name) {
    return parse_failure(gemini(), status_of(name), fixture("gemini/" + name));
  };
  Failure f = message_of("error_400_api_key_invalid.json");
  EXPECT_TRUE(contains(f.message, "GEMINI_API_KEY")) << f.message;
  EXPECT_TRUE(contains(f.detail, "HTTP 400 INVALID_ARGUMENT API_KEY_INVALID")) << f.detail;

  f = message_of("error_403_permission_denied_no_key.json");
  EXPECT_TRUE(contains(f.message, "no API key")) << f.message;
  f = message_of("error_403_permission_denied_consumer_suspended.json");
  EXPECT_TRUE(contains(f.message, "suspended")) << f.message;
  EXPECT_TRUE(contains(f.detail, "api_key:[hidden]")) << f.detail;
  f = message_of("error_400_failed_precondition_location.json");
  EXPECT_TRUE(contains(f.message, "location")) << f.message;

  f = message_of("error_404_model_not_found.json");
  EXPECT_TRUE(contains(f.message, "gemini-9-image")) << "names the model: " << f.message;
  EXPECT_FALSE(contains(f.message, "ListModels")) << f.message;

  f = message_of("error_400_invalid_argument_unknown_field.json");
  json::RpcStatus st = json::read_rpc_status(fixture("gemini/error_400_invalid_argument_unknown_field.json"));
  ASSERT_FALSE(st.message.empty());
  EXPECT_EQ(f.message.rfind("Gemini rejected the request: ", 0), 0u) << f.message;
  EXPECT_TRUE(contains(f.message, st.message.substr(0, 40))) << "the server's words: " << f.message;

  f = message_of("error_503_unavailable.json");
  EXPECT_TRUE(contains(f.detail, "HTTP 503 UNAVAILABLE")) << f.detail;

  f = message_of("response_blocked_prompt_feedback.json");
  EXPECT_TRUE(contains(f.message, "refused the prompt")) << f.message;
  EXPECT_TRUE(contains(f.message, "PROHIBITED_CONTENT")) << f.message;
}

TEST(GeminiResponse, DailyQuotaIsExhaustedNotRateLimited) {
  const std::string daily = R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota","details":[
    {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
      {"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"},
      {"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})";
  std::string message;
  EXPECT_EQ(parse_error(gemini(), 429, daily, &message), ErrorCode::QuotaExhausted);
  EXPECT_TRUE(contains(message, "daily")) << message;
}

TEST(GeminiResponse, SkipsThoughtsAndKeepsTheLastPicture) {
  const std::string a = json::base64_encode(png_of(2, 2, 1).bytes);
  const std::string b = json::base64_encode(png_of(3, 3, 2).bytes);
  const std::string c = json::base64_encode(png_of(4, 4, 3).bytes);
  const std::string body = R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"thinking about it","thought":true},
      {"inlineData":{"mimeType":"image/png","data":")" + a + R"("},"thought":true},
      {"text":"Here it is."},
      {"inlineData":{"mimeType":"image/png","data":")" + b + R"("}},
      {"inlineData":{"mimeType":"application/pdf","data":"AAAA"}},
      {"inlineData":{"mimeType":"image/jpeg","data":")" + c + R"("},"thoughtSignature":"c2ln"},
      {"inlineData":{"mimeType":"image/png","data":")" + a + R"("},"thought":true},
      {"text":"Done."}]},
    "finishReason":"STOP"}],
    "usageMetadata":{"promptTokenCount":"12","candidatesTokenCount":1290,"totalTokenCount":1302}})";
  Result r = gemini().parse(HttpResponse{200, {}, body});
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].bytes, png_of(4, 4, 3).bytes) << "the last non-thought picture";
  EXPECT_EQ(r.images[0].mime, "image/jpeg") << "the type as sent";
  EXPECT_EQ(r.text, "Here it is.\nDone.") << "thought text is not the caption";
  EXPECT_EQ(r.finish_reason, "STOP");
  EXPECT_EQ(r.usage.input_tokens, 12) << "int64 as a string, per Google's JSON mapping";
  EXPECT_EQ(r.usage.output_tokens, 1290);
  EXPECT_EQ(r.usage.total_tokens, 1302);

  // The stored Gemini 3 answer: a thought picture first, then the final one.
  const std::string stored = fixture("gemini/response_success_image_only_gemini3_with_thoughts.json");
  Result s = gemini().parse(HttpResponse{200, {}, stored});
  ASSERT_EQ(s.images.size(), 1u);
  json::Doc doc = json::try_parse(stored);
  JsonArray *parts = json::array(
      json::object(json::element_object(json::array(doc.object(), "candidates"), 0), "content"), "parts");
  const std::string thought = json::string(json::object(json::element_object(parts, 0), "inlineData"), "data");
  ASSERT_TRUE(json::boolean(json::element_object(parts, 0), "thought"));
  EXPECT_NE(s.images[0].bytes, json::base64_decode(thought, "test"));
  EXPECT_GT(s.usage.total_tokens, 0);
  // Its usage by kind: thoughts counted apart from the candidates, as the total shows.
  EXPECT_EQ(s.usage.thoughts_tokens, 210);
  EXPECT_EQ(s.usage.input_text_tokens, 14);
  EXPECT_EQ(s.usage.input_image_tokens, -1) << "no picture went in";
  EXPECT_EQ(s.usage.output_image_tokens, 1120);
  EXPECT_EQ(s.usage.output_text_tokens, -1);
  EXPECT_EQ(s.usage.input_tokens + s.usage.output_tokens + s.usage.thoughts_tokens, s.usage.total_tokens);
}

TEST(GeminiResponse, UsageByModality) {
  Result r = gemini().parse(HttpResponse{200, {}, fixture("gemini/response_edit_success_with_image_input_tokens.json")});
  EXPECT_EQ(r.usage.input_text_tokens, 16);
  EXPECT_EQ(r.usage.input_image_tokens, 258);
  EXPECT_EQ(r.usage.output_image_tokens, 1290);
  EXPECT_EQ(r.usage.thoughts_tokens, -1) << "not reported";
  // A detail without a modality counts as text, as Google's SDKs say.
  const std::string png = json::base64_encode(png_of(2, 2).bytes);
  Result t = gemini().parse(HttpResponse{200, {}, R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":")" +
                                                    png + R"("}}]},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":30,"promptTokensDetails":[{"tokenCount":10},{"modality":"TEXT","tokenCount":5},
      {"modality":"IMAGE","tokenCount":15}]}})"});
  EXPECT_EQ(t.usage.input_text_tokens, 15);
  EXPECT_EQ(t.usage.input_image_tokens, 15);
}

TEST(GeminiResponse, UsageAndCaptionOfTheStoredAnswer) {
  const std::string body = fixture("gemini/response_success_text_and_image.json");
  Result r = gemini().parse(HttpResponse{200, {}, body});
  json::Doc doc = json::try_parse(body);
  JsonObject *usage = json::object(doc.object(), "usageMetadata");
  EXPECT_EQ(r.usage.input_tokens, json::integer(usage, "promptTokenCount"));
  EXPECT_EQ(r.usage.output_tokens, json::integer(usage, "candidatesTokenCount"));
  EXPECT_EQ(r.usage.total_tokens, json::integer(usage, "totalTokenCount"));
  EXPECT_GT(r.usage.total_tokens, 0);
  EXPECT_FALSE(r.text.empty());
}

TEST(GeminiResponse, SnakeCaseInlineDataFromRelays) {
  const std::string b = json::base64_encode(png_of(2, 2).bytes);
  Result r = gemini().parse(HttpResponse{
      200, {}, R"({"candidates":[{"content":{"parts":[{"inline_data":{"mime_type":"image/png","data":")" + b + R"("}}]}}]})"});
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].bytes, png_of(2, 2).bytes);
}

TEST(GeminiResponse, TextOnlyHandsBackTheText) {
  Failure f = parse_failure(gemini(), 200, fixture("gemini/response_text_only_stop_no_image.json"));
  ASSERT_TRUE(f.thrown);
  EXPECT_EQ(f.code, ErrorCode::TextOnly);
  EXPECT_FALSE(f.text.empty());
  EXPECT_EQ(f.message.rfind("Gemini answered with text instead of a picture: ", 0), 0u) << f.message;
  EXPECT_TRUE(contains(f.message, f.text.substr(0, 20))) << f.message;

  // Refusals keep what the model said too; the reason goes to the detail.
  f = parse_failure(gemini(), 200, fixture("gemini/response_candidate_image_safety_with_text.json"));
  EXPECT_EQ(f.code, ErrorCode::Refused);
  EXPECT_EQ(f.text, "I can't create that image.");
  EXPECT_TRUE(contains(f.message, "safety filters")) << f.message;
  EXPECT_EQ(f.detail, "finishReason=IMAGE_SAFETY");

  // NO_IMAGE with words: the words are the answer, and the user is told to ask directly.
  f = parse_failure(gemini(), 200, fixture("gemini/response_finish_no_image.json"));
  EXPECT_EQ(f.code, ErrorCode::TextOnly);
  EXPECT_EQ(f.text, "I can answer that in words instead.");
  EXPECT_EQ(f.message.rfind("Gemini answered with words instead of a picture: ", 0), 0u) << f.message;
  EXPECT_TRUE(contains(f.message, "I can answer that in words instead.")) << f.message;
  EXPECT_TRUE(contains(f.message, "Ask for the change directly")) << f.message;
}

TEST(GeminiResponse, NoPictureIsClassifiedByFinishReason) {
  auto answer = [](const std::string &reason, const std::string &text) {
    std::string parts = text.empty() ? "" : R"({"text":")" + text + R"("})";
    return R"({"candidates":[{"content":{"role":"model","parts":[)" + parts + R"(]},"finishReason":")" + reason +
           R"("}]})";
  };
  for (const char *reason : {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST",
                             "SPII", "RECITATION", "IMAGE_RECITATION"}) {
    SCOPED_TRACE(reason);
    Failure f = parse_failure(gemini(), 200, answer(reason, ""));
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, ErrorCode::Refused);
    EXPECT_EQ(f.detail, std::string("finishReason=") + reason);
    // The picture reasons have their own words (GeminiFinish below); the others name the reason.
    if (std::string(reason).rfind("IMAGE_", 0) != 0) {
      EXPECT_TRUE(contains(f.message, reason)) << f.message;
    }
    EXPECT_EQ(parse_error(gemini(), 200, answer(reason, "No.")), ErrorCode::Refused) << "a refusal, even with words";
  }
  EXPECT_EQ(parse_error(gemini(), 200, answer("NO_IMAGE", "")), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, answer("STOP", "")), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, answer("MAX_TOKENS", "")), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, answer("IMAGE_OTHER", "")), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, answer("SOMETHING_NEW", "")), ErrorCode::BadResponse);
  std::string text;
  EXPECT_EQ(parse_error(gemini(), 200, answer("SOMETHING_NEW", "a poem"), nullptr, &text), ErrorCode::TextOnly);
  EXPECT_EQ(text, "a poem");
  EXPECT_EQ(parse_error(gemini(), 200, R"({"candidates":[]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, R"({"candidates":[{"finishReason":"STOP"}]})"), ErrorCode::BadResponse);
}

TEST(GeminiResponse, MalformedAnswersAreBadResponses) {
  const std::string good = fixture("gemini/response_success_text_and_image.json");
  EXPECT_EQ(parse_error(gemini(), 200, good.substr(0, good.size() / 2)), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, good.substr(0, good.size() - 3)), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, ""), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, "<html>proxy error</html>"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, "{}"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, "[1,2]"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, R"({"candidates":[7,"x"]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, R"({"candidates":[{"content":{"parts":[null,3,"x",[]]}}]})"),
            ErrorCode::BadResponse);
  // Two documents in one body once aborted the JSON parser (found by fuzzing).
  EXPECT_EQ(parse_error(gemini(), 200, "{}{}\n"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 400, "{}{}"), ErrorCode::BadRequest);
}

TEST(GeminiResponse, InvalidBase64IsABadResponse) {
  const std::string good = json::base64_encode(png_of(2, 2).bytes);
  for (const std::string &data : {std::string("iVBOR#w0KGgo="), good.substr(0, good.size() - 1), good + "=",
                                  "data:image/png;base64," + good, std::string(""), std::string("====")}) {
    SCOPED_TRACE(data);
    std::string message;
    EXPECT_EQ(parse_error(gemini(), 200,
                          R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":")" +
                              data + R"("}}]},"finishReason":"STOP"}]})",
                          &message),
              ErrorCode::BadResponse);
    EXPECT_TRUE(contains(message, "Gemini")) << message;
  }
}

TEST(GeminiResponse, ErrorBodiesThatAreNotJsonOrArriveWithA200) {
  std::string message;
  EXPECT_EQ(parse_error(gemini(), 502, "<html><body>Bad gateway</body></html>", &message), ErrorCode::ServerError);
  EXPECT_FALSE(contains(message, "<")) << message;
  EXPECT_EQ(parse_error(gemini(), 400, "<!DOCTYPE html><html>Request blocked</html>", &message), ErrorCode::BadRequest);
  EXPECT_FALSE(contains(message, "<")) << "markup is not a message: " << message;
  EXPECT_TRUE(contains(message, "400")) << message;
  EXPECT_EQ(parse_error(gemini(), 400, "request body too large for the relay", &message), ErrorCode::BadRequest);
  EXPECT_TRUE(contains(message, "request body too large for the relay")) << message;
  EXPECT_EQ(parse_error(gemini(), 401, "Unauthorized"), ErrorCode::BadKey);
  // A 404 that names no model is an address that is not Gemini's (GeminiNotFound below).
  EXPECT_EQ(parse_error(gemini(), 404, ""), ErrorCode::BadRequest);
  EXPECT_EQ(parse_error(gemini(), 413, "too big"), ErrorCode::BadRequest);
  // An error chunk inside a 200 (streaming): the body's code decides.
  EXPECT_EQ(parse_error(gemini(), 200, fixture("gemini/error_429_resource_exhausted.json")), ErrorCode::RateLimited);
  EXPECT_EQ(parse_error(gemini(), 200, fixture("gemini/error_400_api_key_invalid.json")), ErrorCode::BadKey);
}

// ---------------- OpenAI requests (REFERENCE §3.2, §3.3) ----------------

Request openai_request() {
  Request r;
  r.model = "gpt-image-2";
  r.base_url = "https://api.openai.com/v1";
  r.prompt = "a lighthouse";
  r.width = 1536;
  r.height = 1024;
  r.n = 3;
  return r;
}

const FormPart *part(const HttpRequest &h, const std::string &name, int nth = 0) {
  for (const FormPart &p : h.form)
    if (p.name == name && nth-- == 0) return &p;
  return nullptr;
}

int count_parts(const HttpRequest &h, const std::string &name) {
  return int(std::count_if(h.form.begin(), h.form.end(), [&](const FormPart &p) { return p.name == name; }));
}

TEST(OpenAIRequest, GenerationsIsJsonWithModelPromptSizeAndN) {
  Request req = openai_request();
  req.seed = 5;        // OpenAI takes none
  req.aspect = "3:2";  // nor a ratio
  HttpRequest http = openai().build(req, kKey);
  EXPECT_EQ(http.method, "POST");
  EXPECT_EQ(http.url, "https://api.openai.com/v1/images/generations");
  ASSERT_EQ(http.headers.size(), 1u);
  EXPECT_EQ(http.headers[0].first, "Authorization");
  EXPECT_EQ(http.headers[0].second, std::string("Bearer ") + kKey);
  EXPECT_FALSE(contains(http.url, kKey));
  EXPECT_FALSE(contains(http.body, kKey));
  EXPECT_EQ(http.content_type, "application/json");
  EXPECT_TRUE(http.form.empty());
  json::Doc doc = json::try_parse(http.body);
  JsonObject *o = doc.object();
  EXPECT_EQ(members(o), (std::set<std::string>{"model", "prompt", "n", "size"}));
  EXPECT_EQ(json::string(o, "model"), "gpt-image-2");
  EXPECT_EQ(json::string(o, "prompt"), "a lighthouse");
  EXPECT_EQ(json::string(o, "size"), "1536x1024");
  EXPECT_EQ(json::integer(o, "n"), 3);

  req.width = req.height = 0;
  req.n = 1;
  json::Doc autodoc = json::try_parse(openai().build(req, kKey).body);
  EXPECT_EQ(json::string(autodoc.object(), "size"), "auto");
  EXPECT_EQ(json::integer(autodoc.object(), "n"), 1);
}

TEST(OpenAIRequest, EditIsMultipartWithOneImageAndATransparentMask) {
  Request req = openai_request();
  req.n = 2;
  EncodedImage img = png_of(96, 64);
  req.images = {img};
  const Mask m = soft_mask(96, 64);
  req.mask = m;
  HttpRequest http = openai().build(req, kKey);
  EXPECT_EQ(http.url, "https://api.openai.com/v1/images/edits");
  EXPECT_EQ(header(http, "Authorization"), std::string("Bearer ") + kKey);
  EXPECT_TRUE(http.body.empty());
  EXPECT_TRUE(http.content_type.empty() || contains(http.content_type, "multipart")) << http.content_type;

  std::set<std::string> names;
  for (const FormPart &p : http.form) names.insert(p.name);
  EXPECT_EQ(names, (std::set<std::string>{"image", "mask", "model", "prompt", "n", "size"}));
  EXPECT_EQ(count_parts(http, "image"), 1);
  EXPECT_EQ(count_parts(http, "image[]"), 0);

  const FormPart *image = part(http, "image");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->content_type, "image/png");
  EXPECT_EQ(image->filename, "image.png");
  EXPECT_EQ(bytes_of(image->value), img.bytes) << "the file travels byte for byte";

  // The mask: an RGBA PNG of the picture's size, alpha = 255 - coverage, so the area to change
  // is fully transparent and soft edges stay soft.
  const FormPart *mask = part(http, "mask");
  ASSERT_TRUE(mask);
  EXPECT_EQ(mask->content_type, "image/png");
  EXPECT_EQ(mask->filename, "mask.png");
  const std::vector<uint8_t> mb = bytes_of(mask->value);
  ASSERT_EQ(sniff_image_mime(mb), "image/png");
  ASSERT_GT(mb.size(), 25u);
  EXPECT_EQ(mb[25], 6) << "PNG colour type 6: RGBA, the alpha channel OpenAI requires";
  Image mi = decode_image(mb);
  ASSERT_EQ(mi.width, 96);
  ASSERT_EQ(mi.height, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 96; ++x) ASSERT_EQ(mi.at(x, y)[3], 255 - m.at(x, y)) << x << "," << y;
  EXPECT_EQ(mi.at(1, 0)[3], 0) << "fully selected = fully transparent";
  EXPECT_EQ(mi.at(0, 0)[3], 255) << "unselected = opaque";
  // Even a mask selecting nothing (an opaque picture, which genfill otherwise writes as RGB).
  req.mask = Mask(96, 64, 0);
  const HttpRequest nothing_selected = openai().build(req, kKey);
  const FormPart *empty = part(nothing_selected, "mask");
  ASSERT_TRUE(empty);
  ASSERT_GT(empty->value.size(), 25u);
  EXPECT_EQ(uint8_t(empty->value[25]), 6) << "still RGBA";

  for (const char *text : {"model", "prompt", "n", "size"}) {
    ASSERT_TRUE(part(http, text)) << text;
    EXPECT_TRUE(part(http, text)->filename.empty()) << text << " is a text part";
    EXPECT_TRUE(part(http, text)->content_type.empty()) << text;
  }
  EXPECT_EQ(part(http, "model")->value, "gpt-image-2");
  EXPECT_EQ(part(http, "prompt")->value, "a lighthouse");
  EXPECT_EQ(part(http, "n")->value, "2");
  EXPECT_EQ(part(http, "size")->value, "1536x1024");
  for (const FormPart &p : http.form) {
    EXPECT_FALSE(contains(p.value, kKey));
    EXPECT_NE(p.name, "response_format");
    EXPECT_NE(p.name, "seed");
  }
}

// quality travels as asked, on edits (a text part) and generations; not at all when not asked.
TEST(OpenAIRequest, QualityOnlyWhenAsked) {
  Request req = openai_request();
  req.images = {png_of(32, 32)};
  EXPECT_EQ(part(openai().build(req, kKey), "quality"), nullptr);
  req.quality = "low";
  HttpRequest low = openai().build(req, kKey);
  ASSERT_NE(part(low, "quality"), nullptr);
  EXPECT_EQ(part(low, "quality")->value, "low");
  EXPECT_TRUE(part(low, "quality")->filename.empty());
  Request gen = openai_request();
  EXPECT_EQ(openai().build(gen, kKey).body.find("quality"), std::string::npos);
  gen.quality = "high";
  EXPECT_NE(openai().build(gen, kKey).body.find("\"quality\":\"high\""), std::string::npos)
      << openai().build(gen, kKey).body;
}

TEST(OpenAIRequest, InputFidelityOnlyWhenAskedAndOnlyOnEdits) {
  Request req = openai_request();
  req.images = {png_of(32, 32)};
  req.mask = soft_mask(32, 32);
  HttpRequest plain = openai().build(req, kKey);
  EXPECT_EQ(part(plain, "input_fidelity"), nullptr);
  req.input_fidelity_high = true;
  HttpRequest high = openai().build(req, kKey);
  ASSERT_NE(part(high, "input_fidelity"), nullptr);
  EXPECT_EQ(part(high, "input_fidelity")->value, "high");
  EXPECT_TRUE(part(high, "input_fidelity")->filename.empty()) << "a text part";
  // A free gpt-image-2 size travels as it is.
  req.model = "gpt-image-2";
  req.width = 1936;
  req.height = 1088;
  EXPECT_EQ(part(openai().build(req, kKey), "size")->value, "1936x1088");
  // Generations have no input to be faithful to.
  Request gen = openai_request();
  gen.input_fidelity_high = true;
  EXPECT_FALSE(contains(openai().build(gen, kKey).body, "input_fidelity"));
}

TEST(OpenAIRequest, TransparentBackgroundAsksForPng) {
  Request req = openai_request();
  req.transparent = true;
  json::Doc doc = json::try_parse(openai().build(req, kKey).body);
  EXPECT_EQ(members(doc.object()), (std::set<std::string>{"model", "prompt", "n", "size", "background", "output_format"}));
  EXPECT_EQ(json::string(doc.object(), "background"), "transparent");
  EXPECT_EQ(json::string(doc.object(), "output_format"), "png");  // JPEG would lose the alpha
  // Not asked: neither field.
  json::Doc plain = json::try_parse(openai().build(openai_request(), kKey).body);
  EXPECT_FALSE(json_object_has_member(plain.object(), "background"));
  EXPECT_FALSE(json_object_has_member(plain.object(), "output_format"));
  // With reference pictures the request is an edit: the same, as form parts.
  req.images = {png_of(16, 16)};
  HttpRequest edit = openai().build(req, kKey);
  ASSERT_NE(part(edit, "background"), nullptr);
  EXPECT_EQ(part(edit, "background")->value, "transparent");
  EXPECT_EQ(part(edit, "output_format")->value, "png");
}

TEST(GeminiRequest, TransparentBackgroundIsRefused) {
  Request req = gemini_request();
  req.transparent = true;
  EXPECT_EQ(build_error(gemini(), req), ErrorCode::InvalidInput);
}

TEST(OpenAIRequest, SeveralImagesUseRepeatedImageBrackets) {
  Request req = openai_request();
  req.width = req.height = 0;
  EncodedImage jpeg = png_of(8, 8, 3);
  jpeg.mime = "image/jpeg";
  EncodedImage webp = png_of(8, 8, 4);
  webp.mime = "image/webp";
  req.images = {png_of(8, 8), jpeg, webp};
  HttpRequest http = openai().build(req, kKey);
  EXPECT_EQ(count_parts(http, "image"), 0);
  ASSERT_EQ(count_parts(http, "image[]"), 3);
  const char *types[] = {"image/png", "image/jpeg", "image/webp"};
  const char *exts[] = {".png", ".jpg", ".webp"};
  for (int i = 0; i < 3; ++i) {
    const FormPart *p = part(http, "image[]", i);
    EXPECT_EQ(p->content_type, types[i]);
    EXPECT_TRUE(p->filename.ends_with(exts[i])) << p->filename;
    EXPECT_EQ(bytes_of(p->value), req.images[size_t(i)].bytes) << "in the given order";
  }
  EXPECT_EQ(part(http, "size")->value, "auto");
  EXPECT_EQ(part(http, "mask"), nullptr);
}

TEST(OpenAIRequest, CountAndPictureTypesAreChecked) {
  Request req = openai_request();
  for (int n : {0, 11, -1}) {
    req.n = n;
    EXPECT_EQ(build_error(openai(), req), ErrorCode::InvalidInput) << n;
  }
  req.n = 10;
  EXPECT_NO_THROW(openai().build(req, kKey));
  req.n = 1;
  EncodedImage unnamed = png_of(4, 4);
  unnamed.mime.clear();
  req.images = {unnamed};
  EXPECT_EQ(part(openai().build(req, kKey), "image")->content_type, "image/png") << "sniffed, never octet-stream";
  req.images[0].bytes = {1, 2, 3, 4};
  EXPECT_EQ(build_error(openai(), req), ErrorCode::InvalidInput);
}

// ---------------- OpenAI responses: every fixture (REFERENCE §3.5, §3.7) ----------------

TEST(OpenAIResponse, EveryFixtureParsesToAResultOrTheRightError) {
  const std::map<std::string, ErrorCode> expected = {
      {"error_400_content_policy_violation_LEGACY.json", ErrorCode::Refused},
      {"error_400_image_sent_as_string.json", ErrorCode::BadRequest},
      {"error_400_invalid_size_gpt_image.json", ErrorCode::BadRequest},
      {"error_400_moderation_blocked.json", ErrorCode::Refused},
      {"error_400_unknown_parameter_response_format.json", ErrorCode::BadRequest},
      {"error_400_unsupported_mimetype.json", ErrorCode::BadRequest},
      {"error_401_invalid_api_key.json", ErrorCode::BadKey},
      {"error_403_org_not_verified.json", ErrorCode::PermissionDenied},
      {"error_403_unsupported_region.json", ErrorCode::PermissionDenied},
      {"error_404_model_not_found.json", ErrorCode::ModelNotFound},
      {"error_429_insufficient_quota.json", ErrorCode::QuotaExhausted},
      {"error_429_rate_limit.json", ErrorCode::RateLimited},
      {"error_500_server_error.json", ErrorCode::ServerError},
      {"error_503_overloaded.json", ErrorCode::ServerError},
      {"response_success_dalle2_url_LEGACY.json", ErrorCode::BadResponse},
  };
  const std::map<std::string, size_t> successes = {{"response_success_gpt_image.json", 1},
                                                   {"response_success_gpt_image_n2_with_output_details.json", 2},
                                                   {"response_success_dalle2_b64_LEGACY.json", 1},
                                                   {"response_success_dalle3_revised_prompt_LEGACY.json", 1}};
  size_t checked = 0;
  for (const std::string &name : fixture_names("openai")) {
    if (!is_answer(name)) continue;
    SCOPED_TRACE(name);
    const std::string body = fixture("openai/" + name);
    const int status = status_of(name);
    if (auto s = successes.find(name); s != successes.end()) {
      Result res = openai().parse(HttpResponse{status, {}, body});
      ASSERT_EQ(res.images.size(), s->second);
      json::Doc doc = json::try_parse(body);
      JsonArray *data = json::array(doc.object(), "data");
      for (size_t i = 0; i < res.images.size(); ++i) {
        EXPECT_EQ(res.images[i].bytes, json::base64_decode(json::string(json::element_object(data, guint(i)), "b64_json"), "t"));
        EXPECT_EQ(res.images[i].mime, "image/png");
        EXPECT_GT(decode_image(res.images[i].bytes).width, 0);
      }
      JsonObject *usage = json::object(doc.object(), "usage");
      EXPECT_EQ(res.usage.input_tokens, json::integer(usage, "input_tokens"));
      EXPECT_EQ(res.usage.output_tokens, json::integer(usage, "output_tokens"));
      EXPECT_EQ(res.usage.total_tokens, json::integer(usage, "total_tokens"));
      JsonObject *in = json::object(usage, "input_tokens_details"), *out = json::object(usage, "output_tokens_details");
      EXPECT_EQ(res.usage.input_text_tokens, json::integer(in, "text_tokens")) << name;
      EXPECT_EQ(res.usage.input_image_tokens, json::integer(in, "image_tokens")) << name;
      EXPECT_EQ(res.usage.output_image_tokens, json::integer(out, "image_tokens")) << name;
      EXPECT_EQ(res.usage.output_text_tokens, json::integer(out, "text_tokens")) << name;
      if (name == "response_success_gpt_image_n2_with_output_details.json") {
        EXPECT_EQ(res.usage.input_image_tokens, 306);
        EXPECT_EQ(res.usage.output_image_tokens, 12240);
      }
      ++checked;
      continue;
    }
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "a new fixture needs an expectation here";
    Failure f = parse_failure(openai(), status, body);
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, it->second) << error_code_name(f.code) << ": " << f.message;
    EXPECT_FALSE(contains(f.message, "{")) << f.message;
    EXPECT_EQ(f.http_status, status);
    if (status != 200) {
      EXPECT_TRUE(contains(f.message, "OpenAI")) << f.message;
      EXPECT_EQ(f.detail.rfind("HTTP " + std::to_string(status), 0), 0u) << f.detail;
    }
    ++checked;
  }
  EXPECT_EQ(checked, expected.size() + successes.size()) << "a fixture listed here is missing";
}

TEST(OpenAIResponse, ErrorMessagesSayWhatHappened) {
  auto failure = [](const std::string &name) {
    return parse_failure(openai(), status_of(name), fixture("openai/" + name));
  };
  Failure f = failure("error_400_moderation_blocked.json");  // moderation_stage "output"
  EXPECT_TRUE(contains(f.message, "picture it made")) << f.message;
  EXPECT_TRUE(contains(f.detail, "HTTP 400 image_generation_user_error moderation_blocked")) << f.detail;
  f = parse_failure(openai(), 400,
                    R"({"error":{"message":"Your request was rejected by the safety system.","type":"image_generation_user_error","param":null,"code":"moderation_blocked","moderation_details":{"moderation_stage":"input","categories":["violence"]}}})");
  EXPECT_EQ(f.code, ErrorCode::Refused);
  EXPECT_TRUE(contains(f.message, "request was blocked")) << f.message;

  f = failure("error_401_invalid_api_key.json");
  EXPECT_TRUE(contains(f.message, "OPENAI_API_KEY")) << f.message;
  EXPECT_FALSE(contains(f.detail, "sk-abc")) << "keys quoted by the service are hidden: " << f.detail;
  f = failure("error_403_org_not_verified.json");
  EXPECT_TRUE(contains(f.message, "organization to be verified")) << f.message;
  f = failure("error_403_unsupported_region.json");
  EXPECT_TRUE(contains(f.message, "country")) << f.message;
  f = failure("error_429_insufficient_quota.json");
  EXPECT_TRUE(contains(f.message, "credit")) << f.message;

  f = failure("error_400_invalid_size_gpt_image.json");
  const std::string server = json::string(
      json::object(json::try_parse(fixture("openai/error_400_invalid_size_gpt_image.json")).object(), "error"),
      "message");
  ASSERT_FALSE(server.empty());
  EXPECT_EQ(f.message.rfind("OpenAI rejected the request: ", 0), 0u) << f.message;
  EXPECT_TRUE(contains(f.message, server.substr(0, 40))) << f.message;

  f = failure("response_success_dalle2_url_LEGACY.json");
  EXPECT_TRUE(contains(f.message, "link")) << "explains that only base64 answers work: " << f.message;
}

TEST(OpenAIResponse, MalformedAnswersAreBadResponses) {
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":{"b64_json":"AAAA"}})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[{"b64_json":"@@@@"}]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[{"b64_json":"abc"}]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[{"b64_json":12}]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"da)"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, "<html>gateway</html>"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, "[]"), ErrorCode::BadResponse);
  // One damaged picture spoils the answer: no half results.
  const std::string good = json::base64_encode(png_of(2, 2).bytes);
  EXPECT_EQ(parse_error(openai(), 200, R"({"data":[{"b64_json":")" + good + R"("},{"b64_json":"a#=="}]})"),
            ErrorCode::BadResponse);
}

TEST(OpenAIResponse, ErrorBodiesThatAreNotJsonOrArriveWithA200) {
  std::string message;
  EXPECT_EQ(parse_error(openai(), 500, "upstream connect error", &message), ErrorCode::ServerError);
  EXPECT_EQ(parse_error(openai(), 502, "<html>Bad gateway</html>", &message), ErrorCode::ServerError);
  EXPECT_FALSE(contains(message, "<")) << message;
  EXPECT_EQ(parse_error(openai(), 400, "<html>blocked</html>", &message), ErrorCode::BadRequest);
  EXPECT_FALSE(contains(message, "<")) << message;
  EXPECT_EQ(parse_error(openai(), 401, ""), ErrorCode::BadKey);
  EXPECT_EQ(parse_error(openai(), 429, "slow down"), ErrorCode::RateLimited);
  // An error object inside a 200 (a stream's error event): its code decides.
  EXPECT_EQ(parse_error(openai(), 200, fixture("openai/error_429_insufficient_quota.json")), ErrorCode::QuotaExhausted);
  EXPECT_EQ(parse_error(openai(), 200, fixture("openai/error_400_moderation_blocked.json")), ErrorCode::Refused);
  EXPECT_EQ(parse_error(openai(), 200, R"({"error":{"message":"odd","type":"x","param":null,"code":null}})"),
            ErrorCode::BadResponse);
}

TEST(OpenAIResponse, PictureTypeComesFromTheBytesOrTheOutputFormat) {
  const std::string png = json::base64_encode(png_of(2, 2).bytes);
  Result r = openai().parse(HttpResponse{200, {}, R"({"output_format":"webp","data":[{"b64_json":")" + png + R"("}]})"});
  EXPECT_EQ(r.images[0].mime, "image/png") << "the bytes win";
  EXPECT_EQ(r.usage.total_tokens, -1) << "not reported";
  const std::string other = json::base64_encode({1, 2, 3, 4, 5, 6});
  r = openai().parse(HttpResponse{200, {}, R"({"output_format":"jpeg","data":[{"b64_json":")" + other + R"("}]})"});
  EXPECT_EQ(r.images[0].mime, "image/jpeg");
}

// ---------------- retries (REFERENCE §1.10, §3.7, §5) ----------------

TEST(Retry, StatusCodesAndServerHints) {
  for (const Provider *p : all_providers()) {
    SCOPED_TRACE(std::string(p->name()));
    for (int s : {200, 400, 401, 403, 404, 409, 413, 422, 501})
      EXPECT_FALSE(p->retry_advice(with_headers(s, {})).retry) << s;
    for (int s : {408, 429, 500, 502, 503, 504}) {
      RetryAdvice a = p->retry_advice(with_headers(s, {}));
      EXPECT_TRUE(a.retry) << s;
      EXPECT_LT(a.delay_s, 0) << "no hint: the transport's backoff";
    }
    EXPECT_DOUBLE_EQ(p->retry_advice(with_headers(429, {{"retry-after", "7"}})).delay_s, 7.0);
    EXPECT_DOUBLE_EQ(p->retry_advice(with_headers(429, {{"Retry-After", " 7 "}})).delay_s, 7.0);
    EXPECT_DOUBLE_EQ(p->retry_advice(with_headers(429, {{"retry-after-ms", "250"}, {"retry-after", "7"}})).delay_s,
                     0.25);
    EXPECT_DOUBLE_EQ(p->retry_advice(with_headers(429, {{"retry-after-ms", "soon"}, {"retry-after", "7"}})).delay_s,
                     7.0);
    RetryAdvice garbage = p->retry_advice(with_headers(503, {{"retry-after", "later, maybe"}}));
    EXPECT_TRUE(garbage.retry);
    EXPECT_LT(garbage.delay_s, 0);
    EXPECT_LT(p->retry_advice(with_headers(503, {{"retry-after", "-5"}})).delay_s, 0);
    EXPECT_FALSE(p->retry_advice(with_headers(503, {{"x-should-retry", "false"}, {"retry-after", "1"}})).retry);
    // "true" never adds a status: a 2xx or another 4xx may already have made (and billed) a picture.
    for (int s : {200, 201, 400, 409, 422})
      EXPECT_FALSE(p->retry_advice(with_headers(s, {{"x-should-retry", "true"}})).retry) << s;
    EXPECT_TRUE(p->retry_advice(with_headers(503, {{"x-should-retry", "true"}})).retry);
  }
}

TEST(Retry, RetryAfterAsAnHttpDate) {
  GDateTime *now = g_date_time_new_now_utc();
  GDateTime *ahead = g_date_time_add_seconds(now, 30);
  GDateTime *past = g_date_time_add_seconds(now, -300);
  gchar *ahead_text = g_date_time_format(ahead, "%a, %d %b %Y %H:%M:%S GMT");
  gchar *past_text = g_date_time_format(past, "%a, %d %b %Y %H:%M:%S GMT");
  const double d = openai().retry_advice(with_headers(503, {{"retry-after", ahead_text}})).delay_s;
  EXPECT_GT(d, 25);
  EXPECT_LE(d, 31);
  EXPECT_DOUBLE_EQ(gemini().retry_advice(with_headers(503, {{"retry-after", past_text}})).delay_s, 0.0)
      << "a date in the past: try now";
  EXPECT_LT(openai().retry_advice(with_headers(503, {{"retry-after", "Wed, 32 Foo 2026 07:28:00 GMT"}})).delay_s, 0);
  g_free(ahead_text);
  g_free(past_text);
  g_date_time_unref(past);
  g_date_time_unref(ahead);
  g_date_time_unref(now);
}

TEST(Retry, StoredResponseHeaders) {
  HttpResponse r = http_fixture("openai/http_429_with_headers.http.txt");
  ASSERT_EQ(r.status, 429);
  ASSERT_EQ(r.header("X-Should-Retry"), "true");
  RetryAdvice a = openai().retry_advice(r);
  EXPECT_TRUE(a.retry);
  EXPECT_DOUBLE_EQ(a.delay_s, 12.0);
  EXPECT_EQ(parse_error(openai(), r.status, r.body), ErrorCode::RateLimited);
  HttpResponse ok = http_fixture("openai/http_200_headers_example.http.txt");
  ASSERT_EQ(ok.status, 200);
  EXPECT_FALSE(openai().retry_advice(ok).retry);
}

TEST(Retry, QuotasAndRetryInfo) {
  EXPECT_FALSE(openai().retry_advice(with_headers(429, {}, fixture("openai/error_429_insufficient_quota.json"))).retry);
  EXPECT_FALSE(openai()
                   .retry_advice(with_headers(429, {{"x-should-retry", "true"}},
                                              fixture("openai/error_429_insufficient_quota.json")))
                   .retry)
      << "billing does not clear by waiting";
  EXPECT_TRUE(openai().retry_advice(with_headers(429, {}, fixture("openai/error_429_rate_limit.json"))).retry);

  RetryAdvice a = gemini().retry_advice(with_headers(429, {}, fixture("gemini/error_429_resource_exhausted.json")));
  EXPECT_TRUE(a.retry);
  EXPECT_DOUBLE_EQ(a.delay_s, 37.0);
  EXPECT_DOUBLE_EQ(
      gemini().retry_advice(with_headers(429, {{"retry-after", "3"}}, fixture("gemini/error_429_resource_exhausted.json")))
          .delay_s,
      3.0)
      << "an HTTP header wins";
  const std::string half = R"({"error":{"code":503,"status":"UNAVAILABLE","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}})";
  RetryAdvice h = gemini().retry_advice(with_headers(503, {}, half));
  EXPECT_TRUE(h.retry);
  EXPECT_DOUBLE_EQ(h.delay_s, 0.5);
  EXPECT_LT(gemini().retry_advice(with_headers(429, {}, fixture("gemini/error_429_resource_exhausted_minimal.json"))).delay_s, 0);
  EXPECT_TRUE(gemini().retry_advice(with_headers(429, {}, fixture("gemini/error_429_wrapped_in_array.json"))).retry);
  EXPECT_FALSE(gemini().retry_advice(with_headers(400, {}, fixture("gemini/error_400_api_key_invalid.json"))).retry);

  const std::string daily = R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"20s"}]}})";
  EXPECT_FALSE(gemini().retry_advice(with_headers(429, {}, daily)).retry);
  EXPECT_EQ(parse_error(gemini(), 429, daily), ErrorCode::QuotaExhausted);
}

// ---------------- shared helpers ----------------

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(json::base64_decode("aGVsbG8=", "t"), (std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(json::base64_decode("aGVsbG8h", "t").size(), 6u);
  EXPECT_EQ(json::base64_decode("aGVs\nbG8=", "t").size(), 5u) << "line breaks are tolerated";
  EXPECT_EQ(json::base64_decode("aGVsbA==", "t").size(), 4u);
  for (const char *bad : {"aGVsbG8", "aGV$bG8=", "aG=sbG8=", "", "====", "a===", "aGVsbA=", "aGVsbA===", "aGVs-G8=",
                          "aGVs_G8=", "aGVsbA==aGVs", "data:image/png;base64,aGVsbG8="}) {
    try {
      json::base64_decode(bad, "Gemini");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::BadResponse) << bad;
      EXPECT_TRUE(contains(e.message(), "Gemini")) << e.message();
    }
  }
}

TEST(Base64, RoundTripsEveryLength) {
  for (size_t n = 1; n < 40; ++n) {
    std::vector<uint8_t> bytes(n);
    for (size_t i = 0; i < n; ++i) bytes[i] = uint8_t(i * 73 + n * 31);
    const std::string text = json::base64_encode(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    EXPECT_EQ(json::base64_decode(text, "t"), bytes) << n;
  }
}

TEST(Json, ParseObjectAndSafeReaders) {
  EXPECT_THROW(json::parse_object("[1]", "Gemini"), Error);
  try {
    json::parse_object("{\"a\":", "OpenAI", 200);
    ADD_FAILURE();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::BadResponse);
    EXPECT_TRUE(contains(e.message(), "OpenAI")) << e.message();
  }
  json::Doc doc = json::parse_object(R"({"s":"x","i":5,"d":2.5,"big":1e300,"b":true,"o":{},"a":[{}],"n":null,"si":"12"})", "t");
  JsonObject *o = doc.object();
  EXPECT_EQ(json::string(o, "s"), "x");
  EXPECT_EQ(json::string(o, "i", "fb"), "fb") << "wrong type: the fallback";
  EXPECT_EQ(json::string(o, "n", "fb"), "fb");
  EXPECT_EQ(json::integer(o, "i"), 5);
  EXPECT_EQ(json::integer(o, "d"), 2);
  EXPECT_EQ(json::integer(o, "big"), -1) << "out of range: absent";
  EXPECT_EQ(json::integer(o, "si"), 12);
  EXPECT_EQ(json::integer(o, "s"), -1);
  EXPECT_TRUE(json::boolean(o, "b"));
  EXPECT_FALSE(json::boolean(o, "i"));
  EXPECT_TRUE(json::object(o, "o"));
  EXPECT_EQ(json::object(o, "a"), nullptr);
  EXPECT_TRUE(json::array(o, "a"));
  EXPECT_EQ(json::array(o, "o"), nullptr);
  EXPECT_TRUE(json::element_object(json::array(o, "a"), 0));
  EXPECT_EQ(json::element_object(json::array(o, "a"), 1), nullptr);
  EXPECT_EQ(json::string(nullptr, "s", "fb"), "fb");
}

TEST(Json, ExcerptsAreOneLineShortValidAndHideKeys) {
  EXPECT_EQ(json::excerpt("a\nb\tc  "), "a b c");
  const std::string long_text(500, 'x');
  EXPECT_EQ(json::excerpt(long_text, 10), std::string(10, 'x') + "…");
  const std::string accents = "ééééé";  // two bytes each: cut between characters, never inside
  const std::string cut = json::excerpt(accents, 3);
  EXPECT_TRUE(g_utf8_validate(cut.c_str(), gssize(cut.size()), nullptr));
  EXPECT_EQ(cut, "ééé…");
  const std::string broken = json::excerpt(std::string("ok \xff\xfe end"));
  EXPECT_TRUE(g_utf8_validate(broken.c_str(), gssize(broken.size()), nullptr));
  // A Google-shaped key, built at run time so that no key-shaped literal sits in the sources.
  const std::string google_key = "AIza" + std::string("SyA1234567890abcdefghijklmnopqrstuv");
  EXPECT_EQ(json::excerpt("Consumer 'api_key:" + google_key + "' has been suspended."),
            "Consumer 'api_key:[hidden]' has been suspended.");
  EXPECT_EQ(json::excerpt("key " + google_key + " is bad"), "key [hidden] is bad");
  EXPECT_EQ(json::excerpt("Incorrect API key provided: sk-proj-abc123***wxyz. You can"),
            "Incorrect API key provided: [hidden]. You can");
  EXPECT_EQ(json::excerpt("a task-list is fine"), "a task-list is fine");

  EXPECT_EQ(json::plain_text_message("  upstream timeout\n"), "upstream timeout");
  EXPECT_EQ(json::plain_text_message("\n<html><body>502</body></html>"), "");
  EXPECT_EQ(json::plain_text_message(""), "");
}

// Nothing a service says may drive the terminal or a dialog: control characters go, text stays.
TEST(Printable, RemovesControlCharactersAndKeepsText) {
  EXPECT_EQ(printable("plain words, été, 日本, 🎈"), "plain words, été, 日本, 🎈");
  EXPECT_EQ(printable("two\nlines\tand a tab"), "two\nlines\tand a tab");
  EXPECT_EQ(printable("\x1b]0;pwned\x07\x1b[2Jhello"), "]0;pwned[2Jhello");
  EXPECT_EQ(printable("over\rwrite\bback\x7f"), "overwriteback");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul\uFFFDbyte");
  // C1 controls (U+0080-U+009F; U+009B is a one-character CSI) go too; U+00A0 on stays.
  EXPECT_EQ(printable("a\xc2\x9b" "2Jb\xc2\x80\xc2\x9f\xc2\xa0" "c"), "a2Jb\u00a0c");
  // Invalid UTF-8 becomes U+FFFD, and never hides a control character behind it.
  const std::string broken = printable("ok \xff\xfe\x1b end \xc3");
  EXPECT_TRUE(g_utf8_validate(broken.c_str(), gssize(broken.size()), nullptr));
  EXPECT_EQ(broken.find('\x1b'), std::string::npos);
  EXPECT_EQ(broken, "ok \uFFFD\uFFFD end \uFFFD");
  EXPECT_EQ(printable(""), "");
}

// The server's words reach the message, the detail and the model's text without their escapes.
TEST(Printable, ServiceWordsInErrorsAreCleaned) {
  const std::string evil = "\x1b]0;pwned\x07\x1b[2J";
  std::string message;
  EXPECT_EQ(parse_error(openai(), 400,
                        R"({"error":{"message":"bad \u001b]0;pwned\u0007\u001b[2J size \u009b2J","type":"invalid_request_error","param":null,"code":null}})",
                        &message),
            ErrorCode::BadRequest);
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  EXPECT_EQ(message.find('\x07'), std::string::npos) << message;
  EXPECT_EQ(message.find("\xc2\x9b"), std::string::npos) << message;
  EXPECT_NE(message.find("bad ]0;pwned[2J size 2J"), std::string::npos) << message;
  EXPECT_EQ(parse_error(gemini(), 500, "upstream \x1b[2J failed", &message), ErrorCode::ServerError);
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  const Error e = Error(ErrorCode::TextOnly, "said: " + evil, "detail " + evil).with_text("text " + evil);
  for (const std::string &s : {std::string(e.message()), e.detail(), e.text()})
    EXPECT_EQ(s.find('\x1b'), std::string::npos) << s;
}

TEST(Json, GoogleStatusBodies) {
  json::RpcStatus st = json::read_rpc_status(fixture("gemini/error_429_resource_exhausted.json"));
  EXPECT_TRUE(st.found);
  EXPECT_EQ(st.code, 429);
  EXPECT_EQ(st.status, "RESOURCE_EXHAUSTED");
  EXPECT_FALSE(st.message.empty());
  EXPECT_EQ(st.quota_ids, std::vector<std::string>{"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"});
  EXPECT_FALSE(st.per_day_quota());
  EXPECT_DOUBLE_EQ(st.retry_delay_s, 37.0);

  st = json::read_rpc_status(fixture("gemini/error_400_api_key_invalid.json"));
  EXPECT_EQ(st.reason, "API_KEY_INVALID");
  EXPECT_LT(st.retry_delay_s, 0);
  st = json::read_rpc_status(fixture("gemini/error_429_wrapped_in_array.json"));
  EXPECT_TRUE(st.found);
  EXPECT_EQ(st.code, 429);
  EXPECT_FALSE(json::read_rpc_status("<html>").found);
  EXPECT_FALSE(json::read_rpc_status(R"([{"error":{"code":1}},{"error":{"code":2}}])").found);
  EXPECT_FALSE(json::read_rpc_status(R"({"error":"text"})").found);
  for (const char *bad : {"\"37\"", "\"s\"", "\"-1s\"", "\"5m\"", "37"}) {
    std::string body = std::string(R"({"error":{"code":503,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":)") +
                       bad + "}]}}";
    EXPECT_LT(json::read_rpc_status(body).retry_delay_s, 0) << bad;
  }
}

// ---------------- Gemini: why no picture came (finishReason) ----------------

std::string no_picture(const std::string &reason, const std::string &text) {
  const std::string parts = text.empty() ? "" : R"({"text":")" + text + R"("})";
  return R"({"candidates":[{"content":{"role":"model","parts":[)" + parts + R"(]},"finishReason":")" + reason +
         R"("}]})";
}

TEST(GeminiFinish, EachPictureReasonHasItsOwnMessage) {
  struct Case {
    const char *reason, *text;
    ErrorCode code;
    std::vector<std::string> words;  // what happened, in the message
  } cases[] = {
      {"IMAGE_SAFETY", "", ErrorCode::Refused, {"safety filters blocked it", "Rephrase"}},
      {"IMAGE_PROHIBITED_CONTENT", "", ErrorCode::Refused, {"will not make this picture", "does not allow"}},
      {"IMAGE_RECITATION", "", ErrorCode::Refused, {"too close to an existing work"}},
      {"IMAGE_OTHER", "", ErrorCode::BadResponse, {"could not make the picture", "gave no reason", "Try again"}},
      {"NO_IMAGE", "", ErrorCode::BadResponse, {"without making a picture", "Ask for the change directly"}},
      {"NO_IMAGE", "Here is a description of a red door.", ErrorCode::TextOnly,
       {"answered with words instead of a picture", "Here is a description of a red door.",
        "Ask for the change directly"}},
  };
  std::set<std::string> messages;
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.reason) + " " + c.text);
    Failure f = parse_failure(gemini(), 200, no_picture(c.reason, c.text));
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, c.code) << error_code_name(f.code) << ": " << f.message;
    EXPECT_EQ(f.message.rfind("Gemini ", 0), 0u) << "says who: " << f.message;
    for (const std::string &w : c.words) EXPECT_TRUE(contains(f.message, w)) << w << " in: " << f.message;
    EXPECT_EQ(f.detail, std::string("finishReason=") + c.reason);
    EXPECT_EQ(f.text, c.text) << "the model's words are handed back";
    EXPECT_EQ(f.http_status, 200);
    messages.insert(f.message);
  }
  EXPECT_EQ(messages.size(), std::size(cases)) << "no two reasons share a message";
  // The generic refusal is yet another message, and none of the picture reasons uses it.
  Failure safety = parse_failure(gemini(), 200, no_picture("SAFETY", ""));
  EXPECT_FALSE(messages.count(safety.message)) << safety.message;
  // With words, a refusal stays a refusal (its own message), the words kept.
  for (const char *reason : {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}) {
    Failure with = parse_failure(gemini(), 200, no_picture(reason, "I cannot draw that."));
    EXPECT_EQ(with.code, ErrorCode::Refused) << reason;
    EXPECT_EQ(with.message, parse_failure(gemini(), 200, no_picture(reason, "")).message) << reason;
    EXPECT_EQ(with.text, "I cannot draw that.") << reason;
  }
  Failure other = parse_failure(gemini(), 200, no_picture("IMAGE_OTHER", "Something went wrong."));
  EXPECT_EQ(other.code, ErrorCode::BadResponse);
  EXPECT_EQ(other.text, "Something went wrong.");
}

// ---------------- Gemini and OpenAI: a model that is not served, or a wrong address (404) ----------------

TEST(GeminiNotFound, AModelNamedIsModelNotFoundAnythingElseABadAddress) {
  const std::string today = R"({"error":{"code":404,"message":"This model models/gemini-3-pro-image-preview is no longer available to new users. Please use models/gemini-3-pro-image instead.","status":"NOT_FOUND"}})";
  Failure f = parse_failure(gemini(), 404, today);
  ASSERT_TRUE(f.thrown);
  EXPECT_EQ(f.code, ErrorCode::ModelNotFound);
  EXPECT_TRUE(contains(f.message, "gemini-3-pro-image-preview")) << "names the model: " << f.message;
  EXPECT_FALSE(contains(f.message, "models/")) << f.message;
  EXPECT_EQ(f.http_status, 404);
  EXPECT_EQ(f.detail.rfind("HTTP 404 NOT_FOUND", 0), 0u) << f.detail;
  // The stored answer for a name Google never served.
  f = parse_failure(gemini(), 404, fixture("gemini/error_404_model_not_found.json"));
  EXPECT_EQ(f.code, ErrorCode::ModelNotFound);
  EXPECT_TRUE(contains(f.message, "gemini-9-image")) << f.message;
  // Ids with dots and underscores are named whole.
  f = parse_failure(gemini(), 404, R"({"error":{"code":404,"message":"models/gemini-3.1_flash.x is not found for API version v1beta.","status":"NOT_FOUND"}})");
  EXPECT_EQ(f.code, ErrorCode::ModelNotFound);
  EXPECT_TRUE(contains(f.message, "gemini-3.1_flash.x")) << f.message;

  // Anything else that is not found: a page of a web server, a JSON 404 about no model, nothing.
  for (const std::string &body : {std::string("<!DOCTYPE html><html><body><h1>404 Not Found</h1>The requested URL "
                                              "/v1beta/models/x was not found on this server.</body></html>"),
                                  std::string(R"({"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}})"),
                                  std::string("Not Found"), std::string("")}) {
    SCOPED_TRACE(body);
    Failure page = parse_failure(gemini(), 404, body);
    ASSERT_TRUE(page.thrown);
    EXPECT_EQ(page.code, ErrorCode::BadRequest);
    EXPECT_TRUE(contains(page.message, "found nothing at this address")) << page.message;
    EXPECT_TRUE(contains(page.message, "404")) << page.message;
    EXPECT_TRUE(contains(page.message, "endpoint")) << page.message;
    EXPECT_FALSE(contains(page.message, "<")) << page.message;
    EXPECT_EQ(page.http_status, 404);
  }
  // An error body inside a 200 with code 404 and a model named: the same as a real 404.
  EXPECT_EQ(parse_error(gemini(), 200, today), ErrorCode::ModelNotFound);
}

TEST(OpenAINotFound, ModelNotFoundOnlyWithItsCode) {
  const std::string retired = R"({"error":{"message":"The model `gpt-image-1` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}})";
  Failure f = parse_failure(openai(), 404, retired);
  ASSERT_TRUE(f.thrown);
  EXPECT_EQ(f.code, ErrorCode::ModelNotFound);
  EXPECT_TRUE(contains(f.message, "gpt-image-1")) << "the service's words name the model: " << f.message;
  EXPECT_TRUE(contains(f.message, "OpenAI")) << f.message;
  EXPECT_EQ(f.http_status, 404);
  EXPECT_EQ(parse_error(openai(), 404, fixture("openai/error_404_model_not_found.json")), ErrorCode::ModelNotFound);

  // Without that code: the address is wrong (an old path, a proxy's page), not the model.
  for (const std::string &body :
       {std::string(R"j({"error":{"message":"Invalid URL (POST /v1/images/generate)","type":"invalid_request_error","param":null,"code":null}})j"),
        std::string(R"({"error":{"message":"Not found","type":"invalid_request_error","param":null,"code":"unknown_url"}})"),
        std::string("<html><head><title>404 Not Found</title></head><body>nginx</body></html>"), std::string("")}) {
    SCOPED_TRACE(body);
    Failure page = parse_failure(openai(), 404, body);
    ASSERT_TRUE(page.thrown);
    EXPECT_EQ(page.code, ErrorCode::BadRequest);
    EXPECT_TRUE(contains(page.message, "OpenAI found nothing at this address")) << page.message;
    EXPECT_TRUE(contains(page.message, "endpoint")) << page.message;
    EXPECT_FALSE(contains(page.message, "<")) << page.message;
    EXPECT_EQ(page.http_status, 404);
  }
}

// ---------------- Gemini requests: no sampling parameters ----------------

TEST(GeminiRequest, NeverSendsSamplingParameters) {
  // Gemini 3 image models refuse temperature, topP and topK: no request carries them.
  std::vector<Request> requests;
  requests.push_back(gemini_request());
  Request sized = gemini_request();
  sized.image_size = "2K";
  sized.seed = 3;
  requests.push_back(sized);
  Request edit = gemini_request();
  edit.images = {png_of(16, 16), png_of(8, 8, 4)};
  edit.mask = soft_mask(16, 16);
  requests.push_back(edit);
  Request follow = edit;
  follow.history = {Turn{"user", {TurnPart{"make it red", std::nullopt, {}}}},
                    Turn{"model", {TurnPart{"Done.", std::nullopt, "c2ln"}, TurnPart{{}, png_of(4, 4), "aW1n"}}}};
  requests.push_back(follow);
  Request plain = gemini_request();
  plain.aspect.clear();
  plain.response_modalities = {"IMAGE"};
  requests.push_back(plain);
  for (const Request &req : requests) {
    const HttpRequest http = gemini().build(req, kKey);
    for (const char *word : {"temperature", "topP", "topK", "top_p", "top_k"}) {
      EXPECT_FALSE(contains(http.body, word)) << word << " in " << http.body.substr(0, 300);
    }
    json::Doc doc = json::try_parse(http.body);
    const std::set<std::string> config = members(json::object(doc.object(), "generationConfig"));
    for (const std::string &m : config) {
      EXPECT_TRUE(m == "responseModalities" || m == "imageConfig" || m == "seed") << "unexpected " << m;
    }
  }
}

// ---------------- model lists ----------------

Failure list_failure(const Provider &p, int status, const std::string &body) {
  Failure f;
  try {
    p.parse_model_list(HttpResponse{status, {}, body});
  } catch (const Error &e) {
    f.thrown = true;
    f.code = e.code();
    f.message = e.message();
    f.detail = e.detail();
    f.http_status = e.http_status();
  }
  return f;
}

struct Listed {
  std::string name;
  bool image;
  std::string shutdown;
  bool operator==(const Listed &) const = default;
};

std::ostream &operator<<(std::ostream &os, const Listed &l) {
  return os << "{" << l.name << ", image=" << l.image << ", shutdown=" << l.shutdown << "}";
}

std::vector<Listed> listed(const ModelPage &page) {
  std::vector<Listed> out;
  for (const ServedModel &m : page.models) out.push_back({m.id, m.image, m.shutdown});
  return out;
}

// One page of Google's list: ids with "models/", their methods, and a next page or none.
const char *kGoogleList = R"({"models":[
  {"name":"models/gemini-3.1-flash-image","version":"001","displayName":"Nano Banana 2","supportedGenerationMethods":["generateContent","countTokens","batchGenerateContent"]},
  {"name":"models/gemini-3-pro-image","displayName":"Nano Banana Pro","supportedGenerationMethods":["generateContent","countTokens"]},
  {"name":"models/gemini-3-flash","displayName":"Gemini 3 Flash","supportedGenerationMethods":["generateContent","countTokens","createCachedContent"]},
  {"name":"models/gemini-embedding-001","displayName":"Gemini Embedding","supportedGenerationMethods":["embedContent","countTextTokens"]},
  {"name":"models/veo-3.1-generate-preview","displayName":"Veo 3.1","supportedGenerationMethods":["predictLongRunning"]},
  {"name":"models/imagen-4.0-generate-001","displayName":"Imagen 4","supportedGenerationMethods":["predict"]},
  {"name":"models/imagen-4.0-ultra-generate-001","displayName":"Imagen 4 Ultra","supportedGenerationMethods":["predict"]},
  {"name":"models/gemini-2.5-flash-image-tts","displayName":"Odd","supportedGenerationMethods":["countTokens"]},
  {"name":"models/imagen-5-image","supportedGenerationMethods":["generateContent"]},
  {"name":"models/gemini-4-image","supportedGenerationMethods":"generateContent"},
  {"name":"","supportedGenerationMethods":["generateContent"]},
  {"displayName":"no name at all"},
  7],
  "nextPageToken":"Cg9nZW1pbmktMy1mbGFzaA=="})";

TEST(ModelList, GeminiRequestsGooglesListWithTheKeyInTheHeader) {
  std::optional<HttpRequest> first = gemini().build_model_list("https://generativelanguage.googleapis.com", kKey, "");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->method, "GET");
  EXPECT_EQ(first->url, "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000");
  ASSERT_EQ(first->headers.size(), 1u);
  EXPECT_EQ(first->headers[0].first, "x-goog-api-key");
  EXPECT_EQ(first->headers[0].second, kKey);
  EXPECT_TRUE(first->body.empty());
  EXPECT_TRUE(first->form.empty());
  // Later pages: the token as given back, escaped for a URL; the key never in the URL.
  std::optional<HttpRequest> next = gemini().build_model_list("http://127.0.0.1:8080", kKey, "fake-page-4");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->url, "http://127.0.0.1:8080/v1beta/models?pageSize=1000&pageToken=fake-page-4");
  std::optional<HttpRequest> odd = gemini().build_model_list("http://127.0.0.1:8080", kKey, "Cg9n+Z/W 1==&x");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->url, "http://127.0.0.1:8080/v1beta/models?pageSize=1000&pageToken=Cg9n%2BZ%2FW%201%3D%3D%26x");
  for (const std::optional<HttpRequest> &r : {first, next, odd}) {
    EXPECT_FALSE(contains(r->url, kKey)) << r->url;
    EXPECT_FALSE(contains(r->url, "key=")) << r->url;
    EXPECT_EQ(header(*r, "x-goog-api-key"), kKey);
  }
}

TEST(ModelList, OpenAIRequestsItsListWithABearerKey) {
  std::optional<HttpRequest> r = openai().build_model_list("https://api.openai.com/v1", kKey, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->url, "https://api.openai.com/v1/models");
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "Authorization");
  EXPECT_EQ(r->headers[0].second, std::string("Bearer ") + kKey);
  EXPECT_FALSE(contains(r->url, kKey));
  EXPECT_TRUE(r->body.empty());
  std::optional<HttpRequest> local = openai().build_model_list("http://127.0.0.1:8080/v1", kKey, "");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->url, "http://127.0.0.1:8080/v1/models");
}

TEST(ModelList, GeminiKeepsItsImageModels) {
  ModelPage page = gemini().parse_model_list(HttpResponse{200, {}, kGoogleList});
  EXPECT_EQ(listed(page), (std::vector<Listed>{
                              {"gemini-3.1-flash-image", true, ""},
                              {"gemini-3-pro-image", true, ""},
                              {"gemini-3-flash", false, ""},                   // text
                              {"gemini-embedding-001", false, ""},             // embeddings
                              {"veo-3.1-generate-preview", false, ""},         // video
                              {"imagen-4.0-generate-001", false, ""},          // Imagen's, not Gemini's
                              {"imagen-4.0-ultra-generate-001", false, ""},
                              {"gemini-2.5-flash-image-tts", false, ""},       // "image", but no generateContent
                              {"imagen-5-image", false, ""},                   // an Imagen id is never Gemini's
                              {"gemini-4-image", false, ""},                   // methods not a list
                          }));
  ASSERT_FALSE(page.models.empty());
  EXPECT_EQ(page.models[0].display_name, "Nano Banana 2");
  EXPECT_EQ(page.models[8].display_name, "");
  EXPECT_EQ(page.next_page, "Cg9nZW1pbmktMy1mbGFzaA==");
  // The last page has no token; an empty list is a list.
  ModelPage last = gemini().parse_model_list(
      HttpResponse{200, {}, R"({"models":[{"name":"models/gemini-3.1-flash-lite-image","supportedGenerationMethods":["generateContent"]}]})"});
  EXPECT_EQ(listed(last), (std::vector<Listed>{{"gemini-3.1-flash-lite-image", true, ""}}));
  EXPECT_EQ(last.next_page, "");
  ModelPage none = gemini().parse_model_list(HttpResponse{200, {}, "{}"});
  EXPECT_TRUE(none.models.empty());
  EXPECT_EQ(none.next_page, "");
  // A name without the prefix is used as it is.
  EXPECT_EQ(gemini()
                .parse_model_list(HttpResponse{200, {}, R"({"models":[{"name":"tunedModels/x-image","supportedGenerationMethods":["generateContent"]}]})"})
                .models.at(0)
                .id,
            "tunedModels/x-image");
}

TEST(ModelList, OpenAIReadsIdsAndShutdownDays) {
  const std::string body = R"({"object":"list","data":[
    {"id":"gpt-image-2","object":"model","created":1776729600,"owned_by":"system","shutdown_date":null},
    {"id":"chatgpt-image-latest","object":"model","created":1760000000,"owned_by":"system","shutdown_date":"2026-12-01"},
    {"id":"gpt-image-1","object":"model","created":1745000000,"owned_by":"system","shutdown_date":"2026-10-23T00:00:00Z"},
    {"id":"gpt-image-1-mini","object":"model","owned_by":"system","shutdown_date":1796139000},
    {"id":"gpt-5","object":"model","owned_by":"system"},
    {"id":"dall-e-3","object":"model","owned_by":"system","shutdown_date":"soon"},
    {"id":"gpt-image-2.5-flare","object":"model","shutdown_date":"2026-13-01"},
    {"id":"","object":"model"},
    {"object":"model"},
    "gpt-image-9"]})";
  ModelPage page = openai().parse_model_list(HttpResponse{200, {}, body});
  EXPECT_EQ(listed(page), (std::vector<Listed>{
                              {"gpt-image-2", true, ""},                     // null: none announced
                              {"chatgpt-image-latest", true, "2026-12-01"},  // a day
                              {"gpt-image-1", true, "2026-10-23"},           // a date-time: its day
                              {"gpt-image-1-mini", true, "2026-12-01"},      // Unix seconds: their day (UTC)
                              {"gpt-5", false, ""},                          // text; no field at all
                              {"dall-e-3", false, ""},                       // not a day
                              {"gpt-image-2.5-flare", true, ""},             // not a real day
                          }));
  EXPECT_EQ(page.next_page, "") << "OpenAI answers the whole list at once";
  EXPECT_TRUE(openai().parse_model_list(HttpResponse{200, {}, R"({"object":"list","data":[]})"}).models.empty());
}

TEST(ModelList, ErrorsAreTheTypedErrorsOfParse) {
  struct Case {
    const Provider *p;
    int status;
    std::string body;
    ErrorCode code;
  } cases[] = {
      {&gemini(), 400, fixture("gemini/error_400_api_key_invalid.json"), ErrorCode::BadKey},
      {&gemini(), 401, fixture("gemini/error_401_unauthenticated_bad_oauth.json"), ErrorCode::BadKey},
      {&gemini(), 403, fixture("gemini/error_403_permission_denied_no_key.json"), ErrorCode::PermissionDenied},
      {&gemini(), 429, fixture("gemini/error_429_resource_exhausted.json"), ErrorCode::RateLimited},
      {&gemini(), 503, fixture("gemini/error_503_unavailable.json"), ErrorCode::ServerError},
      {&gemini(), 401, "Unauthorized", ErrorCode::BadKey},
      {&gemini(), 502, "<html>Bad gateway</html>", ErrorCode::ServerError},
      {&gemini(), 404, "<html>Not Found</html>", ErrorCode::BadRequest},
      {&gemini(), 200, fixture("gemini/error_429_resource_exhausted.json"), ErrorCode::RateLimited},
      {&openai(), 401, fixture("openai/error_401_invalid_api_key.json"), ErrorCode::BadKey},
      {&openai(), 403, fixture("openai/error_403_unsupported_region.json"), ErrorCode::PermissionDenied},
      {&openai(), 429, fixture("openai/error_429_insufficient_quota.json"), ErrorCode::QuotaExhausted},
      {&openai(), 500, fixture("openai/error_500_server_error.json"), ErrorCode::ServerError},
      {&openai(), 401, "", ErrorCode::BadKey},
      {&openai(), 404, "<html>nginx</html>", ErrorCode::BadRequest},
      {&openai(), 200, fixture("openai/error_429_rate_limit.json"), ErrorCode::RateLimited},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.p->name()) + " " + std::to_string(c.status) + " " + c.body.substr(0, 60));
    Failure list = list_failure(*c.p, c.status, c.body);
    ASSERT_TRUE(list.thrown);
    EXPECT_EQ(list.code, c.code) << error_code_name(list.code) << ": " << list.message;
    // Word for word what parse() says of the same answer.
    Failure edit = parse_failure(*c.p, c.status, c.body);
    EXPECT_EQ(list.code, edit.code);
    EXPECT_EQ(list.message, edit.message);
    EXPECT_EQ(list.detail, edit.detail);
    EXPECT_EQ(list.http_status, edit.http_status);
    EXPECT_FALSE(contains(list.message, "{")) << list.message;
  }
  // A 2xx that is not a list: not understood, said so.
  for (const Provider *p : {&gemini(), &openai()})
    for (const char *body : {"<html>portal</html>", "", "[1,2]", "{\"models\":"}) {
      Failure f = list_failure(*p, 200, body);
      ASSERT_TRUE(f.thrown) << body;
      EXPECT_EQ(f.code, ErrorCode::BadResponse) << p->name() << " " << body;
    }
}

}  // namespace

// ---------- streamed answers (Request::stream, StreamReader) ----------

namespace {

// The events of a whole stream, as the transport's parser hands them over.
std::vector<SseEvent> events_of(const std::string &stream) {
  SseParser parser;
  std::vector<SseEvent> events = parser.feed(stream);
  EXPECT_FALSE(parser.cut_short());
  return events;
}

struct Streamed {
  std::vector<EncodedImage> drafts;
  std::optional<Result> result;
  std::optional<Error> error;
};

Streamed read_stream(const Provider &p, const std::string &stream) {
  Streamed s;
  std::unique_ptr<StreamReader> reader = p.stream_reader();
  EXPECT_TRUE(reader);
  if (!reader) return s;
  for (const SseEvent &ev : events_of(stream))
    if (std::optional<EncodedImage> d = reader->take(ev)) s.drafts.push_back(std::move(*d));
  try {
    s.result = reader->finish();
  } catch (const Error &e) {
    s.error = e;
  }
  return s;
}

// A whole Gemini answer cut into chunks the way streamGenerateContent sends them: each part
// its own chunk, text split in two, finishReason and usage with the last.
std::string gemini_chunks(JsonArray *parts, const std::string &finish, const std::string &usage) {
  std::string out;
  const guint n = json_array_get_length(parts);
  for (guint i = 0; i < n; ++i) {
    JsonObject *part = json::element_object(parts, i);
    std::vector<std::string> pieces;
    if (json_object_has_member(part, "text") && !json::boolean(part, "thought")) {
      const std::string text = json::string(part, "text");
      for (const std::string &piece : {text.substr(0, text.size() / 2), text.substr(text.size() / 2)}) {
        GPtr<JsonNode> copy = adopt(json_node_copy(json_array_get_element(parts, i)));
        json_object_set_string_member(json_node_get_object(copy.get()), "text", piece.c_str());
        GPtr<JsonGenerator> gen = adopt(json_generator_new());
        json_generator_set_root(gen.get(), copy.get());
        pieces.push_back(GCharPtr(json_generator_to_data(gen.get(), nullptr)).get());
      }
    } else {
      GPtr<JsonGenerator> gen = adopt(json_generator_new());
      json_generator_set_root(gen.get(), json_array_get_element(parts, i));
      pieces.push_back(GCharPtr(json_generator_to_data(gen.get(), nullptr)).get());
    }
    for (size_t k = 0; k < pieces.size(); ++k) {
      const bool last = i + 1 == n && k + 1 == pieces.size();
      out += R"(data: {"candidates":[{"content":{"role":"model","parts":[)" + pieces[k] + "]}" +
             (last ? R"(,"finishReason":")" + finish + "\"" : std::string()) + R"(,"index":0}])" +
             (last ? R"(,"usageMetadata":)" + usage : std::string(R"(,"usageMetadata":{"promptTokenCount":12})")) +
             "}\r\n\r\n";
    }
  }
  return out;
}

}  // namespace

TEST(GeminiStream, TheRequestAsksForServerSentEvents) {
  Request req = gemini_request();
  req.stream = true;
  const HttpRequest h = gemini().build(req, "k");
  EXPECT_NE(h.url.find("/v1beta/models/gemini-3.1-flash-image:streamGenerateContent?alt=sse"), std::string::npos)
      << h.url;
  req.stream = false;
  EXPECT_EQ(gemini().build(req, "k").body, h.body) << "the same body either way";
}

// The stored Gemini 3 answer (a thought picture, then the final one with its signature), cut
// into chunks: the merged stream gives exactly what the whole answer gives, and the thought
// picture is a draft.
TEST(GeminiStream, TheMergedStreamIsTheWholeAnswerAndThoughtPicturesAreDrafts) {
  const std::string stored = fixture("gemini/response_success_image_only_gemini3_with_thoughts.json");
  const Result whole = gemini().parse(HttpResponse{200, {}, stored});
  json::Doc doc = json::try_parse(stored);
  JsonObject *cand = json::element_object(json::array(doc.object(), "candidates"), 0);
  JsonArray *parts = json::array(json::object(cand, "content"), "parts");
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  json_generator_set_root(gen.get(), json_object_get_member(doc.object(), "usageMetadata"));
  const std::string usage = GCharPtr(json_generator_to_data(gen.get(), nullptr)).get();
  // With a caption in pieces too: the stored answer has none, so one is added.
  json_array_add_element(parts, json_from_string(R"({"text":"Here is the lantern you asked for."})", nullptr));
  const Result whole_with_text = [&] {
    GPtr<JsonGenerator> g = adopt(json_generator_new());
    json_generator_set_root(g.get(), json_object_get_member(doc.object(), "candidates"));
    return gemini().parse(HttpResponse{
        200, {}, R"({"candidates":)" + std::string(GCharPtr(json_generator_to_data(g.get(), nullptr)).get()) +
                     R"(,"usageMetadata":)" + usage + "}"});
  }();
  Streamed s = read_stream(gemini(), gemini_chunks(parts, json::string(cand, "finishReason"), usage));
  ASSERT_TRUE(s.result) << (s.error ? s.error->message() : "");
  ASSERT_EQ(s.drafts.size(), 1u) << "the thought picture";
  const std::string thought = json::string(json::object(json::element_object(parts, 0), "inlineData"), "data");
  EXPECT_EQ(s.drafts[0].bytes, json::base64_decode(thought, "test"));
  const Result &r = *s.result;
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].bytes, whole.images[0].bytes);
  EXPECT_EQ(r.text, whole_with_text.text);
  EXPECT_EQ(r.text, "Here is the lantern you asked for.") << "the text pieces joined";
  EXPECT_EQ(r.finish_reason, whole.finish_reason);
  EXPECT_EQ(r.usage.total_tokens, whole.usage.total_tokens);
  EXPECT_EQ(r.usage.thoughts_tokens, whole.usage.thoughts_tokens);
  EXPECT_EQ(r.usage.output_image_tokens, whole.usage.output_image_tokens);
  ASSERT_EQ(r.model_parts.size(), whole_with_text.model_parts.size());
  for (size_t i = 0; i < r.model_parts.size(); ++i)
    EXPECT_EQ(r.model_parts[i].thought_signature, whole_with_text.model_parts[i].thought_signature) << i;
}

TEST(GeminiStream, TheStoredStreamParses) {
  Streamed s = read_stream(gemini(), fixture("gemini/stream_sse_success.txt"));
  ASSERT_TRUE(s.result) << (s.error ? s.error->message() : "");
  EXPECT_TRUE(s.drafts.empty()) << "no thought pictures in it";
  EXPECT_EQ(s.result->images.size(), 1u);
  EXPECT_EQ(s.result->text, "Here is your image.");
  EXPECT_EQ(s.result->finish_reason, "STOP");
  EXPECT_EQ(s.result->usage.total_tokens, 1304);
}

TEST(GeminiStream, AnErrorChunkIsTheServicesError) {
  const std::string stream = std::string(R"(data: {"candidates":[{"content":{"parts":[{"text":"x"}]}}]})") +
                             "\r\n\r\n" + R"(data: {"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}})" +
                             "\r\n\r\n";
  Streamed s = read_stream(gemini(), stream);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code(), ErrorCode::ServerError) << s.error->message();
  EXPECT_EQ(s.error->http_status(), 503);
}

TEST(GeminiStream, AStreamWithoutItsLastChunkIsNoAnswer) {
  const std::string a = json::base64_encode(png_of(9, 9, 1).bytes);
  // A picture came, but no chunk with finishReason: the stream ended before the answer was whole.
  Streamed s = read_stream(gemini(), R"(data: {"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":")" +
                                         a + "\"}}]}}]}\n\n");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code(), ErrorCode::BadResponse);
  EXPECT_NE(std::string(s.error->message()).find("before the finished picture"), std::string::npos);
  Streamed empty = read_stream(gemini(), ": nothing but a comment\n\n");
  ASSERT_TRUE(empty.error);
  EXPECT_EQ(empty.error->code(), ErrorCode::BadResponse);
  Streamed junk = read_stream(gemini(), "data: {not json\n\n");
  ASSERT_TRUE(junk.error);
  EXPECT_EQ(junk.error->code(), ErrorCode::BadResponse);
}

TEST(OpenAIStream, TheRequestAsksForStreamAndPartialImages) {
  Request req = openai_request();
  req.n = 1;
  req.stream = true;
  req.partial_images = 2;
  const HttpRequest gen = openai().build(req, "k");
  json::Doc doc = json::try_parse(gen.body);
  EXPECT_TRUE(json::boolean(doc.object(), "stream"));
  EXPECT_EQ(json::integer(doc.object(), "partial_images"), 2);
  req.images.push_back(png_of(16, 16));
  const HttpRequest edit = openai().build(req, "k");
  ASSERT_TRUE(part(edit, "stream"));
  EXPECT_EQ(part(edit, "stream")->value, "true") << "a form's boolean, as the SDKs write it";
  ASSERT_TRUE(part(edit, "partial_images"));
  EXPECT_EQ(part(edit, "partial_images")->value, "2");
  req.n = 3;  // the events carry no picture's index: several pictures are asked plainly
  EXPECT_FALSE(part(openai().build(req, "k"), "stream"));
  req.n = 1;
  req.stream = false;
  EXPECT_FALSE(part(openai().build(req, "k"), "stream"));
}

TEST(OpenAIStream, PartialImagesAreDraftsAndTheCompletedEventIsTheAnswer) {
  for (const char *name : {"openai/stream_generations_sse.txt", "openai/stream_edits_sse.txt"}) {
    const std::string stream = fixture(name);
    Streamed s = read_stream(openai(), stream);
    ASSERT_TRUE(s.result) << name << ": " << (s.error ? s.error->message() : "");
    EXPECT_EQ(s.drafts.size(), std::string(name).find("generations") != std::string::npos ? 2u : 1u) << name;
    ASSERT_EQ(s.result->images.size(), 1u);
    // The answer is the completed event's picture, and its usage is read as the plain answer's.
    const std::vector<SseEvent> events = events_of(stream);
    json::Doc last = json::try_parse(events.back().data);
    EXPECT_EQ(s.result->images[0].bytes, json::base64_decode(json::string(last.object(), "b64_json"), "test"));
    JsonObject *usage = json::object(last.object(), "usage");
    EXPECT_EQ(s.result->usage.total_tokens, json::integer(usage, "total_tokens"));
    EXPECT_EQ(s.result->usage.input_image_tokens,
              json::integer(json::object(usage, "input_tokens_details"), "image_tokens"));
    EXPECT_NE(s.drafts[0].bytes, s.result->images[0].bytes) << "a partial is not the answer";
  }
}

TEST(OpenAIStream, AnErrorEventOrACutStreamFails) {
  Streamed s = read_stream(openai(), fixture("openai/stream_error_event_sse.txt"));
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code(), ErrorCode::ServerError) << s.error->message();
  // The error object alone under an "error" event (as openai-node also reads it).
  Streamed bare = read_stream(openai(), "event: error\ndata: {\"message\":\"rate limited\",\"code\":\"rate_limit_exceeded\"}\n\n");
  ASSERT_TRUE(bare.error);
  EXPECT_EQ(bare.error->code(), ErrorCode::RateLimited) << bare.error->message();
  // Partial pictures and no completed event: no answer, though drafts were shown.
  std::string stream = fixture("openai/stream_generations_sse.txt");
  stream = stream.substr(0, stream.find("event: image_generation.completed"));
  Streamed cut = read_stream(openai(), stream);
  EXPECT_EQ(cut.drafts.size(), 2u);
  ASSERT_TRUE(cut.error);
  EXPECT_EQ(cut.error->code(), ErrorCode::BadResponse);
  EXPECT_NE(std::string(cut.error->message()).find("before the finished picture"), std::string::npos);
}

TEST(OpenAIStream, AModelThatDoesNotStreamIsRecognised) {
  EXPECT_TRUE(openai().refuses_streaming(HttpResponse{
      400, {}, R"({"error":{"message":"Streaming is not supported","type":"invalid_request_error","param":"stream","code":"unsupported_value"}})"}));
  EXPECT_FALSE(openai().refuses_streaming(HttpResponse{400, {}, fixture("openai/error_400_invalid_size_gpt_image.json")}));
  EXPECT_FALSE(gemini().refuses_streaming(HttpResponse{400, {}, "{}"}));
}

// ---------- the Batch API (Gemini) ----------

TEST(GeminiBatch, TheJobIsTheGenerateContentRequestsInlinedUnderTheirKeys) {
  Request req = gemini_request();
  const HttpRequest one = gemini().build(req, "k");
  const std::optional<HttpRequest> job =
      gemini().build_batch("https://g.example", "gemini-3.1-flash-image", {{"line-1", one}, {"line-7", one}},
                           "genfill batch.jsonl", "the-key");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->url, "https://g.example/v1beta/models/gemini-3.1-flash-image:batchGenerateContent");
  EXPECT_EQ(header(*job, "x-goog-api-key"), "the-key") << "in a header, never in the URL";
  json::Doc doc = json::try_parse(job->body);
  JsonObject *batch = json::object(doc.object(), "batch");
  EXPECT_EQ(json::string(batch, "displayName"), "genfill batch.jsonl");
  JsonArray *items = json::array(json::object(json::object(batch, "inputConfig"), "requests"), "requests");
  ASSERT_EQ(json_array_get_length(items), 2u);
  EXPECT_EQ(json::string(json::object(json::element_object(items, 1), "metadata"), "key"), "line-7");
  // The request inside is the very generateContent body.
  JsonObject *inner = json::object(json::element_object(items, 0), "request");
  json::Doc plain = json::try_parse(one.body);
  EXPECT_TRUE(json_node_equal(json_object_get_member(json::element_object(items, 0), "request"), plain.root()))
      << "the same body as the direct call";
  EXPECT_TRUE(json::array(inner, "contents"));
  const std::optional<HttpRequest> get = gemini().build_batch_get("https://g.example", "batches/123abc", "the-key");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->method, "GET");
  EXPECT_EQ(get->url, "https://g.example/v1beta/batches/123abc");
  EXPECT_FALSE(openai().build_batch_get("https://o.example", "batches/1", "k")) << "no batch mode in genfill yet";
}

TEST(GeminiBatch, TheJobsStateAndItsAnswersAreRead) {
  const BatchJob pending = gemini().parse_batch(HttpResponse{200, {}, fixture("gemini/batch_operation_pending.json")});
  EXPECT_EQ(pending.name, "batches/123456789abc");
  EXPECT_EQ(pending.state, "pending");
  EXPECT_FALSE(pending.done);
  EXPECT_TRUE(pending.items.empty());
  const BatchJob done = gemini().parse_batch(HttpResponse{200, {}, fixture("gemini/batch_operation_succeeded.json")});
  EXPECT_EQ(done.state, "succeeded");
  EXPECT_TRUE(done.done);
  ASSERT_EQ(done.items.size(), 2u) << "read once, though the answers are mirrored";
  EXPECT_EQ(done.items[0].key, "line-1");
  // Each answer reads as the direct call's would have: a picture, or that request's error.
  const Result r = gemini().parse(done.items[0].answer);
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.usage.thoughts_tokens, 214);
  EXPECT_EQ(r.model_parts.back().thought_signature, "c2lnLTE=");
  EXPECT_EQ(done.items[1].key, "line-2");
  EXPECT_EQ(done.items[1].answer.status, 400);
  try {
    gemini().parse(done.items[1].answer);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::BadRequest) << e.message();
  }
  // An error answer to the job itself, and an answer that is no job, are the service's errors.
  EXPECT_THROW(gemini().parse_batch(HttpResponse{429, {}, fixture("gemini/error_429_resource_exhausted.json")}), Error);
  EXPECT_THROW(gemini().parse_batch(HttpResponse{200, {}, R"({"name": "operations/x"})"}), Error);
}
