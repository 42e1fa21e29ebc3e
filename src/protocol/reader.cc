#include "protocol/reader.h"

#include <cstring>

#include "common/bytes.h"

namespace sluice::protocol {

int32_t BodyReader::i32() {
  if (!ok_ || body_.size() - pos_ < 4) {
    ok_ = false;
    return 0;
  }
  const int32_t v = read_i32(body_.data() + pos_);
  pos_ += 4;
  return v;
}

int16_t BodyReader::i16() {
  if (!ok_ || body_.size() - pos_ < 2) {
    ok_ = false;
    return 0;
  }
  const int16_t v = read_i16(body_.data() + pos_);
  pos_ += 2;
  return v;
}

uint8_t BodyReader::u8() {
  if (!ok_ || pos_ >= body_.size()) {
    ok_ = false;
    return 0;
  }
  return body_[pos_++];
}

std::string_view BodyReader::cstr() {
  if (!ok_) return {};
  // memchr: a query's text is read this way several times per message.
  const auto* start = body_.data() + pos_;
  const auto* nul = static_cast<const uint8_t*>(std::memchr(start, 0, body_.size() - pos_));
  if (nul == nullptr) {
    ok_ = false;
    return {};
  }
  const auto length = static_cast<size_t>(nul - start);
  pos_ += length + 1;
  return {reinterpret_cast<const char*>(start), length};
}

std::string_view BodyReader::take(size_t n) {
  if (!ok_ || body_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  std::string_view s(reinterpret_cast<const char*>(body_.data() + pos_), n);
  pos_ += n;
  return s;
}

std::string_view BodyReader::rest() { return take(body_.size() - pos_); }

std::optional<AuthRequest> parse_auth_request(Bytes body) {
  BodyReader r(body);
  AuthRequest a;
  a.code = r.i32();
  a.data = std::string(r.rest());
  if (!r.ok()) return std::nullopt;
  return a;
}

std::map<char, std::string> parse_error_fields(Bytes body) {
  std::map<char, std::string> fields;
  BodyReader r(body);
  while (r.ok() && !r.at_end()) {
    const char code = static_cast<char>(r.u8());
    if (code == 0) break;
    std::string_view value = r.cstr();
    if (!r.ok()) break;
    fields[code] = std::string(value);
  }
  return fields;
}

std::optional<std::pair<std::string, std::string>> parse_parameter_status(Bytes body) {
  BodyReader r(body);
  std::string name(r.cstr());
  std::string value(r.cstr());
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return std::make_pair(std::move(name), std::move(value));
}

std::optional<BackendKey> parse_backend_key(Bytes body) {
  BodyReader r(body);
  BackendKey k{r.i32(), r.i32()};
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return k;
}

std::optional<SaslInitial> parse_sasl_initial(Bytes body) {
  BodyReader r(body);
  SaslInitial s;
  s.mechanism = std::string(r.cstr());
  const int32_t len = r.i32();
  if (!r.ok() || len < -1) return std::nullopt;  // -1 means no initial response
  if (len >= 0) s.data = std::string(r.take(static_cast<size_t>(len)));
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return s;
}

std::optional<std::string> parse_password(Bytes body) {
  BodyReader r(body);
  std::string s(r.cstr());
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return s;
}

std::optional<std::string> parse_query(Bytes body) { return parse_password(body); }

}  // namespace sluice::protocol
