#include "protocol/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::protocol {
namespace {

std::string hex(const std::array<uint8_t, Sha256::kDigestBytes>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

TEST(Sha256, GivesTheStandardDigest) {
  // FIPS 180-2's example "abc", and the empty input.
  EXPECT_EQ(hex(Sha256().update("abc").finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(Sha256().finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, PiecesHashLikeTheWhole) {
  Sha256 whole;
  whole.update("SET search_path = app");
  Sha256 pieces;
  pieces.update("SET ").update("search_path").update(" = app");
  EXPECT_EQ(whole.finish(), pieces.finish());
}

}  // namespace
}  // namespace sluice::protocol
