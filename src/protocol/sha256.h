// Incremental SHA-256 over several pieces (OpenSSL), for the proxy's own identifiers:
// server-side statement names and session-parameter fingerprints.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::protocol {

class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;

  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, algorithm(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(std::string_view bytes) {
    EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
    return *this;
  }
  std::array<uint8_t, kDigestBytes> finish() {
    std::array<uint8_t, kDigestBytes> digest{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest.data(), &len);
    return digest;
  }

 private:
  // Fetched once: EVP_sha256() makes every EVP_DigestInit_ex() fetch the algorithm again
  // (a locked lookup and allocations), which cost each login and each Parse a few µs.
  static const EVP_MD* algorithm() {
    static const EVP_MD* const md = [] {
      const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
      return fetched != nullptr ? fetched : EVP_sha256();
    }();
    return md;
  }

  EVP_MD_CTX* ctx_;
};

}  // namespace sluice::protocol
