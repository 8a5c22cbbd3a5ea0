// genfill — conversations for iterative editing ("now make it yellow").
//
// A conversation is the list of earlier turns (what was asked and sent, what came back) kept in
// $XDG_CACHE_HOME/genfill/conversations/ID/ as the turns' images plus a small conversation.json.
// Earlier turns keep their own pictures as they were sent and received; a follow-up sends the
// current region (which may differ from the earlier ones when the selection changed) as its
// own picture. Only the last kMaxExchanges exchanges are kept, so requests stay bounded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/providers/provider.hpp"

namespace genfill {

struct Conversation {
  std::string id;
  std::string provider, model;  // of the last exchange
  std::vector<Turn> turns;      // oldest first, alternating "user" and "model"
};

constexpr size_t kMaxExchanges = 3;
constexpr int kKeepDays = 30;  // conversations untouched this long are removed from the cache

std::string new_conversation_id();                 // 32 lower-case hex digits
bool valid_conversation_id(std::string_view id);   // what new_conversation_id makes; nothing else
std::string conversation_dir(const std::string &id);
// The conversation a layer's genfill record (the JSON that hosts store with the layer, e.g. in
// its `genfill` parasite) continues: its "conversation" member when that is a valid id, else "".
// The record may come from anyone (an XCF file is shared like any picture): anything else in it,
// and any malformed or hostile text, gives "".
std::string conversation_in_record(std::string_view record);

// nullopt when the id is not valid, or the folder is gone or unreadable.
std::optional<Conversation> load_conversation(const std::string &id);
// Writes the folder (images and conversation.json). False (and `why`) when it cannot: the
// edit itself still stands, only the next one starts afresh.
bool save_conversation(const Conversation &c, std::string *why = nullptr);
// Appends one exchange and drops the oldest beyond kMaxExchanges.
void add_exchange(Conversation &c, Turn user, Turn model);
// Removes cached conversations not touched for `days` days (only folders named by an id).
void prune_conversations(int days = kKeepDays);
// After a successful edit: adds the exchange to `c` (or to a new conversation when there is
// none) and saves it; old conversations are pruned. Returns the conversation's id, or "" when it could not be saved (`why`).
std::string remember_exchange(std::optional<Conversation> c, const std::string &provider, const std::string &model,
                              Turn user, Turn model_turn, std::string *why = nullptr);

}  // namespace genfill
