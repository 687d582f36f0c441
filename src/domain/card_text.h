// Card numbers inside free text (contract section 2): what must be refused or
// replaced because it looks like a PAN. Implemented in card_text.cc.
#pragma once

#include <string>
#include <string_view>

namespace txv::domain {

// True when `text` contains a run of 13-19 digits (single spaces or single
// dashes allowed between digits) that passes Luhn and falls in a card brand's
// range (card.h). Identifiers are not checked with this: numeric order ids
// pass Luhn one time in ten.
bool looks_like_card_number(std::string_view text);

}  // namespace txv::domain
