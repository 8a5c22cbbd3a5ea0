// genfill — text from outside (a service's answers and errors) made safe to show.
#pragma once

#include <string>
#include <string_view>

namespace genfill {

// `text` as valid UTF-8 (each invalid byte becomes U+FFFD) with every control character
// removed except newline and tab: C0 controls (ESC, CR, BEL, ...), DEL and the C1 controls
// U+0080-U+009F. Whatever a service says can then be printed on a terminal or shown in a
// dialog without moving the cursor, retitling the window or clearing the screen.
std::string printable(std::string_view text);

}  // namespace genfill
