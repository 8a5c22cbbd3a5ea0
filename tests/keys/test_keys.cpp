// core/keys without a desktop keyring (tests/keyring runs the real one): the order keys are
// looked up in, what counts as no key, and what the keyring calls say when it is turned off.
#include <gtest/gtest.h>

#include <glib.h>

#include "core/keys/keys.hpp"
#include "core/providers/provider.hpp"
#include "core/util/error.hpp"

namespace genfill {
namespace {

class Keys : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char *v : kVars) g_unsetenv(v);
    g_setenv("GENFILL_NO_KEYRING", "1", TRUE);
  }
  void TearDown() override {
    for (const char *v : kVars) g_unsetenv(v);
  }
  static constexpr const char *kVars[] = {"GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY",
                                          "GENFILL_CHAT_API_KEY", "OPENROUTER_API_KEY"};
  const Provider &gemini = *find_provider("gemini");
  const Provider &openai = *find_provider("openai");
};

TEST_F(Keys, NoneAnywhereIsNoKey) {
  EXPECT_FALSE(find_api_key(gemini));
  EXPECT_FALSE(find_api_key(openai));
}

TEST_F(Keys, TheProvidersFirstVariableWins) {
  g_setenv("GOOGLE_API_KEY", "second-key", TRUE);
  auto k = find_api_key(gemini);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->key, "second-key");
  EXPECT_EQ(k->source, "GOOGLE_API_KEY");
  g_setenv("GEMINI_API_KEY", "first-key", TRUE);
  k = find_api_key(gemini);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->key, "first-key");
  EXPECT_EQ(k->source, "GEMINI_API_KEY");
  EXPECT_EQ(k->source.find("first-key"), std::string::npos) << "the source names the variable, never the key";
}

TEST_F(Keys, AnotherServicesVariableIsNotTaken) {
  g_setenv("OPENAI_API_KEY", "openai-key", TRUE);
  EXPECT_FALSE(find_api_key(gemini)) << "an OpenAI key never goes to Google";
  ASSERT_TRUE(find_api_key(openai));
}

TEST_F(Keys, SpacesAroundAreTrimmedAndBlankIsNone) {
  g_setenv("OPENAI_API_KEY", "  sk-test-1234 \r\n", TRUE);
  auto k = find_api_key(openai);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->key, "sk-test-1234");
  g_setenv("OPENAI_API_KEY", " \t\n", TRUE);
  EXPECT_FALSE(find_api_key(openai)) << "a blank variable is no key";
  g_setenv("GEMINI_API_KEY", "", TRUE);
  g_setenv("GOOGLE_API_KEY", "g-key", TRUE);
  k = find_api_key(gemini);
  ASSERT_TRUE(k) << "an empty first variable falls through to the next";
  EXPECT_EQ(k->source, "GOOGLE_API_KEY");
}

TEST_F(Keys, TheKeyringTurnedOffSaysSo) {
  std::string problem = "stale";
  EXPECT_FALSE(keyring_lookup("gemini", &problem));
  EXPECT_FALSE(problem.empty()) << "why there is no keyring key";
  EXPECT_EQ(problem.find("stale"), std::string::npos);
  try {
    keyring_store("gemini", "secret-value-77");
    FAIL() << "storing with the keyring turned off must fail";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_EQ(std::string(e.what()).find("secret-value-77"), std::string::npos) << "the key is in no message";
    EXPECT_EQ(e.detail().find("secret-value-77"), std::string::npos);
  }
  EXPECT_THROW(keyring_delete("gemini"), Error);
}

TEST_F(Keys, AnEmptyKeyIsNeverStored) {
  g_setenv("GENFILL_NO_KEYRING", "0", TRUE);  // "0" turns nothing off: the empty key is refused first
  try {
    keyring_store("gemini", "  \n");
    FAIL() << "an empty key must be refused";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace genfill
