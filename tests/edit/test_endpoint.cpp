// Where a key goes when the user names an endpoint.
#include <gtest/gtest.h>

#include "core/edit/endpoint.hpp"

namespace genfill {
namespace {

TEST(KeyDestination, TheServicesOwnHostIsNotElsewhere) {
  EXPECT_FALSE(key_goes_elsewhere("gemini", ""));
  EXPECT_FALSE(key_goes_elsewhere("gemini", "https://generativelanguage.googleapis.com"));
  EXPECT_FALSE(key_goes_elsewhere("gemini", "https://GenerativeLanguage.googleapis.com:443/"));
  EXPECT_FALSE(key_goes_elsewhere("openai", "https://api.openai.com/v1"));
  EXPECT_FALSE(key_goes_elsewhere("no-such-service", "https://example.com"));
  EXPECT_FALSE(key_goes_elsewhere("gemini", "not an address"));
}

TEST(KeyDestination, AnotherHostIsNamedWithItsPort) {
  auto d = key_goes_elsewhere("gemini", "https://relay.example.com/gemini");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "relay.example.com");
  EXPECT_EQ(d->service, "Google Gemini");
  d = key_goes_elsewhere("openai", "http://127.0.0.1:8080/v1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "127.0.0.1:8080");
  d = key_goes_elsewhere("openai", "https://api.openai.com.evil.example/v1");
  ASSERT_TRUE(d) << "a longer name is another host";
  EXPECT_EQ(d->host, "api.openai.com.evil.example");
  d = key_goes_elsewhere("gemini", "https://generativelanguage.googleapis.com:8443");
  ASSERT_TRUE(d) << "another port is another origin";
  EXPECT_EQ(d->host, "generativelanguage.googleapis.com:8443");
}

}  // namespace
}  // namespace genfill
