// genfill — what each model accepts (sizes, aspects, masks), read from the model catalog:
// data/models.json as installed with genfill, plus the user's own file, which adds or replaces
// entries by id. Adding a model is one entry in a file, no code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genfill {

struct Aspect {
  int w = 1, h = 1;            // ratio, e.g. 16:9
  int out_w = 0, out_h = 0;    // pixel size the model answers with at this ratio (at its base size)
  std::string label() const { return std::to_string(w) + ":" + std::to_string(h); }
};

// A named output size (Gemini 3's imageSize "512", "1K", "2K", "4K"): the answer at an aspect
// is the aspect's base size times `scale`.
struct ImageSize {
  std::string name;
  double scale = 1;
};

// Free-form sizes (gpt-image-2): any WxH with both sides multiples of `multiple`, the long side
// at most `max_ratio` times the short one and at most `max_side`, between min_pixels and
// max_pixels pixels in all (0 = no limit). `default_pixels` is what a generation without a
// size asks for.
struct FreeSize {
  int multiple = 16;
  double max_ratio = 3;
  int max_side = 0;
  int64_t min_pixels = 0, max_pixels = 0, default_pixels = 1048576;
};

// What a model costs, as its service's pricing page gave it on `as_of` (the catalog's data, which
// the user's catalog may change). Token prices in USD per million tokens, by kind; the token
// counts say what one picture in or out usually takes, for estimates made before sending:
// image_out_tokens by the model's image size ("1K") or, for models that take a quality, by
// quality ("low") at one megapixel; image_in_tokens per picture sent at one megapixel.
struct Prices {
  double text_in = 0, image_in = 0, text_out = 0, image_out = 0;
  int image_in_tokens = 0;
  std::vector<std::pair<std::string, int>> image_out_tokens;
  std::string as_of, source;
};

struct ModelInfo {
  std::string id;
  std::string provider;            // provider name in the registry (may be one this build lacks)
  std::string display_name;
  bool is_default = false;         // the provider's default model
  bool legacy = false;             // an older request form (Imagen's :predict); kept for relays
  // Lifecycle: the day its owner shut the model down, or announced it will ("YYYY-MM-DD"; ""
  // = no shutdown known), and the model its owner names instead ("" = none named). A model
  // whose day has come is never a default and is marked retired wherever models are listed;
  // it stays in the catalog because relays may still serve it.
  std::string retired;
  std::string replacement;
  bool takes_mask = false;         // a real mask parameter (OpenAI edits)
  bool can_edit = true;            // accepts input images
  bool exact_size = false;         // the request names a WxH size (OpenAI), not a ratio
  int max_images_per_call = 1;     // n per request
  int max_input_images = 1;
  bool thought_images = false;     // sends draft "thought" pictures before the answer (Gemini 3)
  // Its answer can be streamed as server-sent events, with drafts on the way: Gemini's thought
  // pictures, OpenAI's `partial_images` partial pictures (0-3) of each picture.
  bool streams = false;
  int partial_images = 0;
  bool input_fidelity = false;     // edits may ask for high input fidelity (OpenAI)
  bool transparent = false;        // can answer with a transparent background
  std::vector<std::string> response_modalities;  // Gemini: e.g. {"TEXT", "IMAGE"}; empty = the provider's own
  std::vector<Aspect> aspects;     // what the model offers; never empty
  std::vector<ImageSize> image_sizes;  // empty = one size only (no size parameter)
  std::string default_image_size;  // one of image_sizes, "" when there are none
  std::optional<FreeSize> free_size;   // free-form sizes, in addition to `aspects`
  // The qualities a request may name (OpenAI's "low", "medium", "high", "auto"...), the
  // service's default first; empty = the model takes no quality.
  std::vector<std::string> qualities;
  std::optional<Prices> prices;        // nullopt: the catalog knows no price for it
};

// Today's date in UTC as "YYYY-MM-DD" (the catalog's lifecycle dates are compared with it).
std::string today_utc();
// Whether the model's shutdown day has come (`today` as "YYYY-MM-DD").
bool is_retired(const ModelInfo &m, const std::string &today = today_utc());

// The catalog (shipped file plus the user's), loaded on first use. Throws Error{InvalidInput}
// naming the file and line when a file is broken.
const std::vector<ModelInfo> &known_models();
// The catalog's entry, or, for ids it does not list, the provider's default entry under that
// id (users try new models before genfill knows them). Throws Error{InvalidInput} for a
// provider the catalog does not know.
ModelInfo model_info(std::string_view provider, std::string_view model_id);
// The catalog's default model of a provider, never a retired one: the entry marked "default",
// else its first entry that is not retired; "" when every one is retired (or it lists none).
std::string default_model_id(std::string_view provider, const std::string &today = today_utc());
// The same in a given list of models.
std::string default_model_id(const std::vector<ModelInfo> &catalog, std::string_view provider,
                             const std::string &today);
// The catalog's entry for exactly this id (any provider), or nullptr.
const ModelInfo *find_model(std::string_view provider, std::string_view model_id);
// The catalog's models of one provider, in the file's order.
std::vector<ModelInfo> models_of(std::string_view provider);

// --- loading (also for tests and tools) ---

struct CatalogFiles {
  std::string shipped;  // the catalog installed with genfill (or $GENFILL_MODELS_FILE)
  std::string user;     // $XDG_CONFIG_HOME/genfill/models.json; it may not exist
};
// Where the catalog is read from. Throws Error{InvalidInput} when no shipped catalog is found.
CatalogFiles catalog_files();

// The shipped catalog's file and the day its facts were read (its top-level "date"; "" when
// it has none or cannot be read): what `genfill --version` names.
struct CatalogStamp {
  std::string path, date;
};
CatalogStamp shipped_catalog_stamp();

// Parses a catalog file's text; `file` names it in error messages. Throws Error{InvalidInput}
// with the file and line (syntax) or the entry and field (meaning).
std::vector<ModelInfo> parse_catalog(std::string_view text, const std::string &file);
// Reads `shipped`, then `user` when that file exists: its entries replace those with the same
// id and the others are added. Throws Error{InvalidInput}.
std::vector<ModelInfo> load_catalog(const std::string &shipped, const std::string &user);

}  // namespace genfill
