// genfill — server-sent events (text/event-stream), parsed as the bytes arrive: what both
// services stream their drafts in (Gemini's streamGenerateContent?alt=sse, OpenAI's Images API
// with stream=true). Follows the HTML standard's parsing rules: lines end in CRLF, LF or CR;
// "data" lines join with "\n"; "event" names the event; a line starting with ":" is a comment;
// an empty line dispatches; a leading BOM is dropped; an event whose data is empty is not
// dispatched. No I/O and no libsoup here: the transport feeds it what it reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace genfill {

struct SseEvent {
  std::string type = "message";  // the "event" field, or "message"
  std::string data;              // the "data" lines, joined with "\n"
  std::string id;                // the last "id" seen (kept across events, as the standard says)
};

class SseParser {
 public:
  // max_event_bytes caps one event's data and any one line: a longer one throws
  // Error{TooLarge} (a hostile or broken stream must not grow without bound).
  explicit SseParser(size_t max_event_bytes = 64u << 20) : max_(max_event_bytes) {}

  // Takes the next bytes of the stream (cut anywhere, even inside a CRLF or a UTF-8
  // character) and returns the events they complete, in order.
  std::vector<SseEvent> feed(std::string_view bytes);

  // At the end of the stream: true when it stopped inside an event (a line or fields with no
  // empty line after them), i.e. the stream was cut short. The partial event is never
  // dispatched.
  bool cut_short() const { return !line_.empty() || pending_; }

 private:
  void take_byte(char c, std::vector<SseEvent> &out);
  void take_line(std::vector<SseEvent> &out);
  [[noreturn]] void too_large() const;

  size_t max_;
  std::string line_;        // the line being read
  bool after_cr_ = false;   // the last byte was CR: a following LF belongs to it
  bool started_ = false;    // the BOM check is done
  bool pending_ = false;    // fields were seen since the last dispatch
  std::string type_, data_, last_id_;
  bool has_data_ = false;
};

}  // namespace genfill
