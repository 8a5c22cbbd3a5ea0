// genfill — making a model's answer fit in place: registration, colour matching, seam blending.
// Image models resample the region they are given, shift it by a few pixels and change its
// colours a little, also where they were asked to keep it. correct() estimates those drifts on
// the kept part of the region (outside the selection) and undoes them over the whole answer.
#pragma once

#include <string>

#include "core/image/image.hpp"

namespace genfill::seam {

struct Options {
  bool register_answer = true;  // estimate shift + scale and warp the answer back
  bool match_colours = true;    // per-channel gain and offset
  bool blend_seam = true;       // gradient-domain (membrane) blend across the selection's edge
  static Options raw() { return {false, false, false}; }
  bool any() const { return register_answer || match_colours || blend_seam; }
};

// What was found and applied. The drift maps a point q of the region sent to the point
// c + scale * (q - c) + (dx, dy) of the answer, c being the region's centre.
struct Report {
  bool registered = false;       // a warp was applied
  double dx = 0, dy = 0, scale = 1;
  bool colour_matched = false;
  double gain[3] = {1, 1, 1}, offset[3] = {0, 0, 0};  // sent ~= gain * answer + offset (0..255)
  bool blended = false;
  std::string note;              // why a step was skipped (English, for logs and the parasite)
  double seconds = 0;
  // "shift=1.25,-0.50 scale=1.0123 gain=... offset=... blend=1" style summary.
  std::string summary() const;
};

// sent: the region pixels that were uploaded; answer: the model's answer mapped back to the
// region (same size); mask: the selection over the region (255 = change), or nullptr when the
// whole region was to change. Returns the corrected answer (same size).
Image correct(const Image &sent, const Image &answer, const Mask *mask, const Options &opts,
              Report *report = nullptr);

// --- the steps, for tests and benchmarks ---

struct Drift {
  bool found = false;
  double dx = 0, dy = 0, scale = 1;
  std::string note;
};
// Estimates the drift of answer against sent over the pixels where keep > 0.
Drift estimate_drift(const Image &sent, const Image &answer, const Mask &keep);
// out(q) = answer(c + scale * (q - c) + d), separable Catmull-Rom, edges clamped.
Image warp(const Image &answer, double dx, double dy, double scale);

struct ColourFit {
  bool found = false;
  double gain[3] = {1, 1, 1}, offset[3] = {0, 0, 0};
};
ColourFit estimate_colour(const Image &sent, const Image &answer, const Mask &keep);
void apply_colour(Image &img, const ColourFit &fit);

// Adds to `answer` the smooth (harmonic) correction that makes it equal `sent` along the
// selection's edge: the Poisson blend with the answer's own gradients as guidance.
void blend_membrane(const Image &sent, Image &answer, const Mask &mask);

// A synthetic drift for tests and the fake server: out(p) = gain * in(c + (p - c - d) / scale)
// + offset per channel, i.e. the inverse of what correct() undoes.
Image apply_drift(const Image &in, double dx, double dy, double scale, const double gain[3],
                  const double offset[3]);

}  // namespace genfill::seam
