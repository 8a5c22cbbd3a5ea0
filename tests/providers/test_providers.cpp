// Request building and response parsing of both providers, against the wire reference and
// every stored fixture.
#include <algorithm>
#include <map>
#include <string>

#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

using namespace genfill;

namespace {

const char *kKey = "test-key-123";

std::string fixture(const std::string &name) {
  std::string path = std::string(g_getenv("GENFILL_FIXTURES")) + "/" + name;
  gchar *data = nullptr;
  gsize len = 0;
  EXPECT_TRUE(g_file_get_contents(path.c_str(), &data, &len, nullptr)) << path;
  std::string s(data ? data : "", len);
  g_free(data);
  return s;
}

std::vector<std::string> fixture_names(const std::string &dir) {
  std::vector<std::string> names;
  std::string path = std::string(g_getenv("GENFILL_FIXTURES")) + "/" + dir;
  GDir *d = g_dir_open(path.c_str(), 0, nullptr);
  while (const char *n = d ? g_dir_read_name(d) : nullptr) names.push_back(n);
  if (d) g_dir_close(d);
  std::sort(names.begin(), names.end());
  return names;
}

int status_of(const std::string &name) {  // "error_429_..." -> 429, responses -> 200
  if (name.rfind("error_", 0) == 0) return std::atoi(name.c_str() + 6);
  return 200;
}

EncodedImage png_of(int w, int h, uint8_t v = 90) {
  Image img(w, h);
  for (auto &p : img.pixels) p = v;
  EncodedImage e;
  e.bytes = encode_png(img);
  e.mime = "image/png";
  e.width = w;
  e.height = h;
  return e;
}

std::string header(const HttpRequest &r, const std::string &name) {
  for (auto &[k, v] : r.headers)
    if (g_ascii_strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

ErrorCode parse_error(const Provider &p, int status, const std::string &body, std::string *message = nullptr,
                      std::string *text = nullptr) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  try {
    p.parse(r);
  } catch (const Error &e) {
    if (message) *message = e.message();
    if (text) *text = e.text();
    return e.code();
  }
  ADD_FAILURE() << "no error for " << body.substr(0, 80);
  return ErrorCode(-1);
}

const Provider &gemini() { return *find_provider("gemini"); }
const Provider &openai() { return *find_provider("openai"); }

// ---------------- registry ----------------

TEST(Registry, BothProvidersInOrder) {
  ASSERT_EQ(all_providers().size(), 2u);
  EXPECT_EQ(all_providers()[0]->name(), "gemini");
  EXPECT_EQ(all_providers()[1]->name(), "openai");
  EXPECT_EQ(find_provider("nope"), nullptr);
  EXPECT_EQ(gemini().default_base_url(), "https://generativelanguage.googleapis.com");
  EXPECT_EQ(openai().default_base_url(), "https://api.openai.com/v1");
}

// ---------------- Gemini requests ----------------

Request gemini_request() {
  Request r;
  r.model = "gemini-2.5-flash-image";
  r.base_url = "https://generativelanguage.googleapis.com";
  r.prompt = "make it a watercolor";
  r.aspect = "16:9";
  return r;
}

TEST(GeminiRequest, GenerateHasTheDocumentedShape) {
  Request req = gemini_request();
  req.seed = 42;
  HttpRequest http = gemini().build(req, kKey);
  EXPECT_EQ(http.method, "POST");
  EXPECT_EQ(http.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash-image:generateContent");
  EXPECT_EQ(header(http, "x-goog-api-key"), kKey);
  EXPECT_EQ(http.url.find(kKey), std::string::npos);
  EXPECT_EQ(http.body.find(kKey), std::string::npos);
  EXPECT_EQ(http.content_type, "application/json");
  EXPECT_TRUE(http.form.empty());

  json::Doc doc = json::try_parse(http.body);
  JsonObject *root = doc.object();
  ASSERT_TRUE(root);
  JsonObject *content = json::element_object(json::array(root, "contents"), 0);
  EXPECT_EQ(json::string(content, "role"), "user");
  JsonArray *parts = json::array(content, "parts");
  ASSERT_EQ(json_array_get_length(parts), 1u);
  EXPECT_EQ(json::string(json::element_object(parts, 0), "text"), "make it a watercolor");
  JsonObject *config = json::object(root, "generationConfig");
  JsonArray *mods = json::array(config, "responseModalities");
  ASSERT_EQ(json_array_get_length(mods), 2u);
  EXPECT_STREQ(json_array_get_string_element(mods, 0), "TEXT");
  EXPECT_STREQ(json_array_get_string_element(mods, 1), "IMAGE");
  EXPECT_EQ(json::string(json::object(config, "imageConfig"), "aspectRatio"), "16:9");
  EXPECT_EQ(json::integer(config, "seed"), 42);
  EXPECT_FALSE(json_object_has_member(config, "candidateCount"));
}

TEST(GeminiRequest, EditSendsInlineImagesAndTheMaskAsASecondPicture) {
  Request req = gemini_request();
  req.images = {png_of(64, 36), png_of(20, 20, 7)};
  Mask m(64, 36, 0);
  m.at(10, 10) = 255;
  req.mask = m;
  HttpRequest http = gemini().build(req, kKey);
  json::Doc doc = json::try_parse(http.body);
  JsonArray *parts = json::array(json::element_object(json::array(doc.object(), "contents"), 0), "parts");
  ASSERT_EQ(json_array_get_length(parts), 4u);  // text, image, mask, reference
  std::string text = json::string(json::element_object(parts, 0), "text");
  EXPECT_EQ(text.rfind("make it a watercolor", 0), 0u);
  EXPECT_NE(text.find("mask"), std::string::npos);
  std::vector<Image> pics;
  for (guint i = 1; i < 4; ++i) {
    JsonObject *data = json::object(json::element_object(parts, i), "inlineData");
    ASSERT_TRUE(data);
    EXPECT_EQ(json::string(data, "mimeType"), "image/png");
    std::string b64 = json::string(data, "data");
    EXPECT_EQ(b64.find("data:"), std::string::npos) << "bare base64, no data: URL";
    pics.push_back(decode_image(json::base64_decode(b64, "test")));
  }
  EXPECT_EQ(pics[0].width, 64);
  EXPECT_EQ(pics[1].width, 64);  // the mask, same size as the edited picture
  EXPECT_EQ(pics[1].at(10, 10)[0], 255);
  EXPECT_EQ(pics[1].at(11, 10)[0], 0);
  EXPECT_EQ(pics[2].width, 20);
}

TEST(GeminiRequest, ModelPrefixAndEndpointAndManyImagesPerCall) {
  Request req = gemini_request();
  req.model = "models/gemini-3-pro-image-preview";
  req.base_url = "http://127.0.0.1:8080/relay";
  HttpRequest http = gemini().build(req, kKey);
  EXPECT_EQ(http.url, "http://127.0.0.1:8080/relay/v1beta/models/gemini-3-pro-image-preview:generateContent");
  req.n = 2;
  EXPECT_THROW(gemini().build(req, kKey), Error);
}

// ---------------- Gemini responses: every fixture ----------------

TEST(GeminiResponse, EveryFixtureParsesToAResultOrTheRightError) {
  const std::map<std::string, ErrorCode> expected = {
      {"error_400_api_key_invalid.json", ErrorCode::BadKey},
      {"error_400_failed_precondition_location.json", ErrorCode::PermissionDenied},
      {"error_400_invalid_argument_unknown_field.json", ErrorCode::BadRequest},
      {"error_400_multiple_candidates.json", ErrorCode::BadRequest},
      {"error_401_unauthenticated_bad_oauth.json", ErrorCode::BadKey},
      {"error_403_permission_denied_consumer_suspended.json", ErrorCode::PermissionDenied},
      {"error_403_permission_denied_no_key.json", ErrorCode::MissingKey},
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
  };
  const std::vector<std::string> successes = {"response_success_text_and_image.json",
                                              "response_success_image_only_gemini3_with_thoughts.json",
                                              "response_edit_success_with_image_input_tokens.json"};
  int checked = 0;
  for (const std::string &name : fixture_names("gemini")) {
    if (name.rfind("error_", 0) != 0 && name.rfind("response_", 0) != 0) continue;
    SCOPED_TRACE(name);
    std::string body = fixture("gemini/" + name);
    if (std::find(successes.begin(), successes.end(), name) != successes.end()) {
      HttpResponse r{200, {}, body};
      Result res = gemini().parse(r);
      ASSERT_EQ(res.images.size(), 1u);
      Image img = decode_image(res.images[0].bytes);
      EXPECT_GT(img.width, 0);
      ++checked;
      continue;
    }
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "a new fixture needs an expectation here";
    std::string message;
    EXPECT_EQ(parse_error(gemini(), status_of(name), body, &message), it->second) << message;
    EXPECT_NE(message.find("Gemini"), std::string::npos) << message;
    ++checked;
  }
  EXPECT_EQ(checked, int(expected.size() + successes.size()));
}

TEST(GeminiResponse, SkipsThoughtImagesAndKeepsTextAndUsage) {
  Result r = gemini().parse(HttpResponse{200, {}, fixture("gemini/response_success_image_only_gemini3_with_thoughts.json")});
  ASSERT_EQ(r.images.size(), 1u);
  // The thought image and the final one differ; the final one is kept.
  json::Doc doc = json::try_parse(fixture("gemini/response_success_image_only_gemini3_with_thoughts.json"));
  JsonArray *parts = json::array(json::object(json::element_object(json::array(doc.object(), "candidates"), 0), "content"), "parts");
  std::string last_b64;
  for (guint i = 0; i < json_array_get_length(parts); ++i) {
    JsonObject *p = json::element_object(parts, i);
    if (!json::boolean(p, "thought") && json::object(p, "inlineData"))
      last_b64 = json::string(json::object(p, "inlineData"), "data");
  }
  EXPECT_EQ(r.images[0].bytes, json::base64_decode(last_b64, "test"));

  Result t = gemini().parse(HttpResponse{200, {}, fixture("gemini/response_success_text_and_image.json")});
  EXPECT_FALSE(t.text.empty());
  EXPECT_EQ(t.finish_reason, "STOP");
  EXPECT_GT(t.usage.total_tokens, 0);
}

TEST(GeminiResponse, TextOnlyHandsBackTheText) {
  std::string text;
  EXPECT_EQ(parse_error(gemini(), 200, fixture("gemini/response_text_only_stop_no_image.json"), nullptr, &text),
            ErrorCode::TextOnly);
  EXPECT_FALSE(text.empty());
}

TEST(GeminiResponse, MalformedAnswersAreBadResponses) {
  std::string good = fixture("gemini/response_success_text_and_image.json");
  EXPECT_EQ(parse_error(gemini(), 200, good.substr(0, good.size() / 2)), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, "<html>proxy error</html>"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 200, "{}"), ErrorCode::BadResponse);
  std::string bad64 = R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBOR#w0KGgo="}}]},"finishReason":"STOP"}]})";
  EXPECT_EQ(parse_error(gemini(), 200, bad64), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(gemini(), 502, "<html>Bad gateway</html>"), ErrorCode::ServerError);
  // Two documents in one body once aborted the JSON parser (found by fuzzing).
  EXPECT_EQ(parse_error(gemini(), 200, "{}{}\n"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 400, "{}{}"), ErrorCode::BadRequest);
}

// ---------------- OpenAI requests ----------------

Request openai_request() {
  Request r;
  r.model = "gpt-image-1";
  r.base_url = "https://api.openai.com/v1";
  r.prompt = "a lighthouse";
  r.width = 1536;
  r.height = 1024;
  r.n = 3;
  return r;
}

TEST(OpenAIRequest, GenerationsIsJsonWithModelSizeAndN) {
  HttpRequest http = openai().build(openai_request(), kKey);
  EXPECT_EQ(http.url, "https://api.openai.com/v1/images/generations");
  EXPECT_EQ(header(http, "Authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(http.url.find(kKey), std::string::npos);
  EXPECT_EQ(http.content_type, "application/json");
  json::Doc doc = json::try_parse(http.body);
  JsonObject *o = doc.object();
  EXPECT_EQ(json::string(o, "model"), "gpt-image-1");
  EXPECT_EQ(json::string(o, "prompt"), "a lighthouse");
  EXPECT_EQ(json::string(o, "size"), "1536x1024");
  EXPECT_EQ(json::integer(o, "n"), 3);
  EXPECT_FALSE(json_object_has_member(o, "response_format"));
}

const FormPart *part(const HttpRequest &h, const std::string &name, int nth = 0) {
  for (const FormPart &p : h.form)
    if (p.name == name && nth-- == 0) return &p;
  return nullptr;
}

TEST(OpenAIRequest, EditIsMultipartWithImageAndATransparentMask) {
  Request req = openai_request();
  req.n = 1;
  req.images = {png_of(96, 64)};
  Mask m(96, 64, 0);
  for (int x = 0; x < 10; ++x) m.at(x, 5) = 255;
  m.at(50, 50) = 100;
  req.mask = m;
  HttpRequest http = openai().build(req, kKey);
  EXPECT_EQ(http.url, "https://api.openai.com/v1/images/edits");
  EXPECT_TRUE(http.body.empty());
  const FormPart *image = part(http, "image");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->content_type, "image/png");
  EXPECT_EQ(image->filename, "image.png");
  EXPECT_EQ(part(http, "image[]"), nullptr);
  const FormPart *mask = part(http, "mask");
  ASSERT_TRUE(mask);
  EXPECT_EQ(mask->content_type, "image/png");
  std::vector<uint8_t> mb(mask->value.begin(), mask->value.end());
  ASSERT_GT(mb.size(), 25u);
  EXPECT_EQ(mb[25], 6) << "RGBA PNG (has an alpha channel)";
  Image mi = decode_image(mb);
  ASSERT_EQ(mi.width, 96);
  ASSERT_EQ(mi.height, 64);
  EXPECT_EQ(mi.at(3, 5)[3], 0) << "the area to change is transparent";
  EXPECT_EQ(mi.at(3, 6)[3], 255) << "the rest is opaque";
  EXPECT_EQ(mi.at(50, 50)[3], 155) << "soft coverage stays soft";
  EXPECT_EQ(part(http, "model")->value, "gpt-image-1");
  EXPECT_EQ(part(http, "prompt")->value, "a lighthouse");
  EXPECT_EQ(part(http, "n")->value, "1");
  EXPECT_EQ(part(http, "size")->value, "1536x1024");
  EXPECT_TRUE(part(http, "model")->filename.empty());
  for (const FormPart &p : http.form) EXPECT_EQ(p.value.find(kKey), std::string::npos);
}

TEST(OpenAIRequest, SeveralImagesUseRepeatedImageBrackets) {
  Request req = openai_request();
  EncodedImage jpeg = png_of(8, 8);
  jpeg.mime = "image/jpeg";
  req.images = {png_of(8, 8), jpeg};
  HttpRequest http = openai().build(req, kKey);
  EXPECT_EQ(part(http, "image"), nullptr);
  ASSERT_TRUE(part(http, "image[]", 0));
  ASSERT_TRUE(part(http, "image[]", 1));
  EXPECT_EQ(part(http, "image[]", 1)->content_type, "image/jpeg");
  EXPECT_EQ(part(http, "image[]", 1)->filename.substr(part(http, "image[]", 1)->filename.size() - 4), ".jpg");
  req.n = 11;
  EXPECT_THROW(openai().build(req, kKey), Error);
}

// ---------------- OpenAI responses: every fixture ----------------

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
  int checked = 0;
  for (const std::string &name : fixture_names("openai")) {
    if (name.rfind("error_", 0) != 0 && name.rfind("response_", 0) != 0) continue;
    SCOPED_TRACE(name);
    std::string body = fixture("openai/" + name);
    if (auto s = successes.find(name); s != successes.end()) {
      Result res = openai().parse(HttpResponse{200, {}, body});
      ASSERT_EQ(res.images.size(), s->second);
      EXPECT_GT(decode_image(res.images[0].bytes).width, 0);
      ++checked;
      continue;
    }
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "a new fixture needs an expectation here";
    std::string message;
    EXPECT_EQ(parse_error(openai(), status_of(name), body, &message), it->second) << message;
    ++checked;
  }
  EXPECT_EQ(checked, int(expected.size() + successes.size()));
}

TEST(OpenAIResponse, RefusalSaysWhichStage) {
  std::string message;
  parse_error(openai(), 400, fixture("openai/error_400_moderation_blocked.json"), &message);
  EXPECT_NE(message.find("safety"), std::string::npos) << message;
  Result r = openai().parse(HttpResponse{200, {}, fixture("openai/response_success_gpt_image.json")});
  EXPECT_EQ(r.usage.total_tokens, 1070);  // as in the fixture
}

TEST(OpenAIResponse, MalformedAnswersAreBadResponses) {
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[{"b64_json":"@@@@"}]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"data":[{"b64_json":"abc"}]})"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 200, R"({"created":1,"da)"), ErrorCode::BadResponse);
  EXPECT_EQ(parse_error(openai(), 500, "upstream connect error"), ErrorCode::ServerError);
}

// ---------------- retries ----------------

HttpResponse with_headers(int status, std::vector<std::pair<std::string, std::string>> headers, std::string body = "") {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

TEST(Retry, StatusCodesAndServerHints) {
  EXPECT_FALSE(openai().retry_advice(with_headers(400, {})).retry);
  EXPECT_FALSE(openai().retry_advice(with_headers(401, {})).retry);
  for (int s : {408, 429, 500, 502, 503, 504}) EXPECT_TRUE(openai().retry_advice(with_headers(s, {})).retry) << s;
  EXPECT_DOUBLE_EQ(openai().retry_advice(with_headers(429, {{"retry-after", "7"}})).delay_s, 7.0);
  EXPECT_DOUBLE_EQ(openai().retry_advice(with_headers(429, {{"retry-after-ms", "250"}, {"retry-after", "7"}})).delay_s, 0.25);
  EXPECT_LT(openai().retry_advice(with_headers(503, {})).delay_s, 0);
  EXPECT_FALSE(openai().retry_advice(with_headers(503, {{"x-should-retry", "false"}})).retry);
  // An HTTP-date about 30 s ahead.
  GDateTime *t = g_date_time_add_seconds(g_date_time_new_now_utc(), 30);
  gchar *date = g_date_time_format(t, "%a, %d %b %Y %H:%M:%S GMT");
  double d = openai().retry_advice(with_headers(503, {{"retry-after", date}})).delay_s;
  EXPECT_GT(d, 25);
  EXPECT_LE(d, 31);
  g_free(date);
  g_date_time_unref(t);
}

TEST(Retry, ProviderSpecificQuotaAndRetryInfo) {
  EXPECT_FALSE(openai().retry_advice(with_headers(429, {}, fixture("openai/error_429_insufficient_quota.json"))).retry);
  EXPECT_TRUE(openai().retry_advice(with_headers(429, {}, fixture("openai/error_429_rate_limit.json"))).retry);
  RetryAdvice a = gemini().retry_advice(with_headers(429, {}, fixture("gemini/error_429_resource_exhausted.json")));
  EXPECT_TRUE(a.retry);
  EXPECT_DOUBLE_EQ(a.delay_s, 37.0);
  std::string half = R"({"error":{"code":503,"status":"UNAVAILABLE","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}})";
  EXPECT_DOUBLE_EQ(gemini().retry_advice(with_headers(503, {}, half)).delay_s, 0.5);
  std::string daily = R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})";
  EXPECT_FALSE(gemini().retry_advice(with_headers(429, {}, daily)).retry);
  EXPECT_EQ(parse_error(gemini(), 429, daily), ErrorCode::QuotaExhausted);
}

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(json::base64_decode("aGVsbG8=", "t"), (std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(json::base64_decode("aGVs\nbG8=", "t").size(), 5u);
  EXPECT_THROW(json::base64_decode("aGVsbG8", "t"), Error);
  EXPECT_THROW(json::base64_decode("aGV$bG8=", "t"), Error);
  EXPECT_THROW(json::base64_decode("aG=sbG8=", "t"), Error);
  EXPECT_THROW(json::base64_decode("", "t"), Error);
}

}  // namespace
