// genfill — one edit or generation, the whole flow: hosts (CLI, GIMP plug-in) gather settings,
// prepare() them, hand run_edit() a source of pixels (or run_generate() a size), show progress,
// and write the results. Planning, the conversation, the request and the seam happen here.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <gio/gio.h>

#include "core/cost/cost.hpp"
#include "core/image/image.hpp"
#include "core/plan/plan.hpp"
#include "core/providers/provider.hpp"
#include "core/seam/seam.hpp"
#include "core/transport/transport.hpp"

namespace genfill {

struct JobSettings {
  std::string provider;     // empty = the default service (the registry's first)
  std::string model;        // empty = the provider's default
  std::string endpoint;     // empty = the provider's public service
  std::string api_key;      // empty = look it up (environment, keyring)
  std::string prompt;
  int variations = 1;       // images wanted
  std::optional<int64_t> seed;
  bool transparent = false; // generate only: a transparent background (models that can; else an error)
  std::string quality;      // one of the model's qualities (OpenAI: "low", "high"...); "" = the service's default
  std::string image_size;   // one of the model's image sizes (Gemini: "2K"); "" = the smallest that covers
  std::string operation;    // what the ledger calls the run: "edit", "generate", "expand"; "" = by the task
  // Edit results at the upload's scale (plan.content's size; finer when the answer is, as a 4K
  // answer to a capped upload, up to the region's size) instead of the region's: for hosts
  // that scale the result themselves (the plug-in lets GIMP do it) and so never hold a
  // full-resolution copy.
  bool results_at_upload_scale = false;
  // Decoded answers held at once, all variations together (bytes); a picture that would go over
  // is refused from its header, before it is decoded.
  size_t max_decoded_bytes = size_t(1) << 30;
  TransportOptions transport;
  // Edit only: earlier turns of a conversation being continued; run_edit adds those of
  // EditInput::conversation.
  std::vector<Turn> history;
  // Edits: how the answer is fitted to the region sent (registration, colours, seam).
  seam::Options seam;
  // Stream the answer where the model can, with drafts on the way (Progress::draft).
  bool stream = true;
  // Instead of sending: the built requests go to `exchange`, whose outcomes are read as the
  // service's answers (the Batch API submits the requests in one job and brings the answers back
  // later; core/batch). `answered` = the outcomes hold answers already paid for: no budget check.
  // `price_factor` scales the cost recorded (the Batch API bills half).
  std::function<std::vector<Outcome>(const std::vector<HttpRequest> &)> exchange;
  bool answered = false;
  double price_factor = 1;
};

// A draft of an answer still being made (models whose answers stream): shown while waiting,
// never placed.
struct Draft {
  int variation = 0;        // which call of the run it belongs to (0-based): a variation, for one-picture calls
  int number = 1;           // the run's drafts so far, this one included
  // Edits: the region as read (its size, or the upload's with results_at_upload_scale) with the
  // draft fitted in and blended through the selection, as the finished picture would land.
  // Generations: the draft as it came.
  Image picture;
  Rect region;              // edits: where `picture` goes in the source (plan.region); else empty
  double seconds = 0;       // since the request was sent
};

struct Progress {
  std::string stage;        // short English label: "Encoding", "Waiting for Gemini", ...
  double fraction = -1;     // 0..1, or <0 when unknown (pulse)
  std::shared_ptr<const Draft> draft;  // set when a draft came with this update
};
using ProgressSink = std::function<void(const Progress &)>;

struct JobResult {
  std::vector<Image> images;  // edit: region-sized (plan.region); generate: the model's size
  std::string text;           // text the model sent, joined
  std::string finish_reason;
  Usage usage;                // summed over calls
  Cost cost;                  // what the usage cost at the catalog's prices (or the estimate)
  std::string provider, model;
  // For benchmarks and logs: seconds per stage ("encode", "request", "decode", "scale") and
  // the bytes of all request bodies sent.
  std::vector<std::pair<std::string, double>> timings;
  size_t bytes_sent = 0;
  size_t upload_bytes = 0;    // edits: the PNG of the picture edited, as sent
  int drafts = 0;             // drafts shown while waiting
  bool streamed = false;      // the answers were asked for as streams
  // Edit only: this exchange as conversation turns (the prompt and the picture sent; the first
  // answer as the model gave it, signatures kept), for the next "now make it ..." step.
  Turn user_turn, model_turn;
  // Edits: what the seam correction found and applied, one per image.
  std::vector<seam::Report> seam;
};

// What a job is for: edits take the picture they change; generations make a new one.
enum class Task { Edit, Generate };

// What the chosen model can do, as the catalog says: what hosts offer and check before a run.
struct Capabilities {
  bool edit = true;              // takes a picture to change (else it only makes new ones)
  bool mask = false;             // takes a real mask (else the selection is described to it)
  bool transparent = false;      // can answer with a transparent background
  bool exact_size = false;       // asked for WxH (else for an aspect ratio)
  int max_images_per_call = 1;   // variations one request gives
  int max_input_images = 1;      // pictures in: the edited one and the references together
  int max_variations = 10;       // variations one run may ask for
  int max_references = 0;        // reference pictures a run may add to the task's own picture
};

// One job's settings with the provider, model (the catalog's entry; its default when none is
// named), key and URL resolved once, checked before any pixel is read or anything is sent.
struct PreparedJob {
  JobSettings settings;      // as given, api_key filled in
  Task task = Task::Edit;
  const Provider *provider = nullptr;
  ModelInfo model;
  std::string base_url;
  std::string key_source;    // where the key came from: "GEMINI_API_KEY", "keyring"; "" = the host gave it
  std::string service;       // the service as users know it: "Google Gemini"
  std::string short_service; // its last word, for status lines: "Gemini"
  Capabilities can;
};

// Resolves and checks everything a run needs before it starts: the provider (Error
// InvalidInput naming the known ones), for edits that the model takes a picture (checked before
// the key, so a model that only generates is said so first), the model, the endpoint, the
// timeouts, the number of variations, the quality and image size (the model's own), then the key
// (the host's, else the environment's or the keyring's; Error MissingKey when there is none).
// need_key = false: for estimates, which send nothing; no key is looked up or required.
PreparedJob prepare(const JobSettings &settings, Task task, bool need_key = true);


// ---------- edits: the host supplies pixels, the core does the rest ----------

// The pixels of a rectangle, read by the host at the size asked for, with the selection over it.
struct RegionPixels {
  Image pixels;
  std::optional<Mask> selection;  // same size as pixels, 255 = change; nullopt = no selection
};

// What a host hands an edit: the picture it reads from (a decoded file, a layer, what the user
// sees) and the selection's bounds. The core plans the region and asks for exactly that
// rectangle, once, at the size it will use it (its own, or the upload's with
// results_at_upload_scale).
class RegionSource {
public:
  virtual ~RegionSource() = default;
  virtual int width() const = 0;             // the picture the region is planned within
  virtual int height() const = 0;
  virtual Rect selection() const = 0;        // the selection's bounds in it; empty = the whole picture
  // `region` (within width() x height()) at width x height; throws Error to stop the edit.
  virtual RegionPixels read(const Rect &region, int width, int height) = 0;
};

// A RegionSource over a picture already in memory (the CLI's decoded file, tests), with an
// optional selection mask of the same size.
class PictureSource : public RegionSource {
public:
  PictureSource(const Image &picture, const std::optional<Mask> &selection);
  int width() const override { return picture_.width; }
  int height() const override { return picture_.height; }
  Rect selection() const override { return bounds_; }
  RegionPixels read(const Rect &region, int width, int height) override;

private:
  const Image &picture_;
  const std::optional<Mask> &mask_;
  Rect bounds_;
};

struct EditInput {
  std::vector<Image> references;  // further pictures to guide the model
  double context = 0.25;          // margin sent around the selection, as a fraction of its size
  // The conversation this edit continues ("" = none): its earlier turns go with the request, and
  // the exchange is saved under a conversation id either way. When it is gone from the cache,
  // conversation_gone is called (before anything is read) and the edit starts afresh.
  std::string conversation;
  std::function<void()> conversation_gone;
};

struct EditResult : JobResult {
  Plan plan;                      // the region sent (plan.region, in the source's coordinates) and how
  // The selection over the region as it was read: the region's size (so the results'), or the
  // upload's with results_at_upload_scale.
  std::optional<Mask> selection;
  std::string conversation;       // the id the exchange was saved under; "" when it could not be
};

// Edit: plans the region from the source's size and selection, reads it, sends it with the
// conversation's earlier turns, fits the answers in place (seam) and saves the exchange.
// Returns variations region-sized images (upload-scaled with results_at_upload_scale). Throws Error.
EditResult run_edit(const PreparedJob &job, const EditInput &input, RegionSource &source,
                    GCancellable *cancel = nullptr, const ProgressSink &progress = {});

// Generate: text (and optional reference images) to images at the given aspect or size.
JobResult run_generate(const PreparedJob &job, const std::string &aspect, int width, int height,
                       const std::vector<Image> &references, GCancellable *cancel = nullptr,
                       const ProgressSink &progress = {});

// ---------- what a run will cost, before anything is sent ----------
// From the plan, as the run would make it: the pictures sent and their sizes, the answers' size,
// quality and image size, the variations and the calls they take. Nothing is read or sent; the
// conversation continued is read from the cache for its pictures. Throws Error as the run would
// for what is wrong with the input.

// An edit of a width x height picture with the selection's bounds (empty = the whole picture).
Cost estimate_edit(const PreparedJob &job, const EditInput &input, int width, int height, const Rect &selection);
// A generation (as run_generate's arguments), with references of these sizes.
Cost estimate_generate(const PreparedJob &job, const std::string &aspect, int width, int height,
                       const std::vector<std::pair<int, int>> &reference_sizes);

}  // namespace genfill

namespace genfill {

// The whole picture with `result` (region-sized) blended in through the selection.
// Without a mask the region is replaced. feather (px) softens the selection's edge inwards
// only, so pixels outside the selection stay exactly as they were.
Image composite_result(const Image &original, const Image &result, const Plan &plan,
                       const std::optional<Mask> &region_mask, double feather_px);
// The same for one of an edit's results (region-sized: not results_at_upload_scale).
Image composite_result(const Image &original, const EditResult &edit, size_t index, double feather_px);

}  // namespace genfill
