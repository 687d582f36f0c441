#include "cli/csv_reader.h"

#include <gtest/gtest.h>

#include <sstream>

namespace txv::cli {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Result<Rows> read_all(const std::string& text, std::vector<std::size_t>* lines = nullptr) {
  std::istringstream in(text);
  CsvReader reader(in);
  Rows rows;
  std::vector<std::string> fields;
  for (;;) {
    auto more = reader.next(fields);
    if (!more.ok()) return more.error();
    if (!*more) return rows;
    rows.push_back(fields);
    if (lines) lines->push_back(reader.line());
  }
}

TEST(CsvReader, PlainAndQuotedFields) {
  std::vector<std::size_t> lines;
  auto rows = read_all("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n1,,3", &lines);
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(*rows, (Rows{{"a", "b", "c"}, {"x, y", "say \"hi\"", "two\nlines"}, {"1", "", "3"}}));
  EXPECT_EQ(lines, (std::vector<std::size_t>{1, 2, 4}));  // a quoted line end moves the next record's line
}

TEST(CsvReader, EmptyLinesTrailingCommaAndBom) {
  auto rows = read_all("\xEF\xBB\xBFh1,h2\n\na,\n\"\",\"\"\n");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, (Rows{{"h1", "h2"}, {""}, {"a", ""}, {"", ""}}));
}

TEST(CsvReader, MalformedInputNamesTheLine) {
  auto open = read_all("a,b\n\"never closed,\n");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("line 2"), std::string::npos) << open.error().message;
  auto stray = read_all("a,b\nx\"y,z\n");
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.error().message.find("line 2"), std::string::npos);
  auto after = read_all("\"a\"b,c\n");
  EXPECT_FALSE(after.ok());
}

TEST(CsvReader, AByteLikeABomStartIsData) {
  auto rows = read_all("\xEF,x\n");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, (Rows{{"\xEF", "x"}}));
}

TEST(CsvReader, EmptyInputHasNoRecord) {
  auto rows = read_all("");
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

}  // namespace
}  // namespace txv::cli
