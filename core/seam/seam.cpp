// Seam correction of one answer: registration, colour matching and the membrane blend, each
// in its own file, run in turn under the selection's mask.
#include "core/seam/seam.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace genfill::seam {

std::string Report::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "shift=%.2f,%.2f scale=%.4f gain=%.3f,%.3f,%.3f offset=%.1f,%.1f,%.1f blend=%d", registered ? dx : 0.0,
                registered ? dy : 0.0, registered ? scale : 1.0, gain[0], gain[1], gain[2], offset[0], offset[1],
                offset[2], blended ? 1 : 0);
  std::string s = buf;
  if (!note.empty()) s += " note=" + note;
  return s;
}

namespace {

// 255 outside the selection and away from it: where the selection, feathered by `margin`,
// stays below 2/255. Large masks are feathered at half resolution (from the maxima of 2x2
// pixels, with half the radius): that far out the feather is smooth, and it is a quarter of
// the work.
Mask away_from(const Mask &mask, double margin) {
  const int w = mask.width, h = mask.height;
  Mask keep(w, h);
  if (w < 64 || h < 64) {
    const Mask grown = feather(mask, margin);
    for (size_t i = 0; i < keep.values.size(); ++i) keep.values[i] = mask.values[i] == 0 && grown.values[i] < 2 ? 255 : 0;
    return keep;
  }
  Mask small(w / 2, h / 2);
  for (int y = 0; y < small.height; ++y)
    for (int x = 0; x < small.width; ++x)
      small.at(x, y) = std::max({mask.at(2 * x, 2 * y), mask.at(2 * x + 1, 2 * y), mask.at(2 * x, 2 * y + 1),
                                 mask.at(2 * x + 1, 2 * y + 1)});
  const Mask grown = feather(small, margin / 2);
  for (int y = 0; y < h; ++y) {
    const uint8_t *g = &grown.values[size_t(std::min(y / 2, grown.height - 1)) * grown.width];
    const uint8_t *m = &mask.values[size_t(y) * w];
    uint8_t *k = &keep.values[size_t(y) * w];
    for (int x = 0; x < w; ++x) k[x] = m[x] == 0 && g[std::min(x / 2, grown.width - 1)] < 2 ? 255 : 0;
  }
  return keep;
}

}  // namespace

Image correct(const Image &sent, const Image &answer, const Mask *mask, const Options &opts, Report *report) {
  auto t0 = std::chrono::steady_clock::now();
  Report r;
  if (sent.width != answer.width || sent.height != answer.height || !opts.any()) {
    if (report) *report = r;
    return answer;
  }
  // The kept context, away from the selection (the model may blur or restyle its surroundings).
  Mask keep(sent.width, sent.height, 255);
  if (mask) keep = away_from(*mask, std::max(4.0, 0.02 * std::max(sent.width, sent.height)));
  for (size_t i = 0; i < keep.values.size(); ++i)
    if (sent.pixels[i * 4 + 3] < 255 || answer.pixels[i * 4 + 3] == 0) keep.values[i] = 0;
  Image out;  // the answer, registered when it drifted
  if (opts.register_answer) {
    Drift d = estimate_drift(sent, answer, keep);
    if (d.found) {
      r.dx = d.dx;
      r.dy = d.dy;
      r.scale = d.scale;
      if (std::abs(d.dx) > 0.05 || std::abs(d.dy) > 0.05 || std::abs(d.scale - 1) > 1e-4) {
        out = warp(answer, d.dx, d.dy, d.scale);
        r.registered = true;
      }
    } else {
      r.note = d.note;
    }
  }
  if (!r.registered) out = answer;
  // Colours and seam are fitted only when the answer kept the context (the same picture,
  // drifted); an answer that repainted everything has no drift to undo.
  bool kept_context = false;
  if (mask) {
    double n = 0, sa = 0, ss = 0, saa = 0, sss = 0, sas = 0;
    for (int y = 0; y < sent.height; y += 2)
      for (int x = 0; x < sent.width; x += 2) {
        if (!keep.at(x, y)) continue;
        const uint8_t *a = out.at(x, y), *b = sent.at(x, y);
        double la = 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2], lb = 0.299 * b[0] + 0.587 * b[1] + 0.114 * b[2];
        n += 1;
        sa += la;
        ss += lb;
        saa += la * la;
        sss += lb * lb;
        sas += la * lb;
      }
    if (n >= 100) {
      double va = saa / n - (sa / n) * (sa / n), vs = sss / n - (ss / n) * (ss / n), cv = sas / n - (sa / n) * (ss / n);
      kept_context = va > 1 && vs > 1 && cv / std::sqrt(va * vs) > 0.5;
    }
    if (!kept_context && (opts.match_colours || opts.blend_seam))
      r.note += std::string(r.note.empty() ? "" : "; ") + "answer does not keep the context";
  }
  // Without a selection the whole region was to change: nothing was asked to be kept, so its
  // colours are the edit, not a drift.
  if (opts.match_colours && mask && kept_context) {
    ColourFit f = estimate_colour(sent, out, keep);
    if (f.found) {
      apply_colour(out, f);
      r.colour_matched = true;
      for (int c = 0; c < 3; ++c) {
        r.gain[c] = f.gain[c];
        r.offset[c] = f.offset[c];
      }
    }
  }
  if (opts.blend_seam && mask && kept_context) {
    blend_membrane(sent, out, *mask);
    r.blended = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (report) *report = r;
  return out;
}

}  // namespace genfill::seam

