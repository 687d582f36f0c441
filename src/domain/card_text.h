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
//
// How the text is read:
//   - A run is a maximal stretch of ASCII digits in which single ' ' or '-'
//     characters may stand between two digits. Anything else ends it (letters,
//     punctuation, tabs, non-ASCII spaces), and so do two separators in a row
//     or a separator that is not followed by a digit; a separator is never
//     part of a run's start or end. Letters around a run do not matter:
//     "card:4242424242424242." has a run of 16 digits.
//   - The separators split a run into groups of digits ("4242 4242-4242 4242"
//     has four). Every span of consecutive whole groups holding 13-19 digits
//     in total is a candidate, so "qty 2 4242 4242 4242 4242" and
//     "4242424242424242 12" are found although the run holds more digits.
//   - A candidate never starts or ends inside a group: an unbroken stretch of
//     more than 19 digits (an IBAN's digits, a tracking number, a 25-digit
//     reference) is not a card number, nor is any part of it. Testing every
//     13-19-digit window inside long numbers would refuse most of them (each
//     window passes Luhn one time in ten and most prefixes belong to a
//     brand), while a PAN glued to other digits cannot be told apart anyway.
//   - A candidate counts when card_number_check() accepts it: Luhn passes and
//     its prefix is in a brand's range with a length that range issues
//     (e.g. 15 digits for amex). 12 digits never count, even for maestro.
bool looks_like_card_number(std::string_view text);

}  // namespace txv::domain
