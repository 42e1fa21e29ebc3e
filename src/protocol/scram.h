// SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL uses it, on both sides of the proxy:
// ScramServer authenticates a client against a stored secret; ScramClient authenticates
// the proxy to a server, from a plain password or from the ClientKey recovered while the
// client authenticated (the proxy then never needs the plain password).
// Hand-written because no Debian library implements the SCRAM message exchange itself;
// the cryptography (PBKDF2, HMAC, SHA-256, base64) is OpenSSL's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::protocol {

using ScramKey = std::array<uint8_t, 32>;

// "SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>"
struct ScramSecret {
  int iterations = 0;
  std::string salt;  // raw bytes
  ScramKey stored_key{};
  ScramKey server_key{};

  static std::optional<ScramSecret> parse(std::string_view text);
  static ScramSecret from_password(std::string_view password, std::string_view salt,
                                   int iterations);
  std::string to_string() const;
};

struct ScramStep {
  bool ok = false;
  std::string message;  // the next message to send when ok
  std::string error;    // why it failed when !ok
};

class ScramServer {
 public:
  // nonce_for_test: fixed server nonce for unit tests; empty = random.
  explicit ScramServer(ScramSecret secret, std::string nonce_for_test = {});
  // client-first-message (the SASLInitialResponse data) -> server-first-message
  ScramStep on_client_first(std::string_view client_first);
  // client-final-message -> server-final-message ("v=..."); fails on a wrong proof
  ScramStep on_client_final(std::string_view client_final);
  // The client's ClientKey, recovered from its proof; set after on_client_final succeeds.
  const std::optional<ScramKey>& client_key() const { return client_key_; }

 private:
  enum class State { kAwaitingClientFirst, kAwaitingClientFinal, kDone };

  State state_ = State::kAwaitingClientFirst;
  ScramSecret secret_;
  std::string server_nonce_;
  std::string expected_cbind_;  // base64 of the client's gs2 header, the required "c=" value
  std::string client_first_bare_;
  std::string server_first_;
  std::string combined_nonce_;
  std::optional<ScramKey> client_key_;
};

class ScramClient {
 public:
  static ScramClient with_password(std::string password, std::string nonce_for_test = {});
  // Uses keys recovered from a client's own SCRAM login (PgBouncer does the same); works
  // when the server holds the same secret (same salt and iterations).
  static ScramClient with_keys(ScramKey client_key, ScramKey server_key,
                               std::string nonce_for_test = {});

  // The SASLInitialResponse data: "n,,n=,r=<nonce>"
  std::string client_first();
  // server-first-message -> client-final-message
  ScramStep on_server_first(std::string_view server_first);
  // Verifies the server's signature in server-final-message.
  ScramStep on_server_final(std::string_view server_final);

 private:
  friend class ScramClientTestPeer;  // sets user_ to reproduce the RFC 7677 vector

  ScramClient() = default;
  std::string user_;  // sent as "n=<user>"; PostgreSQL ignores it, so empty outside tests
  std::optional<std::string> password_;
  std::optional<ScramKey> client_key_;
  std::optional<ScramKey> server_key_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string auth_message_;
};

}  // namespace sluice::protocol
