// genfill — one edit or generation, from region pixels to result pixels.
// Hosts (CLI, GIMP plug-in) read pixels, call these, and write the results.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <gio/gio.h>

#include "core/image/image.hpp"
#include "core/plan/plan.hpp"
#include "core/providers/provider.hpp"
#include "core/seam/seam.hpp"
#include "core/transport/transport.hpp"

namespace genfill {

struct JobSettings {
  std::string provider = "gemini";
  std::string model;        // empty = the provider's default
  std::string endpoint;     // empty = the provider's public service
  std::string api_key;      // empty = look it up (environment, keyring)
  std::string prompt;
  int variations = 1;       // images wanted
  std::optional<int64_t> seed;
  bool transparent = false; // generate only: a transparent background (models that can; else an error)
  // Edit results at the upload's scale (plan.content's size; finer when the answer is, as a 4K
  // answer to a capped upload, up to the region's size) instead of the region's: for hosts
  // that scale the result themselves (the plug-in lets GIMP do it) and so never hold a
  // full-resolution copy.
  bool results_at_upload_scale = false;
  // Decoded answers held at once, all variations together (bytes); a picture that would go over
  // is refused from its header, before it is decoded.
  size_t max_decoded_bytes = size_t(1) << 30;
  TransportOptions transport;
  std::vector<Turn> history; // edit only: earlier turns of the conversation being continued
  // Edits: how the answer is fitted to the region sent (registration, colours, seam).
  seam::Options seam;
};

struct Progress {
  std::string stage;        // short English label: "Encoding", "Waiting for Gemini", ...
  double fraction = -1;     // 0..1, or <0 when unknown (pulse)
};
using ProgressSink = std::function<void(const Progress &)>;

struct JobResult {
  std::vector<Image> images;  // edit: region-sized (plan.region); generate: the model's size
  std::string text;           // text the model sent, joined
  std::string finish_reason;
  Usage usage;                // summed over calls
  std::string provider, model;
  // For benchmarks and logs: seconds per stage ("encode", "request", "decode", "scale") and
  // the bytes of all request bodies sent.
  std::vector<std::pair<std::string, double>> timings;
  size_t bytes_sent = 0;
  // Edit only: this exchange as conversation turns (the prompt and the picture sent; the first
  // answer as the model gave it, signatures kept), for the next "now make it ..." step.
  Turn user_turn, model_turn;
  // Edits: what the seam correction found and applied, one per image.
  std::vector<seam::Report> seam;
};

// Resolves provider, model and key, and checks the endpoint and the timeouts; throws
// Error{InvalidInput|MissingKey} early, before any work.
struct ResolvedJob {
  const Provider *provider = nullptr;
  ModelInfo model;
  std::string base_url;
  std::string api_key;
  std::string key_source;  // where the key came from: "GEMINI_API_KEY", "keyring"; "" = the host gave it
};
ResolvedJob resolve(const JobSettings &settings);

// Throws Error{InvalidInput} when the chosen model only creates new pictures (it takes no input
// picture): hosts call it before asking for a key or reading pixels; run_edit calls it too.
void check_edit_supported(const JobSettings &settings);

// Edit: `region` holds the pixels of plan.region, either at full size or already scaled to
// plan.content's size; `mask` (optional) the selection over that region (same size as `region`;
// 255 = change). Returns variations region-sized images (content-sized with
// results_at_upload_scale). Throws Error.
JobResult run_edit(const JobSettings &settings, const Plan &plan, const Image &region,
                   const std::optional<Mask> &mask, const std::vector<Image> &references,
                   GCancellable *cancel = nullptr, const ProgressSink &progress = {});

// Generate: text (and optional reference images) to images at the given aspect or size.
JobResult run_generate(const JobSettings &settings, const std::string &aspect, int width, int height,
                       const std::vector<Image> &references, GCancellable *cancel = nullptr,
                       const ProgressSink &progress = {});

}  // namespace genfill

namespace genfill {

// The whole picture with `result` (region-sized) blended in through the selection.
// Without a mask the region is replaced. feather (px) softens the selection's edge inwards
// only, so pixels outside the selection stay exactly as they were.
Image composite_result(const Image &original, const Image &result, const Plan &plan,
                       const std::optional<Mask> &region_mask, double feather_px);

}  // namespace genfill
