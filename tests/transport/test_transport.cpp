// The HTTP transport against the in-process loopback fake: bodies, concurrency, retries,
// timeouts, cancellation, the size cap and the events.
//
// Cut answers, as decided here: once a 2xx status line has arrived nothing is asked again (the
// service may have made and billed the picture): a body shorter than its headers declared (the
// connection closed mid-body) or one that stops coming ends in an error saying the answer was
// cut short; an answer that is complete by its own headers but holds cut JSON is handed over as
// it is, and the provider rejects it with Error{BadResponse}. An error answer (503, ...) cut the
// same way made nothing, and is retried like a reset.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include <sys/socket.h>

#include <gio/gio.h>
#include <glib.h>
#include <gtest/gtest.h>

#include "core/image/image.hpp"
#include "core/providers/provider.hpp"
#include "core/transport/transport.hpp"
#include "core/util/gobj.hpp"
#include "fake_server.hpp"

using namespace genfill;
using genfill::test::FakeReply;
using genfill::test::FakeServer;
using genfill::test::RecordedRequest;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A loopback port nobody listens on: bind one, note it, close it.
int closed_port() {
  GPtr<GSocket> s = adopt(g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr));
  GPtr<GInetAddress> lo = adopt(g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4));
  GPtr<GSocketAddress> a = adopt(g_inet_socket_address_new(lo.get(), 0));
  EXPECT_TRUE(g_socket_bind(s.get(), a.get(), TRUE, nullptr));
  GPtr<GSocketAddress> bound = adopt(g_socket_get_local_address(s.get(), nullptr));
  int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound.get()));
  g_socket_close(s.get(), nullptr);
  return port;
}

// Cancels `cancel` after `ms` on the calling thread's default context; notes when.
struct CancelLater {
  CancelLater(GCancellable *c, guint ms) : cancel(c) {
    GSource *src = g_timeout_source_new(ms);
    g_source_set_callback(src, +[](gpointer self) -> gboolean {
      auto *me = static_cast<CancelLater *>(self);
      me->at = Clock::now();
      g_cancellable_cancel(me->cancel);
      me->source = 0;
      return G_SOURCE_REMOVE;
    }, this, nullptr);
    source = g_source_attach(src, thread_context());
    g_source_unref(src);
  }
  ~CancelLater() {
    if (source)
      if (GSource *s = g_main_context_find_source_by_id(thread_context(), source))
        g_source_destroy(s);
  }
  static GMainContext *thread_context() {
    GMainContext *c = g_main_context_get_thread_default();
    return c ? c : g_main_context_default();
  }
  GCancellable *cancel;
  guint source = 0;
  Clock::time_point at{};
};

class TransportTest : public ::testing::Test {
protected:
  void SetUp() override { server.start(); }

  // A cancel is prompt when it ends the call far sooner than the 5 s timeout of fast() would:
  // one second leaves room for a loaded machine and the sanitizers, and still fails a cancel
  // that is only noticed when the timeout fires.
  static constexpr double kPrompt = 1.0;

  static TransportOptions fast() {
    TransportOptions o;
    o.timeout_s = 5;
    o.connect_timeout_s = 2;
    o.backoff_initial_s = 0.05;
    o.backoff_max_s = 0.2;
    return o;
  }

  // A valid Gemini generate request to the fake.
  HttpRequest gemini_request(const std::string &key = "test-key-123") {
    Request r;
    r.model = "gemini-3.1-flash-image";
    r.base_url = server.base_url();
    r.prompt = "a red square";
    r.aspect = "16:9";
    return find_provider("gemini")->build(r, key);
  }

  HttpRequest openai_edit() {
    Request r;
    r.model = "gpt-image-2";
    r.base_url = server.base_url() + "/v1";
    r.prompt = "make it blue";
    r.width = r.height = 1024;
    r.images = {EncodedImage{encode_png(Image(64, 48)), "image/png", 64, 48}};
    r.mask = Mask(64, 48, 255);
    return find_provider("openai")->build(r, "test-key-123");
  }

  static RetryPolicy gemini_policy() {
    const Provider *p = find_provider("gemini");
    return [p](const HttpResponse &r) { return p->retry_advice(r); };
  }

  std::vector<Outcome> send(Transport &t, const std::vector<HttpRequest> &reqs, GCancellable *cancel = nullptr) {
    events.clear();
    return t.send_all(reqs, gemini_policy(), cancel, [this](const TransportEvent &e) { events.push_back(e); });
  }

  std::vector<TransportEvent> of(TransportEvent::Kind kind) const {
    std::vector<TransportEvent> out;
    std::copy_if(events.begin(), events.end(), std::back_inserter(out), [kind](auto &e) { return e.kind == kind; });
    return out;
  }

  FakeServer server;
  std::vector<TransportEvent> events;
};

TEST_F(TransportTest, JsonRequestArrivesIntactAndTheAnswerIsWhole) {
  Transport t(fast());
  HttpRequest req = gemini_request();
  auto out = send(t, {req});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].response) << out[0].error->message();
  EXPECT_FALSE(out[0].error);
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(out[0].response->header("content-type"), "application/json");

  Result r = find_provider("gemini")->parse(*out[0].response);
  ASSERT_EQ(r.images.size(), 1u);
  Image img = decode_image(r.images[0].bytes);
  EXPECT_EQ(img.width, 1376);  // 16:9 for gemini-3.1-flash-image
  EXPECT_EQ(img.height, 768);
  EXPECT_EQ(img.pixels[0], 0xFF);
  EXPECT_EQ(img.pixels[1], 0x00);
  EXPECT_EQ(img.pixels[2], 0xFF);

  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].method, "POST");
  EXPECT_EQ(recs[0].path, "/v1beta/models/gemini-3.1-flash-image:generateContent");
  EXPECT_EQ(recs[0].content_type, "application/json");
  EXPECT_TRUE(recs[0].has_key);
  EXPECT_FALSE(recs[0].key_in_query);
  EXPECT_EQ(recs[0].prompt, "a red square");
  EXPECT_EQ(recs[0].aspect, "16:9");
  EXPECT_EQ(recs[0].body_bytes, req.body.size());
  EXPECT_EQ(recs[0].status, 200);
  EXPECT_EQ(recs[0].user_agent, std::string("genfill/") + GENFILL_VERSION);
}

TEST_F(TransportTest, EventsFollowOneRequestInOrder) {
  Transport t(fast());
  HttpRequest req = gemini_request();
  auto out = send(t, {req});
  ASSERT_TRUE(out[0].response);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front().kind, TransportEvent::Sending);
  EXPECT_EQ(events[1].kind, TransportEvent::Uploaded);
  EXPECT_EQ(events[1].bytes, req.body.size());
  EXPECT_EQ(events.back().kind, TransportEvent::Done);
  EXPECT_EQ(events.back().status, 200);
  auto receiving = of(TransportEvent::Receiving);
  ASSERT_FALSE(receiving.empty());
  for (size_t i = 1; i < receiving.size(); ++i) EXPECT_GT(receiving[i].bytes, receiving[i - 1].bytes);
  EXPECT_EQ(receiving.back().bytes, out[0].response->body.size());
  for (auto &e : events) {
    EXPECT_EQ(e.index, 0);
    EXPECT_EQ(e.attempt, 1);
  }
}

TEST_F(TransportTest, MultipartRequestArrivesIntact) {
  Transport t(fast());
  auto out = send(t, {openai_edit()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200) << out[0].response->body;
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  const RecordedRequest &rec = recs[0];
  EXPECT_EQ(rec.path, "/v1/images/edits");
  EXPECT_EQ(rec.content_type.rfind("multipart/form-data; boundary=", 0), 0u) << rec.content_type;
  EXPECT_TRUE(rec.has_key);
  EXPECT_EQ(rec.model, "gpt-image-2");
  EXPECT_EQ(rec.prompt, "make it blue");
  EXPECT_EQ(rec.size, "1024x1024");
  EXPECT_EQ(rec.image_count, 1);
  ASSERT_EQ(rec.image_sizes.size(), 1u);
  EXPECT_EQ(rec.image_sizes[0], std::make_pair(64, 48));
  ASSERT_TRUE(rec.mask_size);
  EXPECT_EQ(*rec.mask_size, std::make_pair(64, 48));
  auto uploaded = of(TransportEvent::Uploaded);
  ASSERT_EQ(uploaded.size(), 1u);
  EXPECT_EQ(uploaded[0].bytes, rec.body_bytes);
  Result r = find_provider("openai")->parse(*out[0].response);
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(decode_image(r.images[0].bytes).width, 1024);
}

TEST_F(TransportTest, RequestsRunConcurrently) {
  server.enqueue_json(R"({"delay_ms":300,"count":3})");
  Transport t(fast());
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request(), gemini_request(), gemini_request()});
  double s = since(t0);
  ASSERT_EQ(out.size(), 3u);
  for (auto &o : out) {
    ASSERT_TRUE(o.response);
    EXPECT_EQ(o.response->status, 200);
  }
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_LT(s, 0.8) << "three 300 ms answers took " << s << " s";
  EXPECT_GE(s, 0.29);
}

TEST_F(TransportTest, OutcomesKeepTheOrderOfTheRequests) {
  HttpRequest unreachable = gemini_request();
  unreachable.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1beta/models/x:generateContent";
  HttpRequest refused = gemini_request("bad-key-1");
  TransportOptions o = fast();
  o.max_tries = 2;
  Transport t(o);
  auto out = send(t, {unreachable, gemini_request(), refused});
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Network);
  ASSERT_TRUE(out[1].response);
  EXPECT_EQ(out[1].response->status, 200);
  ASSERT_TRUE(out[2].response);
  EXPECT_EQ(out[2].response->status, 400);
  int done[3] = {0, 0, 0};
  for (auto &e : of(TransportEvent::Done)) done[e.index]++;
  EXPECT_EQ(done[0], 1);
  EXPECT_EQ(done[1], 1);
  EXPECT_EQ(done[2], 1);
}

TEST_F(TransportTest, NothingToSendReturnsAtOnce) {
  Transport t(fast());
  EXPECT_TRUE(send(t, {}).empty());
}

TEST_F(TransportTest, RetriesAServerErrorThenSucceeds) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json"})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].status, 503);
  EXPECT_EQ(recs[1].status, 200);
  auto retrying = of(TransportEvent::Retrying);
  ASSERT_EQ(retrying.size(), 1u);
  EXPECT_EQ(retrying[0].status, 503);
  EXPECT_EQ(retrying[0].attempt, 1);
  EXPECT_GE(retrying[0].delay_s, 0.05 * 0.75 - 1e-9);  // backoff_initial_s with -25 %..0 jitter
  EXPECT_LE(retrying[0].delay_s, 0.05 + 1e-9);
  EXPECT_EQ(of(TransportEvent::Sending).size(), 2u);
  EXPECT_EQ(of(TransportEvent::Sending)[1].attempt, 2);
}

TEST_F(TransportTest, HonoursRetryAfter) {
  server.enqueue_json(
      R"({"status":429,"fixture":"gemini/error_429_resource_exhausted_minimal.json","headers":{"retry-after":"1"}})");
  Transport t(fast());
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  EXPECT_GE(since(t0), 1.0);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
  auto retrying = of(TransportEvent::Retrying);
  ASSERT_EQ(retrying.size(), 1u);
  EXPECT_DOUBLE_EQ(retrying[0].delay_s, 1.0);
  EXPECT_EQ(retrying[0].status, 429);
}

TEST_F(TransportTest, GivesUpAfterMaxTriesWithTheLastAnswer) {
  server.enqueue_json(R"({"status":500,"fixture":"gemini/error_500_internal.json","count":5})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_FALSE(out[0].error);
  EXPECT_EQ(out[0].response->status, 500);
  EXPECT_NE(out[0].response->body.find("INTERNAL"), std::string::npos);
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(of(TransportEvent::Retrying).size(), 2u);
}

TEST_F(TransportTest, OneTryMeansNoRetry) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json","count":5})");
  TransportOptions o = fast();
  o.max_tries = 1;
  Transport t(o);
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 503);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(TransportTest, DoesNotRetryAClientError) {
  Transport t(fast());
  auto out = send(t, {gemini_request("bad-key-1")});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 400);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
}

TEST_F(TransportTest, BackoffDoublesAndIsCapped) {
  server.enqueue_json(R"({"status":500,"body":"{}","count":5})");
  TransportOptions o = fast();
  o.max_tries = 4;
  o.backoff_initial_s = 0.04;
  o.backoff_max_s = 0.06;
  Transport t(o);
  auto always = [](const HttpResponse &) { return RetryAdvice{true, -1}; };
  std::vector<double> delays;
  auto out = t.send_all({gemini_request()}, always, nullptr, [&](const TransportEvent &e) {
    if (e.kind == TransportEvent::Retrying) delays.push_back(e.delay_s);
  });
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 500);
  EXPECT_EQ(server.request_count(), 4u);
  ASSERT_EQ(delays.size(), 3u);
  const double expected[] = {0.04, 0.06, 0.06};  // 0.04, 0.08 capped, 0.16 capped
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_LE(delays[i], expected[i] + 1e-9) << i;
    EXPECT_GE(delays[i], expected[i] * 0.75 - 1e-9) << i;
  }
}

TEST_F(TransportTest, ServerDelayBeyondTheLimitIsNotWaitedFor) {
  server.enqueue_json(R"({"status":429,"fixture":"gemini/error_429_resource_exhausted.json"})");  // RetryInfo 37s
  TransportOptions o = fast();
  o.max_server_delay_s = 10;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  EXPECT_LT(since(t0), 2.0);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 429);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(TransportTest, ConnectionRefusedIsANetworkErrorAfterRetries) {
  HttpRequest r = gemini_request();
  const int port = closed_port();
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/v1beta/models/x:generateContent?alt=secret-looking";
  Transport t(fast());
  auto out = send(t, {r});
  ASSERT_TRUE(out[0].error);
  EXPECT_FALSE(out[0].response);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Network);
  const std::string msg = out[0].error->message();
  EXPECT_NE(msg.find("Could not reach 127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret-looking"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("generateContent"), std::string::npos) << msg;
  EXPECT_EQ(of(TransportEvent::Sending).size(), 3u);
  EXPECT_EQ(of(TransportEvent::Retrying).size(), 2u);
  ASSERT_EQ(of(TransportEvent::Done).size(), 1u);
  EXPECT_EQ(of(TransportEvent::Done)[0].status, 0);
}

TEST_F(TransportTest, ConnectionResetIsRetried) {
  server.enqueue_json(R"({"reset":true})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response) << out[0].error->message();
  EXPECT_EQ(out[0].response->status, 200);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].status, 0);  // closed without an answer
}

// 200 and its headers, then the connection closes mid-body: the picture may be billed, so it
// is never asked for again.
TEST_F(TransportTest, ATwoHundredCutMidBodyIsNeverAskedAgain) {
  server.enqueue_json(R"({"reset":true,"truncate_at":100,"count":3})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].error) << out[0].response->body;
  EXPECT_EQ(out[0].error->code(), ErrorCode::BadResponse);
  EXPECT_EQ(out[0].error->http_status(), 200);
  const std::string msg = out[0].error->message();
  EXPECT_NE(msg.find("127.0.0.1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("answered, but its answer was cut short"), std::string::npos) << msg;
  EXPECT_NE(msg.find("billed"), std::string::npos) << msg;
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
  auto receiving = of(TransportEvent::Receiving);
  ASSERT_FALSE(receiving.empty());
  for (auto &e : receiving) EXPECT_LE(e.bytes, 100u);
}

// The same after a delay, and without a byte of the body: the status line alone counts.
TEST_F(TransportTest, ATwoHundredCutBeforeItsBodyIsNeverAskedAgain) {
  server.enqueue_json(R"({"reset":true,"truncate_at":0,"delay_ms":100,"count":3})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].error) << out[0].response->body;
  EXPECT_EQ(out[0].error->code(), ErrorCode::BadResponse);
  EXPECT_EQ(server.request_count(), 1u);
}

// 200 and part of the body, then silence: the try times out, and is not made again.
TEST_F(TransportTest, ATwoHundredThatStopsComingTimesOutWithoutAnotherTry) {
  server.enqueue_json(R"({"stall":true,"truncate_at":50,"count":3})");
  TransportOptions o = fast();
  o.timeout_s = 0.5;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  EXPECT_LT(since(t0), 2.0);
  ASSERT_TRUE(out[0].error) << out[0].response->body;
  EXPECT_EQ(out[0].error->code(), ErrorCode::Timeout);
  const std::string msg = out[0].error->message();
  EXPECT_NE(msg.find("cut short"), std::string::npos) << msg;
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
}

// An error answer cut the same way made nothing: it is tried again.
TEST_F(TransportTest, AnErrorAnswerCutMidBodyIsRetriedToSuccess) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json","reset":true,"truncate_at":10})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response) << out[0].error->message();
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(server.request_count(), 2u);
}

// Whatever a policy says, a 2xx (even one that cannot be read) or a status outside the safe
// ones is never sent again.
TEST_F(TransportTest, OnlySafeStatusesAreRetriedWhateverThePolicySays) {
  auto always = [](const HttpResponse &) { return RetryAdvice{true, 0}; };
  Transport t(fast());
  server.enqueue_json(R"({"truncate_at":60})");  // a 200 with cut JSON
  auto out = t.send_all({gemini_request()}, always);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(server.request_count(), 1u);

  server.reset();
  server.enqueue_json(R"({"status":409,"body":"{}","headers":{"x-should-retry":"true"},"count":3})");
  out = t.send_all({gemini_request()}, always);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 409);
  EXPECT_EQ(server.request_count(), 1u);

  server.reset();
  server.enqueue_json(R"({"status":502,"body":"{}"})");
  out = t.send_all({gemini_request()}, always);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(server.request_count(), 2u) << "502 is safe to ask again";
}

// x-should-retry: false still wins over a safe status.
TEST_F(TransportTest, ShouldRetryFalseIsHeeded) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json","headers":{"x-should-retry":"false"},"count":3})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 503);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(TransportTest, TruncatedButCompleteBodyIsHandedOverAndRejected) {
  server.enqueue_json(R"({"truncate_at":60})");
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
  EXPECT_EQ(out[0].response->body.size(), 60u);
  EXPECT_EQ(server.request_count(), 1u);
  try {
    find_provider("gemini")->parse(*out[0].response);
    ADD_FAILURE() << "a cut answer was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), ErrorCode::BadResponse);
  }
}

TEST_F(TransportTest, SlowAnswerTimesOut) {
  server.enqueue_json(R"({"delay_ms":3000})");
  TransportOptions o = fast();
  o.timeout_s = 0.5;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  const double s = since(t0);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Timeout);
  EXPECT_NE(std::string(out[0].error->message()).find("127.0.0.1"), std::string::npos);
  EXPECT_GE(s, 0.45);
  EXPECT_LT(s, 1.5);
  EXPECT_EQ(server.request_count(), 1u);
}

// A kept-alive connection carries no connect phase: the connect timeout must not cut a slow
// answer on it. (libsoup reuses connections for idempotent requests such as GET; each POST
// gets a fresh one.)
TEST_F(TransportTest, ConnectTimeoutSparesSlowAnswersOnReusedConnections) {
  HttpRequest get;
  get.method = "GET";
  get.url = server.base_url() + "/anything";
  TransportOptions o = fast();
  o.connect_timeout_s = 0.2;
  Transport t(o);
  auto out = send(t, {get});
  ASSERT_TRUE(out[0].response) << out[0].error->message();
  EXPECT_EQ(out[0].response->status, 404);

  server.enqueue_json(R"({"delay_ms":600})");
  auto t0 = Clock::now();
  out = send(t, {get});
  ASSERT_TRUE(out[0].response) << out[0].error->message();
  EXPECT_EQ(out[0].response->status, 404);
  EXPECT_GE(since(t0), 0.55);
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(of(TransportEvent::Sending).size(), 1u);
}

// A peer that takes the TCP connection but never answers the TLS handshake.
TEST_F(TransportTest, ConnectTimeoutEndsAStuckHandshake) {
  GPtr<GSocketListener> listener = adopt(g_socket_listener_new());
  GPtr<GInetAddress> lo = adopt(g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4));
  GPtr<GSocketAddress> any = adopt(g_inet_socket_address_new(lo.get(), 0));
  GSocketAddress *effective = nullptr;
  ASSERT_TRUE(g_socket_listener_add_address(listener.get(), any.get(), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                            nullptr, &effective, nullptr));
  const int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
  g_object_unref(effective);

  HttpRequest r = gemini_request();
  r.url = "https://127.0.0.1:" + std::to_string(port) + "/v1beta/models/x:generateContent";
  TransportOptions o = fast();
  o.connect_timeout_s = 0.2;
  o.max_tries = 2;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {r});
  const double s = since(t0);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Network);
  EXPECT_NE(std::string(out[0].error->message()).find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(of(TransportEvent::Sending).size(), 2u);
  EXPECT_GE(s, 0.4);
  EXPECT_LT(s, 2.0);
}

// A peer that answers a TLS client hello in plain HTTP and hangs up, as a misconfigured
// endpoint would.
class PlainTextPeer {
public:
  PlainTextPeer() {
    socket_ = adopt(g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr));
    GPtr<GInetAddress> lo = adopt(g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4));
    GPtr<GSocketAddress> a = adopt(g_inet_socket_address_new(lo.get(), 0));
    EXPECT_TRUE(g_socket_bind(socket_.get(), a.get(), TRUE, nullptr));
    EXPECT_TRUE(g_socket_listen(socket_.get(), nullptr));
    GPtr<GSocketAddress> bound = adopt(g_socket_get_local_address(socket_.get(), nullptr));
    port_ = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound.get()));
    thread_ = std::thread([this] {
      while (!stop_) {
        if (!g_socket_condition_timed_wait(socket_.get(), G_IO_IN, 20000, nullptr, nullptr)) continue;  // 20 ms
        GPtr<GSocket> peer = adopt(g_socket_accept(socket_.get(), nullptr, nullptr));
        if (!peer) continue;
        ++accepted_;
        char buf[4096];
        g_socket_receive(peer.get(), buf, sizeof buf, nullptr, nullptr);
        const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        g_socket_send(peer.get(), answer, sizeof answer - 1, nullptr, nullptr);
        g_socket_close(peer.get(), nullptr);
      }
    });
  }
  ~PlainTextPeer() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

private:
  GPtr<GSocket> socket_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(TransportTest, TlsFailureIsNotRetried) {
  PlainTextPeer peer;
  HttpRequest r = gemini_request();
  r.url = "https://127.0.0.1:" + std::to_string(peer.port()) + "/v1beta/models/x:generateContent";
  Transport t(fast());
  auto out = send(t, {r});
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Network);
  EXPECT_NE(std::string(out[0].error->message()).find("secure connection"), std::string::npos)
      << out[0].error->message() << " / " << out[0].error->detail();
  EXPECT_EQ(of(TransportEvent::Sending).size(), 1u);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
  EXPECT_EQ(peer.accepted(), 1);
}

TEST_F(TransportTest, CancelEndsEverythingPromptly) {
  server.enqueue_json(R"({"delay_ms":10000,"count":2})");
  Transport t(fast());
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  CancelLater later(cancel.get(), 300);
  auto out = send(t, {gemini_request(), gemini_request()}, cancel.get());
  const double after = since(later.at);
  ASSERT_EQ(out.size(), 2u);
  for (auto &o : out) {
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->code(), ErrorCode::Cancelled);
    EXPECT_STREQ(o.error->message(), "Cancelled.");
  }
  EXPECT_LT(after, 0.2) << "returned " << after << " s after the cancel";
  EXPECT_EQ(of(TransportEvent::Done).size(), 2u);
}

// A raw peer that takes a connection and then stalls: either it reads nothing at all (the client
// is stuck mid-upload once the socket buffers are full), or it reads the request and answers
// with headers and the first bytes of a body, then nothing more (the client is mid-download).
class StallingPeer {
public:
  enum Mode { MidUpload, MidDownload };
  explicit StallingPeer(Mode mode) {
    socket_ = adopt(g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr));
    // A small receive window, inherited by accepted sockets: the upload stalls early.
    g_socket_set_option(socket_.get(), SOL_SOCKET, SO_RCVBUF, 4096, nullptr);
    GPtr<GInetAddress> lo = adopt(g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4));
    GPtr<GSocketAddress> a = adopt(g_inet_socket_address_new(lo.get(), 0));
    EXPECT_TRUE(g_socket_bind(socket_.get(), a.get(), TRUE, nullptr));
    EXPECT_TRUE(g_socket_listen(socket_.get(), nullptr));
    GPtr<GSocketAddress> bound = adopt(g_socket_get_local_address(socket_.get(), nullptr));
    port_ = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound.get()));
    thread_ = std::thread([this, mode] {
      GPtr<GSocket> peer;
      while (!stop_) {
        if (!peer) {
          if (!g_socket_condition_timed_wait(socket_.get(), G_IO_IN, 20000, nullptr, nullptr)) continue;
          peer = adopt(g_socket_accept(socket_.get(), nullptr, nullptr));
          if (!peer) continue;
          if (mode == MidDownload) {
            // Read the whole request (headers and the declared body), then half an answer.
            std::string got;
            char buf[65536];
            size_t want = std::string::npos;
            while (!stop_ && (want == std::string::npos || got.size() < want)) {
              gssize n = g_socket_receive(peer.get(), buf, sizeof buf, nullptr, nullptr);
              if (n <= 0) break;
              got.append(buf, size_t(n));
              const size_t end = got.find("\r\n\r\n");
              if (want == std::string::npos && end != std::string::npos) {
                std::string lower = got.substr(0, end);
                for (char &c : lower) c = char(g_ascii_tolower(c));
                const size_t cl = lower.find("content-length:");
                want = end + 4 + (cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15)));
              }
            }
            const std::string head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                "{\"candidates\": [{\"content\": {\"parts\": [{\"inlineData\": {\"data\": \"iVBORw0KGgo";
            g_socket_send(peer.get(), head.data(), head.size(), nullptr, nullptr);
            answered_ = true;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // and never another byte
      }
    });
  }
  ~StallingPeer() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  bool answered() const { return answered_; }

private:
  GPtr<GSocket> socket_;
  int port_ = 0;
  std::atomic<bool> stop_{false}, answered_{false};
  std::thread thread_;
};

TEST_F(TransportTest, CancelMidUploadIsPrompt) {
  StallingPeer peer(StallingPeer::MidUpload);
  HttpRequest r = gemini_request();
  r.url = "http://127.0.0.1:" + std::to_string(peer.port()) + "/v1beta/models/x:generateContent";
  r.body.assign(64u << 20, ' ');  // 64 MB: far more than any socket buffer holds
  Transport t(fast());
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  CancelLater later(cancel.get(), 300);
  auto out = send(t, {r}, cancel.get());
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Cancelled) << out[0].error->detail();
  EXPECT_LT(since(later.at), kPrompt);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
}

TEST_F(TransportTest, CancelMidDownloadIsPrompt) {
  StallingPeer peer(StallingPeer::MidDownload);
  HttpRequest r = gemini_request();
  r.url = "http://127.0.0.1:" + std::to_string(peer.port()) + "/v1beta/models/x:generateContent";
  Transport t(fast());
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  CancelLater later(cancel.get(), 500);
  auto out = send(t, {r}, cancel.get());
  EXPECT_TRUE(peer.answered()) << "the answer had begun before the cancel";
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Cancelled) << out[0].error->detail();
  EXPECT_LT(since(later.at), kPrompt);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
}

TEST_F(TransportTest, CancelFromAnotherThreadIsPrompt) {
  server.enqueue_json(R"({"delay_ms":10000})");
  Transport t(fast());
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  std::atomic<Clock::rep> cancelled_at{0};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    cancelled_at = Clock::now().time_since_epoch().count();
    g_cancellable_cancel(cancel.get());
  });
  auto out = send(t, {gemini_request()}, cancel.get());
  const auto returned = Clock::now();
  canceller.join();
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Cancelled);
  const double after = std::chrono::duration<double>(returned - Clock::time_point(Clock::duration(cancelled_at.load()))).count();
  EXPECT_LT(after, 0.2);
}

TEST_F(TransportTest, CancelDuringBackoffIsPrompt) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json","headers":{"retry-after":"30"}})");
  Transport t(fast());
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  CancelLater later(cancel.get(), 300);
  auto out = send(t, {gemini_request()}, cancel.get());
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Cancelled);
  EXPECT_LT(since(later.at), kPrompt);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_EQ(of(TransportEvent::Retrying).size(), 1u);
}

TEST_F(TransportTest, AlreadyCancelledSendsNothing) {
  Transport t(fast());
  GPtr<GCancellable> cancel = adopt(g_cancellable_new());
  g_cancellable_cancel(cancel.get());
  auto out = send(t, {gemini_request()}, cancel.get());
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Cancelled);
  EXPECT_EQ(server.request_count(), 0u);
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
  EXPECT_NE(std::string(out[0].error->message()).find("1 MB"), std::string::npos) << out[0].error->message();
  EXPECT_LT(since(t0), 1.0);
  EXPECT_TRUE(of(TransportEvent::Receiving).empty());  // refused on its Content-Length
  EXPECT_EQ(server.request_count(), 1u);               // not retried
}

TEST_F(TransportTest, HugeUndeclaredBodyStopsAtTheCap) {
  server.enqueue_json(R"({"huge_bytes":1073741824,"chunked":true})");
  TransportOptions o = fast();
  o.max_response_bytes = 4 << 20;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::TooLarge);
  size_t most = 0;
  for (auto &e : of(TransportEvent::Receiving)) most = std::max(most, e.bytes);
  EXPECT_LE(most, size_t(4) << 20);
  EXPECT_GT(most, size_t(3) << 20);
  EXPECT_LT(since(t0), 3.0);
}

TEST_F(TransportTest, BodyExactlyAtTheCapIsAccepted) {
  const size_t n = 300 * 1024;
  for (bool chunked : {false, true}) {
    server.reset();
    FakeReply exact;
    exact.huge_bytes = n;
    exact.chunked = chunked;
    server.enqueue(exact);
    server.enqueue(exact);
    TransportOptions o = fast();
    o.max_response_bytes = n;
    Transport fits(o);
    auto out = send(fits, {gemini_request()});
    ASSERT_TRUE(out[0].response) << chunked << ": " << out[0].error->message();
    EXPECT_EQ(out[0].response->body.size(), n);
    EXPECT_EQ(out[0].response->body.find_first_not_of('x'), std::string::npos);

    o.max_response_bytes = n - 1;
    Transport tight(o);
    out = send(tight, {gemini_request()});
    ASSERT_TRUE(out[0].error) << chunked;
    EXPECT_EQ(out[0].error->code(), ErrorCode::TooLarge);
  }
}

TEST_F(TransportTest, UserAgentCanBeSet) {
  TransportOptions o = fast();
  o.user_agent = "genfill-test/1";
  Transport t(o);
  EXPECT_EQ(t.options().user_agent, "genfill-test/1");
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].response);
  auto recs = server.requests();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].user_agent, "genfill-test/1");
}

TEST_F(TransportTest, AThrowingEventSinkDoesNotBreakTheRequest) {
  Transport t(fast());
  auto out = t.send_all({gemini_request()}, gemini_policy(), nullptr,
                        [](const TransportEvent &) { throw std::runtime_error("sink failure"); });
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 200);
}

// ---------- redirects ----------

// A 302 to another origin (another port on this computer): not followed, not retried, and the
// message names only the new host, never the path or query the key could travel in.
TEST_F(TransportTest, ARedirectIsNotFollowedAndNamesOnlyTheHost) {
  FakeServer elsewhere;
  elsewhere.start();
  const std::string key = "test-key-redirect-7c1e";
  const std::string target = elsewhere.base_url() + "/v1beta/models/steal:generateContent?key=" + key;
  const std::string other_host = target.substr(7, target.find('/', 7) - 7);  // 127.0.0.1:PORT
  FakeReply redirect;
  redirect.status = 302;
  redirect.body = "";
  redirect.headers = {{"Location", target}};
  redirect.count = 3;
  server.enqueue(redirect);
  Transport t(fast());
  auto out = send(t, {gemini_request(key)});
  ASSERT_TRUE(out[0].error) << out[0].response->status;
  EXPECT_FALSE(out[0].response);
  EXPECT_EQ(out[0].error->code(), ErrorCode::BadResponse);
  EXPECT_EQ(out[0].error->http_status(), 302);
  const std::string msg = out[0].error->message(), detail = out[0].error->detail();
  EXPECT_NE(msg.find("sent genfill elsewhere (to " + other_host + ")"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not follow redirects"), std::string::npos) << msg;
  for (const std::string &text : {msg, detail}) {
    EXPECT_EQ(text.find(key), std::string::npos) << text;
    EXPECT_EQ(text.find("steal"), std::string::npos) << text;
    EXPECT_EQ(text.find("?"), std::string::npos) << text;
  }
  EXPECT_EQ(elsewhere.request_count(), 0u) << "the other origin received nothing";
  EXPECT_EQ(server.request_count(), 1u) << "a redirect is not retried";
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
}

// A Location on the same service (a relative one) is not followed either.
TEST_F(TransportTest, ARelativeRedirectIsNotFollowedEither) {
  FakeReply redirect;
  redirect.status = 307;
  redirect.headers = {{"Location", "/v1beta/models/gemini-3.1-flash-image:generateContent?again=1"}};
  server.enqueue(redirect);
  Transport t(fast());
  auto out = send(t, {gemini_request()});
  ASSERT_TRUE(out[0].error);
  const std::string host = server.base_url().substr(7);
  EXPECT_NE(std::string(out[0].error->message()).find("(to " + host + ")"), std::string::npos)
      << out[0].error->message();
  EXPECT_EQ(server.request_count(), 1u);
}

// ---------- the deadline of a whole run ----------

// An always-overloaded service with quick answers and quick retries: the tries stop at the
// deadline, not at max_tries.
TEST_F(TransportTest, TheDeadlineBoundsAllTriesTogether) {
  server.enqueue_json(R"({"status":503,"fixture":"gemini/error_503_unavailable.json","count":1000})");
  TransportOptions o = fast();
  o.timeout_s = 0.3;
  o.max_tries = 1000;
  o.backoff_initial_s = 0.1;
  o.backoff_max_s = 0.1;
  o.deadline_s = 1.5;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  const double s = since(t0);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 503);
  EXPECT_LE(s, 1.5 + 0.3) << "past the deadline";
  EXPECT_GE(s, 1.5 - 0.3 - 0.2) << "no retry stopped early: a wait and a try no longer fitted";
  EXPECT_GE(server.request_count(), 3u);
  EXPECT_LT(server.request_count(), 25u);
}

// A try cannot outlive the deadline either: a slow answer is cut at the deadline.
TEST_F(TransportTest, TheDeadlineCutsASlowTry) {
  server.enqueue_json(R"({"delay_ms":5000})");
  TransportOptions o = fast();
  o.timeout_s = 4;
  o.deadline_s = 0.6;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  const double s = since(t0);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::Timeout);
  EXPECT_GE(s, 0.55);
  EXPECT_LT(s, 1.2);
  EXPECT_EQ(server.request_count(), 1u);
}

// A Retry-After that would end past the deadline is not waited for: the answer is reported.
TEST_F(TransportTest, AWaitPastTheDeadlineIsNotStarted) {
  server.enqueue_json(
      R"({"status":429,"fixture":"gemini/error_429_resource_exhausted_minimal.json","headers":{"retry-after":"2"}})");
  TransportOptions o = fast();
  o.deadline_s = 1.5;
  Transport t(o);
  auto t0 = Clock::now();
  auto out = send(t, {gemini_request()});
  EXPECT_LT(since(t0), 0.8);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status, 429);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_TRUE(of(TransportEvent::Retrying).empty());
}

TEST(TransportOptionsTest, TheDeadlineIsDerivedFromTheTimeoutUnlessGiven) {
  TransportOptions o;
  o.timeout_s = 30;
  EXPECT_DOUBLE_EQ(deadline_of(o), 30 + kDeadlineMarginS);
  o.deadline_s = 45;
  EXPECT_DOUBLE_EQ(deadline_of(o), 45);
}

// ---------- checked options and addresses ----------

TEST(TransportOptionsTest, TimesThatAreNoTimeAtAllAreRefused) {
  const double bad[] = {std::nan(""), HUGE_VAL, -HUGE_VAL, 0, -1, 1e9};
  for (double v : bad) {
    SCOPED_TRACE(v);
    TransportOptions timeout, connect, deadline;
    timeout.timeout_s = v;
    connect.connect_timeout_s = v;
    deadline.deadline_s = v;
    for (const TransportOptions *o : {&timeout, &connect, &deadline}) {
      if (o == &deadline && v == 0) continue;  // 0 = derived from the timeout
      try {
        Transport t(*o);
        ADD_FAILURE() << "accepted";
      } catch (const Error &e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
        EXPECT_NE(std::string(e.message()).find("more than 0"), std::string::npos) << e.message();
      }
    }
  }
  TransportOptions fine;
  fine.timeout_s = 0.5;
  fine.connect_timeout_s = 0.1;
  fine.deadline_s = 0;
  EXPECT_NO_THROW(validate(fine));
  fine.deadline_s = 2;
  EXPECT_NO_THROW(Transport t(fine));
}

TEST(BaseUrlTest, PlainHttpIsRefusedExceptOnThisComputer) {
  for (const char *url : {"http://127.0.0.1:8080", "http://127.1.2.3/v1", "http://localhost:99/v1/", "http://LOCALHOST",
                          "http://[::1]:8080/v1", "https://example.com/v1", "https://203.0.113.5"})
    EXPECT_NO_THROW(base_url_for(url)) << url;
  EXPECT_EQ(base_url_for("http://localhost:99/v1/"), "http://localhost:99/v1");
  for (const char *url : {"http://example.com/v1", "http://203.0.113.5:8080", "http://[2001:db8::1]/v1",
                          "http://localhost.example.com", "http://128.0.0.1"}) {
    try {
      base_url_for(url);
      ADD_FAILURE() << url << " accepted";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
      const std::string msg = e.message();
      EXPECT_NE(msg.find("unencrypted"), std::string::npos) << msg;
      EXPECT_NE(msg.find("only https://"), std::string::npos) << msg;
    }
  }
}

TEST(BaseUrlTest, RefusedAddressesNeverRepeatCredentialsOrQuery) {
  for (const char *url : {"https://alice:s3cret-pass@example.com/v1", "https://example.com/v1?key=s3cret-pass",
                          "https://example.com/v1#s3cret-pass", "http://alice:s3cret-pass@example.com/v1",
                          "https://alice:s3cret-pass@/v1", "ftp://alice:s3cret-pass@example.com/?s3cret-pass"}) {
    try {
      base_url_for(url);
      ADD_FAILURE() << url << " accepted";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
      const std::string msg = e.message();
      EXPECT_EQ(msg.find("s3cret"), std::string::npos) << msg;
      EXPECT_EQ(msg.find("alice"), std::string::npos) << msg;
      EXPECT_EQ(e.detail().find("s3cret"), std::string::npos) << e.detail();
    }
  }
}

TEST(RedactTest, KeysCredentialsAndQueriesAreRemoved) {
  const std::string key = "AIzaSyTESTKEY0123456789";
  EXPECT_EQ(redact("API key " + key + " is wrong; again: " + key, key), "API key [key] is wrong; again: [key]");
  EXPECT_EQ(redact("see https://bob:pw@host.example:8443/v1/x?key=abc&b=2 now"), "see https://host.example:8443/v1/x now");
  EXPECT_EQ(redact(R"({"url":"http://h/p#frag","n":1})"), R"({"url":"http://h/p","n":1})");
  EXPECT_EQ(redact("a@b and mailto:x@y and https://h/p@q?z"), "a@b and mailto:x@y and https://q");
  EXPECT_EQ(redact("short ab", "ab"), "short ab") << "too short to be a key: left alone";
  EXPECT_EQ(redact("nothing here", ""), "nothing here");
  Error e(ErrorCode::BadRequest, "bad " + key, "HTTP 400: https://u:p@h/?k=" + key, 400);
  e.with_text("echo " + key);
  Error r = redacted(e, key);
  EXPECT_EQ(r.code(), ErrorCode::BadRequest);
  EXPECT_EQ(r.http_status(), 400);
  EXPECT_STREQ(r.message(), "bad [key]");
  EXPECT_EQ(r.detail(), "HTTP 400: https://h/");
  EXPECT_EQ(r.text(), "echo [key]");
}

TEST_F(TransportTest, AnInvalidAddressIsInvalidInput) {
  HttpRequest r = gemini_request();
  r.url = "not a url";
  Transport t(fast());
  auto out = send(t, {r});
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code(), ErrorCode::InvalidInput);
  EXPECT_EQ(server.request_count(), 0u);
}

}  // namespace
