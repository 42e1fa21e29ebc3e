// Wire bytes for the micro-benchmarks: what pgbench -S sends and gets back, by hand, so the
// benchmarks measure the decoder, not the encoder they would otherwise share code with.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::bench {

class Msg {
 public:
  explicit Msg(char type) : type_(type) {}
  Msg& i32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) body_.push_back(static_cast<char>(v >> shift));
    return *this;
  }
  Msg& i16(uint16_t v) {
    body_.push_back(static_cast<char>(v >> 8));
    body_.push_back(static_cast<char>(v));
    return *this;
  }
  Msg& byte(char v) {
    body_.push_back(v);
    return *this;
  }
  Msg& cstr(std::string_view s) {
    body_.append(s);
    body_.push_back('\0');
    return *this;
  }
  Msg& raw(std::string_view s) {
    body_.append(s);
    return *this;
  }
  // Type byte, length (counting itself), body.
  std::string str() const {
    std::string out(1, type_);
    const auto len = static_cast<uint32_t>(body_.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
    return out + body_;
  }

 private:
  char type_;
  std::string body_;
};

inline std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The server's answer to pgbench -S in simple mode ("SELECT abalance FROM pgbench_accounts
// WHERE aid = N"): RowDescription, one DataRow, CommandComplete, ReadyForQuery.
inline std::string select_one_response() {
  std::string out = Msg('T')
                        .i16(1)
                        .cstr("abalance")
                        .i32(16396)  // table oid
                        .i16(3)      // column
                        .i32(23)     // int4
                        .i16(4)
                        .i32(0xFFFFFFFF)  // type modifier -1
                        .i16(0)           // text format
                        .str();
  out += Msg('D').i16(1).i32(4).raw("1234").str();
  out += Msg('C').cstr("SELECT 1").str();
  out += Msg('Z').byte('I').str();
  return out;
}

// pgbench -S in extended mode: Parse (unnamed), Bind, Describe portal, Execute, Sync.
inline std::string select_one_extended_request() {
  const std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
  std::string out = Msg('P').cstr("").cstr(sql).i16(0).str();
  out += Msg('B').cstr("").cstr("").i16(0).i16(1).i32(6).raw("123456").i16(0).str();
  out += Msg('D').byte('P').cstr("").str();
  out += Msg('E').cstr("").i32(0).str();
  out += Msg('S').str();
  return out;
}

// The extended-mode answer: ParseComplete, BindComplete, RowDescription, DataRow,
// CommandComplete, ReadyForQuery.
inline std::string select_one_extended_response() {
  std::string out = Msg('1').str();
  out += Msg('2').str();
  return out + select_one_response();
}

inline std::string repeat(const std::string& s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace sluice::bench
