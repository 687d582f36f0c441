#include "config/pan_key.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace txv::config {
namespace {

TEST(PanKey, HexAndBase64) {
  std::string hex(64, 'a');
  auto k = decode_pan_key(hex, "TXV_PAN_KEY");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->size(), 32u);
  auto b = decode_pan_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "TXV_PAN_KEY");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), 32u);
  EXPECT_EQ((*b)[31], '\x1f');
}

TEST(PanKey, TooShortOrGarbageNamesTheSetting) {
  for (const char* bad : {"abcd", "not a key!!", ""}) {
    auto k = decode_pan_key(bad, "TXV_PAN_KEY_FILE");
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.error().message.rfind("TXV_PAN_KEY_FILE:", 0), 0u);
  }
}

TEST(PanKey, GeneratedOnceIntoTheDataDirectory) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "txv-pan-key-test";
  std::filesystem::remove_all(dir);
  ServerConfig c;
  c.sqlite_path = (dir / "txv.db").string();
  auto first = load_or_create_pan_key(c);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size(), 32u);
  auto perms = std::filesystem::status(dir / "pan.key").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
  auto second = load_or_create_pan_key(c);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
}

}  // namespace
}  // namespace txv::config
