#include "protocol/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

namespace sluice::protocol {
namespace {

constexpr std::string_view kSecretPrefix = "SCRAM-SHA-256";
constexpr size_t kNonceRawBytes = 18;  // PostgreSQL's SCRAM_RAW_NONCE_LEN
// The iteration count in server-first comes from the network and PBKDF2 costs time linear in
// it: without a cap a hostile or broken server could pin a CPU for minutes.
constexpr int kMaxServerIterations = 1'000'000;

std::string_view as_bytes(const ScramKey& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

const unsigned char* as_uchars(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + NUL that EVP writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), as_uchars(bytes),
                                static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Strict decoding: EVP_DecodeBlock on its own skips whitespace and counts padding as data.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > size_t{std::numeric_limits<int>::max()}) {
    return std::nullopt;
  }
  if (text.empty()) return std::string();
  size_t padding = 0;
  if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!is_base64_char(text[i])) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), as_uchars(text),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < padding) return std::nullopt;
  out.resize(n - padding);
  return out;
}

std::optional<ScramKey> decode_key(std::string_view text) {
  std::optional<std::string> bytes = base64_decode(text);
  if (!bytes || bytes->size() != ScramKey{}.size()) return std::nullopt;
  ScramKey key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

// Digits only (no sign, no spaces), in [1, max].
std::optional<int> parse_positive_int(std::string_view text, int max) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > max) return std::nullopt;
  return value;
}

std::optional<ScramKey> sha256(std::string_view data) {
  ScramKey out;
  if (EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<ScramKey> hmac_sha256(std::string_view key, std::string_view data) {
  ScramKey out;
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), as_uchars(data), data.size(),
           out.data(), &len) == nullptr ||
      len != out.size()) {
    return std::nullopt;
  }
  return out;
}

ScramKey xor_keys(const ScramKey& a, const ScramKey& b) {
  ScramKey out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

bool keys_equal(const ScramKey& a, const ScramKey& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct DerivedKeys {
  ScramKey client_key;
  ScramKey stored_key;
  ScramKey server_key;
};

// RFC 5802 section 3. The password is used as-is, without SASLprep: PostgreSQL does the same
// whenever SASLprep fails (e.g. for non-UTF-8 input), and ASCII passwords are unchanged by it.
std::optional<DerivedKeys> derive_keys(std::string_view password, std::string_view salt,
                                       int iterations) {
  if (iterations < 1 || password.size() > size_t{std::numeric_limits<int>::max()} ||
      salt.size() > size_t{std::numeric_limits<int>::max()}) {
    return std::nullopt;
  }
  ScramKey salted;
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), as_uchars(salt),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(salted.size()), salted.data()) != 1) {
    return std::nullopt;
  }
  std::optional<ScramKey> client_key = hmac_sha256(as_bytes(salted), "Client Key");
  std::optional<ScramKey> server_key = hmac_sha256(as_bytes(salted), "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  if (!client_key || !server_key) return std::nullopt;
  std::optional<ScramKey> stored_key = sha256(as_bytes(*client_key));
  if (!stored_key) return std::nullopt;
  return DerivedKeys{*client_key, *stored_key, *server_key};
}

// Returns nullopt only if OpenSSL's CSPRNG fails.
std::optional<std::string> random_nonce() {
  std::array<uint8_t, kNonceRawBytes> raw;
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return std::nullopt;
  // 18 bytes encode to 24 base64 characters without padding: printable and comma-free.
  return base64_encode({reinterpret_cast<const char*>(raw.data()), raw.size()});
}

// RFC 5802 "printable": %x21-7E except ','.
bool is_printable_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      fields.push_back(text.substr(start));
      return fields;
    }
    fields.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
}

// "<attr>=<value>" with an ASCII letter as attr, as PostgreSQL's read_any_attr() requires.
bool is_attribute(std::string_view field) {
  return field.size() >= 2 && field[1] == '=' &&
         ((field[0] >= 'a' && field[0] <= 'z') || (field[0] >= 'A' && field[0] <= 'Z'));
}

// The value of `field` if it is attribute `attr`.
std::optional<std::string_view> attribute_value(std::string_view field, char attr) {
  if (!is_attribute(field) || field[0] != attr) return std::nullopt;
  return field.substr(2);
}

ScramStep fail(std::string error) {
  ScramStep step;
  step.error = std::move(error);
  return step;
}

ScramStep succeed(std::string message) {
  ScramStep step;
  step.ok = true;
  step.message = std::move(message);
  return step;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ScramSecret

std::optional<ScramSecret> ScramSecret::parse(std::string_view text) {
  // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
  const size_t dollar1 = text.find('$');
  if (dollar1 == std::string_view::npos || text.substr(0, dollar1) != kSecretPrefix) {
    return std::nullopt;
  }
  const size_t colon1 = text.find(':', dollar1 + 1);
  if (colon1 == std::string_view::npos) return std::nullopt;
  const size_t dollar2 = text.find('$', colon1 + 1);
  if (dollar2 == std::string_view::npos) return std::nullopt;
  const size_t colon2 = text.find(':', dollar2 + 1);
  if (colon2 == std::string_view::npos) return std::nullopt;

  std::optional<int> iterations = parse_positive_int(text.substr(dollar1 + 1, colon1 - dollar1 - 1),
                                                     std::numeric_limits<int>::max());
  std::optional<std::string> salt = base64_decode(text.substr(colon1 + 1, dollar2 - colon1 - 1));
  std::optional<ScramKey> stored_key = decode_key(text.substr(dollar2 + 1, colon2 - dollar2 - 1));
  std::optional<ScramKey> server_key = decode_key(text.substr(colon2 + 1));
  if (!iterations || !salt || salt->empty() || !stored_key || !server_key) return std::nullopt;

  ScramSecret secret;
  secret.iterations = *iterations;
  secret.salt = std::move(*salt);
  secret.stored_key = *stored_key;
  secret.server_key = *server_key;
  return secret;
}

ScramSecret ScramSecret::from_password(std::string_view password, std::string_view salt,
                                       int iterations) {
  ScramSecret secret;
  std::optional<DerivedKeys> keys = derive_keys(password, salt, iterations);
  // On failure (iterations < 1, OpenSSL error) iterations stays 0: ScramServer rejects such a
  // secret and to_string() output of it does not parse.
  if (!keys) return secret;
  secret.iterations = iterations;
  secret.salt = std::string(salt);
  secret.stored_key = keys->stored_key;
  secret.server_key = keys->server_key;
  return secret;
}

std::string ScramSecret::to_string() const {
  return std::string(kSecretPrefix) + "$" + std::to_string(iterations) + ":" + base64_encode(salt) +
         "$" + base64_encode(as_bytes(stored_key)) + ":" + base64_encode(as_bytes(server_key));
}

// ---------------------------------------------------------------------------------------------
// ScramServer

ScramServer::ScramServer(ScramSecret secret, std::string nonce_for_test)
    : secret_(std::move(secret)), server_nonce_(std::move(nonce_for_test)) {}

ScramStep ScramServer::on_client_first(std::string_view client_first) {
  if (state_ != State::kAwaitingClientFirst) return fail("unexpected SCRAM client-first-message");
  state_ = State::kDone;  // until this step succeeds
  if (secret_.iterations < 1 || secret_.salt.empty()) return fail("invalid SCRAM secret");

  // gs2-header: gs2-cbind-flag "," [authzid] ","
  const size_t comma1 = client_first.find(',');
  if (comma1 == std::string_view::npos) return fail("malformed SCRAM client-first-message");
  const std::string_view cbind_flag = client_first.substr(0, comma1);
  if (cbind_flag.substr(0, 2) == "p=") {
    return fail("SCRAM channel binding is not supported; connect with channel_binding=disable");
  }
  // "y" means the client supports channel binding but thinks we do not, which is true.
  if (cbind_flag != "n" && cbind_flag != "y") {
    return fail("malformed SCRAM client-first-message (bad channel binding flag)");
  }
  const size_t comma2 = client_first.find(',', comma1 + 1);
  if (comma2 == std::string_view::npos) return fail("malformed SCRAM client-first-message");
  if (comma2 != comma1 + 1) return fail("SCRAM authorization identity is not supported");
  const std::string_view gs2_header = client_first.substr(0, comma2 + 1);
  const std::string_view bare = client_first.substr(comma2 + 1);

  // client-first-message-bare: [reserved-mext ","] username "," nonce ["," extensions]
  const std::vector<std::string_view> fields = split_fields(bare);
  if (attribute_value(fields[0], 'm')) return fail("unsupported SCRAM extension requested");
  // The username is ignored, as PostgreSQL does: the startup packet names the user.
  if (!attribute_value(fields[0], 'n') || fields.size() < 2) {
    return fail("malformed SCRAM client-first-message (expected username)");
  }
  std::optional<std::string_view> client_nonce = attribute_value(fields[1], 'r');
  if (!client_nonce || !is_printable_nonce(*client_nonce)) {
    return fail("malformed SCRAM client-first-message (bad nonce)");
  }
  for (size_t i = 2; i < fields.size(); ++i) {
    if (!is_attribute(fields[i])) return fail("malformed SCRAM client-first-message");
  }

  if (server_nonce_.empty()) {
    std::optional<std::string> nonce = random_nonce();
    if (!nonce) return fail("could not generate SCRAM nonce");
    server_nonce_ = std::move(*nonce);
  }
  client_first_bare_ = std::string(bare);
  expected_cbind_ = base64_encode(gs2_header);
  combined_nonce_ = std::string(*client_nonce) + server_nonce_;
  server_first_ = "r=" + combined_nonce_ + ",s=" + base64_encode(secret_.salt) +
                  ",i=" + std::to_string(secret_.iterations);
  state_ = State::kAwaitingClientFinal;
  return succeed(server_first_);
}

ScramStep ScramServer::on_client_final(std::string_view client_final) {
  if (state_ != State::kAwaitingClientFinal) return fail("unexpected SCRAM client-final-message");
  state_ = State::kDone;  // one attempt only, whatever the outcome

  // channel-binding "," nonce ["," extensions] "," proof
  const std::vector<std::string_view> fields = split_fields(client_final);
  if (fields.size() < 3) return fail("malformed SCRAM client-final-message");
  std::optional<std::string_view> cbind = attribute_value(fields[0], 'c');
  if (!cbind) return fail("malformed SCRAM client-final-message (expected channel binding)");
  if (*cbind != expected_cbind_) return fail("SCRAM channel binding check failed");
  std::optional<std::string_view> nonce = attribute_value(fields[1], 'r');
  if (!nonce || *nonce != combined_nonce_) return fail("SCRAM nonce mismatch");
  for (size_t i = 2; i + 1 < fields.size(); ++i) {
    if (!is_attribute(fields[i])) return fail("malformed SCRAM client-final-message");
  }
  std::optional<std::string_view> proof_b64 = attribute_value(fields.back(), 'p');
  if (!proof_b64) return fail("malformed SCRAM client-final-message (expected proof)");
  std::optional<ScramKey> proof = decode_key(*proof_b64);
  if (!proof) return fail("malformed SCRAM client-final-message (bad proof)");

  const std::string_view without_proof =
      client_final.substr(0, client_final.size() - fields.back().size() - 1);
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);

  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); valid iff H(ClientKey) matches.
  std::optional<ScramKey> client_signature =
      hmac_sha256(as_bytes(secret_.stored_key), auth_message);
  if (!client_signature) return fail("SCRAM computation failed");
  const ScramKey client_key = xor_keys(*proof, *client_signature);
  std::optional<ScramKey> recomputed_stored_key = sha256(as_bytes(client_key));
  if (!recomputed_stored_key) return fail("SCRAM computation failed");
  if (!keys_equal(*recomputed_stored_key, secret_.stored_key)) {
    return fail("SCRAM authentication failed: invalid proof");
  }
  std::optional<ScramKey> server_signature =
      hmac_sha256(as_bytes(secret_.server_key), auth_message);
  if (!server_signature) return fail("SCRAM computation failed");

  client_key_ = client_key;
  return succeed("v=" + base64_encode(as_bytes(*server_signature)));
}

// ---------------------------------------------------------------------------------------------
// ScramClient

ScramClient ScramClient::with_password(std::string password, std::string nonce_for_test) {
  ScramClient client;
  client.password_ = std::move(password);
  client.nonce_ = std::move(nonce_for_test);
  return client;
}

ScramClient ScramClient::with_keys(ScramKey client_key, ScramKey server_key,
                                   std::string nonce_for_test) {
  ScramClient client;
  client.client_key_ = client_key;
  client.server_key_ = server_key;
  client.nonce_ = std::move(nonce_for_test);
  return client;
}

std::string ScramClient::client_first() {
  if (nonce_.empty()) {
    std::optional<std::string> nonce = random_nonce();
    if (!nonce) {
      // No way to report it from here, and a predictable nonce would be worse than stopping.
      std::fputs("sluice: RAND_bytes failed generating a SCRAM nonce\n", stderr);
      std::abort();
    }
    nonce_ = std::move(*nonce);
  }
  client_first_bare_ = "n=" + user_ + ",r=" + nonce_;
  return "n,," + client_first_bare_;
}

ScramStep ScramClient::on_server_first(std::string_view server_first) {
  if (client_first_bare_.empty() || !auth_message_.empty()) {
    return fail("unexpected SCRAM server-first-message");
  }
  // [reserved-mext ","] nonce "," salt "," iteration-count; like libpq, nothing after it.
  const std::vector<std::string_view> fields = split_fields(server_first);
  if (attribute_value(fields[0], 'm'))
    return fail("server requested an unsupported SCRAM extension");
  if (fields.size() != 3) return fail("malformed SCRAM server-first-message");
  std::optional<std::string_view> nonce = attribute_value(fields[0], 'r');
  if (!nonce || !is_printable_nonce(*nonce) || nonce->size() <= nonce_.size() ||
      nonce->substr(0, nonce_.size()) != nonce_) {
    return fail("SCRAM nonce mismatch in server-first-message");
  }
  std::optional<std::string_view> salt_b64 = attribute_value(fields[1], 's');
  std::optional<std::string> salt = salt_b64 ? base64_decode(*salt_b64) : std::nullopt;
  if (!salt || salt->empty()) return fail("malformed SCRAM server-first-message (bad salt)");
  std::optional<std::string_view> iterations_text = attribute_value(fields[2], 'i');
  std::optional<int> iterations =
      iterations_text ? parse_positive_int(*iterations_text, kMaxServerIterations) : std::nullopt;
  if (!iterations) {
    return fail("SCRAM server-first-message has a missing or out-of-range iteration count (max " +
                std::to_string(kMaxServerIterations) + ")");
  }

  if (password_) {
    std::optional<DerivedKeys> keys = derive_keys(*password_, *salt, *iterations);
    if (!keys) return fail("SCRAM key derivation failed");
    client_key_ = keys->client_key;
    server_key_ = keys->server_key;
  }
  if (!client_key_ || !server_key_) return fail("SCRAM client has no credentials");
  std::optional<ScramKey> stored_key = sha256(as_bytes(*client_key_));
  if (!stored_key) return fail("SCRAM computation failed");

  // We never use channel binding, so c= is always base64("n,,").
  const std::string without_proof = "c=biws,r=" + std::string(*nonce);
  std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  std::optional<ScramKey> client_signature = hmac_sha256(as_bytes(*stored_key), auth_message);
  if (!client_signature) return fail("SCRAM computation failed");
  const ScramKey proof = xor_keys(*client_key_, *client_signature);

  auth_message_ = std::move(auth_message);
  return succeed(without_proof + ",p=" + base64_encode(as_bytes(proof)));
}

ScramStep ScramClient::on_server_final(std::string_view server_final) {
  if (auth_message_.empty() || !server_key_) return fail("unexpected SCRAM server-final-message");
  const std::vector<std::string_view> fields = split_fields(server_final);
  if (std::optional<std::string_view> error = attribute_value(fields[0], 'e')) {
    return fail("SCRAM authentication failed on the server: " + std::string(*error));
  }
  std::optional<std::string_view> signature_b64 = attribute_value(fields[0], 'v');
  if (fields.size() != 1 || !signature_b64) return fail("malformed SCRAM server-final-message");
  std::optional<ScramKey> signature = decode_key(*signature_b64);
  if (!signature) return fail("malformed SCRAM server-final-message (bad signature)");
  std::optional<ScramKey> expected = hmac_sha256(as_bytes(*server_key_), auth_message_);
  if (!expected) return fail("SCRAM computation failed");
  if (!keys_equal(*signature, *expected)) return fail("invalid SCRAM server signature");
  return succeed({});
}

}  // namespace sluice::protocol
