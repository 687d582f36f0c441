// Internal helpers for building CompileError values: positions, quoting of
// user text, and "did you mean" suggestions. Not part of the public API.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "rules/error.h"

namespace txv::rules::internal {

// 1-based column (in code points) of byte offset `byte_pos` in `src`. A
// position past the end yields one past the last character.
int column_of(std::string_view src, std::size_t byte_pos);

// "<what> at column N" or "<what> at column N <hint>", with every run of 12 or
// more digits masked (common/text.h): a rule's error never echoes a card number.
CompileError make_error(std::string_view src, std::size_t byte_pos, std::string_view what, std::string_view hint = {});

// 'text' with runs of 12 or more digits masked (before cutting), control
// characters escaped and long text cut to 40 characters (plus "..."), for
// quoting user input inside a message.
std::string quote(std::string_view text);

// The candidate closest to `word` by edit distance, if it is close enough to
// be a plausible typo (distance <= 2, and less than half the word's length).
std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates);

// "(did you mean 'x'?)" for closest(), or "" when there is none.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

// Byte offset of the first byte that is not part of a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF are
// rejected), or nullopt when `text` is valid UTF-8.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

}  // namespace txv::rules::internal
