// Bounds-checked reading of message bodies and decoding of the few message kinds the
// proxy must understand (auth, errors, parameters, keys). Malformed input sets ok()=false
// and yields empty values; it never reads past the body.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/frame.h"

namespace sluice::protocol {

class BodyReader {
 public:
  explicit BodyReader(Bytes body) : body_(body) {}
  int32_t i32();
  int16_t i16();
  uint8_t u8();
  std::string_view cstr();          // up to the NUL; the NUL is consumed
  std::string_view take(size_t n);  // exactly n bytes
  std::string_view rest();          // everything left
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == body_.size(); }

 private:
  Bytes body_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// 'R' Authentication*: code and the bytes after it.
struct AuthRequest {
  int32_t code = -1;
  std::string data;
};
std::optional<AuthRequest> parse_auth_request(Bytes body);

// 'E' / 'N': fields keyed by their one-letter code ('C' SQLSTATE, 'M' message, ...).
std::map<char, std::string> parse_error_fields(Bytes body);

// 'S' ParameterStatus.
std::optional<std::pair<std::string, std::string>> parse_parameter_status(Bytes body);

// 'K' BackendKeyData.
struct BackendKey {
  int32_t pid = 0;
  int32_t key = 0;
};
std::optional<BackendKey> parse_backend_key(Bytes body);

// 'p' SASLInitialResponse from a client: mechanism and initial data.
struct SaslInitial {
  std::string mechanism;
  std::string data;
};
std::optional<SaslInitial> parse_sasl_initial(Bytes body);

// 'p' PasswordMessage (cleartext or md5): the NUL-terminated string.
std::optional<std::string> parse_password(Bytes body);

// 'Q' Query: the SQL text.
std::optional<std::string> parse_query(Bytes body);

}  // namespace sluice::protocol
