#include "domain/time.h"

#include <date/date.h>

#include <cctype>
#include <sstream>

namespace txv::domain {

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
  // Shape check first: date::parse is lenient about field widths.
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto digits = [&](std::size_t pos, std::size_t n) {
    if (pos + n > text.size()) return false;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
  };
  if (text.size() < 20 || !digits(0, 4) || text[4] != '-' || !digits(5, 2) || text[7] != '-' || !digits(8, 2) ||
      (text[10] != 'T' && text[10] != 't') || !digits(11, 2) || text[13] != ':' || !digits(14, 2) || text[16] != ':' ||
      !digits(17, 2)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::chrono::milliseconds frac{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int ms = 0;
    int taken = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (taken < 3) {
        ms = ms * 10 + (text[pos] - '0');
        ++taken;
      }
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
    while (taken < 3) {
      ms *= 10;
      ++taken;
    }
    frac = std::chrono::milliseconds(ms);
  }
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    if (!digits(pos + 1, 2) || pos + 3 >= text.size() || text[pos + 3] != ':' || !digits(pos + 4, 2)) {
      return std::nullopt;
    }
    int hh = (text[pos + 1] - '0') * 10 + (text[pos + 2] - '0');
    int mm = (text[pos + 4] - '0') * 10 + (text[pos + 5] - '0');
    if (hh > 23 || mm > 59) return std::nullopt;
    offset = std::chrono::hours(hh) + std::chrono::minutes(mm);
    if (text[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  auto num = [&](std::size_t p, std::size_t n) {
    int v = 0;
    for (std::size_t i = p; i < p + n; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  date::year_month_day ymd{date::year{num(0, 4)}, date::month{static_cast<unsigned>(num(5, 2))},
                           date::day{static_cast<unsigned>(num(8, 2))}};
  if (!ymd.ok()) return std::nullopt;
  int hh = num(11, 2), mi = num(14, 2), ss = num(17, 2);
  if (hh > 23 || mi > 59 || ss > 60) return std::nullopt;  // 60: leap second, folded below
  if (ss == 60) ss = 59;
  auto tp = date::sys_days{ymd} + std::chrono::hours(hh) + std::chrono::minutes(mi) + std::chrono::seconds(ss) + frac -
            offset;
  return std::chrono::time_point_cast<std::chrono::milliseconds>(tp);
}

std::string format_rfc3339(TimePoint t) { return date::format("%FT%TZ", t); }

TimePoint now_millis() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace txv::domain
