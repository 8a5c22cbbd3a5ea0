// The fake Imagen API, the legacy :predict form (see fake_server.hpp).
#include <algorithm>
#include <set>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/image/image.hpp"
#include "core/providers/json.hpp"
#include "core/util/gobj.hpp"
#include "fake_internal.hpp"

namespace genfill::test {

namespace {

// Imagen (:predict): the five ratios it takes => output size.
const struct {
  const char *ratio;
  int w, h;
} kImagenAspects[] = {{"1:1", 1024, 1024}, {"3:4", 896, 1280}, {"4:3", 1280, 896}, {"9:16", 768, 1408}, {"16:9", 1408, 768}};

}  // namespace

Answer FakeServer::Impl::imagen(SoupServerMessage *msg, const std::string &model, const std::string &body,
                                RecordedRequest &rec, const FakeReply *reply) {
  rec.model = model;
  if (std::optional<Answer> refused = google_key_refusal(msg, rec, "imagen/error_400_api_key_invalid.json"))
    return *refused;
  if (!g_str_has_prefix(model.c_str(), "imagen"))  // as imagen/error_404_model_retired.json, naming this model
    return {404, gemini_error(404, "NOT_FOUND",
                              "models/" + model +
                                  " is not found for API version v1beta, or is not supported for predict. Call "
                                  "ListModels to see the list of available models and their supported methods.")};
  auto invalid = [](const std::string &m) { return Reject{{400, gemini_error(400, "INVALID_ARGUMENT", m)}}; };
  json::Doc doc = json::try_parse(body);
  JsonObject *root = doc.object();
  if (!root) throw invalid("Invalid JSON payload received.");
  JsonArray *instances = json::array(root, "instances");
  if (!instances || json_array_get_length(instances) != 1) throw invalid("Exactly one instance is expected.");
  JsonObject *instance = json::element_object(instances, 0);
  for (const char *editing : {"image", "referenceImages", "mask"})
    if (instance && json_object_has_member(instance, editing))
      throw invalid(std::string("Image editing is not supported by this model (instances[0].") + editing + ").");
  rec.prompt = json::string(instance, "prompt");
  if (rec.prompt.empty()) throw invalid("instances[0].prompt is required.");
  JsonObject *params = json::object(root, "parameters");
  bool rai = false;
  if (params) {  // only what the Gemini API's Imagen mapper sends (REFERENCE §2)
    static const std::set<std::string> known = {"sampleCount", "aspectRatio", "personGeneration", "safetySetting",
                                                "guidanceScale", "includeSafetyAttributes", "includeRaiReason",
                                                "language", "outputOptions", "sampleImageSize"};
    GList *names = json_object_get_members(params);
    std::string unknown;
    for (GList *l = names; l; l = l->next)
      if (!known.count(static_cast<const char *>(l->data))) unknown = static_cast<const char *>(l->data);
    g_list_free(names);
    if (!unknown.empty()) throw invalid(unknown + " parameter is not supported in Gemini API.");
    rai = json::boolean(params, "includeRaiReason");
  }
  rec.n = int(json::integer(params, "sampleCount", 4));
  if (rec.n < 1 || rec.n > 4) throw invalid("sampleCount must be between 1 and 4.");
  rec.aspect = json::string(params, "aspectRatio");
  int w = 1024, ht = 1024;
  if (!rec.aspect.empty()) {
    auto it = std::find_if(std::begin(kImagenAspects), std::end(kImagenAspects),
                           [&](const auto &a) { return rec.aspect == a.ratio; });
    if (it == std::end(kImagenAspects)) throw invalid("Unsupported aspect ratio: " + rec.aspect);
    w = it->w;
    ht = it->h;
  }
  rec.image_size = json::string(params, "sampleImageSize");  // Imagen 4: "1K" (default) or "2K"
  if (rec.image_size == "2K") {
    w *= 2;
    ht *= 2;
  } else if (!rec.image_size.empty() && rec.image_size != "1K") {
    throw invalid("sampleImageSize must be 1K or 2K.");
  }
  // "No picture": every picture filtered, said so with includeRaiReason, else dropped ({}).
  const bool none = reply && reply->text_only;
  if (none && !rai) return {200, "{}"};
  const std::string b64 = none ? std::string() : picture_b64(w, ht, color_for(reply), reply);
  return {200, build_object([&](JsonBuilder *b) {
            json_builder_set_member_name(b, "predictions");
            json_builder_begin_array(b);
            for (int i = 0; i < rec.n; ++i) {
              json_builder_begin_object(b);
              if (none) {
                json::add(b, "raiFilteredReason", std::string("The fake filtered this picture."));
              } else {
                json::add(b, "mimeType", std::string("image/png"));
                json::add(b, "bytesBase64Encoded", b64);
              }
              json_builder_end_object(b);
            }
            json_builder_end_array(b);
          })};
}

}  // namespace genfill::test
