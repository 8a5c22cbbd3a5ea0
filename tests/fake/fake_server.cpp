// The loopback fake of the image services (see fake_server.hpp): the server, its control
// requests, and the dispatcher that sends each request to its service (fake_SERVICE.cpp).
#include "fake_server.hpp"

#include <algorithm>
#include <cstring>
#include <future>
#include <optional>
#include <stdexcept>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/providers/json.hpp"
#include "core/util/gobj.hpp"
#include "fake_internal.hpp"

namespace genfill::test {

bool parse_color(const std::string &text, uint32_t *rgb) {
  std::string hex = !text.empty() && text[0] == '#' ? text.substr(1) : text;
  if (hex.size() != 6 || !std::all_of(hex.begin(), hex.end(), [](char c) { return g_ascii_isxdigit(c); }))
    return false;
  *rgb = uint32_t(g_ascii_strtoull(hex.c_str(), nullptr, 16));
  return true;
}

namespace {

// A 400 whose words repeat the key as it was sent, in the format of the service asked.
Answer key_echo(SoupServerMessage *msg, const std::string &path) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  std::string key;
  if (const char *google = soup_message_headers_get_one(h, "x-goog-api-key")) {
    key = google;
  } else if (const char *auth = soup_message_headers_get_one(h, "Authorization")) {
    key = auth;
    if (key.rfind("Bearer ", 0) == 0) key.erase(0, 7);
  }
  const std::string words = "Request contains an invalid argument (sent with the key " + key + ").";
  if (path.rfind("/v1beta/", 0) == 0) return {400, gemini_error(400, "INVALID_ARGUMENT", words)};
  if (path.rfind("/api/v1/", 0) == 0 || path == "/v1/chat/completions") return {400, relay_error(400, words)};
  return {400, openai_error(words, "invalid_request_error", nullptr, nullptr)};
}

struct Junk {
  size_t left;
  std::string chunk;
};

}  // namespace

// An answer held back for delay_ms.
struct FakeServer::Impl::Later {
  Impl *self;
  SoupServerMessage *msg;
  Answer answer;
  FakeReply reply;
  guint source = 0;
};
std::string FakeServer::Impl::load_fixture(const std::string &name) const {
  if (name.find("..") != std::string::npos) return "{}";
  gchar *data = nullptr;
  gsize len = 0;
  const std::string path = fixtures + "/" + name;
  if (!g_file_get_contents(path.c_str(), &data, &len, nullptr))
    return build_object([&](JsonBuilder *b) { json::add(b, "fake_fixture_missing", name); });
  std::string s(data, len);
  g_free(data);
  return s;
}

// The first queued reply for this kind of request: model-list requests (GET …/models) take only
// replies meant for them, so that a client reading a list meanwhile (GIMP's dialog does, in
// the background) never uses up what a test queued for an edit.
std::optional<FakeReply> FakeServer::Impl::take_reply(bool list) {
  std::lock_guard lock(mu);
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->lists != list) continue;
    FakeReply r = *it;
    if (--it->count <= 0) queue.erase(it);
    return r;
  }
  return std::nullopt;
}

uint32_t FakeServer::Impl::color_for(const FakeReply *reply) {
  uint32_t rgb = 0;
  if (reply && parse_color(reply->color, &rgb)) return rgb;
  std::lock_guard lock(mu);
  return color;
}

void FakeServer::Impl::handle(SoupServerMessage *msg, const char *path) {
  const gsize arrived = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(msg), "genfill-fake-arrived"));
  const gint64 received_us = arrived ? gint64(arrived) : g_get_monotonic_time();
  const std::string p = path;
  const char *method = soup_server_message_get_method(msg);
  GBytes *flat = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize len = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(flat, &len));
  const std::string body(data ? data : "", len);
  g_bytes_unref(flat);

  if (p.rfind("/_fake/", 0) == 0) return control(msg, p, body);

  RecordedRequest rec;
  rec.method = method;
  rec.path = p;
  rec.body_bytes = body.size();
  const char *ct = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Content-Type");
  rec.content_type = ct ? ct : "";
  const char *ua = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "User-Agent");
  rec.user_agent = ua ? ua : "";

  const bool list_request = g_strcmp0(method, "GET") == 0 &&
                            (p == "/v1beta/models" || p == "/v1/models" || p == "/api/v1/models");
  const bool batch_request = p.find(":batchGenerateContent") != std::string::npos || p.rfind("/v1beta/batches/", 0) == 0;
  const std::optional<FakeReply> scripted =
      batch_request ? (p.find(":batchGenerateContent") != std::string::npos ? take_batch_reply() : std::nullopt)
                    : take_reply(list_request);
  const FakeReply *reply = scripted ? &*scripted : nullptr;
  Answer answer;
  bool known = true;
  try {
    static const std::string gprefix = "/v1beta/models/", gsuffix = ":generateContent", isuffix = ":predict",
                             ssuffix = ":streamGenerateContent", bsuffix = ":batchGenerateContent";
    const bool post = g_strcmp0(method, "POST") == 0;
    auto google = [&](const std::string &suffix) {
      return post && p.rfind(gprefix, 0) == 0 && p.size() > gprefix.size() + suffix.size() &&
             p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (google(gsuffix)) {
      answer = gemini(msg, p.substr(gprefix.size(), p.size() - gprefix.size() - gsuffix.size()), body, rec, reply);
    } else if (google(ssuffix)) {
      const std::string model = p.substr(gprefix.size(), p.size() - gprefix.size() - ssuffix.size());
      rec.stream = true;
      const char *q = g_uri_get_query(soup_server_message_get_uri(msg));
      if (g_strcmp0(q, "alt=sse") != 0)
        throw Reject{{400, gemini_error(400, "INVALID_ARGUMENT",
                                        "fake: streamGenerateContent is served here as server-sent events only "
                                        "(alt=sse)")}};
      answer = gemini(msg, model, body, rec, reply);
      if (answer.status == 200)
        answer = gemini_stream(answer, model.rfind("gemini-3", 0) == 0 || model.rfind("gemini-nano", 0) == 0);
    } else if (google(bsuffix)) {
      answer = batch_create(msg, p.substr(gprefix.size(), p.size() - gprefix.size() - bsuffix.size()), body, rec, reply);
    } else if (g_strcmp0(method, "GET") == 0 && p.rfind("/v1beta/batches/", 0) == 0) {
      answer = batch_get(msg, p.substr(std::string("/v1beta/").size()), rec);
    } else if (google(isuffix)) {
      answer = imagen(msg, p.substr(gprefix.size(), p.size() - gprefix.size() - isuffix.size()), body, rec, reply);
    } else if (post && (p == "/v1/chat/completions" || p == "/api/v1/chat/completions")) {
      answer = relay(msg, body, rec, reply);
    } else if (g_strcmp0(method, "GET") == 0 && p == "/v1beta/models") {
      answer = gemini_models(msg, rec);
    } else if (g_strcmp0(method, "GET") == 0 && (p == "/v1/models" || p == "/api/v1/models")) {
      // OpenAI's own list at /v1/models; a relay's (OpenRouter's form) when it asks for modalities
      // or comes under /api/v1.
      const char *q = g_uri_get_query(soup_server_message_get_uri(msg));
      const bool relay = p == "/api/v1/models" || (q && strstr(q, "output_modalities"));
      answer = relay ? relay_models(msg, rec) : openai_models(msg, rec);
    } else if (post && (p == "/v1/images/generations" || p == "/v1/images/edits")) {
      answer = openai(msg, p == "/v1/images/edits", body, rec, reply);
    } else {
      known = false;
      answer = {404, build_object([&](JsonBuilder *b) {
                  json_builder_set_member_name(b, "error");
                  json_builder_begin_object(b);
                  json::add(b, "message", "Unknown request URL: " + std::string(method) + " " + p);
                  json_builder_end_object(b);
                })};
    }
  } catch (const Reject &r) {
    answer = r.answer;
  } catch (const std::exception &e) {
    answer = {500, build_object([&](JsonBuilder *b) { json::add(b, "fake_server_failure", std::string(e.what())); })};
  }
  // A scripted status/body replaces the verdict (the request was still checked and recorded).
  if (known && reply && reply->status > 0) {
    answer.events.clear();
    answer.status = reply->status;
    answer.body = !reply->fixture.empty() ? load_fixture(reply->fixture) : reply->body;
  }
  if (known && reply && reply->echo_key) answer = key_echo(msg, p);
  if (!answer.events.empty()) answer.status = 200;
  // The byte-level faults (truncate_at, reset, stall) apply to a stream as to any answer: its
  // events are sent as one body, cut where the reply says.
  if (!answer.events.empty() && reply && (reply->truncate_at >= 0 || reply->reset || reply->stall)) {
    for (const std::string &ev : answer.events) answer.body += ev;
    answer.events.clear();
  }
  if (reply && reply->huge_bytes) answer.status = 200;

  const bool cut_mid_body = reply && reply->reset && reply->truncate_at >= 0;
  rec.status = reply && reply->reset && !cut_mid_body ? 0 : answer.status;
  {
    std::lock_guard lock(mu);
    log.push_back(rec);
  }
  // delay_ms counts from the request's arrival: the fake's own checking is part of the service's
  // time, as it is for a real one (and requests are worked on side by side, as by a service).
  const int spent_ms = int((g_get_monotonic_time() - received_us) / 1000);
  const int delay_ms = reply && reply->delay_ms > 0 ? std::max(1, reply->delay_ms - spent_ms) : 0;
  deliver_after(msg, std::move(answer), reply ? *reply : FakeReply{}, delay_ms);
}


void FakeServer::Impl::drop(Later *l) {
  pending.erase(l);
  g_signal_handlers_disconnect_by_data(l->msg, l);
  if (l->source)
    if (GSource *s = g_main_context_find_source_by_id(ctx, l->source)) g_source_destroy(s);
  g_object_unref(l->msg);
  delete l;
}

void FakeServer::Impl::deliver_after(SoupServerMessage *msg, Answer answer, const FakeReply &reply, int ms) {
  if (ms <= 0) return deliver(msg, answer, reply);
  soup_server_message_pause(msg);
  auto *later = new Later{this, SOUP_SERVER_MESSAGE(g_object_ref(msg)), std::move(answer), reply};
  pending.insert(later);
  // If the client goes away first, drop the answer.
  g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer data) {
                     auto *l = static_cast<Later *>(data);
                     l->self->drop(l);
                   }), later);
  GSource *src = g_timeout_source_new(guint(ms));
  g_source_set_callback(src, +[](gpointer data) -> gboolean {
    auto *l = static_cast<Later *>(data);
    l->source = 0;
    g_signal_handlers_disconnect_by_data(l->msg, l);
    l->self->deliver(l->msg, l->answer, l->reply);
    if (!l->reply.reset) soup_server_message_unpause(l->msg);  // a reset took the connection away
    l->self->drop(l);
    return G_SOURCE_REMOVE;
  }, later, nullptr);
  later->source = g_source_attach(src, ctx);
  g_source_unref(src);
}

void FakeServer::Impl::deliver(SoupServerMessage *msg, const Answer &a, const FakeReply &reply) {
  if (reply.reset || reply.stall) {
    GIOStream *io = soup_server_message_steal_connection(msg);
    const long cut = reply.truncate_at >= 0 ? reply.truncate_at : reply.stall ? 0 : -1;
    if (cut >= 0) {  // headers for the whole body, then part of it
      const char *phrase = soup_status_get_phrase(guint(a.status));
      std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + (phrase ? phrase : "Unknown") +
                         "\r\nContent-Type: " + a.content_type + "\r\nContent-Length: " + std::to_string(a.body.size()) +
                         "\r\n\r\n";
      head += a.body.substr(0, std::min(a.body.size(), size_t(cut)));
      g_output_stream_write_all(g_io_stream_get_output_stream(io), head.data(), head.size(), nullptr, nullptr,
                                nullptr);
    }
    if (reply.stall) {  // and then nothing: the client waits mid-answer until it gives up
      stalled.push_back(io);
      return;
    }
    g_io_stream_close(io, nullptr, nullptr);
    g_object_unref(io);
    return;
  }
  if (reply.huge_bytes) return stream_junk(msg, reply.huge_bytes, reply.chunked);
  if (!a.events.empty()) return stream_events(msg, a, reply);
  soup_server_message_set_status(msg, guint(a.status), nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  for (const auto &[k, v] : reply.headers) soup_message_headers_replace(h, k.c_str(), v.c_str());
  std::string body = a.body;
  if (reply.truncate_at >= 0 && size_t(reply.truncate_at) < body.size()) {
    body.resize(size_t(reply.truncate_at));
    soup_message_headers_replace(h, "Connection", "close");
  }
  soup_server_message_set_response(msg, a.content_type.c_str(), SOUP_MEMORY_COPY, body.data(), body.size());
}

void FakeServer::Impl::stream_junk(SoupServerMessage *msg, size_t total, bool chunked) {
  soup_server_message_set_status(msg, 200, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  soup_message_headers_set_content_type(h, "application/json", nullptr);
  if (chunked) {
    soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
  } else {
    soup_message_headers_set_encoding(h, SOUP_ENCODING_CONTENT_LENGTH);
    soup_message_headers_set_content_length(h, goffset(total));
  }
  SoupMessageBody *body = soup_server_message_get_response_body(msg);
  soup_message_body_set_accumulate(body, FALSE);
  auto *junk = new Junk{total, std::string(256 * 1024, 'x')};
  // One chunk at a time, the next when the last is written: never buffered whole.
  static auto next = +[](SoupServerMessage *m, gpointer) {
    auto *j = static_cast<Junk *>(g_object_get_data(G_OBJECT(m), "junk"));
    SoupMessageBody *b = soup_server_message_get_response_body(m);
    if (j->left == 0) {
      soup_message_body_complete(b);
      return;
    }
    size_t n = std::min(j->left, j->chunk.size());
    j->left -= n;
    soup_message_body_append(b, SOUP_MEMORY_COPY, j->chunk.data(), n);
  };
  g_object_set_data_full(G_OBJECT(msg), "junk", junk, [](gpointer p) { delete static_cast<Junk *>(p); });
  g_signal_connect(msg, "wrote-chunk", G_CALLBACK(next), nullptr);
  next(msg, nullptr);
}

Answer event_stream(std::vector<std::string> events, std::string error_event) {
  Answer a;
  a.content_type = "text/event-stream";
  a.events = std::move(events);
  a.error_event = std::move(error_event);
  return a;
}

namespace {

// A streamed answer being sent: the events one by one, event_delay_ms apart, and what the
// reply says goes wrong after some of them.
struct EventSend {
  Answer answer;
  FakeReply reply;
  size_t next = 0;
  bool ended = false;
};

bool after(int limit, size_t sent) { return limit >= 0 && sent == size_t(limit); }

}  // namespace

void FakeServer::Impl::stream_events(SoupServerMessage *msg, const Answer &a, const FakeReply &reply) {
  soup_server_message_set_status(msg, 200, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  soup_message_headers_set_content_type(h, a.content_type.c_str(), nullptr);
  soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
  soup_message_headers_replace(h, "Cache-Control", "no-cache");
  SoupMessageBody *body = soup_server_message_get_response_body(msg);
  soup_message_body_set_accumulate(body, FALSE);
  auto *send = new EventSend{a, reply};
  g_object_set_data_full(G_OBJECT(msg), "events", send, [](gpointer p) { delete static_cast<EventSend *>(p); });
  // Sends what comes next; returns whether a timer should call it again.
  static auto step = +[](SoupServerMessage *m) -> bool {
    auto *e = static_cast<EventSend *>(g_object_get_data(G_OBJECT(m), "events"));
    if (!e || e->ended) return false;
    SoupMessageBody *b = soup_server_message_get_response_body(m);
    const FakeReply &r = e->reply;
    auto append = [b](const std::string &text) { soup_message_body_append(b, SOUP_MEMORY_COPY, text.data(), text.size()); };
    if (after(r.stall_after_events, e->next)) {  // silence; the connection stays open
      e->ended = true;
      return false;
    }
    if (after(r.cut_after_events, e->next)) {  // half of the next event, then the connection goes
      e->ended = true;
      if (e->next < e->answer.events.size()) {
        const std::string &ev = e->answer.events[e->next];
        append(ev.substr(0, ev.size() / 2));
      }
      soup_server_message_unpause(m);
      // A moment later, so that the half event goes out first (on the server's own context).
      GSource *cut = g_timeout_source_new(50);
      g_source_set_callback(cut, +[](gpointer data) -> gboolean {
        if (GSocket *sock = soup_server_message_get_socket(static_cast<SoupServerMessage *>(data)))
          g_socket_shutdown(sock, TRUE, TRUE, nullptr);
        return G_SOURCE_REMOVE;
      }, g_object_ref(m), g_object_unref);
      GMainContext *here = g_main_context_ref_thread_default();
      g_source_attach(cut, here);
      g_main_context_unref(here);
      g_source_unref(cut);
      return false;
    }
    if (after(r.error_after_events, e->next)) {
      e->ended = true;
      append(e->answer.error_event);
      soup_message_body_complete(b);
      soup_server_message_unpause(m);
      return false;
    }
    if (after(r.end_after_events, e->next) || e->next >= e->answer.events.size()) {
      e->ended = true;
      soup_message_body_complete(b);
      soup_server_message_unpause(m);
      return false;
    }
    append(e->answer.events[e->next++]);
    if (e->next >= e->answer.events.size() && !after(r.stall_after_events, e->next) &&
        !after(r.cut_after_events, e->next) && !after(r.error_after_events, e->next)) {
      e->ended = true;  // the last event: the answer ends with it, as a service's does
      soup_message_body_complete(b);
    }
    soup_server_message_unpause(m);
    return !e->ended;
  };
  const guint delay = guint(std::max(1, reply.event_delay_ms));
  if (!step(msg)) return;
  // The rest from a timer, which lets go of the message once it is done (or gone).
  g_object_ref(msg);
  g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *m, gpointer) {
                     if (auto *e = static_cast<EventSend *>(g_object_get_data(G_OBJECT(m), "events"))) e->ended = true;
                   }), nullptr);
  GSource *src = g_timeout_source_new(delay);
  g_source_set_callback(src, +[](gpointer data) -> gboolean {
    return step(static_cast<SoupServerMessage *>(data)) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
  }, msg, [](gpointer data) { g_object_unref(static_cast<SoupServerMessage *>(data)); });
  g_source_attach(src, ctx);
  g_source_unref(src);
}

void FakeServer::Impl::control(SoupServerMessage *msg, const std::string &path, const std::string &body) {
  Answer a{200, "{}"};
  const char *method = soup_server_message_get_method(msg);
  if (path == "/_fake/requests" && g_strcmp0(method, "GET") == 0) {
    a.body = requests_json();
  } else if (path == "/_fake/reset" && g_strcmp0(method, "POST") == 0) {
    std::lock_guard lock(mu);
    queue.clear();
    log.clear();
  } else if (path == "/_fake/enqueue" && g_strcmp0(method, "POST") == 0) {
    try {
      enqueue_json(body);
    } catch (const std::exception &e) {
      a = {400, build_object([&](JsonBuilder *b) { json::add(b, "error", std::string(e.what())); })};
    }
  } else {
    a = {404, R"({"error":"unknown control request"})"};
  }
  soup_server_message_set_status(msg, guint(a.status), nullptr);
  soup_server_message_set_response(msg, a.content_type.c_str(), SOUP_MEMORY_COPY, a.body.data(), a.body.size());
}

void FakeServer::Impl::enqueue(const FakeReply &r) {
  uint32_t rgb = 0;
  if (!r.color.empty() && !parse_color(r.color, &rgb))
    throw std::invalid_argument("color must be six hex digits (RRGGBB), not \"" + r.color + "\"");
  // A bomb takes seconds to write: make it now, so the answer comes as fast as any other and a
  // client's short timeout measures the client, not the fake.
  if (r.picture == "bomb") bomb_png(color_for(&r));
  std::lock_guard lock(mu);
  queue.push_back(r);
}

void FakeServer::Impl::enqueue_json(const std::string &text) {
  json::Doc doc = json::try_parse(text);
  JsonObject *o = doc.object();
  if (!o) throw std::invalid_argument("enqueue wants a JSON object");
  FakeReply r;
  r.status = int(json::integer(o, "status", 0));
  r.fixture = json::string(o, "fixture");
  r.body = json::string(o, "body");
  r.delay_ms = int(std::max<int64_t>(0, json::integer(o, "delay_ms", 0)));
  r.truncate_at = long(json::integer(o, "truncate_at", -1));
  r.huge_bytes = size_t(std::max<int64_t>(0, json::integer(o, "huge_bytes", 0)));
  r.chunked = json::boolean(o, "chunked");
  r.reset = json::boolean(o, "reset");
  r.stall = json::boolean(o, "stall");
  r.text_only = json::boolean(o, "text_only");
  r.echo_key = json::boolean(o, "echo_key");
  r.color = json::string(o, "color");
  r.picture = json::string(o, "picture");
  r.text = json::string(o, "text");
  r.count = int(json::integer(o, "count", 1));
  r.event_delay_ms = int(std::max<int64_t>(0, json::integer(o, "event_delay_ms", 0)));
  r.cut_after_events = int(json::integer(o, "cut_after_events", -1));
  r.end_after_events = int(json::integer(o, "end_after_events", -1));
  r.stall_after_events = int(json::integer(o, "stall_after_events", -1));
  r.error_after_events = int(json::integer(o, "error_after_events", -1));
  r.no_stream = json::boolean(o, "no_stream");
  r.batch_state = json::string(o, "batch_state");
  if (!r.batch_state.empty() && r.batch_state.rfind("BATCH_STATE_", 0) != 0)
    throw std::invalid_argument("batch_state is a BATCH_STATE_ word");
  r.batch_gets = int(json::integer(o, "batch_gets", 3));
  r.batch_drop_keys = json::boolean(o, "batch_drop_keys");
  r.lists = json::boolean(o, "lists");
  if (JsonObject *d = json::object(o, "drift")) {
    auto num = [&](const char *k, double def) {
      return json_object_has_member(d, k) ? json_object_get_double_member(d, k) : def;
    };
    r.drift = true;
    r.drift_dx = num("dx", 0);
    r.drift_dy = num("dy", 0);
    r.drift_scale = num("scale", 1);
    r.drift_gain = num("gain", 1);
    r.drift_offset = num("offset", 0);
    if (!(r.drift_scale > 0.5 && r.drift_scale < 2)) throw std::invalid_argument("drift scale must be 0.5..2");
  }
  if (r.status != 0 && (r.status < 100 || r.status > 599)) throw std::invalid_argument("status must be 100..599");
  if (!r.fixture.empty() && load_fixture(r.fixture).find("fake_fixture_missing") != std::string::npos)
    throw std::invalid_argument("no such fixture: " + r.fixture);
  if (JsonObject *headers = json::object(o, "headers")) {
    GList *members = json_object_get_members(headers);
    for (GList *m = members; m; m = m->next) {
      const char *k = static_cast<const char *>(m->data);
      r.headers[k] = json::string(headers, k);
    }
    g_list_free(members);
  }
  enqueue(r);
}

std::string FakeServer::Impl::requests_json() {
  std::vector<RecordedRequest> copy;
  {
    std::lock_guard lock(mu);
    copy = log;
  }
  GPtr<JsonBuilder> b = adopt(json_builder_new());
  json_builder_begin_array(b.get());
  for (const RecordedRequest &r : copy) {
    JsonBuilder *o = b.get();
    json_builder_begin_object(o);
    json::add(o, "method", r.method);
    json::add(o, "path", r.path);
    json::add(o, "content_type", r.content_type);
    json::add(o, "user_agent", r.user_agent);
    json::add(o, "model", r.model);
    json::add(o, "prompt", r.prompt);
    json::add(o, "size", r.size);
    json::add(o, "aspect", r.aspect);
    json::add(o, "image_size", r.image_size);
    json::add(o, "input_fidelity", r.input_fidelity);
    json::add(o, "quality", r.quality);
    json::add(o, "background", r.background);
    json::add(o, "output_format", r.output_format);
    json_builder_set_member_name(o, "has_key");
    json_builder_add_boolean_value(o, r.has_key);
    json_builder_set_member_name(o, "key_in_query");
    json_builder_add_boolean_value(o, r.key_in_query);
    json::add(o, "n", int64_t(r.n));
    json::add(o, "image_count", int64_t(r.image_count));
    json::add(o, "status", int64_t(r.status));
    json::add(o, "body_bytes", int64_t(r.body_bytes));
    json_builder_set_member_name(o, "stream");
    json_builder_add_boolean_value(o, r.stream);
    json::add(o, "partial_images", int64_t(r.partial_images));
    json_builder_set_member_name(o, "image_sizes");
    json_builder_begin_array(o);
    for (auto [w, h] : r.image_sizes) add_pair(o, w, h);
    json_builder_end_array(o);
    auto strings = [&](const char *name, const std::vector<std::string> &v) {
      json_builder_set_member_name(o, name);
      json_builder_begin_array(o);
      for (const std::string &x : v) json_builder_add_string_value(o, x.c_str());
      json_builder_end_array(o);
    };
    strings("roles", r.roles);
    strings("signatures", r.signatures);
    strings("history_prompts", r.history_prompts);
    json::add(o, "history_images", int64_t(r.history_images));
    json_builder_set_member_name(o, "mask_size");
    if (r.mask_size) add_pair(o, r.mask_size->first, r.mask_size->second);
    else json_builder_add_null_value(o);
    json_builder_end_object(o);
  }
  json_builder_end_array(b.get());
  return json::to_string(b.get());
}

FakeServer::FakeServer(std::string fixtures) : impl_(std::make_unique<Impl>()) {
  if (fixtures.empty() && g_getenv("GENFILL_FIXTURES")) fixtures = g_getenv("GENFILL_FIXTURES");
  impl_->fixtures = fixtures;
}

FakeServer::~FakeServer() { stop(); }

void FakeServer::start(int port) {
  if (impl_->thread.joinable()) return;
  impl_->ctx = g_main_context_new();
  impl_->loop = g_main_loop_new(impl_->ctx, FALSE);
  std::promise<std::string> listening;  // "" when listening, else why not
  std::future<std::string> error = listening.get_future();
  impl_->thread = std::thread([impl = impl_.get(), port, listening = std::move(listening)]() mutable {
    g_main_context_push_thread_default(impl->ctx);
    impl->server = soup_server_new("server-header", "genfill-fake ", nullptr);
    soup_server_add_handler(impl->server, nullptr,
                            +[](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self) {
                              static_cast<Impl *>(self)->handle(msg, path);
                            },
                            impl, nullptr);
    // When each request began to arrive: a service works on requests side by side, so delay_ms
    // counts from here, not from when this single thread got round to checking the request.
    g_signal_connect(impl->server, "request-started", G_CALLBACK(+[](SoupServer *, SoupServerMessage *msg, gpointer) {
                       g_object_set_data(G_OBJECT(msg), "genfill-fake-arrived",
                                         GSIZE_TO_POINTER(gsize(g_get_monotonic_time())));
                     }), nullptr);
    GErrorOut err;
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *addr = g_inet_socket_address_new(lo, guint16(port));
    const bool ok = soup_server_listen(impl->server, addr, SoupServerListenOptions(0), err.out());
    g_object_unref(addr);
    g_object_unref(lo);
    if (ok) {
      GSList *uris = soup_server_get_uris(impl->server);
      impl->url = "http://127.0.0.1:" + std::to_string(g_uri_get_port(static_cast<GUri *>(uris->data)));
      g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
    }
    listening.set_value(ok ? std::string() : "fake server could not listen: " + err.message());
    if (ok) g_main_loop_run(impl->loop);
    while (!impl->pending.empty()) impl->drop(*impl->pending.begin());
    for (GIOStream *io : impl->stalled) {
      g_io_stream_close(io, nullptr, nullptr);
      g_object_unref(io);
    }
    impl->stalled.clear();
    soup_server_disconnect(impl->server);
    g_object_unref(impl->server);
    impl->server = nullptr;
    while (g_main_context_iteration(impl->ctx, FALSE)) {  // let pending sources clean up
    }
    g_main_context_pop_thread_default(impl->ctx);
  });
  const std::string why = error.get();
  if (!why.empty()) {
    stop();
    throw std::runtime_error(why);
  }
}

void FakeServer::stop() {
  if (!impl_->thread.joinable()) return;
  g_main_context_invoke(impl_->ctx, +[](gpointer loop) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop *>(loop));
    return G_SOURCE_REMOVE;
  }, impl_->loop);
  impl_->thread.join();
  g_main_loop_unref(impl_->loop);
  g_main_context_unref(impl_->ctx);
  impl_->loop = nullptr;
  impl_->ctx = nullptr;
  impl_->url.clear();
}

std::string FakeServer::base_url() const { return impl_->url; }

void FakeServer::set_color(uint32_t rgb) {
  std::lock_guard lock(impl_->mu);
  impl_->color = rgb & 0xFFFFFFu;
}

void FakeServer::enqueue(const FakeReply &reply) { impl_->enqueue(reply); }

void FakeServer::enqueue_json(const std::string &json) { impl_->enqueue_json(json); }

void FakeServer::reset() {
  std::lock_guard lock(impl_->mu);
  impl_->queue.clear();
  impl_->log.clear();
}

std::vector<RecordedRequest> FakeServer::requests() {
  std::lock_guard lock(impl_->mu);
  return impl_->log;
}

std::string FakeServer::requests_json() { return impl_->requests_json(); }

size_t FakeServer::request_count() {
  std::lock_guard lock(impl_->mu);
  return impl_->log.size();
}

}  // namespace genfill::test