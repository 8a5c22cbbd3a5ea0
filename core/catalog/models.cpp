// The built-in model table: what each model accepts.
#include "core/util/i18n.hpp"
#include "core/catalog/models.hpp"

#include "core/util/error.hpp"

namespace genfill {

namespace {

std::vector<Aspect> gemini_25_aspects() {
  return {{1, 1, 1024, 1024}, {2, 3, 832, 1248}, {3, 2, 1248, 832}, {3, 4, 864, 1184}, {4, 3, 1184, 864},
          {4, 5, 896, 1152},  {5, 4, 1152, 896}, {9, 16, 768, 1344}, {16, 9, 1344, 768}, {21, 9, 1536, 672}};
}

std::vector<Aspect> gemini_3_aspects() {  // 1K sizes
  return {{1, 1, 1024, 1024}, {2, 3, 848, 1264}, {3, 2, 1264, 848}, {3, 4, 896, 1200}, {4, 3, 1200, 896},
          {4, 5, 928, 1152},  {5, 4, 1152, 928}, {9, 16, 768, 1376}, {16, 9, 1376, 768}, {21, 9, 1584, 672}};
}

std::vector<Aspect> gpt_image_aspects() { return {{1, 1, 1024, 1024}, {3, 2, 1536, 1024}, {2, 3, 1024, 1536}}; }

ModelInfo gemini(std::string id, std::string display, std::vector<Aspect> aspects, int max_inputs) {
  ModelInfo m;
  m.id = std::move(id);
  m.provider = "gemini";
  m.display_name = std::move(display);
  m.takes_mask = false;
  m.exact_size = false;
  m.max_images_per_call = 1;
  m.max_input_images = max_inputs;
  m.aspects = std::move(aspects);
  return m;
}

ModelInfo gpt(std::string id, std::string display) {
  ModelInfo m;
  m.id = std::move(id);
  m.provider = "openai";
  m.display_name = std::move(display);
  m.takes_mask = true;
  m.exact_size = true;
  m.max_images_per_call = 10;
  m.max_input_images = 16;
  m.aspects = gpt_image_aspects();
  return m;
}

// --- Relays and legacy formats (issue 4): Imagen :predict and OpenAI-compatible chat relays.
// Kept together so they move as one block when the table becomes data.
std::vector<Aspect> imagen_aspects() {  // Vertex AI's model page of imagen-3.0-generate-002
  return {{1, 1, 1024, 1024}, {3, 4, 896, 1280}, {4, 3, 1280, 896}, {9, 16, 768, 1408}, {16, 9, 1408, 768}};
}

ModelInfo imagen(std::string id, std::string display) {  // text to image only, 1-4 per request
  ModelInfo m = gemini(std::move(id), std::move(display), imagen_aspects(), 0);
  m.provider = "imagen";
  m.can_edit = false;
  m.max_images_per_call = 4;
  return m;
}

ModelInfo chat_relay(std::string id, std::string display, std::vector<Aspect> aspects, int max_inputs) {
  ModelInfo m = gemini(std::move(id), std::move(display), std::move(aspects), max_inputs);
  m.provider = "openai-chat";
  return m;
}
// --- end of relays and legacy formats

}  // namespace

const std::vector<ModelInfo> &known_models() {
  // The first model of each provider is its default.
  static const std::vector<ModelInfo> models = {
      gemini("gemini-2.5-flash-image", "Gemini 2.5 Flash Image", gemini_25_aspects(), 3),
      gemini("gemini-3-pro-image-preview", "Gemini 3 Pro Image (preview)", gemini_3_aspects(), 14),
      gemini("gemini-3.1-flash-image-preview", "Gemini 3.1 Flash Image (preview)", gemini_3_aspects(), 14),
      gemini("gemini-2.0-flash-exp-image-generation", "Gemini 2.0 Flash image generation (legacy)",
             gemini_25_aspects(), 3),
      gpt("gpt-image-1", "GPT Image 1"),
      gpt("gpt-image-1-mini", "GPT Image 1 mini"),
      gpt("gpt-image-1.5", "GPT Image 1.5"),
      gpt("gpt-image-2", "GPT Image 2"),
      // --- Relays and legacy formats (issue 4); the first of each provider is its default.
      imagen("imagen-4.0-generate-001", "Imagen 4 (legacy, retired by Google)"),
      imagen("imagen-3.0-generate-002", "Imagen 3 (legacy, retired by Google)"),
      chat_relay("google/gemini-2.5-flash-image", "Gemini 2.5 Flash Image (chat relay)", gemini_25_aspects(), 3),
      chat_relay("google/gemini-3-pro-image-preview", "Gemini 3 Pro Image preview (chat relay)", gemini_3_aspects(),
                 14),
      chat_relay("google/gemini-3.1-flash-image-preview", "Gemini 3.1 Flash Image preview (chat relay)",
                 gemini_3_aspects(), 14),
      // --- end of relays and legacy formats
  };
  return models;
}

ModelInfo model_info(std::string_view provider, std::string_view model_id) {
  const ModelInfo *first = nullptr;
  for (const ModelInfo &m : known_models()) {
    if (m.provider != provider) continue;
    if (!first) first = &m;
    if (m.id == model_id) return m;
  }
  if (!first)
    throw Error(ErrorCode::InvalidInput, format(_("Unknown provider \"%s\"."), std::string(provider).c_str()));
  // Unknown model: users try new models before genfill knows them; assume the provider's defaults.
  ModelInfo m = *first;
  m.id = std::string(model_id);
  m.display_name = std::string(model_id);
  return m;
}

}  // namespace genfill
