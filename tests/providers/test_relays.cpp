// The relay and legacy formats: Imagen's :predict (REFERENCE §2) and image models behind an
// OpenAI-compatible chat-completions relay (OpenRouter's form; see core/providers/openai_chat.cpp
// and tests/fixtures/INDEX.md for what was verified where). Request building, every stored
// fixture, error mapping, and edits refused for Imagen before anything is sent.
#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <set>
#include <string>
#include <vector>

#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "core/catalog/models.hpp"
#include "core/edit/job.hpp"
#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using namespace genfill::test;

namespace {

const char *kKey = "test-key-4d1e";

bool contains(const std::string &hay, const std::string &needle) { return hay.find(needle) != std::string::npos; }

std::set<std::string> members(JsonObject *o) {
  std::set<std::string> out;
  GList *names = o ? json_object_get_members(o) : nullptr;
  for (GList *l = names; l; l = l->next) out.insert(static_cast<const char *>(l->data));
  g_list_free(names);
  return out;
}

std::string header(const HttpRequest &r, const std::string &name) {
  for (auto &[k, v] : r.headers)
    if (g_ascii_strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

EncodedImage png_of(int w, int h, uint8_t seed = 40) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t *p = img.at(x, y);
      p[0] = uint8_t(x * 9 + seed), p[1] = uint8_t(y * 7 + seed), p[2] = uint8_t(x ^ y), p[3] = 255;
    }
  EncodedImage e;
  e.bytes = encode_png(img);
  e.mime = "image/png";
  e.width = w;
  e.height = h;
  return e;
}

struct Failure {
  bool thrown = false;
  ErrorCode code = ErrorCode::InvalidInput;
  std::string message, detail, text;
  int http_status = 0;
};

Failure parse_failure(const Provider &p, int status, const std::string &body) {
  Failure f;
  try {
    p.parse(HttpResponse{status, {}, body});
  } catch (const Error &e) {
    f = {true, e.code(), e.message(), e.detail(), e.text(), e.http_status()};
  }
  return f;
}

Failure build_failure(const Provider &p, const Request &req) {
  Failure f;
  try {
    p.build(req, kKey);
  } catch (const Error &e) {
    f = {true, e.code(), e.message(), e.detail(), e.text(), e.http_status()};
  }
  return f;
}

const Provider &imagen() { return *find_provider("imagen"); }
const Provider &chat() { return *find_provider("openai-chat"); }

// The key reaches the service in a header and nowhere else.
void expect_key_in_header_only(const HttpRequest &http, const char *header_name, const std::string &value) {
  EXPECT_EQ(header(http, header_name), value);
  EXPECT_EQ(http.headers.size(), 1u);
  EXPECT_FALSE(contains(http.url, kKey)) << http.url;
  EXPECT_FALSE(contains(http.url, "key=")) << http.url;
  EXPECT_FALSE(contains(http.body, kKey));
}

// ---------------- registry ----------------

TEST(RelayRegistry, BothNewProvidersAreRegisteredAfterTheOthers) {
  std::vector<std::string> names;
  for (const Provider *p : all_providers()) names.push_back(std::string(p->name()));
  EXPECT_EQ(names, (std::vector<std::string>{"gemini", "openai", "imagen", "openai-chat"}));

  EXPECT_EQ(imagen().display_name(), "Google Imagen");
  EXPECT_EQ(imagen().default_base_url(), find_provider("gemini")->default_base_url()) << "Gemini's base URL";
  EXPECT_EQ(imagen().key_env_vars(), find_provider("gemini")->key_env_vars()) << "Gemini's key variables";

  EXPECT_EQ(chat().default_base_url(), "https://openrouter.ai/api/v1");
  EXPECT_EQ(chat().key_env_vars(), (std::vector<std::string>{"GENFILL_CHAT_API_KEY", "OPENROUTER_API_KEY"}));
}

TEST(RelayCatalog, ModelsAndWhatTheyTake) {
  for (const char *id : {"imagen-4.0-generate-001", "imagen-3.0-generate-002"}) {
    ModelInfo m = model_info("imagen", id);
    EXPECT_EQ(m.id, id);
    EXPECT_EQ(m.provider, "imagen");
    EXPECT_FALSE(m.can_edit);
    EXPECT_FALSE(m.takes_mask);
    EXPECT_FALSE(m.exact_size);
    EXPECT_EQ(m.max_images_per_call, 4);
    EXPECT_EQ(m.max_input_images, 0);
    std::vector<std::string> sizes;
    for (const Aspect &a : m.aspects)
      sizes.push_back(a.label() + " " + std::to_string(a.out_w) + "x" + std::to_string(a.out_h));
    EXPECT_EQ(sizes, (std::vector<std::string>{"1:1 1024x1024", "3:4 896x1280", "4:3 1280x896", "9:16 768x1408",
                                               "16:9 1408x768"}));
  }
  EXPECT_FALSE(model_info("imagen", "imagen-9").can_edit) << "unknown Imagen ids take Imagen's first entry";
  // Every Imagen model has been shut down: no default, a Gemini model named instead.
  EXPECT_EQ(default_model_id("imagen"), "");
  for (const ModelInfo &m : models_of("imagen")) {
    EXPECT_TRUE(is_retired(m, "2026-12-04")) << m.id;
    EXPECT_EQ(m.replacement, "gemini-3.1-flash-image") << m.id;
  }

  std::vector<std::string> relay_ids;
  for (const ModelInfo &m : models_of("openai-chat")) {
    SCOPED_TRACE(m.id);
    relay_ids.push_back(m.id);
    EXPECT_TRUE(m.can_edit);
    EXPECT_FALSE(m.takes_mask);
    EXPECT_EQ(m.max_images_per_call, 1);
    // The same ratios, sizes and lifecycle as the model of the same name on Gemini's own API.
    ASSERT_EQ(m.id.rfind("google/", 0), 0u);
    const ModelInfo *g = find_model("gemini", m.id.substr(7));
    ASSERT_NE(g, nullptr);
    ASSERT_EQ(m.aspects.size(), g->aspects.size());
    for (size_t i = 0; i < m.aspects.size(); ++i) {
      EXPECT_EQ(m.aspects[i].label(), g->aspects[i].label());
      EXPECT_EQ(m.aspects[i].out_w, g->aspects[i].out_w);
      EXPECT_EQ(m.aspects[i].out_h, g->aspects[i].out_h);
    }
    ASSERT_EQ(m.image_sizes.size(), g->image_sizes.size());
    for (size_t i = 0; i < m.image_sizes.size(); ++i) EXPECT_EQ(m.image_sizes[i].name, g->image_sizes[i].name);
    EXPECT_EQ(m.max_input_images, g->max_input_images);
    EXPECT_EQ(m.retired, g->retired);
    EXPECT_EQ(m.replacement, g->replacement.empty() ? "" : "google/" + g->replacement);
    EXPECT_EQ(m.is_default, g->is_default);
  }
  EXPECT_EQ(relay_ids, (std::vector<std::string>{"google/gemini-3.1-flash-image", "google/gemini-nano-banana-2.1",
                                                 "google/gemini-3-pro-image", "google/gemini-3.1-flash-lite-image",
                                                 "google/gemini-3.1-flash-image-preview",
                                                 "google/gemini-3-pro-image-preview", "google/gemini-2.5-flash-image"}));
  EXPECT_EQ(default_model_id("openai-chat"), "google/gemini-3.1-flash-image");
}

// ---------------- Imagen requests ----------------

Request imagen_request() {
  Request r;
  r.model = "imagen-4.0-generate-001";
  r.base_url = "https://generativelanguage.googleapis.com";
  r.prompt = "a watercolor lighthouse at dusk";
  r.aspect = "16:9";
  r.n = 2;
  return r;
}

TEST(ImagenRequest, PredictWithTheKeyInTheHeader) {
  Request req = imagen_request();
  req.seed = 7;  // the Gemini API takes no seed for Imagen: left out
  HttpRequest http = imagen().build(req, kKey);
  EXPECT_EQ(http.method, "POST");
  EXPECT_EQ(http.url, "https://generativelanguage.googleapis.com/v1beta/models/imagen-4.0-generate-001:predict");
  expect_key_in_header_only(http, "x-goog-api-key", kKey);
  EXPECT_EQ(http.content_type, "application/json");
  EXPECT_TRUE(http.form.empty());

  json::Doc doc = json::try_parse(http.body);
  JsonObject *root = doc.object();
  ASSERT_TRUE(root);
  EXPECT_EQ(members(root), (std::set<std::string>{"instances", "parameters"}));
  JsonArray *instances = json::array(root, "instances");
  ASSERT_EQ(json_array_get_length(instances), 1u);
  EXPECT_EQ(members(json::element_object(instances, 0)), std::set<std::string>{"prompt"});
  EXPECT_EQ(json::string(json::element_object(instances, 0), "prompt"), "a watercolor lighthouse at dusk");
  JsonObject *params = json::object(root, "parameters");
  EXPECT_EQ(members(params), (std::set<std::string>{"sampleCount", "aspectRatio", "includeRaiReason"}));
  EXPECT_EQ(json::integer(params, "sampleCount"), 2);
  EXPECT_EQ(json::string(params, "aspectRatio"), "16:9");
  EXPECT_TRUE(json::boolean(params, "includeRaiReason"));
  EXPECT_FALSE(contains(http.body, "seed"));

  // The stored request has the same shape (its extra parameters aside).
  json::Doc stored = json::try_parse(fixture("imagen/request_generate.json"));
  EXPECT_EQ(members(stored.object()), members(root));
  EXPECT_EQ(members(json::object(stored.object(), "parameters")), members(params));
}

TEST(ImagenRequest, EndpointModelPrefixAndCounts) {
  Request req = imagen_request();
  req.model = "models/imagen-3.0-generate-002";
  req.base_url = "http://127.0.0.1:8080/legacy";
  req.aspect.clear();
  HttpRequest http = imagen().build(req, kKey);
  EXPECT_EQ(http.url, "http://127.0.0.1:8080/legacy/v1beta/models/imagen-3.0-generate-002:predict");
  json::Doc doc = json::try_parse(http.body);
  EXPECT_FALSE(json_object_has_member(json::object(doc.object(), "parameters"), "aspectRatio"));
  req.model = "odd/model?x";
  EXPECT_TRUE(contains(imagen().build(req, kKey).url, "/models/odd%2Fmodel%3Fx:predict"));

  for (int n : {1, 4}) {
    req.n = n;
    EXPECT_EQ(json::integer(json::object(json::try_parse(imagen().build(req, kKey).body).object(), "parameters"),
                            "sampleCount"),
              n);
  }
  for (int n : {0, 5}) {
    req.n = n;
    Failure f = build_failure(imagen(), req);
    EXPECT_TRUE(f.thrown) << n;
    EXPECT_EQ(f.code, ErrorCode::InvalidInput) << n;
  }
}

TEST(ImagenRequest, PicturesAreRefusedInPlainWords) {
  Request req = imagen_request();
  req.images = {png_of(16, 16)};
  Failure f = build_failure(imagen(), req);
  ASSERT_TRUE(f.thrown);
  EXPECT_EQ(f.code, ErrorCode::InvalidInput);
  EXPECT_TRUE(contains(f.message, "only creates new pictures")) << f.message;
  EXPECT_TRUE(contains(f.message, "Gemini")) << "suggests what edits: " << f.message;
  req.images.clear();
  req.mask = Mask(16, 16, 255);
  EXPECT_TRUE(build_failure(imagen(), req).thrown) << "a mask alone is an edit too";
}

// An edit is refused while it is prepared, before the key is looked for: no request.
TEST(ImagenJob, EditIsRefusedBeforeAnythingIsSent) {
  g_unsetenv("GEMINI_API_KEY");
  g_unsetenv("GOOGLE_API_KEY");
  JobSettings s;
  s.provider = "imagen";
  s.prompt = "make it red";
  s.endpoint = "http://127.0.0.1:9";  // nothing listens there: any request would fail differently
  for (const char *model : {"imagen-4.0-generate-001", "imagen-3.0-generate-002", "imagen-7-unknown"}) {
    s.model = model;
    try {
      prepare(s, Task::Edit);
      ADD_FAILURE() << "accepted an edit with " << model;
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << "not missing-key: " << e.message();
      EXPECT_TRUE(contains(e.message(), "only creates new pictures")) << e.message();
    }
  }
  // Without a model (Imagen has no default any more: every one was retired): what its models can
  // do still decides, before anything else (no key is looked for).
  s.model.clear();
  {
    try {
      prepare(s, Task::Edit);
      ADD_FAILURE() << "accepted an edit without a model";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << "not missing-key: " << e.message();
      EXPECT_TRUE(contains(e.message(), "only creates new pictures")) << e.message();
      EXPECT_TRUE(contains(e.message(), "cannot change an existing picture")) << e.message();
    }
  }
  // Generating with reference pictures is an edit in disguise: refused before sending too.
  s.model = "imagen-4.0-generate-001";
  s.api_key = kKey;
  try {
    run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {Image(8, 8)});
    ADD_FAILURE() << "accepted reference pictures";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_TRUE(contains(e.message(), "reference")) << e.message();
  }
  // Generating without a model: Imagen has no default to fall back on and asks for a name,
  // before any key is looked for or anything is sent.
  s.model.clear();
  s.api_key.clear();
  try {
    run_generate(prepare(s, Task::Generate), "1:1", 0, 0, {});
    ADD_FAILURE() << "generated without a model";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << "not missing-key: " << e.message();
    EXPECT_TRUE(contains(e.message(), "retired")) << e.message();
    EXPECT_TRUE(contains(e.message(), "Name the model")) << e.message();
  }
  // Models that edit pass.
  s.api_key = kKey;
  for (const char *p : {"gemini", "openai", "openai-chat"}) {
    s.provider = p;
    EXPECT_NO_THROW(prepare(s, Task::Edit)) << p;
  }
  s.provider = "nobody";
  try {
    prepare(s, Task::Edit);
    ADD_FAILURE() << "accepted an unknown provider";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_TRUE(contains(e.message(), "Unknown provider")) << e.message();
  }
}

// ---------------- Imagen answers: every fixture ----------------

TEST(ImagenResponse, EveryFixtureParsesToPicturesOrTheRightError) {
  const std::map<std::string, ErrorCode> errors = {
      {"error_400_api_key_invalid.json", ErrorCode::BadKey},
      {"error_400_invalid_argument_seed.json", ErrorCode::BadRequest},
      {"error_403_permission_denied.json", ErrorCode::PermissionDenied},
      {"error_404_model_retired.json", ErrorCode::ModelNotFound},
      {"error_429_resource_exhausted.json", ErrorCode::RateLimited},
      {"error_500_internal.json", ErrorCode::ServerError},
      {"error_503_unavailable.json", ErrorCode::ServerError},
      {"response_all_filtered_empty.json", ErrorCode::Refused},
      {"response_all_filtered_rai.json", ErrorCode::Refused},
      {"response_empty_predictions.json", ErrorCode::Refused},
  };
  const std::map<std::string, size_t> pictures = {{"response_success_two.json", 2},
                                                  {"response_success_with_safety_attributes.json", 1},
                                                  {"response_one_filtered.json", 1}};
  size_t checked = 0;
  for (const std::string &name : fixture_names("imagen")) {
    if (name.rfind("request_", 0) == 0) continue;
    SCOPED_TRACE(name);
    const std::string body = fixture("imagen/" + name);
    const int status = status_of(name);
    if (auto it = pictures.find(name); it != pictures.end()) {
      Result r = imagen().parse(HttpResponse{status, {}, body});
      ASSERT_EQ(r.images.size(), it->second);
      for (const EncodedImage &img : r.images) {
        EXPECT_EQ(img.mime, "image/png");
        EXPECT_EQ(decode_image(img.bytes).width, 1);
      }
      ++checked;
      continue;
    }
    auto it = errors.find(name);
    ASSERT_NE(it, errors.end()) << "a new fixture needs an expectation here";
    Failure f = parse_failure(imagen(), status, body);
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, it->second) << error_code_name(f.code) << ": " << f.message;
    EXPECT_TRUE(contains(f.message, "Imagen")) << f.message;
    EXPECT_FALSE(contains(f.message, "{")) << f.message;
    EXPECT_EQ(f.http_status, status);
    if (status != 200) {
      EXPECT_EQ(f.detail.rfind("HTTP " + std::to_string(status), 0), 0u) << f.detail;
    }
    ++checked;
  }
  EXPECT_EQ(checked, errors.size() + pictures.size()) << "a fixture listed here is missing";
}

TEST(ImagenResponse, MessagesSayWhatHappened) {
  auto failure = [](const std::string &name) {
    return parse_failure(imagen(), status_of(name), fixture("imagen/" + name));
  };
  Failure f = failure("error_404_model_retired.json");
  EXPECT_EQ(f.code, ErrorCode::ModelNotFound);
  EXPECT_TRUE(contains(f.message, "no longer offers this Imagen model")) << f.message;
  EXPECT_TRUE(contains(f.message, "retired")) << f.message;
  f = failure("error_400_api_key_invalid.json");
  EXPECT_TRUE(contains(f.message, "GEMINI_API_KEY")) << f.message;
  f = failure("response_all_filtered_rai.json");
  EXPECT_TRUE(contains(f.message, "safety filters")) << f.message;
  EXPECT_TRUE(contains(f.message, "removed by a safety filter")) << "the service's reason: " << f.message;
  f = failure("response_all_filtered_empty.json");
  EXPECT_TRUE(contains(f.message, "without a picture")) << f.message;
  f = failure("error_503_unavailable.json");
  EXPECT_TRUE(contains(f.message, "overloaded")) << f.message;

  // One picture of two filtered: the other comes back, and the user is told.
  Result r = imagen().parse(HttpResponse{200, {}, fixture("imagen/response_one_filtered.json")});
  EXPECT_TRUE(contains(r.text, "removed 1 picture")) << r.text;
  EXPECT_EQ(r.finish_reason, "filtered");
  r = imagen().parse(HttpResponse{200, {}, fixture("imagen/response_success_two.json")});
  EXPECT_TRUE(r.text.empty());
  EXPECT_EQ(r.usage.total_tokens, -1) << "Imagen reports no usage";
}

TEST(ImagenResponse, MalformedAnswersAndErrorsInsideA200) {
  for (const char *body : {R"({"predictions":[{"bytesBase64Encoded":"@@@@"}]})", R"({"predictions":[{"mimeT)",
                           "<html>gateway</html>", "[]", R"({"predictions":{"bytesBase64Encoded":"AAAA"}})"}) {
    Failure f = parse_failure(imagen(), 200, body);
    ASSERT_TRUE(f.thrown) << body;
    EXPECT_TRUE(f.code == ErrorCode::BadResponse || f.code == ErrorCode::Refused) << body << ": " << f.message;
  }
  EXPECT_EQ(parse_failure(imagen(), 200, R"({"predictions":[{"bytesBase64Encoded":"@@@@"}]})").code,
            ErrorCode::BadResponse);
  EXPECT_EQ(parse_failure(imagen(), 200, fixture("imagen/error_429_resource_exhausted.json")).code,
            ErrorCode::RateLimited);
  EXPECT_EQ(parse_failure(imagen(), 502, "<html>Bad gateway</html>").code, ErrorCode::ServerError);
  EXPECT_EQ(parse_failure(imagen(), 401, "").code, ErrorCode::BadKey);
}

TEST(ImagenRetry, RetryInfoAndDailyQuotas) {
  RetryAdvice a = imagen().retry_advice(HttpResponse{429, {}, fixture("imagen/error_429_resource_exhausted.json")});
  EXPECT_TRUE(a.retry);
  EXPECT_DOUBLE_EQ(a.delay_s, 20.0);
  const std::string daily = R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"ImagenRequestsPerDayPerProject"}]}]}})";
  EXPECT_FALSE(imagen().retry_advice(HttpResponse{429, {}, daily}).retry);
  EXPECT_EQ(parse_failure(imagen(), 429, daily).code, ErrorCode::QuotaExhausted);
  EXPECT_FALSE(imagen().retry_advice(HttpResponse{404, {}, fixture("imagen/error_404_model_retired.json")}).retry);
}

// ---------------- chat relay requests ----------------

Request chat_request() {
  Request r;
  r.model = "google/gemini-3.1-flash-image";
  r.base_url = "https://openrouter.ai/api/v1";
  r.prompt = "make it a watercolor";
  r.aspect = "4:3";
  return r;
}

JsonArray *last_content(const json::Doc &doc) {
  JsonArray *messages = json::array(doc.object(), "messages");
  return messages ? json::array(json::element_object(messages, json_array_get_length(messages) - 1), "content")
                  : nullptr;
}

// "data:image/png;base64,..." -> (mime, bytes); the base64 must be strict.
std::pair<std::string, std::vector<uint8_t>> from_data_url(const std::string &url) {
  const size_t at = url.find(";base64,");
  EXPECT_EQ(url.rfind("data:", 0), 0u) << url.substr(0, 40);
  EXPECT_NE(at, std::string::npos);
  if (at == std::string::npos) return {};
  return {url.substr(5, at - 5), json::base64_decode(url.substr(at + 8), "test")};
}

std::string part_url(JsonArray *parts, guint i) {
  JsonObject *part = json::element_object(parts, i);
  EXPECT_EQ(json::string(part, "type"), "image_url");
  EXPECT_EQ(members(part), (std::set<std::string>{"type", "image_url"}));
  return json::string(json::object(part, "image_url"), "url");
}

TEST(ChatRequest, GenerateHasTheRelaysShape) {
  Request req = chat_request();
  req.seed = 11;
  HttpRequest http = chat().build(req, kKey);
  EXPECT_EQ(http.method, "POST");
  EXPECT_EQ(http.url, "https://openrouter.ai/api/v1/chat/completions");
  expect_key_in_header_only(http, "Authorization", std::string("Bearer ") + kKey);
  EXPECT_EQ(http.content_type, "application/json");

  json::Doc doc = json::try_parse(http.body);
  JsonObject *root = doc.object();
  ASSERT_TRUE(root);
  EXPECT_EQ(members(root), (std::set<std::string>{"model", "messages", "modalities", "image_config", "seed"}));
  EXPECT_EQ(json::string(root, "model"), "google/gemini-3.1-flash-image");
  JsonArray *mods = json::array(root, "modalities");
  ASSERT_EQ(json_array_get_length(mods), 2u);
  EXPECT_STREQ(json_array_get_string_element(mods, 0), "image");
  EXPECT_STREQ(json_array_get_string_element(mods, 1), "text");
  EXPECT_EQ(members(json::object(root, "image_config")), std::set<std::string>{"aspect_ratio"});
  EXPECT_EQ(json::string(json::object(root, "image_config"), "aspect_ratio"), "4:3");
  EXPECT_EQ(json::integer(root, "seed"), 11);
  JsonArray *messages = json::array(root, "messages");
  ASSERT_EQ(json_array_get_length(messages), 1u);
  EXPECT_EQ(json::string(json::element_object(messages, 0), "role"), "user");
  JsonArray *parts = last_content(doc);
  ASSERT_EQ(json_array_get_length(parts), 1u);
  EXPECT_EQ(members(json::element_object(parts, 0)), (std::set<std::string>{"type", "text"}));
  EXPECT_EQ(json::string(json::element_object(parts, 0), "text"), "make it a watercolor");

  // The stored request has the same top-level shape (no seed there).
  json::Doc stored = json::try_parse(fixture("openai-chat/request_generate.json"));
  std::set<std::string> ours = members(root);
  ours.erase("seed");
  EXPECT_EQ(members(stored.object()), ours);

  // Without an aspect or a seed, both are left out; the endpoint replaces the base.
  req.aspect.clear();
  req.seed.reset();
  req.base_url = "http://127.0.0.1:8080/v1";
  http = chat().build(req, kKey);
  EXPECT_EQ(http.url, "http://127.0.0.1:8080/v1/chat/completions");
  EXPECT_EQ(members(json::try_parse(http.body).object()), (std::set<std::string>{"model", "messages", "modalities"}));
}

// The named size the catalog chose goes with the ratio: Imagen 4's sampleImageSize, and the
// relay's image_config.image_size for Gemini 3 behind it; left out when none was chosen.
TEST(RelayRequest, NamedSizesTravelWithTheRatio) {
  Request ir = imagen_request();
  ir.image_size = "2K";
  JsonObject *params = nullptr;
  json::Doc idoc = json::try_parse(imagen().build(ir, kKey).body);
  params = json::object(idoc.object(), "parameters");
  EXPECT_EQ(json::string(params, "sampleImageSize"), "2K");
  EXPECT_EQ(json::string(params, "aspectRatio"), "16:9");
  ir.image_size.clear();
  EXPECT_FALSE(contains(imagen().build(ir, kKey).body, "sampleImageSize"));

  Request cr = chat_request();
  cr.model = "google/gemini-3-pro-image";
  cr.image_size = "4K";
  json::Doc cdoc = json::try_parse(chat().build(cr, kKey).body);
  JsonObject *config = json::object(cdoc.object(), "image_config");
  EXPECT_EQ(members(config), (std::set<std::string>{"aspect_ratio", "image_size"}));
  EXPECT_EQ(json::string(config, "image_size"), "4K");
  cr.aspect.clear();
  json::Doc only = json::try_parse(chat().build(cr, kKey).body);
  EXPECT_EQ(members(json::object(only.object(), "image_config")), std::set<std::string>{"image_size"});
}

TEST(ChatRequest, EditSendsDataUrlsTextFirstAndTheMaskSecond) {
  Request req = chat_request();
  EncodedImage edited = png_of(40, 30, 1), reference = png_of(12, 12, 9);
  reference.mime = "image/webp";  // the type given is the type sent
  req.images = {edited, reference};
  Mask m(40, 30, 0);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) m.at(x, y) = uint8_t((x * 13 + y * 3) % 256);
  req.mask = m;
  json::Doc doc = json::try_parse(chat().build(req, kKey).body);
  JsonArray *parts = last_content(doc);
  ASSERT_EQ(json_array_get_length(parts), 4u);  // text, picture, mask, reference
  const std::string text = json::string(json::element_object(parts, 0), "text");
  EXPECT_EQ(text.rfind("make it a watercolor", 0), 0u);
  EXPECT_TRUE(contains(text, "second image is a mask")) << text;

  auto [mime0, bytes0] = from_data_url(part_url(parts, 1));
  EXPECT_EQ(mime0, "image/png");
  EXPECT_EQ(bytes0, edited.bytes) << "the picture travels byte for byte";
  auto [mime1, bytes1] = from_data_url(part_url(parts, 2));
  EXPECT_EQ(mime1, "image/png");
  Image mask = decode_image(bytes1);
  ASSERT_EQ(mask.width, 40);
  ASSERT_EQ(mask.height, 30);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) ASSERT_EQ(mask.at(x, y)[0], m.at(x, y) >= 128 ? 255 : 0) << x << "," << y;
  auto [mime2, bytes2] = from_data_url(part_url(parts, 3));
  EXPECT_EQ(mime2, "image/webp");
  EXPECT_EQ(bytes2, reference.bytes);

  // Without a mask the text is the prompt alone and the pictures follow in order.
  req.mask.reset();
  json::Doc plain = json::try_parse(chat().build(req, kKey).body);
  parts = last_content(plain);
  ASSERT_EQ(json_array_get_length(parts), 3u);
  EXPECT_EQ(json::string(json::element_object(parts, 0), "text"), "make it a watercolor");

  // Same shape as the stored edit request.
  json::Doc stored = json::try_parse(fixture("openai-chat/request_edit_with_mask_and_reference.json"));
  EXPECT_EQ(json_array_get_length(last_content(stored)), 4u);
}

TEST(ChatRequest, OnePicturePerCallAndKnownPictureTypes) {
  Request req = chat_request();
  for (int n : {0, 2}) {
    req.n = n;
    EXPECT_EQ(build_failure(chat(), req).code, ErrorCode::InvalidInput) << n;
  }
  req.n = 1;
  req.images = {png_of(4, 4)};
  req.images[0].mime = "image/gif";
  EXPECT_EQ(build_failure(chat(), req).code, ErrorCode::InvalidInput);
}

TEST(ChatRequest, EarlierTurnsGoBackAsMessages) {
  Request req = chat_request();
  req.images = {png_of(16, 16, 3)};
  EncodedImage sent = png_of(16, 16, 5), answer = png_of(16, 16, 6);
  req.history = {Turn{"user", {TurnPart{"make it red", std::nullopt, {}}, TurnPart{{}, sent, {}}}},
                 Turn{"model", {TurnPart{"Here it is, in red.", std::nullopt, {}}, TurnPart{{}, answer, {}}}},
                 Turn{"user", {TurnPart{"add a hat", std::nullopt, {}}, TurnPart{{}, sent, {}}}},
                 Turn{"model", {TurnPart{{}, answer, {}}}}};
  req.prompt = "now make it yellow";
  json::Doc doc = json::try_parse(chat().build(req, kKey).body);
  JsonArray *messages = json::array(doc.object(), "messages");
  ASSERT_EQ(json_array_get_length(messages), 5u);
  std::vector<std::string> roles;
  for (guint i = 0; i < 5; ++i) roles.push_back(json::string(json::element_object(messages, i), "role"));
  EXPECT_EQ(roles, (std::vector<std::string>{"user", "assistant", "user", "assistant", "user"}));
  // The user's turns as sent: words then pictures.
  JsonArray *first = json::array(json::element_object(messages, 0), "content");
  ASSERT_EQ(json_array_get_length(first), 2u);
  EXPECT_EQ(json::string(json::element_object(first, 0), "text"), "make it red");
  EXPECT_EQ(from_data_url(part_url(first, 1)).second, sent.bytes);
  // The model's turns: its words (pictures are not sent back; the current picture carries them).
  EXPECT_EQ(json::string(json::element_object(messages, 1), "content"), "Here it is, in red.");
  EXPECT_FALSE(json::string(json::element_object(messages, 3), "content").empty()) << "never an empty message";
  JsonArray *now = last_content(doc);
  EXPECT_EQ(json::string(json::element_object(now, 0), "text"), "now make it yellow");
}

// ---------------- chat relay answers: every fixture ----------------

std::vector<uint8_t> fixture_picture() {
  return json::base64_decode(fixture("_assets/output_1x1.b64"), "test");
}

TEST(ChatResponse, EveryFixtureParsesToAPictureOrTheRightError) {
  const std::map<std::string, ErrorCode> errors = {
      {"error_400_bad_request.json", ErrorCode::BadRequest},
      {"error_401_invalid_key.json", ErrorCode::BadKey},
      {"error_402_insufficient_credits.json", ErrorCode::QuotaExhausted},
      {"error_403_forbidden.json", ErrorCode::PermissionDenied},
      {"error_403_moderation.json", ErrorCode::Refused},
      {"error_404_model_not_found.json", ErrorCode::ModelNotFound},
      {"error_408_timeout.json", ErrorCode::Timeout},
      {"error_429_rate_limited.json", ErrorCode::RateLimited},
      {"error_502_model_down.json", ErrorCode::ServerError},
      {"error_503_no_provider.json", ErrorCode::ServerError},
      {"response_content_filter.json", ErrorCode::Refused},
      {"response_error_in_200.json", ErrorCode::ServerError},
      {"response_image_link_RELAY.json", ErrorCode::BadResponse},
      {"response_text_only.json", ErrorCode::TextOnly},
  };
  const std::set<std::string> successes = {"response_success_image.json", "response_success_image_no_text.json",
                                           "response_success_content_parts_RELAY.json"};
  size_t checked = 0;
  for (const std::string &name : fixture_names("openai-chat")) {
    if (name.rfind("request_", 0) == 0) continue;
    SCOPED_TRACE(name);
    const std::string body = fixture("openai-chat/" + name);
    const int status = status_of(name);
    if (successes.count(name)) {
      Result r = chat().parse(HttpResponse{status, {}, body});
      ASSERT_EQ(r.images.size(), 1u);
      EXPECT_EQ(r.images[0].bytes, fixture_picture());
      EXPECT_EQ(r.images[0].mime, "image/png");
      EXPECT_EQ(r.finish_reason, "stop");
      ASSERT_FALSE(r.model_parts.empty());
      EXPECT_TRUE(r.model_parts.back().image.has_value()) << "the answer as a conversation turn";
      ++checked;
      continue;
    }
    auto it = errors.find(name);
    ASSERT_NE(it, errors.end()) << "a new fixture needs an expectation here";
    Failure f = parse_failure(chat(), status, body);
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, it->second) << error_code_name(f.code) << ": " << f.message;
    EXPECT_FALSE(contains(f.message, "{")) << f.message;
    // An error inside a 200 counts as the status its body names.
    EXPECT_EQ(f.http_status, name == "response_error_in_200.json" ? 502 : status);
    if (status != 200 || name == "response_error_in_200.json") {
      EXPECT_EQ(f.detail.rfind("HTTP " + std::to_string(status), 0), 0u) << f.detail;
    }
    ++checked;
  }
  EXPECT_EQ(checked, errors.size() + successes.size()) << "a fixture listed here is missing";
}

TEST(ChatResponse, TextUsageAndMessages) {
  Result r = chat().parse(HttpResponse{200, {}, fixture("openai-chat/response_success_image.json")});
  EXPECT_EQ(r.text, "Here is your lighthouse.");
  EXPECT_EQ(r.usage.input_tokens, 1300);
  EXPECT_EQ(r.usage.output_tokens, 1302);
  EXPECT_EQ(r.usage.total_tokens, 2602);
  r = chat().parse(HttpResponse{200, {}, fixture("openai-chat/response_success_content_parts_RELAY.json")});
  EXPECT_EQ(r.text, "Here is the edited picture.");

  auto failure = [](const std::string &name) {
    return parse_failure(chat(), status_of(name), fixture("openai-chat/" + name));
  };
  Failure f = failure("error_401_invalid_key.json");
  EXPECT_TRUE(contains(f.message, "GENFILL_CHAT_API_KEY")) << f.message;
  f = failure("error_402_insufficient_credits.json");
  EXPECT_TRUE(contains(f.message, "credit")) << f.message;
  f = failure("error_403_moderation.json");
  EXPECT_TRUE(contains(f.message, "moderation")) << f.message;
  f = failure("error_400_bad_request.json");
  EXPECT_TRUE(contains(f.message, "aspect_ratio 7:3")) << "the relay's own words: " << f.message;
  f = failure("error_502_model_down.json");
  EXPECT_TRUE(contains(f.detail, "via Google")) << f.detail;
  f = failure("response_text_only.json");
  EXPECT_TRUE(contains(f.text, "did not draw one")) << "the model's words are handed back";
  f = failure("response_content_filter.json");
  EXPECT_TRUE(contains(f.message, "IMAGE_SAFETY")) << f.message;
  f = failure("response_image_link_RELAY.json");
  EXPECT_TRUE(contains(f.message, "link")) << f.message;
}

TEST(ChatResponse, MalformedAnswers) {
  const std::string good = json::base64_encode(png_of(2, 2).bytes);
  for (const std::string &body : {std::string(R"({"choices":[]})"), std::string("{}"), std::string("[]"),
                                 std::string("<html>gateway</html>"), std::string(R"({"choices":[{"message":{"ima)"),
                                 std::string(R"({"choices":[{"message":{"images":[{"image_url":{"url":"data:image/png;base64,@@@@"}}]}}]})"),
                                 std::string(R"({"choices":[{"message":{"images":[{"image_url":{"url":"data:image/png,)") +
                                     good + R"("}}]}}]})",
                                 std::string(R"({"choices":[{"message":{"images":[{"image_url":{"url":12}}]}}]})")}) {
    Failure f = parse_failure(chat(), 200, body);
    ASSERT_TRUE(f.thrown) << body;
    EXPECT_EQ(f.code, ErrorCode::BadResponse) << body << ": " << f.message;
  }
  // Several pictures: the last one is the answer (drafts come first).
  const std::string other = json::base64_encode(png_of(3, 3).bytes);
  Result r = chat().parse(HttpResponse{
      200, {}, R"({"choices":[{"message":{"images":[{"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
                   good + R"("}},{"type":"image_url","image_url":{"url":"data:image/png;base64,)" + other +
                   R"("}}]}}]})"});
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(decode_image(r.images[0].bytes).width, 3);
  // Errors without a JSON body or with a string code.
  EXPECT_EQ(parse_failure(chat(), 502, "<html>Bad gateway</html>").code, ErrorCode::ServerError);
  EXPECT_EQ(parse_failure(chat(), 401, "").code, ErrorCode::BadKey);
  EXPECT_EQ(parse_failure(chat(), 200, R"({"error":{"code":"invalid_api_key","message":"x"}})").code,
            ErrorCode::BadKey);
  EXPECT_EQ(parse_failure(chat(), 200, R"({"error":{"code":429,"message":"slow down"}})").code,
            ErrorCode::RateLimited);
}

TEST(ChatRetry, StatusesAndHints) {
  auto advice = [](int status, const std::string &fixture_name,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    return chat().retry_advice(HttpResponse{status, std::move(headers), fixture("openai-chat/" + fixture_name)});
  };
  EXPECT_FALSE(advice(402, "error_402_insufficient_credits.json").retry) << "credits do not come back by waiting";
  EXPECT_FALSE(advice(403, "error_403_moderation.json").retry);
  EXPECT_TRUE(advice(408, "error_408_timeout.json").retry);
  EXPECT_TRUE(advice(502, "error_502_model_down.json").retry);
  RetryAdvice a = advice(429, "error_429_rate_limited.json", {{"retry-after", "4"}});
  EXPECT_TRUE(a.retry);
  EXPECT_DOUBLE_EQ(a.delay_s, 4.0);
}

// ---------------- model lists ----------------

Failure list_failure(const Provider &p, int status, const std::string &body) {
  Failure f;
  try {
    p.parse_model_list(HttpResponse{status, {}, body});
  } catch (const Error &e) {
    f = {true, e.code(), e.message(), e.detail(), e.text(), e.http_status()};
  }
  return f;
}

// id, image, shutdown of each entry.
std::vector<std::tuple<std::string, bool, std::string>> listed(const ModelPage &page) {
  std::vector<std::tuple<std::string, bool, std::string>> out;
  for (const ServedModel &m : page.models) out.emplace_back(m.id, m.image, m.shutdown);
  return out;
}

TEST(RelayModelList, ImagenReadsGooglesListLikeGemini) {
  std::optional<HttpRequest> first = imagen().build_model_list("https://generativelanguage.googleapis.com", kKey, "");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->method, "GET");
  EXPECT_EQ(first->url, "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000");
  expect_key_in_header_only(*first, "x-goog-api-key", kKey);
  std::optional<HttpRequest> next = imagen().build_model_list("http://127.0.0.1:8080/legacy", kKey, "p/2 =");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->url, "http://127.0.0.1:8080/legacy/v1beta/models?pageSize=1000&pageToken=p%2F2%20%3D");
  expect_key_in_header_only(*next, "x-goog-api-key", kKey);
  // The same request as Gemini's: one list for both.
  std::optional<HttpRequest> gemini_list = find_provider("gemini")->build_model_list("http://h", kKey, "t");
  ASSERT_TRUE(gemini_list);
  EXPECT_EQ(imagen().build_model_list("http://h", kKey, "t")->url, gemini_list->url);

  // Imagen's models are the "imagen…" ids served by :predict; everything else in the list is not.
  const std::string body = R"({"models":[
    {"name":"models/gemini-3.1-flash-image","supportedGenerationMethods":["generateContent","countTokens"]},
    {"name":"models/imagen-4.0-generate-001","displayName":"Imagen 4","supportedGenerationMethods":["predict"]},
    {"name":"models/imagen-4.0-fast-generate-001","supportedGenerationMethods":["predict","countTokens"]},
    {"name":"models/imagen-3.0-capability-001","supportedGenerationMethods":["generateContent"]},
    {"name":"models/veo-3.1-generate-preview","supportedGenerationMethods":["predictLongRunning"]},
    {"name":"models/gemini-embedding-001","supportedGenerationMethods":["predict","embedContent"]}],
    "nextPageToken":"fake-page-4"})";
  ModelPage page = imagen().parse_model_list(HttpResponse{200, {}, body});
  using L = std::tuple<std::string, bool, std::string>;
  EXPECT_EQ(listed(page), (std::vector<L>{{"gemini-3.1-flash-image", false, ""},
                                          {"imagen-4.0-generate-001", true, ""},
                                          {"imagen-4.0-fast-generate-001", true, ""},
                                          {"imagen-3.0-capability-001", false, ""},
                                          {"veo-3.1-generate-preview", false, ""},
                                          {"gemini-embedding-001", false, ""}}));
  EXPECT_EQ(page.models[1].display_name, "Imagen 4");
  EXPECT_EQ(page.next_page, "fake-page-4");
  // Gemini reads the same page the other way round.
  ModelPage as_gemini = find_provider("gemini")->parse_model_list(HttpResponse{200, {}, body});
  ASSERT_EQ(as_gemini.models.size(), page.models.size());
  EXPECT_TRUE(as_gemini.models[0].image);
  EXPECT_FALSE(as_gemini.models[1].image);
  EXPECT_TRUE(imagen().parse_model_list(HttpResponse{200, {}, R"({"models":[]})"}).models.empty());
}

TEST(RelayModelList, ChatRelayAsksForImageModelsAndReadsTheirModalities) {
  std::optional<HttpRequest> r = chat().build_model_list("https://openrouter.ai/api/v1", kKey, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->url, "https://openrouter.ai/api/v1/models?output_modalities=image");
  expect_key_in_header_only(*r, "Authorization", std::string("Bearer ") + kKey);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(chat().build_model_list("http://127.0.0.1:8080/api/v1", kKey, "")->url,
            "http://127.0.0.1:8080/api/v1/models?output_modalities=image");

  const std::string body = R"({"data":[
    {"id":"google/gemini-3.1-flash-image","name":"Google: Nano Banana 2","architecture":{"modality":"text+image->text+image","input_modalities":["image","text"],"output_modalities":["image","text"]}},
    {"id":"google/gemini-2.5-flash-image","name":"Google: Nano Banana","architecture":{"output_modalities":["image","text"]},"expiration_date":"2026-10-02"},
    {"id":"black-forest-labs/flux-2","architecture":{"input_modalities":["text"],"output_modalities":["image"]}},
    {"id":"acme/image-captioner","architecture":{"input_modalities":["image"],"output_modalities":["text"]}},
    {"id":"openai/gpt-5","architecture":{"output_modalities":["text"]},"expiration_date":null},
    {"id":"other/paint-image-model"},
    {"id":"other/words"},
    {"name":"no id"}]})";
  ModelPage page = chat().parse_model_list(HttpResponse{200, {}, body});
  using L = std::tuple<std::string, bool, std::string>;
  EXPECT_EQ(listed(page), (std::vector<L>{
                              {"google/gemini-3.1-flash-image", true, ""},
                              {"google/gemini-2.5-flash-image", true, "2026-10-02"},
                              {"black-forest-labs/flux-2", true, ""},  // the modalities say so, not the id
                              {"acme/image-captioner", false, ""},     // "image" in the id, text out
                              {"openai/gpt-5", false, ""},
                              {"other/paint-image-model", true, ""},   // no modalities: judged by the id
                              {"other/words", false, ""},
                          }));
  EXPECT_EQ(page.models[0].display_name, "Google: Nano Banana 2");
  EXPECT_EQ(page.next_page, "");
}

TEST(RelayModelList, ErrorsAreTheTypedErrorsOfParse) {
  struct Case {
    const Provider *p;
    int status;
    std::string body;
    ErrorCode code;
  } cases[] = {
      {&imagen(), 400, fixture("imagen/error_400_api_key_invalid.json"), ErrorCode::BadKey},
      {&imagen(), 403, fixture("imagen/error_403_permission_denied.json"), ErrorCode::PermissionDenied},
      {&imagen(), 429, fixture("imagen/error_429_resource_exhausted.json"), ErrorCode::RateLimited},
      {&imagen(), 503, fixture("imagen/error_503_unavailable.json"), ErrorCode::ServerError},
      {&imagen(), 401, "", ErrorCode::BadKey},
      {&chat(), 401, fixture("openai-chat/error_401_invalid_key.json"), ErrorCode::BadKey},
      {&chat(), 402, fixture("openai-chat/error_402_insufficient_credits.json"), ErrorCode::QuotaExhausted},
      {&chat(), 429, fixture("openai-chat/error_429_rate_limited.json"), ErrorCode::RateLimited},
      {&chat(), 502, fixture("openai-chat/error_502_model_down.json"), ErrorCode::ServerError},
      {&chat(), 200, fixture("openai-chat/response_error_in_200.json"), ErrorCode::ServerError},
      {&chat(), 401, "", ErrorCode::BadKey},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.p->name()) + " " + std::to_string(c.status) + " " + c.body.substr(0, 60));
    Failure list = list_failure(*c.p, c.status, c.body);
    ASSERT_TRUE(list.thrown);
    EXPECT_EQ(list.code, c.code) << error_code_name(list.code) << ": " << list.message;
    Failure edit = parse_failure(*c.p, c.status, c.body);
    EXPECT_EQ(list.code, edit.code);
    EXPECT_EQ(list.message, edit.message);
    EXPECT_EQ(list.detail, edit.detail);
    EXPECT_EQ(list.http_status, edit.http_status);
  }
  for (const Provider *p : {&imagen(), &chat()})
    for (const char *body : {"<html>portal</html>", "", "[]"}) {
      Failure f = list_failure(*p, 200, body);
      ASSERT_TRUE(f.thrown) << body;
      EXPECT_EQ(f.code, ErrorCode::BadResponse) << p->name() << " " << body;
    }
}

}  // namespace
