#include "protocol/md5_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace sluice::protocol {
namespace {

constexpr std::string_view kPrefix = "md5";
constexpr size_t kHexLen = 32;

// "md5" + lowercase hex of MD5(data); empty if OpenSSL refuses MD5 (e.g. a FIPS-only build).
std::string md5_with_prefix(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1 || len != 16) {
    return {};
  }
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string out(kPrefix);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHexDigits[digest[i] >> 4];
    out += kHexDigits[digest[i] & 0xf];
  }
  return out;
}

// PostgreSQL only treats "md5" + 32 lowercase hex digits as an MD5 secret.
bool is_md5_secret(std::string_view secret) {
  if (secret.size() != kPrefix.size() + kHexLen || secret.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : secret.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string md5_stored_secret(std::string_view user, std::string_view password) {
  std::string data(password);
  data += user;
  return md5_with_prefix(data);
}

// Returns "" when stored_secret is not an MD5 secret, so it can never match a response.
std::string md5_response_from_secret(std::string_view stored_secret, const Md5Salt& salt) {
  if (!is_md5_secret(stored_secret)) return {};
  std::string data(stored_secret.substr(kPrefix.size()));
  data.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  return md5_with_prefix(data);
}

bool md5_verify(std::string_view stored_secret, const Md5Salt& salt, std::string_view response) {
  const std::string expected = md5_response_from_secret(stored_secret, salt);
  // The length is public (always 35); only the contents need a constant-time comparison.
  return !expected.empty() && response.size() == expected.size() &&
         CRYPTO_memcmp(response.data(), expected.data(), expected.size()) == 0;
}

Md5Salt random_md5_salt() {
  Md5Salt salt;
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    // No way to report it from here, and a predictable salt would allow replaying responses.
    std::fputs("sluice: RAND_bytes failed generating an MD5 salt\n", stderr);
    std::abort();
  }
  return salt;
}

}  // namespace sluice::protocol
