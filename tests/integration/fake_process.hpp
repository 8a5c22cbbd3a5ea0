// Runs the loopback fake server program (tests/fake) as a child process, for tests that
// drive other processes (the CLI) against it. Control goes through its /_fake endpoints.
#pragma once

#include <string>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <gtest/gtest.h>

#include "core/util/gobj.hpp"

namespace genfill::test {

class FakeProcess {
public:
  FakeProcess() {
    const char *prog = g_getenv("GENFILL_FAKE_SERVER");
    if (!prog) throw std::runtime_error("GENFILL_FAKE_SERVER is not set");
    GErrorOut err;
    proc_ = adopt(g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, err.out(), prog, "--port", "0", nullptr));
    if (!proc_) throw std::runtime_error("cannot start the fake server: " + err.message());
    GInputStream *out = g_subprocess_get_stdout_pipe(proc_.get());
    GPtr<GDataInputStream> data = adopt(g_data_input_stream_new(out));
    gsize len = 0;
    GCharPtr line(g_data_input_stream_read_line(data.get(), &len, nullptr, err.out()));
    if (!line) throw std::runtime_error("the fake server printed no address");
    url_ = line.get();
    session_ = adopt(soup_session_new());
  }
  ~FakeProcess() {
    if (proc_) {
      g_subprocess_send_signal(proc_.get(), SIGTERM);
      g_subprocess_wait(proc_.get(), nullptr, nullptr);
    }
  }

  const std::string &url() const { return url_; }

  // POST /_fake/enqueue with a JSON reply description.
  void enqueue(const std::string &json) { post("/_fake/enqueue", json); }
  void reset() { post("/_fake/reset", "{}"); }

  // GET /_fake/requests: the parsed array (caller owns the node).
  JsonNode *requests() {
    std::string body = call("GET", "/_fake/requests", "");
    GErrorOut err;
    JsonNode *node = json_from_string(body.c_str(), err.out());
    if (!node) throw std::runtime_error("bad /_fake/requests answer: " + err.message());
    return node;
  }
  int request_count() {
    JsonNode *node = requests();
    int n = JSON_NODE_HOLDS_ARRAY(node) ? int(json_array_get_length(json_node_get_array(node))) : -1;
    json_node_unref(node);
    return n;
  }

private:
  void post(const char *path, const std::string &json) { call("POST", path, json); }
  std::string call(const char *method, const char *path, const std::string &json) {
    std::string uri = url_ + path;
    GPtr<SoupMessage> msg = adopt(soup_message_new(method, uri.c_str()));
    if (!json.empty()) {
      GBytes *b = g_bytes_new(json.data(), json.size());
      soup_message_set_request_body_from_bytes(msg.get(), "application/json", b);
      g_bytes_unref(b);
    }
    GErrorOut err;
    GBytes *resp = soup_session_send_and_read(session_.get(), msg.get(), nullptr, err.out());
    if (!resp) throw std::runtime_error(std::string("fake control call failed: ") + err.message());
    gsize size = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(resp, &size));
    std::string out(data ? data : "", size);
    g_bytes_unref(resp);
    if (soup_message_get_status(msg.get()) >= 300)
      throw std::runtime_error("fake control call " + std::string(path) + " answered " + out);
    return out;
  }

  GPtr<GSubprocess> proc_;
  GPtr<SoupSession> session_;
  std::string url_;
};

}  // namespace genfill::test
