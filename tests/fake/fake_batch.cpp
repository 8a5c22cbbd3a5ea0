// The fake's Gemini Batch API (see fake_server.hpp): a job's requests are answered at once, as
// generateContent answers them, and handed out once the job's gets say it has ended.
#include "fake_internal.hpp"

#include "core/providers/json.hpp"

namespace genfill::test {

std::optional<FakeReply> FakeServer::Impl::take_batch_reply() {
  std::lock_guard lock(mu);
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->lists || it->batch_state.empty()) continue;
    FakeReply r = *it;
    if (--it->count <= 0) queue.erase(it);
    return r;
  }
  return std::nullopt;
}

namespace {

std::string to_text(JsonNode *node) {
  GPtr<JsonGenerator> gen = adopt(json_generator_new());
  json_generator_set_root(gen.get(), node);
  return GCharPtr(json_generator_to_data(gen.get(), nullptr)).get();
}

}  // namespace

Answer FakeServer::Impl::batch_create(SoupServerMessage *msg, const std::string &model, const std::string &body,
                                      RecordedRequest &rec, const FakeReply *own) {
  rec.model = model;
  if (std::optional<Answer> refused = google_key_refusal(msg, rec)) return *refused;
  auto invalid = [](const std::string &m) { return Answer{400, gemini_error(400, "INVALID_ARGUMENT", m)}; };
  if (body.size() > (size_t(20) << 20)) return invalid("Request payload size exceeds the limit: 20971520 bytes.");
  json::Doc doc = json::try_parse(body);
  JsonObject *batch = json::object(doc.object(), "batch");
  JsonObject *input = json::object(batch, "inputConfig");
  JsonArray *requests = json::array(json::object(input, "requests"), "requests");
  if (!batch || !input) return invalid("* BatchGenerateContentRequest.batch.input_config: input_config is required");
  if (!requests || json_array_get_length(requests) == 0)
    return invalid("* BatchGenerateContentRequest.batch.input_config.requests: requests must not be empty");
  FakeBatch job;
  job.model = model;
  job.display_name = json::string(batch, "displayName");
  {
    std::lock_guard lock(mu);
    job.name = "batches/fake-" + std::to_string(++answers);
  }
  for (guint i = 0; i < json_array_get_length(requests); ++i) {
    JsonObject *item = json::element_object(requests, i);
    JsonNode *request = item ? json_object_get_member(item, "request") : nullptr;
    if (!request || !JSON_NODE_HOLDS_OBJECT(request))
      return invalid("* BatchGenerateContentRequest.batch.input_config.requests.requests[" + std::to_string(i) +
                     "].request: request is required");
    const std::string k = json::string(json::object(item, "metadata"), "key");
    // Each request is checked and answered as generateContent would, with a scripted reply each.
    RecordedRequest inner;
    const std::optional<FakeReply> scripted = take_reply(false);
    const FakeReply *reply = scripted ? &*scripted : nullptr;
    Answer a;
    try {
      a = gemini(msg, model, to_text(request), inner, reply);
    } catch (const Reject &r) {
      a = r.answer;
    }
    if (reply && reply->status > 0) a = Answer{reply->status, !reply->fixture.empty() ? load_fixture(reply->fixture) : reply->body};
    if (i == 0) rec.prompt = inner.prompt;
    rec.image_count += inner.image_count;
    job.answers.emplace_back(k, std::move(a));
  }
  rec.n = int(job.answers.size());
  if (own) {
    job.final_state = own->batch_state;
    job.done_at = std::max(1, own->batch_gets);
    job.drop_keys = own->batch_drop_keys;
  }
  const std::string name = job.name;
  const std::string metadata = metadata_of(job, "BATCH_STATE_PENDING");
  batches[name] = std::move(job);
  return {200, "{\"name\":\"" + name + "\",\"metadata\":" + metadata + "}"};
}

// The job as its operation's metadata says it (GenerateContentBatch).
std::string FakeServer::Impl::metadata_of(const FakeBatch &job, const std::string &state) {
  return build_object([&](JsonBuilder *b) {
    json::add(b, "@type", std::string("type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"));
    json::add(b, "model", "models/" + job.model);
    json::add(b, "displayName", job.display_name);
    json::add(b, "createTime", std::string("2026-12-06T00:00:00Z"));
    json::add(b, "updateTime", std::string("2026-12-06T00:00:01Z"));
    json_builder_set_member_name(b, "batchStats");
    json_builder_begin_object(b);
    json::add(b, "requestCount", std::to_string(job.answers.size()));  // int64 as a string
    json_builder_end_object(b);
    json::add(b, "state", state);
    json::add(b, "name", job.name);
    if (state == "BATCH_STATE_SUCCEEDED") {
      json_builder_set_member_name(b, "output");
      json_builder_begin_object(b);
      add_inlined(b, job);
      json_builder_end_object(b);
    }
  });
}

void FakeServer::Impl::add_inlined(JsonBuilder *b, const FakeBatch &job) {
  json_builder_set_member_name(b, "inlinedResponses");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "inlinedResponses");
  json_builder_begin_array(b);
  for (const auto &[key, answer] : job.answers) {
    json_builder_begin_object(b);
    json::Doc doc = json::try_parse(answer.body);
    if (answer.status == 200 && doc.object()) {
      json_builder_set_member_name(b, "response");
      json_builder_add_value(b, json_node_copy(doc.root()));
    } else {
      json_builder_set_member_name(b, "error");
      JsonObject *err = json::object(doc.object(), "error");
      if (err) {
        json_builder_add_value(b, json_node_copy(json_object_get_member(doc.object(), "error")));
      } else {
        json_builder_begin_object(b);
        json::add(b, "code", int64_t(answer.status));
        json::add(b, "message", std::string("fake: an answer that is not JSON"));
        json_builder_end_object(b);
      }
    }
    if (!job.drop_keys) {
      json_builder_set_member_name(b, "metadata");
      json_builder_begin_object(b);
      json::add(b, "key", key);
      json_builder_end_object(b);
    }
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
}

Answer FakeServer::Impl::batch_get(SoupServerMessage *msg, const std::string &name, RecordedRequest &rec) {
  if (std::optional<Answer> refused = google_key_refusal(msg, rec)) return *refused;
  auto it = batches.find(name);
  if (it == batches.end()) return {404, gemini_error(404, "NOT_FOUND", "Requested entity was not found.")};
  FakeBatch &job = it->second;
  ++job.gets;
  const bool done = job.gets >= job.done_at;
  const std::string state = done ? job.final_state : job.gets + 1 >= job.done_at ? "BATCH_STATE_RUNNING"
                                                                               : "BATCH_STATE_PENDING";
  const std::string metadata = metadata_of(job, state);
  return {200, build_object([&](JsonBuilder *b) {
            json::add(b, "name", job.name);
            json_builder_set_member_name(b, "metadata");
            json_builder_add_value(b, json_from_string(metadata.c_str(), nullptr));
            if (done) {
              json_builder_set_member_name(b, "done");
              json_builder_add_boolean_value(b, TRUE);
              if (state == "BATCH_STATE_SUCCEEDED") {  // mirrored as the operation's response
                json_builder_set_member_name(b, "response");
                json_builder_begin_object(b);
                json::add(b, "@type",
                          std::string("type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"));
                add_inlined(b, job);
                json_builder_end_object(b);
              }
            }
          })};
}

}  // namespace genfill::test
