// Conversations: what the model answered goes back unchanged in the next request (Gemini,
// thought signatures included), OpenAI folds earlier instructions into the prompt, and the
// cache folder keeps turns across runs.
#include <string>
#include <vector>

#include <glib.h>
#include <glib/gstdio.h>
#include <utime.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include "core/conversation/conversation.hpp"
#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "tests/support/support.hpp"

using namespace genfill;
using namespace genfill::test;

namespace {

const char *kKey = "test-key-123";

// g_get_user_cache_dir() reads the environment once: point it at a fresh folder first.
const std::string &cache_root() {
  static const std::string root = [] {
    gchar *dir = g_dir_make_tmp("genfill-conv-XXXXXX", nullptr);
    std::string d = dir;
    g_free(dir);
    g_setenv("XDG_CACHE_HOME", d.c_str(), TRUE);
    return d;
  }();
  return root;
}
const std::string &kInit = cache_root();

// The temporary cache goes when the tests end.
class CacheCleanup : public ::testing::Environment {
public:
  void TearDown() override { remove_tree(cache_root()); }
};
::testing::Environment *const kCleanup = ::testing::AddGlobalTestEnvironment(new CacheCleanup);

EncodedImage png_of(int w, int h, uint8_t seed) {
  Image img(w, h);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(i * 7 + seed);
  EncodedImage e;
  e.bytes = encode_png(img);
  e.mime = "image/png";
  e.width = w;
  e.height = h;
  return e;
}

const Provider &gemini() { return *find_provider("gemini"); }
const Provider &openai() { return *find_provider("openai"); }

Request gemini_request(const std::string &prompt) {
  Request r;
  r.model = "gemini-3-pro-image";
  r.base_url = "https://generativelanguage.googleapis.com";
  r.prompt = prompt;
  r.images = {png_of(32, 32, 9)};
  return r;
}

// A Gemini 3 answer: a thought (dropped from history), a caption and the picture, both signed.
std::string signed_answer(const EncodedImage &thought, const EncodedImage &final_image) {
  return R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"planning","thought":true,"thoughtSignature":"dGhvdWdodA=="},
      {"inlineData":{"mimeType":"image/png","data":")" +
         json::base64_encode(thought.bytes) + R"("},"thought":true},
      {"text":"Made it red.","thoughtSignature":"c2lnLXRleHQ="},
      {"inlineData":{"mimeType":"image/png","data":")" +
         json::base64_encode(final_image.bytes) + R"("},"thoughtSignature":"c2lnLWltYWdl"}]},
    "finishReason":"STOP"}]})";
}

TEST(GeminiConversation, TheModelsPartsComeBackWithTheirSignatures) {
  const EncodedImage thought = png_of(8, 8, 1), answer = png_of(16, 16, 2);
  Result r = gemini().parse(HttpResponse{200, {}, signed_answer(thought, answer)});
  ASSERT_EQ(r.model_parts.size(), 2u) << "thought parts are left out of the history";
  EXPECT_EQ(r.model_parts[0].text, "Made it red.");
  EXPECT_EQ(r.model_parts[0].thought_signature, "c2lnLXRleHQ=");
  ASSERT_TRUE(r.model_parts[1].image);
  EXPECT_EQ(r.model_parts[1].image->bytes, answer.bytes);
  EXPECT_EQ(r.model_parts[1].thought_signature, "c2lnLWltYWdl");

  // The next request: the first user turn, the model's turn as received, then the new ask.
  const EncodedImage first_sent = png_of(24, 24, 5);
  Request next = gemini_request("now make it yellow");
  next.history = {Turn{"user", {TurnPart{"make it red", std::nullopt, {}}, TurnPart{{}, first_sent, {}}}},
                  Turn{"model", r.model_parts}};
  HttpRequest http = gemini().build(next, kKey);
  json::Doc doc = json::try_parse(http.body);
  JsonArray *contents = json::array(doc.object(), "contents");
  ASSERT_TRUE(contents);
  ASSERT_EQ(json_array_get_length(contents), 3u);
  std::vector<std::string> roles;
  for (guint i = 0; i < 3; ++i) roles.push_back(json::string(json::element_object(contents, i), "role"));
  EXPECT_EQ(roles, (std::vector<std::string>{"user", "model", "user"}));

  JsonArray *first = json::array(json::element_object(contents, 0), "parts");
  ASSERT_EQ(json_array_get_length(first), 2u);
  EXPECT_EQ(json::string(json::element_object(first, 0), "text"), "make it red");
  EXPECT_EQ(json::base64_decode(json::string(json::object(json::element_object(first, 1), "inlineData"), "data"), "t"),
            first_sent.bytes);

  JsonArray *model = json::array(json::element_object(contents, 1), "parts");
  ASSERT_EQ(json_array_get_length(model), 2u);
  JsonObject *caption = json::element_object(model, 0);
  EXPECT_EQ(json::string(caption, "text"), "Made it red.");
  EXPECT_EQ(json::string(caption, "thoughtSignature"), "c2lnLXRleHQ=") << "unchanged, on the same part";
  JsonObject *picture = json::element_object(model, 1);
  EXPECT_EQ(json::string(picture, "thoughtSignature"), "c2lnLWltYWdl");
  EXPECT_FALSE(json::boolean(picture, "thought"));
  EXPECT_EQ(json::base64_decode(json::string(json::object(picture, "inlineData"), "data"), "t"), answer.bytes)
      << "the model's picture goes back byte for byte";

  JsonArray *now = json::array(json::element_object(contents, 2), "parts");
  EXPECT_EQ(json::string(json::element_object(now, 0), "text"), "now make it yellow");
  EXPECT_EQ(json_array_get_length(now), 2u) << "the prompt and the current region";
}

TEST(GeminiConversation, TheStoredGemini3AnswerKeepsItsSignature) {
  Result r = gemini().parse(
      HttpResponse{200, {}, fixture("gemini/response_success_image_only_gemini3_with_thoughts.json")});
  ASSERT_EQ(r.model_parts.size(), 1u);
  ASSERT_TRUE(r.model_parts[0].image);
  EXPECT_EQ(r.model_parts[0].thought_signature, "c3ludGhldGljLXRob3VnaHQtc2lnbmF0dXJlLW5vdC1yZWFs");
  EXPECT_EQ(r.model_parts[0].image->bytes, r.images[0].bytes);
}

TEST(GeminiConversation, WithoutHistoryThereIsOneUserTurn) {
  HttpRequest http = gemini().build(gemini_request("make it red"), kKey);
  json::Doc doc = json::try_parse(http.body);
  EXPECT_EQ(json_array_get_length(json::array(doc.object(), "contents")), 1u);
  EXPECT_EQ(http.body.find("thoughtSignature"), std::string::npos);
}

TEST(OpenAIConversation, EarlierInstructionsAreFoldedIntoThePrompt) {
  Request req;
  req.model = "gpt-image-2";
  req.base_url = "https://api.openai.com/v1";
  req.prompt = "now make it yellow";
  req.width = req.height = 1024;
  const EncodedImage current = png_of(32, 32, 3);
  req.images = {current};
  req.history = {Turn{"user", {TurnPart{"make it red", std::nullopt, {}}, TurnPart{{}, png_of(8, 8, 1), {}}}},
                 Turn{"model", {TurnPart{{}, png_of(8, 8, 2), {}}}},
                 Turn{"user", {TurnPart{"add a hat", std::nullopt, {}}}},
                 Turn{"model", {TurnPart{{}, png_of(8, 8, 4), {}}}}};
  HttpRequest http = openai().build(req, kKey);
  std::string prompt;
  int images = 0;
  for (const FormPart &p : http.form) {
    if (p.name == "prompt") prompt = p.value;
    if (p.name == "image" || p.name == "image[]") {
      ++images;
      EXPECT_EQ(std::vector<uint8_t>(p.value.begin(), p.value.end()), current.bytes)
          << "the previous result (the current pixels) is the input";
    }
  }
  EXPECT_EQ(images, 1);
  const size_t red = prompt.find("make it red"), hat = prompt.find("add a hat"), now = prompt.find("now make it yellow");
  ASSERT_NE(red, std::string::npos) << prompt;
  ASSERT_NE(hat, std::string::npos) << prompt;
  ASSERT_NE(now, std::string::npos) << prompt;
  EXPECT_LT(red, hat);
  EXPECT_LT(hat, now) << "the new instruction comes last";

  req.history.clear();
  http = openai().build(req, kKey);
  for (const FormPart &p : http.form)
    if (p.name == "prompt") {
      EXPECT_EQ(p.value, "now make it yellow");
    }
}

TEST(ConversationStore, IdsAreHexAndNothingElseIsAccepted) {
  const std::string id = new_conversation_id();
  EXPECT_TRUE(valid_conversation_id(id)) << id;
  EXPECT_NE(id, new_conversation_id());
  EXPECT_FALSE(valid_conversation_id(""));
  EXPECT_FALSE(valid_conversation_id("../../../../etc/passwd"));
  EXPECT_FALSE(valid_conversation_id(std::string(32, 'G')));
  EXPECT_FALSE(valid_conversation_id(std::string(31, 'a') + "/"));
  EXPECT_FALSE(load_conversation("../x").has_value());
  EXPECT_EQ(conversation_dir(id).rfind(cache_root(), 0), 0u) << "under $XDG_CACHE_HOME";
}

TEST(ConversationStore, TurnsSurviveASaveAndALoad) {
  const EncodedImage sent = png_of(20, 10, 1), got = png_of(10, 20, 2);
  EncodedImage jpeg = got;
  jpeg.mime = "image/jpeg";  // the type as the model sent it
  std::string why;
  const std::string id =
      remember_exchange(std::nullopt, "gemini", "gemini-3-pro-image",
                        Turn{"user", {TurnPart{"make it red", std::nullopt, {}}, TurnPart{{}, sent, {}}}},
                        Turn{"model", {TurnPart{"Done.", std::nullopt, "c2ln"}, TurnPart{{}, jpeg, "aW1n"}}}, &why);
  ASSERT_FALSE(id.empty()) << why;
  std::optional<Conversation> c = load_conversation(id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->provider, "gemini");
  EXPECT_EQ(c->model, "gemini-3-pro-image");
  ASSERT_EQ(c->turns.size(), 2u);
  EXPECT_EQ(c->turns[0].role, "user");
  ASSERT_EQ(c->turns[0].parts.size(), 2u);
  EXPECT_EQ(c->turns[0].parts[0].text, "make it red");
  ASSERT_TRUE(c->turns[0].parts[1].image);
  EXPECT_EQ(c->turns[0].parts[1].image->bytes, sent.bytes);
  EXPECT_EQ(c->turns[1].role, "model");
  EXPECT_EQ(c->turns[1].parts[0].thought_signature, "c2ln");
  ASSERT_TRUE(c->turns[1].parts[1].image);
  EXPECT_EQ(c->turns[1].parts[1].image->bytes, got.bytes);
  EXPECT_EQ(c->turns[1].parts[1].image->mime, "image/jpeg");
  EXPECT_EQ(c->turns[1].parts[1].thought_signature, "aW1n");

  // More exchanges than kept: the oldest go, files included, and the id stays.
  for (int i = 0; i < int(kMaxExchanges) + 2; ++i) {
    const std::string again =
        remember_exchange(load_conversation(id), "gemini", "gemini-3-pro-image",
                          Turn{"user", {TurnPart{"step " + std::to_string(i), std::nullopt, {}},
                                        TurnPart{{}, png_of(12, 12, uint8_t(i)), {}}}},
                          Turn{"model", {TurnPart{{}, png_of(12, 12, uint8_t(100 + i)), {}}}});
    EXPECT_EQ(again, id);
  }
  c = load_conversation(id);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->turns.size(), 2 * kMaxExchanges);
  EXPECT_EQ(c->turns.back().parts[0].image->bytes, png_of(12, 12, uint8_t(100 + kMaxExchanges + 1)).bytes);
  EXPECT_EQ(c->turns[0].parts[0].text, "step 2");
  int files = 0;
  GDir *d = g_dir_open(conversation_dir(id).c_str(), 0, nullptr);
  ASSERT_TRUE(d);
  while (g_dir_read_name(d)) ++files;
  g_dir_close(d);
  EXPECT_EQ(files, int(2 * kMaxExchanges) + 1) << "one picture per turn and conversation.json";
}

TEST(ConversationStore, AMissingOrBrokenFolderIsNoConversation) {
  EXPECT_FALSE(load_conversation(new_conversation_id()).has_value());
  const std::string id = new_conversation_id();
  g_mkdir_with_parents(conversation_dir(id).c_str(), 0700);
  gchar *path = g_build_filename(conversation_dir(id).c_str(), "conversation.json", nullptr);
  g_file_set_contents(path, "{\"turns\":[{\"role\":\"user\",\"parts\":[{\"image\":\"../../secret.png\"}]}]}", -1,
                      nullptr);
  g_free(path);
  EXPECT_FALSE(load_conversation(id).has_value()) << "file names stay inside the folder";
}

TEST(ConversationStore, ConversationsUntouchedForLongArePruned) {
  const Turn user{"user", {TurnPart{"x", std::nullopt, {}}}}, model{"model", {TurnPart{{}, png_of(8, 8, 1), {}}}};
  const std::string old_id = remember_exchange(std::nullopt, "gemini", "m", user, model);
  const std::string new_id = remember_exchange(std::nullopt, "gemini", "m", user, model);
  ASSERT_FALSE(old_id.empty());
  gchar *file = g_build_filename(conversation_dir(old_id).c_str(), "conversation.json", nullptr);
  struct utimbuf long_ago {};
  long_ago.actime = long_ago.modtime = time_t(g_get_real_time() / G_USEC_PER_SEC - (kKeepDays + 1) * 24 * 3600);
  ASSERT_EQ(g_utime(file, &long_ago), 0);
  g_free(file);
  prune_conversations();
  EXPECT_FALSE(g_file_test(conversation_dir(old_id).c_str(), G_FILE_TEST_EXISTS)) << "older than kept: removed";
  EXPECT_TRUE(load_conversation(new_id).has_value()) << "recent ones stay";
}

TEST(ConversationRecord, OnlyAValidIdInAnObjectIsTaken) {
  const std::string id = new_conversation_id();
  EXPECT_EQ(conversation_in_record("{\"prompt\":\"sky\",\"conversation\":\"" + id + "\"}"), id);
  EXPECT_EQ(conversation_in_record("{\"conversation\":\"../../etc\"}"), "") << "not an id";
  EXPECT_EQ(conversation_in_record("{\"conversation\":\"" + id.substr(1) + "\"}"), "") << "one digit short";
  EXPECT_EQ(conversation_in_record("{\"conversation\":42}"), "");
  EXPECT_EQ(conversation_in_record("[\"" + id + "\"]"), "");
  EXPECT_EQ(conversation_in_record("{\"conversation\":\"" + id), "") << "cut short";
  EXPECT_EQ(conversation_in_record(""), "");
  std::string nested(200000, '[');
  EXPECT_EQ(conversation_in_record(nested), "") << "deep nesting stops the parser, not the process";
  std::string nested_obj;
  for (int i = 0; i < 5000; ++i) nested_obj += "{\"a\":";
  EXPECT_EQ(conversation_in_record(nested_obj + "{\"conversation\":\"" + id + "\"}"), "");
}

}  // namespace
