// The model catalog as data: the shipped file, the user's file that adds and replaces entries,
// and the errors a broken file gives (file, line, entry, field).
#include <algorithm>
#include <functional>
#include <map>
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
                     // Gemini: served, then retired.
                     "gemini-3.1-flash-image", "gemini-nano-banana-2.1", "gemini-3-pro-image",
                     "gemini-3.1-flash-lite-image", "gemini-3.1-flash-image-preview", "gemini-3-pro-image-preview",
                     "gemini-2.5-flash-image", "gemini-2.0-flash-exp-image-generation",
                     // OpenAI: served, then retired.
                     "gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-flare", "gpt-image-2.5-sunburst",
                     "gpt-image-2.6-flare", "gpt-image-2.6-sunburst", "gpt-image-1", "gpt-image-1-mini",
                     "gpt-image-1.5", "chatgpt-image-latest",
                     // Imagen: all retired.
                     "imagen-4.0-generate-001", "imagen-3.0-generate-002",
                     // The chat relay: served, then retired.
                     "google/gemini-3.1-flash-image", "google/gemini-nano-banana-2.1", "google/gemini-3-pro-image",
                     "google/gemini-3.1-flash-lite-image", "google/gemini-3.1-flash-image-preview",
                     "google/gemini-3-pro-image-preview", "google/gemini-2.5-flash-image"}));
  // The lifecycle as the services announced it (read 2026-12-04).
  std::map<std::string, std::pair<std::string, std::string>> retired;  // id -> (day, replacement)
  for (const ModelInfo &m : models)
    if (!m.retired.empty() || !m.replacement.empty()) retired[m.id] = {m.retired, m.replacement};
  EXPECT_EQ(retired, (std::map<std::string, std::pair<std::string, std::string>>{
                         // Deprecated on 2026-10-06 for Nano Banana 2.1, no shutdown day yet.
                         {"gemini-3.1-flash-image", {"", "gemini-nano-banana-2.1"}},
                         {"google/gemini-3.1-flash-image", {"", "google/gemini-nano-banana-2.1"}},
                         {"gemini-3.1-flash-image-preview", {"2026-06-25", "gemini-3.1-flash-image"}},
                         {"gemini-3-pro-image-preview", {"2026-06-25", "gemini-3-pro-image"}},
                         {"gemini-2.5-flash-image", {"2026-10-02", "gemini-3.1-flash-image"}},
                         {"gemini-2.0-flash-exp-image-generation", {"2026-06-01", "gemini-3.1-flash-image"}},
                         {"gpt-image-1", {"2026-10-23", "gpt-image-2"}},
                         {"gpt-image-1-mini", {"2026-12-01", "gpt-image-2.6-sunburst"}},
                         {"gpt-image-1.5", {"2026-12-01", "gpt-image-2.6-sunburst"}},
                         {"chatgpt-image-latest", {"2026-12-01", "gpt-image-2.6-sunburst"}},
                         {"imagen-4.0-generate-001", {"2026-08-17", "gemini-3.1-flash-image"}},
                         {"imagen-3.0-generate-002", {"2026-06-24", "gemini-3.1-flash-image"}},
                         {"google/gemini-3.1-flash-image-preview", {"2026-06-25", "google/gemini-3.1-flash-image"}},
                         {"google/gemini-3-pro-image-preview", {"2026-06-25", "google/gemini-3-pro-image"}},
                         {"google/gemini-2.5-flash-image", {"2026-10-02", "google/gemini-3.1-flash-image"}}}));
  // Every replacement is a model of the catalog that is itself served on the day it was read.
  for (const ModelInfo &m : models) {
    if (m.replacement.empty()) continue;
    const ModelInfo *instead = find(models, m.replacement);
    ASSERT_TRUE(instead) << m.id << " -> " << m.replacement;
    EXPECT_FALSE(is_retired(*instead, "2026-12-04")) << m.id << " -> " << m.replacement;
  }
  // Each provider's default, on that day: never a retired one, none for Imagen.
  EXPECT_EQ(default_model_id(models, "gemini", "2026-12-04"), "gemini-3.1-flash-image");
  EXPECT_EQ(default_model_id(models, "openai", "2026-12-04"), "gpt-image-2");
  EXPECT_EQ(default_model_id(models, "openai-chat", "2026-12-04"), "google/gemini-3.1-flash-image");
  EXPECT_EQ(default_model_id(models, "imagen", "2026-12-04"), "");
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
      "user.json", file_of({entry("gpt-image-2.5-flare", "openai", "      \"default\": true,\n"), entry("gemini-4-image"),
                            entry("acme-paint", "acme")}));
  std::vector<ModelInfo> base = load_catalog(shipped(), "");
  std::vector<ModelInfo> merged = load_catalog(shipped(), user);
  ASSERT_EQ(merged.size(), base.size() + 2);  // one replaced, two added
  // Replaced in place: same position, the user's values.
  const auto pos = [](const std::vector<ModelInfo> &v, const std::string &id) {
    return std::find_if(v.begin(), v.end(), [&](const ModelInfo &m) { return m.id == id; }) - v.begin();
  };
  EXPECT_EQ(pos(merged, "gpt-image-2.5-flare"), pos(base, "gpt-image-2.5-flare"));
  const ModelInfo *mine = find(merged, "gpt-image-2.5-flare");
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->display_name, "Mine gpt-image-2.5-flare");
  EXPECT_EQ(mine->max_input_images, 5);
  EXPECT_FALSE(mine->free_size) << "the whole entry is the user's";
  // The user's default wins over the shipped one.
  EXPECT_TRUE(mine->is_default);
  EXPECT_FALSE(find(merged, "gpt-image-2")->is_default);
  EXPECT_TRUE(find(base, "gpt-image-2")->is_default);
  EXPECT_FALSE(find(base, "gpt-image-2.5-flare")->is_default);
  EXPECT_EQ(default_model_id(merged, "openai", "2026-12-04"), "gpt-image-2.5-flare");
  EXPECT_EQ(default_model_id(base, "openai", "2026-12-04"), "gpt-image-2");
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
  EXPECT_TRUE(has(error_of([] { parse_catalog("{\"date\": \"5 Dec 2026\",\n \"models\": []}", "m.json"); }),
                  "m.json, line 1: \"date\" must be a day"));
  EXPECT_TRUE(has(error_of([] { parse_catalog("{\"date\": 20261205, \"models\": []}", "m.json"); }), "\"date\""));
  EXPECT_NO_THROW(parse_catalog("{\"date\": \"2026-12-05\", \"models\": []}", "m.json"));
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

// ---- lifecycle: "retired" and "replacement" ---------------------------------------------------

// The lines an entry needs to be retired on `day` in favour of `instead`.
std::string retired_on(const std::string &day, const std::string &instead = "") {
  std::string lines = "      \"retired\": \"" + day + "\",\n";
  if (!instead.empty()) lines += "      \"replacement\": \"" + instead + "\",\n";
  return lines;
}

TEST(CatalogLifecycle, RetiredAndReplacementLoad) {
  std::vector<ModelInfo> models =
      parse_catalog(file_of({entry("old", "gemini", retired_on("2026-06-25", "new")), entry("new"),
                             entry("gone", "gemini", "      \"retired\": \"2026-02-28\",\n")}),
                    "m.json");
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].retired, "2026-06-25");
  EXPECT_EQ(models[0].replacement, "new");
  EXPECT_EQ(models[1].retired, "") << "no shutdown known";
  EXPECT_EQ(models[1].replacement, "") << "none named";
  EXPECT_EQ(models[2].retired, "2026-02-28") << "a retired model needs no replacement";
  EXPECT_EQ(models[2].replacement, "");
  // A replacement without a day: the owner named a successor but no shutdown yet.
  std::vector<ModelInfo> named =
      parse_catalog(file_of({entry("a", "gemini", "      \"replacement\": \"b\",\n")}), "m.json");
  EXPECT_EQ(named[0].retired, "");
  EXPECT_EQ(named[0].replacement, "b");
  EXPECT_FALSE(is_retired(named[0], "2099-12-31"));
}

TEST(CatalogLifecycle, BadDaysAndEmptyReplacementsAreRefusedWhereTheyAre) {
  // The second entry's extra lines start at line 24 of the file (entry "a" is lines 4 to 14,
  // entry "b" starts at 15 and its own nine lines run to 23).
  const std::string want_day = "m.json, line 24: model \"b\", field \"retired\": expected a date";
  for (const char *bad : {"2026-13-01", "soon", "2026-02-30", "2026-6-1", "26-06-01", "2026-06-01T00:00:00Z", ""}) {
    SCOPED_TRACE(bad);
    const std::string message =
        error_of([&] { parse_catalog(file_of({entry("a"), entry("b", "gemini", retired_on(bad))}), "m.json"); });
    EXPECT_EQ(message.rfind(want_day, 0), 0u) << message;
  }
  // Not text at all.
  const std::string number = error_of([] {
    parse_catalog(file_of({entry("a"), entry("b", "gemini", "      \"retired\": 20260601,\n")}), "m.json");
  });
  EXPECT_TRUE(has(number, "m.json, line 24: model \"b\", field \"retired\"")) << number;
  // A real day that only leap years have is a day.
  EXPECT_NO_THROW(parse_catalog(file_of({entry("a", "gemini", retired_on("2028-02-29"))}), "m.json"));

  // An empty replacement, or the model itself, names no other model.
  for (const char *instead : {"", "b"}) {
    SCOPED_TRACE(instead);
    const std::string message = error_of([&] {
      parse_catalog(file_of({entry("a"), entry("b", "gemini", "      \"replacement\": \"" + std::string(instead) + "\",\n")}),
                    "m.json");
    });
    EXPECT_TRUE(has(message, "m.json, line 24: model \"b\", field \"replacement\": expected the id of another model"))
        << message;
  }
  const std::string number_instead = error_of([] {
    parse_catalog(file_of({entry("a"), entry("b", "gemini", "      \"replacement\": 7,\n")}), "m.json");
  });
  EXPECT_TRUE(has(number_instead, "model \"b\", field \"replacement\"")) << number_instead;
}

TEST(CatalogLifecycle, RetiredFromItsDayOn) {
  ModelInfo m;
  EXPECT_FALSE(is_retired(m, "2026-12-04")) << "no day: never retired";
  EXPECT_FALSE(is_retired(m));
  m.retired = "2026-06-25";
  EXPECT_FALSE(is_retired(m, "2026-06-24")) << "announced, not yet shut down";
  EXPECT_TRUE(is_retired(m, "2026-06-25")) << "the day itself";
  EXPECT_TRUE(is_retired(m, "2026-07-01"));
  EXPECT_TRUE(is_retired(m, "2027-01-01"));
  EXPECT_FALSE(is_retired(m, "2025-12-31"));
  // Without a day given, today (UTC) decides: a day long past is retired, one far ahead is not.
  m.retired = "2000-01-01";
  EXPECT_TRUE(is_retired(m));
  m.retired = "2999-01-01";
  EXPECT_FALSE(is_retired(m));
  const std::string today = today_utc();
  EXPECT_EQ(today.size(), 10u) << today;
  EXPECT_EQ(today[4], '-');
  EXPECT_EQ(today[7], '-');
}

TEST(CatalogLifecycle, TheDefaultIsNeverRetired) {
  std::vector<ModelInfo> models = parse_catalog(
      file_of({entry("older", "gemini", retired_on("2026-03-01", "current")),
               entry("marked", "gemini", "      \"default\": true,\n" + retired_on("2026-06-25", "current")),
               entry("current"), entry("later"), entry("gpt-x", "openai"),
               entry("gpt-old", "openai", "      \"default\": true,\n" + retired_on("2026-01-01"))}),
      "m.json");
  // Before its day the entry marked "default" is the default.
  EXPECT_EQ(default_model_id(models, "gemini", "2026-02-01"), "marked");
  EXPECT_EQ(default_model_id(models, "gemini", "2026-06-24"), "marked");
  // From its day on: the first entry that is not retired (never the retired "older" before it).
  EXPECT_EQ(default_model_id(models, "gemini", "2026-06-25"), "current");
  EXPECT_EQ(default_model_id(models, "gemini", "2026-12-04"), "current");
  // The marked default of another provider, retired: its first served entry.
  EXPECT_EQ(default_model_id(models, "openai", "2026-12-04"), "gpt-x");
  EXPECT_EQ(default_model_id(models, "openai", "2025-12-31"), "gpt-old");
  EXPECT_EQ(default_model_id(models, "nobody", "2026-12-04"), "");
}

TEST(CatalogLifecycle, NoDefaultWhenEveryModelIsRetired) {
  std::vector<ModelInfo> models = parse_catalog(
      file_of({entry("imagen-a", "imagen", "      \"default\": true,\n" + retired_on("2026-06-24", "gemini-x")),
               entry("imagen-b", "imagen", retired_on("2026-08-17")), entry("gemini-x")}),
      "m.json");
  EXPECT_EQ(default_model_id(models, "imagen", "2026-12-04"), "");
  EXPECT_EQ(default_model_id(models, "imagen", "2026-07-01"), "imagen-b") << "one is still served";
  EXPECT_EQ(default_model_id(models, "imagen", "2026-01-01"), "imagen-a");
  EXPECT_EQ(default_model_id(models, "gemini", "2026-12-04"), "gemini-x");
}

TEST_F(CatalogFilesTest, TheUsersFileDecidesTheLifecycleOfItsEntries) {
  // The user marks a retired shipped model as the default (still retired), brings another back
  // (its entry without a day replaces the shipped one whole), and adds one retiring later.
  const std::string user = write(
      "user.json",
      file_of({entry("gemini-2.5-flash-image", "gemini", "      \"default\": true,\n" + retired_on("2026-10-02")),
               entry("gpt-image-1", "openai"),
               entry("gpt-image-9", "openai", "      \"default\": true,\n" + retired_on("2027-03-01", "gpt-image-2"))}));
  std::vector<ModelInfo> merged = load_catalog(shipped(), user);
  // A retired default is no default: Gemini's first served entry is.
  EXPECT_TRUE(find(merged, "gemini-2.5-flash-image")->is_default);
  EXPECT_EQ(default_model_id(merged, "gemini", "2026-12-04"), "gemini-3.1-flash-image");
  EXPECT_EQ(default_model_id(merged, "gemini", "2026-10-01"), "gemini-2.5-flash-image");
  // The user's gpt-image-1 is not retired.
  EXPECT_EQ(find(merged, "gpt-image-1")->retired, "");
  EXPECT_EQ(find(merged, "gpt-image-1")->replacement, "");
  EXPECT_EQ(find(load_catalog(shipped(), ""), "gpt-image-1")->retired, "2026-10-23");
  // The user's default until its own day; after it, the first served OpenAI entry.
  EXPECT_EQ(default_model_id(merged, "openai", "2026-12-04"), "gpt-image-9");
  EXPECT_EQ(default_model_id(merged, "openai", "2027-03-01"), "gpt-image-2");
  // A bad day in the user's file names the user's file.
  const std::string bad = write("bad.json", file_of({entry("gpt-image-1", "openai", retired_on("2026-13-01"))}));
  const std::string message = error_of([&] { load_catalog(shipped(), bad); });
  EXPECT_TRUE(has(message, bad + ", line ")) << message;
  EXPECT_TRUE(has(message, "model \"gpt-image-1\", field \"retired\"")) << message;
}

}  // namespace

// Prices as data: read with their date and source; a broken price names the field.
TEST(CatalogPrices, ReadAndChecked) {
  const std::string good =
      "      \"prices\": {\"usd_per_million\": {\"text_in\": 0.5, \"image_in\": 0.5, \"text_out\": 1.5, "
      "\"image_out\": 60}, \"image_in_tokens\": 1120, \"image_out_tokens\": {\"1K\": 1120, \"2K\": 1680}, "
      "\"as_of\": \"2026-12-05\", \"source\": \"the pricing page\"},\n";
  std::vector<ModelInfo> models = parse_catalog(file_of({entry("priced", "gemini", good), entry("free")}), "mine.json");
  ASSERT_EQ(models.size(), 2u);
  ASSERT_TRUE(models[0].prices);
  const Prices &p = *models[0].prices;
  EXPECT_DOUBLE_EQ(p.text_in, 0.5);
  EXPECT_DOUBLE_EQ(p.image_out, 60);
  EXPECT_EQ(p.image_in_tokens, 1120);
  ASSERT_EQ(p.image_out_tokens.size(), 2u);
  EXPECT_EQ(p.image_out_tokens[1], (std::pair<std::string, int>{"2K", 1680}));
  EXPECT_EQ(p.as_of, "2026-12-05");
  EXPECT_EQ(p.source, "the pricing page");
  EXPECT_FALSE(models[1].prices) << "no prices: none made up";

  const std::pair<std::string, std::string> broken[] = {
      {"\"prices\": 3,\n", "usd_per_million"},
      {"\"prices\": {\"usd_per_million\": {\"text_in\": -1, \"image_in\": 0, \"text_out\": 0, \"image_out\": 1}, "
       "\"image_in_tokens\": 1, \"image_out_tokens\": {\"1K\": 1}, \"as_of\": \"2026-12-05\", \"source\": \"s\"},\n",
       "usd_per_million.text_in"},
      {"\"prices\": {\"usd_per_million\": {\"text_in\": 1, \"image_in\": 0, \"text_out\": 0, \"image_out\": 1}, "
       "\"image_in_tokens\": 1, \"image_out_tokens\": {\"1K\": 0}, \"as_of\": \"2026-12-05\", \"source\": \"s\"},\n",
       "image_out_tokens.1K"},
      {"\"prices\": {\"usd_per_million\": {\"text_in\": 1, \"image_in\": 0, \"text_out\": 0, \"image_out\": 1}, "
       "\"image_in_tokens\": 1, \"image_out_tokens\": {\"1K\": 10}, \"as_of\": \"December\", \"source\": \"s\"},\n",
       "as_of"},
      {"\"prices\": {\"usd_per_million\": {\"text_in\": 1, \"image_in\": 0, \"text_out\": 0, \"image_out\": 1}, "
       "\"image_in_tokens\": 1, \"image_out_tokens\": {\"1K\": 10}, \"as_of\": \"2026-12-05\"},\n",
       "source"},
  };
  for (const auto &[field, named] : broken) {
    const std::string message =
        error_of([&] { parse_catalog(file_of({entry("bad", "gemini", "      " + field)}), "mine.json"); });
    EXPECT_TRUE(has(message, "mine.json")) << message;
    EXPECT_TRUE(has(message, "\"prices\"")) << message;
    EXPECT_TRUE(has(message, named)) << named << ": " << message;
  }
}

// Every price the shipped catalog carries says when and where it was read; today's defaults are priced.
TEST(CatalogPrices, TheShippedPricesSayTheirSource) {
  std::vector<ModelInfo> models = load_catalog(shipped(), "");
  int priced = 0;
  for (const ModelInfo &m : models) {
    if (!m.prices) continue;
    ++priced;
    EXPECT_EQ(m.prices->as_of.size(), 10u) << m.id;
    EXPECT_FALSE(m.prices->source.empty()) << m.id;
    EXPECT_GT(m.prices->image_out, 0) << m.id;
  }
  EXPECT_GE(priced, 4);
  for (const char *id : {"gemini-3.1-flash-image", "gpt-image-2"}) {
    const ModelInfo *m = find(models, id);
    ASSERT_TRUE(m) << id;
    EXPECT_TRUE(m->prices) << id << " is a default: its cost must be known";
  }
}
