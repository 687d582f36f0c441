// CompileError: why an expression was rejected. A user's mistake is data, not
// an exception: every stage (lexer, parser, checker) reports the first problem
// it finds as one of these and stops.
#pragma once

#include <string>

namespace txv::rules {

struct CompileError {
  // 1-based position of the offending character, counted in Unicode code
  // points from the start of the expression (a newline counts as one
  // character; the expression is treated as a single line). For "unexpected
  // end of expression" it is one past the last character.
  int column = 1;
  // The complete human text, ready to show as is, including the position and
  // any hint, e.g. "unknown field 'card.bn' at column 1 (did you mean 'card.bin'?)".
  // Quoted user text is truncated to a readable length and control characters
  // are escaped.
  std::string message;
  bool operator==(const CompileError&) const = default;
};

}  // namespace txv::rules
