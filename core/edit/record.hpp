// genfill — what a result says about itself, written the same way by every host: the record a
// new layer keeps (GIMP's `genfill` parasite), the seam report (also in the CLI's --json), and
// the conversation a layer's record continues. Never the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <json-glib/json-glib.h>

#include "core/edit/expand.hpp"
#include "core/edit/job.hpp"

namespace genfill {

// One result's record as JSON text: generator, provider, model, prompt, seed (the one the
// variation used), time, the model's text, variation (from 1), region [x, y, w, h], the
// conversation id (when there is one), the run's usage and cost (all variations together), for
// edits the seam report and, for expansions, the margins {left, right, top, bottom}.
std::string result_record(const JobResult &result, const std::string &prompt, const std::optional<int64_t> &seed,
                          int variation, const Rect &region, const std::string &conversation,
                          const std::optional<Margins> &margins = std::nullopt);

// The run's usage ({"usage": {"input_tokens": .., ...}}, the counts the service reported) and,
// when the catalog prices the model, {"cost": {"usd", "estimated", "prices_as_of"}}, as members
// of the object being built in `b`.
void add_usage_and_cost(JsonBuilder *b, const Usage &usage, const Cost &cost);

// What fitting one answer in place found and applied, as one JSON object added to `b`:
// registered, shift [dx, dy] and scale (0, 0 and 1 when not registered), colour_matched, gain,
// offset (per channel), blended, note, seconds.
void add_seam_report(JsonBuilder *b, const seam::Report &report);

// The conversation a result's record continues (its "conversation" member when that is a valid
// id), "" otherwise; the record may come from anyone.
std::string conversation_of_record(std::string_view record);

}  // namespace genfill
