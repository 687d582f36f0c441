#include "store/sqlite/decision_key_filter.h"

#include <algorithm>
#include <functional>

namespace txv::store::sqlite {
namespace {

constexpr std::size_t kBitsPerKey = 12;
constexpr int kBitsPerAdd = 6;

// splitmix64's finaliser: spreads the bits of a combined hash.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

DecisionKeyFilter::DecisionKeyFilter(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      block_count_(std::max<std::size_t>((capacity_ * kBitsPerKey + 511) / 512, 1)),
      blocks_(std::make_unique<Block[]>(block_count_)) {}

std::uint64_t DecisionKeyFilter::hash(std::string_view merchant_id, std::string_view transaction_id) noexcept {
  const std::uint64_t a = std::hash<std::string_view>{}(merchant_id);
  const std::uint64_t b = std::hash<std::string_view>{}(transaction_id);
  return mix(a * 0x9E3779B97F4A7C15ULL ^ b);
}

void DecisionKeyFilter::add(std::string_view merchant_id, std::string_view transaction_id) noexcept {
  std::uint64_t h = hash(merchant_id, transaction_id);
  Block& block = blocks_[static_cast<std::size_t>((static_cast<unsigned __int128>(h) * block_count_) >> 64)];
  std::uint64_t bits = mix(h ^ 0x5851F42D4C957F2DULL);
  for (int i = 0; i < kBitsPerAdd; ++i, bits >>= 9) {
    const unsigned bit = static_cast<unsigned>(bits & 511);
    block.words[bit >> 6].fetch_or(std::uint64_t{1} << (bit & 63), std::memory_order_release);
  }
  added_.fetch_add(1, std::memory_order_relaxed);
}

bool DecisionKeyFilter::may_contain(std::string_view merchant_id, std::string_view transaction_id) const noexcept {
  std::uint64_t h = hash(merchant_id, transaction_id);
  const Block& block = blocks_[static_cast<std::size_t>((static_cast<unsigned __int128>(h) * block_count_) >> 64)];
  std::uint64_t bits = mix(h ^ 0x5851F42D4C957F2DULL);
  for (int i = 0; i < kBitsPerAdd; ++i, bits >>= 9) {
    const unsigned bit = static_cast<unsigned>(bits & 511);
    if ((block.words[bit >> 6].load(std::memory_order_acquire) & (std::uint64_t{1} << (bit & 63))) == 0) return false;
  }
  return true;
}

}  // namespace txv::store::sqlite
