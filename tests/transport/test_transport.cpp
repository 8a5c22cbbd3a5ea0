// The HTTP transport against the in-process loopback fake: bodies, concurrency, retries,
// timeouts, cancellation and the size cap.
#include <chrono>
#include <thread>

#include <glib.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/transport.hpp"
#include "fake_server.hpp"

using namespace genfill;
using genfill::test::FakeServer;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class TransportTest : public ::testing::Test {
protected:
  void SetUp() override { server.start(); }

  TransportOptions fast() {
    TransportOptions o;
    o.timeout_s = 5;
    o.connect_timeout_s = 2;
    o.backoff_initial_s = 0.05;
    o.backoff_max_s = 0.2;
    return o;
  }

  // A valid Gemini generate request to the fake.
  HttpRequest gemini_request(const std::string &key = "test-key-1") {
    Request r;
    r.model = "gemini-2.5-flash-image";
    r.base_url = server.base_url();
    r.prompt = "a red square";
    r.aspect = "1:1";
    return find_provider("gemini")->build(r, key);
  }

  HttpRequest openai_edit() {
    Request r;
    r.model = "gpt-image-1";
    r.base_url = server.base_url() + "/v1";
    r.prompt = "make it blue";
    r.width = r.height = 1024;
    Image img(64, 64);
    EncodedImage e{encode_png(img), "image/png", 64, 64};
    r.images = {e};
    r.mask = Mask(64, 64, 255);
    return find_provider("openai")->build(r, "test-key-1");
  }

  std::vector<Outcome> send(Transport &t, std::vector<HttpRequest> reqs, GCancellable *cancel = nullptr,
                            std::vector<TransportEvent> *events = nullptr) {
    const Provider *p = find_provider("gemini");
    return t.send_all(
        reqs, [p](const HttpResponse &r) { return p->retry_advice(r); }, cancel,
        [events](const TransportEvent &e) {
          if (events) events->push_back(e);
        });
  }

  JsonArray *requests(json::Doc &doc) {
    doc = json::try_parse(server.requests_json());
    return json_node_get_array(doc.root());
  }

  FakeServer server;
};

TEST_F(TransportTest, JsonRequestArrivesAndAnswers) {
  Transport t(fast());
  std::vector<TransportEvent> events;
  auto out = send(t, {gemini_request()}, nullptr, &events);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].response) << (out[0].error ? out[0].error->message() : "");
  EXPECT_EQ(out[0].response->status, 200);
  Result r = find_provider("gemini")->parse(*out[0].response);
  Image img = decode_image(r.images[0].bytes);
  EXPECT_EQ(img.width, 1024);
  json::Doc doc;
  JsonObject *rec = json::element_object(requests(doc), 0);
  EXPECT_TRUE(json::boolean(rec, "has_key"));
  EXPECT_EQ(json::string(rec, "prompt"), "a red square");
  EXPECT_EQ(json::string(rec, "aspect"), "1:1");
  bool sending = false, done = false;
  for (auto &e : events) sending |= e.kind == TransportEvent::Sending, done |= e.kind == TransportEvent::Done;
  EXPECT_TRUE(sending);
  EXPECT_TRUE(done);
}

TEST_F(TransportTest, MultipartRequestArrivesIntact) {
  Transport t(fast());
  auto out = send(t, {openai_edit()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200) << out[0].response->body;
  json::Doc doc;
  JsonObject *rec = json::element_object(requests(doc), 0);
  EXPECT_EQ(json::string(rec, "path"), "/v1/images/edits");
  EXPECT_EQ(json::integer(rec, "image_count"), 1);
  JsonArray *mask = json::array(rec, "mask_size");
  ASSERT_TRUE(mask);
  EXPECT_EQ(json_array_get_int_element(mask, 0), 64);
  EXPECT_EQ(json::string(rec, "model"), "gpt-image-1");
  EXPECT_EQ(json::string(rec, "size"), "1024x1024");
}

TEST_F(TransportTest, RequestsRunConcurrently) {
  server.enqueue_json(R"({"delay_ms":400,"count":3})");
  Transport t(fast());
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request(), gemini_request(), gemini_request()});
  double s = since(t0);
  for (auto &o : out) ASSERT_TRUE(o.response && o.response->status == 200);
  EXPECT_LT(s, 1.0) << "three 400 ms answers took " << s << " s";
  EXPECT_GE(s, 0.39);
}

TEST_F(TransportTest, RetriesAServerErrorThenSucceeds) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json"})");
  Transport t(fast());
  std::vector<TransportEvent> events;
  auto out = send(t, {gemini_request()}, nullptr, &events);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(server.request_count(), 2u);
  int retrying = 0;
  for (auto &e : events) retrying += e.kind == TransportEvent::Retrying;
  EXPECT_EQ(retrying, 1);
}

TEST_F(TransportTest, HonoursRetryAfter) {
  server.enqueue_json(R"({"status":429,"fixture":"gemini/error_429_resource_exhausted_minimal.json","headers":{"retry-after":"1"}})");
  Transport t(fast());
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  EXPECT_GE(since(t0), 0.95);
  EXPECT_EQ(out[0].response->status, 200);
}

TEST_F(TransportTest, GivesUpAfterMaxTriesWithTheLastAnswer) {
  server.enqueue_json(R"({"status":500,"fixture":"gemini/error_500_internal.json","count":5})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 500);
  EXPECT_EQ(server.request_count(), 3u);
}

TEST_F(TransportTest, DoesNotRetryAClientError) {
  Transport t(fast());
  auto out = send(t, {gemini_request("bad-key")});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 400);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(TransportTest, ServerDelayBeyondTheLimitIsNotWaitedFor) {
  server.enqueue_json(R"({"status":429,"fixture":"gemini/error_429_resource_exhausted.json"})");  // RetryInfo 37s
  TransportOptions o = fast();
  o.max_server_delay_s = 10;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  EXPECT_LT(since(t0), 2.0);
  EXPECT_EQ(out[0].response->status, 429);
}

TEST_F(TransportTest, ConnectionRefusedIsANetworkErrorAfterRetries) {
  // A port nobody listens on: bind one, note it, close it.
  GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *a = g_inet_socket_address_new(lo, 0);
  g_socket_bind(s, a, TRUE, nullptr);
  GSocketAddress *bound = g_socket_get_local_address(s, nullptr);
  int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_object_unref(bound);
  g_object_unref(a);
  g_object_unref(lo);
  g_socket_close(s, nullptr);
  g_object_unref(s);
  HttpRequest r = gemini_request();
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/v1beta/models/x:generateContent";
  Transport t(fast());
  std::vector<TransportEvent> events;
  auto out = send(t, {r}, nullptr, &events);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Network);
  EXPECT_NE(std::string(out[0].error->message()).find("127.0.0.1"), std::string::npos);
  int sending = 0;
  for (auto &e : events) sending += e.kind == TransportEvent::Sending;
  EXPECT_EQ(sending, 3);
}

TEST_F(TransportTest, ConnectionResetIsRetried) {
  server.enqueue_json(R"({"reset":true})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response) << out[0].error->message();
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(server.request_count(), 2u);
}

TEST_F(TransportTest, SlowAnswerTimesOut) {
  server.enqueue_json(R"({"delay_ms":3000})");
  TransportOptions o = fast();
  o.timeout_s = 0.5;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Timeout);
  EXPECT_LT(since(t0), 1.5);
}

TEST_F(TransportTest, CancelEndsEverythingPromptly) {
  server.enqueue_json(R"({"delay_ms":10000,"count":2})");
  Transport t(fast());
  GCancellable *cancel = g_cancellable_new();
  GSource *timer = g_timeout_source_new(300);
  g_source_set_callback(timer, +[](gpointer c) -> gboolean {
    g_cancellable_cancel(G_CANCELLABLE(c));
    return G_SOURCE_REMOVE;
  }, cancel, nullptr);
  g_source_attach(timer, g_main_context_get_thread_default() ? g_main_context_get_thread_default() : g_main_context_default());
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request(), gemini_request()}, cancel);
  double s = since(t0);
  g_source_unref(timer);
  for (auto &o : out) {
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->code(), ErrorCode::Cancelled);
  }
  EXPECT_LT(s, 0.6);
  g_object_unref(cancel);
}

TEST_F(TransportTest, CancelDuringBackoffIsPrompt) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json","headers":{"retry-after":"30"}})");
  TransportOptions o = fast();
  Transport t(o);
  GCancellable *cancel = g_cancellable_new();
  GSource *timer = g_timeout_source_new(300);
  g_source_set_callback(timer, +[](gpointer c) -> gboolean {
    g_cancellable_cancel(G_CANCELLABLE(c));
    return G_SOURCE_REMOVE;
  }, cancel, nullptr);
  g_source_attach(timer, g_main_context_default());
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()}, cancel);
  g_source_unref(timer);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Cancelled);
  EXPECT_LT(since(t0), 1.0);
  g_object_unref(cancel);
}

TEST_F(TransportTest, HugeDeclaredBodyStopsAtOnce) {
  server.enqueue_json(R"({"huge_bytes":1073741824})");
  TransportOptions o = fast();
  o.max_response_bytes = 1 << 20;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::TooLarge);
  EXPECT_LT(since(t0), 1.0);
}

TEST_F(TransportTest, HugeChunkedBodyStopsAtTheCap) {
  server.enqueue_json(R"({"huge_bytes":1073741824,"chunked":true})");
  TransportOptions o = fast();
  o.max_response_bytes = 4 << 20;
  Transport t(o);
  auto t0 = Clock::now();
  std::vector<TransportEvent> events;
  auto out = send(t, {gemini_request()}, nullptr, &events);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::TooLarge);
  size_t most = 0;
  for (auto &e : events)
    if (e.kind == TransportEvent::Receiving) most = std::max(most, e.bytes);
  EXPECT_LE(most, size_t(4) << 20);
  EXPECT_LT(since(t0), 3.0);
}

TEST_F(TransportTest, TruncatedBodyArrivesAsIs) {
  // A complete reply whose JSON is cut: the transport hands it over, the provider rejects it.
  server.enqueue_json(R"({"truncate_at":60})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->body.size(), 60u);
  EXPECT_THROW(find_provider("gemini")->parse(*out[0].response), Error);
}

// The fake refuses what the real services refuse, so the tests above can be trusted.
TEST_F(TransportTest, FakeIsAsStrictAsTheServices) {
  Transport t(fast());
  HttpRequest no_key = gemini_request();
  no_key.headers.clear();
  HttpRequest key_in_url = gemini_request();
  key_in_url.url += "?key=test-key-1";
  HttpRequest json_edit = openai_edit();
  json_edit.form.clear();
  json_edit.content_type = "application/json";
  json_edit.body = R"({"model":"gpt-image-1","prompt":"x","image":"data:image/png;base64,AAAA"})";
  // A mask of another size than the image.
  Request r;
  r.model = "gpt-image-1";
  r.base_url = server.base_url() + "/v1";
  r.prompt = "x";
  r.images = {EncodedImage{encode_png(Image(64, 64)), "image/png", 64, 64}};
  r.mask = Mask(32, 32, 255);
  HttpRequest bad_mask = find_provider("openai")->build(r, "test-key-1");
  HttpRequest octet = openai_edit();
  octet.form[0].content_type = "application/octet-stream";
  HttpRequest bad_size = openai_edit();
  for (FormPart &p : bad_size.form)
    if (p.name == "size") p.value = "512x512";

  auto out = send(t, {no_key, key_in_url, json_edit, bad_mask, octet, bad_size});
  const int expected[] = {403, 400, 400, 400, 400, 400};
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].response) << i;
    EXPECT_EQ(out[i].response->status, expected[i]) << i << ": " << out[i].response->body;
  }
  EXPECT_NE(out[3].response->body.find("same size"), std::string::npos) << out[3].response->body;
  EXPECT_NE(out[4].response->body.find("unsupported_file_mimetype"), std::string::npos);
}

}  // namespace
