#include "core/transport/sse.hpp"

#include "core/util/error.hpp"
#include "core/util/i18n.hpp"

namespace genfill {

void SseParser::too_large() const {
  throw Error(ErrorCode::TooLarge,
              format(_("The service's answer came in a piece larger than genfill accepts (%zu bytes), so it was stopped."),
                     max_));
}

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  std::vector<SseEvent> out;
  for (char c : bytes) {
    if (started_) {
      take_byte(c, out);
      continue;
    }
    // A UTF-8 BOM at the very start is dropped; its three bytes may come apart. Bytes that
    // turn out not to be one are read as ordinary ones.
    line_ += c;
    if (kBom.starts_with(line_)) {
      if (line_.size() < kBom.size()) continue;
      line_.clear();
    }
    started_ = true;
    std::string head;
    head.swap(line_);
    for (char h : head) take_byte(h, out);
  }
  return out;
}

void SseParser::take_byte(char c, std::vector<SseEvent> &out) {
  if (c == '\n' && after_cr_) {  // the LF of a CRLF
    after_cr_ = false;
    return;
  }
  after_cr_ = (c == '\r');
  if (c == '\r' || c == '\n') {
    take_line(out);
    return;
  }
  if (line_.size() >= max_) too_large();
  line_ += c;
}

void SseParser::take_line(std::vector<SseEvent> &out) {
  std::string line;
  line.swap(line_);
  if (line.empty()) {  // dispatch
    if (has_data_) {
      SseEvent ev;
      ev.type = type_.empty() ? "message" : type_;
      ev.data = std::move(data_);
      ev.id = last_id_;
      out.push_back(std::move(ev));
    }
    type_.clear();
    data_.clear();
    has_data_ = false;
    pending_ = false;
    return;
  }
  if (line[0] == ':') return;  // a comment (keep-alive)
  pending_ = true;
  const size_t colon = line.find(':');
  std::string_view field(line), value;
  if (colon != std::string::npos) {
    field = std::string_view(line).substr(0, colon);
    value = std::string_view(line).substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    if (data_.size() + value.size() > max_) too_large();
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" and unknown fields are ignored, as the standard says.
}

}  // namespace genfill
