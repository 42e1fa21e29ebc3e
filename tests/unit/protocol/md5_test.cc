#include <gtest/gtest.h>

#include "protocol/md5_auth.h"

namespace sluice::protocol {
namespace {

// Known answers computed outside Sluice:
//   printf 'secretpostgres' | md5sum  -> 53f48b7c4b76a86ce72276c5755f217d
//   md5("53f48b7c4b76a86ce72276c5755f217d" + bytes 01 02 03 04) via Python's hashlib
constexpr char kPostgresSecret[] = "md553f48b7c4b76a86ce72276c5755f217d";
constexpr char kResponseForSalt1234[] = "md5bb41a296aab6baccb36ff243a562abff";
constexpr Md5Salt kSalt1234 = {1, 2, 3, 4};

TEST(Md5AuthTest, StoredSecretMatchesPostgres) {
  EXPECT_EQ(md5_stored_secret("postgres", "secret"), kPostgresSecret);
}

TEST(Md5AuthTest, ResponseKnownAnswer) {
  EXPECT_EQ(md5_response_from_secret(kPostgresSecret, kSalt1234), kResponseForSalt1234);
}

TEST(Md5AuthTest, ResponseRoundTrip) {
  const std::string secret = md5_stored_secret("alice", "wonderland");
  const Md5Salt salt = random_md5_salt();
  const std::string response = md5_response_from_secret(secret, salt);
  EXPECT_EQ(response.size(), 35u);
  EXPECT_EQ(response.substr(0, 3), "md5");
  EXPECT_TRUE(md5_verify(secret, salt, response));
}

TEST(Md5AuthTest, VerifyRejectsWrong) {
  const std::string secret = md5_stored_secret("alice", "wonderland");
  const std::string response = md5_response_from_secret(secret, kSalt1234);
  EXPECT_FALSE(md5_verify(md5_stored_secret("alice", "wrong"), kSalt1234, response));
  EXPECT_FALSE(md5_verify(md5_stored_secret("bob", "wonderland"), kSalt1234, response));
  EXPECT_FALSE(md5_verify(secret, Md5Salt{1, 2, 3, 5}, response));
  EXPECT_FALSE(md5_verify(secret, kSalt1234, ""));
  EXPECT_FALSE(md5_verify(secret, kSalt1234, response.substr(0, 34)));
  EXPECT_FALSE(md5_verify(secret, kSalt1234, response + "0"));
  EXPECT_FALSE(md5_verify(secret, kSalt1234, secret));  // the secret itself is not a response
}

TEST(Md5AuthTest, NonMd5SecretsNeverVerify) {
  for (const char* bad :
       {"", "md5", "secret", "MD553f48b7c4b76a86ce72276c5755f217d",
        "md553F48B7C4B76A86CE72276C5755F217D", "md553f48b7c4b76a86ce72276c5755f217",
        "SCRAM-SHA-256$4096:c2FsdA==$a:b"}) {
    EXPECT_EQ(md5_response_from_secret(bad, kSalt1234), "") << bad;
    EXPECT_FALSE(md5_verify(bad, kSalt1234, "")) << bad;
    EXPECT_FALSE(md5_verify(bad, kSalt1234, kResponseForSalt1234)) << bad;
  }
}

TEST(Md5AuthTest, RandomSaltsDiffer) {
  // Four identical random salts in a row has probability 2^-96.
  const Md5Salt first = random_md5_salt();
  bool differs = false;
  for (int i = 0; i < 3; ++i) differs |= random_md5_salt() != first;
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace sluice::protocol
