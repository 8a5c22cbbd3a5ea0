// The model catalog as data: the shipped file, the user's file that adds and replaces entries,
// and the errors a broken file gives (file, line, entry, field).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include "core/catalog/models.hpp"
#include "core/util/error.hpp"
#include "core/util/gobj.hpp"

using namespace genfill;

namespace {

std::string shipped() { return g_getenv("GENFILL_MODELS_FILE"); }

// The error's message, or "" when there was none.
std::string error_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.message();
    return e.message();
  }
  return "";
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

// One valid entry, as a user would write it; `extra` lines go before the closing brace.
std::string entry(const std::string &id, const std::string &provider = "gemini", const std::string &extra = "") {
  return "    {\n"
         "      \"id\": \"" + id + "\",\n"
         "      \"provider\": \"" + provider + "\",\n"
         "      \"name\": \"Mine " + id + "\",\n"
         "      \"mask\": false,\n"
         "      \"edit\": true,\n"
         "      \"max_input_images\": 5,\n"
         "      \"images_per_call\": 1,\n"
         "      \"size_param\": \"aspect\",\n" +
         extra +
         "      \"aspects\": [{\"ratio\": \"1:1\", \"size\": \"1024x1024\"}, {\"ratio\": \"16:9\", \"size\": \"1344x768\"}]\n"
         "    }";
}

std::string file_of(const std::vector<std::string> &entries) {
  std::string text = "{\n  \"version\": 1,\n  \"models\": [\n";
  for (size_t i = 0; i < entries.size(); ++i) text += entries[i] + (i + 1 < entries.size() ? ",\n" : "\n");
  return text + "  ]\n}\n";
}

class CatalogFilesTest : public ::testing::Test {
protected:
  void SetUp() override {
    GErrorOut err;
    GCharPtr dir(g_dir_make_tmp("genfill-catalog-XXXXXX", err.out()));
    ASSERT_TRUE(dir) << err.message();
    tmp_ = dir.get();
  }
  void TearDown() override {
    for (const std::string &f : written_) g_unlink(f.c_str());
    g_rmdir(tmp_.c_str());
  }
  std::string write(const std::string &name, const std::string &text) {
    const std::string path = tmp_ + "/" + name;
    EXPECT_TRUE(g_file_set_contents(path.c_str(), text.data(), gssize(text.size()), nullptr));
    written_.push_back(path);
    return path;
  }
  std::string tmp_;
  std::vector<std::string> written_;
};

const ModelInfo *find(const std::vector<ModelInfo> &models, const std::string &id) {
  auto it = std::find_if(models.begin(), models.end(), [&](const ModelInfo &m) { return m.id == id; });
  return it == models.end() ? nullptr : &*it;
}

TEST(Catalog, TheShippedFileLoads) {
  std::vector<ModelInfo> models = load_catalog(shipped(), "");
  std::vector<std::string> ids;
  for (const ModelInfo &m : models) ids.push_back(m.id);
  EXPECT_EQ(ids, (std::vector<std::string>{
                     "gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview",
                     "gemini-2.0-flash-exp-image-generation", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5",
                     "gpt-image-2", "imagen-4.0-generate-001", "imagen-3.0-generate-002",
                     "google/gemini-2.5-flash-image", "google/gemini-3-pro-image-preview",
                     "google/gemini-3.1-flash-image-preview"}));
  // What the process uses is the same list.
  ASSERT_EQ(known_models().size(), models.size());
  for (size_t i = 0; i < models.size(); ++i) EXPECT_EQ(known_models()[i].id, models[i].id);
}

TEST(Catalog, FilesComeFromTheEnvironmentAndTheUsersConfigFolder) {
  CatalogFiles f = catalog_files();
  EXPECT_EQ(f.shipped, shipped());
  GCharPtr user(g_build_filename(g_get_user_config_dir(), "genfill", "models.json", nullptr));
  EXPECT_EQ(f.user, user.get());
  // Without the variable, a program of the build tree reads the source tree's catalog.
  const std::string saved = shipped();
  g_unsetenv("GENFILL_MODELS_FILE");
  CatalogFiles built = catalog_files();
  g_setenv("GENFILL_MODELS_FILE", saved.c_str(), TRUE);
  EXPECT_TRUE(g_str_has_suffix(built.shipped.c_str(), "/data/models.json")) << built.shipped;
  EXPECT_TRUE(g_file_test(built.shipped.c_str(), G_FILE_TEST_IS_REGULAR)) << built.shipped;
}

TEST_F(CatalogFilesTest, TheUsersFileReplacesEntriesByIdAndAddsNewOnes) {
  const std::string user = write(
      "user.json", file_of({entry("gpt-image-2", "openai", "      \"default\": true,\n"), entry("gemini-4-image"),
                            entry("acme-paint", "acme")}));
  std::vector<ModelInfo> base = load_catalog(shipped(), "");
  std::vector<ModelInfo> merged = load_catalog(shipped(), user);
  ASSERT_EQ(merged.size(), base.size() + 2);  // one replaced, two added
  // Replaced in place: same position, the user's values.
  const auto pos = [](const std::vector<ModelInfo> &v, const std::string &id) {
    return std::find_if(v.begin(), v.end(), [&](const ModelInfo &m) { return m.id == id; }) - v.begin();
  };
  EXPECT_EQ(pos(merged, "gpt-image-2"), pos(base, "gpt-image-2"));
  const ModelInfo *mine = find(merged, "gpt-image-2");
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->display_name, "Mine gpt-image-2");
  EXPECT_EQ(mine->max_input_images, 5);
  EXPECT_FALSE(mine->free_size) << "the whole entry is the user's";
  // The user's default wins over the shipped one.
  EXPECT_TRUE(mine->is_default);
  EXPECT_FALSE(find(merged, "gpt-image-1")->is_default);
  EXPECT_TRUE(find(base, "gpt-image-1")->is_default);
  // Added at the end, in the file's order; a provider this build does not know loads too.
  EXPECT_EQ(merged[merged.size() - 2].id, "gemini-4-image");
  EXPECT_EQ(merged.back().id, "acme-paint");
  EXPECT_EQ(merged.back().provider, "acme");
  EXPECT_EQ(merged.back().aspects.size(), 2u);
  EXPECT_EQ(merged.back().aspects[1].out_w, 1344);
  // Untouched entries stay.
  EXPECT_EQ(find(merged, "gemini-3-pro-image-preview")->image_sizes.size(), 3u);
  // A user's file that does not exist changes nothing.
  EXPECT_EQ(load_catalog(shipped(), tmp_ + "/absent.json").size(), base.size());
}

TEST_F(CatalogFilesTest, ASyntaxErrorNamesTheFileLineAndColumn) {
  std::string text = file_of({entry("a"), entry("b")});
  // Line 17 (the second entry's "provider" line) loses its comma.
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) lines.push_back(text.substr(at, nl - at));
  ASSERT_TRUE(has(lines[16], "\"provider\"")) << lines[16];
  lines[16].pop_back();
  std::string broken;
  for (const std::string &l : lines) broken += l + "\n";
  const std::string path = write("broken.json", broken);
  const std::string message = error_of([&] { load_catalog(path, ""); });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "line 17")) << message;  // the line that lacks its comma
  EXPECT_TRUE(has(message, "column")) << message;
  EXPECT_TRUE(has(message, "not valid JSON")) << message;
  // The same in the user's file: the user's file is named, not the shipped one.
  const std::string user_message = error_of([&] { load_catalog(shipped(), path); });
  EXPECT_TRUE(has(user_message, path)) << user_message;
  // Other syntax errors.
  for (const char *bad : {"", "{", "{\"models\": [}", "[1, 2", "{\"models\": [{\"id\": \"x\",}]}", "\xff\xfe"})
    EXPECT_TRUE(has(error_of([&] { parse_catalog(bad, "bad.json"); }), "bad.json")) << bad;
}

TEST_F(CatalogFilesTest, AMissingFieldNamesTheEntryAndTheField) {
  std::string second = entry("b");
  second.erase(second.find("      \"mask\": false,\n"), std::string("      \"mask\": false,\n").size());
  const std::string message = error_of([&] { parse_catalog(file_of({entry("a"), second}), "m.json"); });
  EXPECT_EQ(message, "m.json, line 16: model \"b\" has no \"mask\" field.");  // where the entry starts
  // Without an id the entry is named by its place.
  std::string anonymous = entry("c");
  anonymous.erase(anonymous.find("      \"id\": \"c\",\n"), std::string("      \"id\": \"c\",\n").size());
  EXPECT_TRUE(has(error_of([&] { parse_catalog(file_of({entry("a"), anonymous}), "m.json"); }),
                  "entry 2 has no \"id\" field"));
  // Every required field.
  for (const char *field : {"provider", "name", "edit", "max_input_images", "images_per_call", "size_param", "aspects"}) {
    std::string e = entry("x");
    const size_t at = e.find(std::string("\"") + field + "\"");
    ASSERT_NE(at, std::string::npos) << field;
    const size_t line_start = e.rfind('\n', at) + 1, line_end = e.find('\n', at) + 1;
    e.erase(line_start, line_end - line_start);
    if (std::string(field) == "aspects") {  // the entry's last member: the one before loses its comma
      const size_t comma = e.rfind(",\n");
      e.erase(comma, 1);
    }
    const std::string m = error_of([&] { parse_catalog(file_of({e}), "m.json"); });
    EXPECT_TRUE(has(m, std::string("has no \"") + field + "\" field")) << m;
    EXPECT_TRUE(has(m, "model \"x\"")) << m;
  }
}

TEST_F(CatalogFilesTest, AWrongValueNamesTheEntryFieldAndLine) {
  struct Case {
    std::string from, to, words;
  } cases[] = {
      {"\"images_per_call\": 1", "\"images_per_call\": \"one\"", "field \"images_per_call\": expected a whole number from 1 to 10"},
      {"\"images_per_call\": 1", "\"images_per_call\": 11", "field \"images_per_call\""},
      {"\"images_per_call\": 1", "\"images_per_call\": 1.5", "field \"images_per_call\""},
      {"\"mask\": false", "\"mask\": \"no\"", "field \"mask\": expected true or false"},
      {"\"name\": \"Mine b\"", "\"name\": 7", "field \"name\": expected text"},
      {"\"size_param\": \"aspect\"", "\"size_param\": \"ratio\"", "field \"size_param\""},
      {"\"ratio\": \"16:9\"", "\"ratio\": \"16/9\"", "\"16/9\" is not a ratio"},
      {"\"size\": \"1344x768\"", "\"size\": \"1344x\"", "\"1344x\" is not a size"},
      {"\"size\": \"1344x768\"", "\"size\": \"-5x768\"", "is not a size"},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"image_sizes\": [{\"name\": \"2K\"}],", "field \"image_sizes\""},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"image_sizes\": [{\"name\": \"2K\", \"scale\": 2}], \"default_image_size\": \"1K\",",
       "field \"default_image_size\": not one of its image_sizes"},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"free_size\": {\"multiple\": 0},", "\"multiple\" must be"},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"free_size\": {},", "free sizes need \"size_param\": \"pixels\""},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"free_size\": {\"min_pixels\": 9, \"max_pixels\": 4},", "\"min_pixels\" is larger"},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"response_modalities\": [\"TEXT\"],", "must include \"IMAGE\""},
      {"\"size_param\": \"aspect\",", "\"size_param\": \"aspect\", \"trasparent\": true,", "has an unknown field \"trasparent\""},
      {"\"max_input_images\": 5", "\"max_input_images\": 0", "field \"max_input_images\""},  // it edits
  };
  for (const Case &c : cases) {
    std::string second = entry("b");
    const size_t at = second.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    second.replace(at, c.from.size(), c.to);
    const std::string text = file_of({entry("a"), second});
    const std::string message = error_of([&] { parse_catalog(text, "m.json"); });
    EXPECT_TRUE(has(message, c.words)) << c.to << " -> " << message;
    EXPECT_TRUE(has(message, "m.json, line ")) << message;
    EXPECT_TRUE(has(message, "model \"b\"")) << message;
    // The line given is within the second entry (lines 15 to 25 of the file).
    const int line = std::atoi(message.c_str() + message.find("line ") + 5);
    EXPECT_GE(line, 15) << message;
    EXPECT_LE(line, 25) << message;
  }
  // The line of the field itself.
  std::string third = entry("c");
  third.replace(third.find("\"images_per_call\": 1"), 20, "\"images_per_call\": 0");
  EXPECT_TRUE(has(error_of([&] { parse_catalog(file_of({entry("a"), third}), "m.json"); }), "m.json, line 22:"));
  // Comments are members starting with "_".
  EXPECT_NO_THROW(parse_catalog(file_of({entry("a", "gemini", "      \"_note\": \"sizes measured 2026-05\",\n")}), "m.json"));
}

TEST_F(CatalogFilesTest, TheFileAsAWhole) {
  EXPECT_TRUE(has(error_of([] { parse_catalog("[]", "m.json"); }), "must be a JSON object with a \"models\" list"));
  EXPECT_TRUE(has(error_of([] { parse_catalog("{\"models\": {}}", "m.json"); }), "\"models\" list"));
  EXPECT_TRUE(has(error_of([] { parse_catalog("{\"version\": 2, \"models\": []}", "m.json"); }), "version 1"));
  EXPECT_TRUE(has(error_of([] { parse_catalog("{\"models\": [1]}", "m.json"); }), "entry 1 of \"models\" is not an object"));
  EXPECT_TRUE(has(error_of([] { parse_catalog(file_of({entry("a"), entry("a")}), "m.json"); }),
                  "m.json, line 16: model \"a\" is listed twice."));
  EXPECT_TRUE(has(error_of([] {
                    parse_catalog(file_of({entry("a", "gemini", "      \"default\": true,\n"),
                                           entry("b", "gemini", "      \"default\": true,\n")}),
                                  "m.json");
                  }),
                  "second default model for \"gemini\""));
  EXPECT_EQ(parse_catalog("{\"models\": []}", "m.json").size(), 0u);
  // A file that cannot be read.
  const std::string absent = tmp_ + "/absent.json";
  const std::string message = error_of([&] { load_catalog(absent, ""); });
  EXPECT_TRUE(has(message, "Could not read the model list")) << message;
  EXPECT_TRUE(has(message, absent)) << message;
}

TEST(Catalog, DefaultsOfOptionalFields) {
  std::vector<ModelInfo> models = parse_catalog(file_of({entry("a", "gemini",
                                                                "      \"image_sizes\": [{\"name\": \"512\", \"scale\": 0.5}, "
                                                                "{\"name\": \"1K\", \"scale\": 1}],\n")}),
                                                "m.json");
  ASSERT_EQ(models.size(), 1u);
  const ModelInfo &m = models[0];
  EXPECT_FALSE(m.is_default);
  EXPECT_FALSE(m.legacy);
  EXPECT_FALSE(m.thought_images);
  EXPECT_FALSE(m.input_fidelity);
  EXPECT_FALSE(m.transparent);
  EXPECT_FALSE(m.exact_size);
  EXPECT_FALSE(m.free_size);
  EXPECT_TRUE(m.response_modalities.empty());
  EXPECT_EQ(m.default_image_size, "1K");  // the size of scale 1 when none is named
  EXPECT_EQ(m.aspects[1].label(), "16:9");
}

}  // namespace
