// BodyReader bounds checking and the parse_* decoders, including every truncation of a
// valid body. Truncated bodies are copied into exactly sized buffers so that AddressSanitizer
// reports any read past the span.
#include "protocol/reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame.h"
#include "wire_test_util.h"

namespace sluice::protocol {
namespace {

using wire::as_bytes;
using wire::Wire;

// The first `n` bytes of `body` in a heap buffer of exactly that size.
std::vector<uint8_t> prefix(const std::string& body, size_t n) {
  return std::vector<uint8_t>(body.begin(), body.begin() + static_cast<ptrdiff_t>(n));
}

// --- BodyReader --------------------------------------------------------------------------

TEST(BodyReaderTest, ReadsEachFieldKind) {
  const std::string body = Wire().i32(-559038737).i16(-2).byte(0xAB).cstr("name").raw("tail");
  BodyReader r(as_bytes(body));
  EXPECT_EQ(r.i32(), -559038737);
  EXPECT_EQ(r.i16(), -2);
  EXPECT_EQ(r.u8(), 0xAB);
  EXPECT_EQ(r.cstr(), "name");
  EXPECT_FALSE(r.at_end());
  EXPECT_EQ(r.take(2), "ta");
  EXPECT_EQ(r.rest(), "il");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(r.rest(), "");
  EXPECT_EQ(r.take(0), "");
  EXPECT_TRUE(r.ok());
}

TEST(BodyReaderTest, FailureIsStickyAndYieldsEmptyValues) {
  const std::string body = Wire().i16(7).cstr("abc");
  BodyReader r(as_bytes(body));
  EXPECT_EQ(r.take(100), "");
  EXPECT_FALSE(r.ok());
  // The bytes are still there, but a failed reader reads nothing more.
  EXPECT_EQ(r.i16(), 0);
  EXPECT_EQ(r.u8(), 0);
  EXPECT_EQ(r.cstr(), "");
  EXPECT_EQ(r.rest(), "");
  EXPECT_FALSE(r.ok());
}

TEST(BodyReaderTest, FixedWidthReadsNeedAllTheirBytes) {
  const std::string body = Wire().i16(1).byte(2);  // 3 bytes
  {
    BodyReader r(as_bytes(body));
    EXPECT_EQ(r.i32(), 0);
    EXPECT_FALSE(r.ok());
  }
  {
    BodyReader r(as_bytes(body));
    EXPECT_EQ(r.i16(), 1);
    EXPECT_EQ(r.i16(), 0);
    EXPECT_FALSE(r.ok());
  }
  {
    BodyReader r(Bytes{});
    EXPECT_EQ(r.u8(), 0);
    EXPECT_FALSE(r.ok());
  }
}

TEST(BodyReaderTest, NeverReadsPastTheSpanEvenWhenMemoryContinues) {
  // The span ends before the NUL / the rest of the integer that follow in memory.
  const std::string buf = Wire().raw("abc").byte(0).i32(0x01020304);
  const Bytes all = as_bytes(buf);
  {
    BodyReader r(all.first(3));
    EXPECT_EQ(r.cstr(), "");
    EXPECT_FALSE(r.ok());
  }
  {
    BodyReader r(all.subspan(4, 3));
    EXPECT_EQ(r.i32(), 0);
    EXPECT_FALSE(r.ok());
  }
  {
    BodyReader r(all.first(3));
    EXPECT_EQ(r.take(4), "");
    EXPECT_FALSE(r.ok());
  }
  {
    BodyReader r(all.first(3));
    EXPECT_EQ(r.rest(), "abc");
    EXPECT_TRUE(r.at_end());
  }
}

TEST(BodyReaderTest, HugeTakeFailsWithoutOverflow) {
  const std::string body = "xy";
  BodyReader r(as_bytes(body));
  r.u8();
  EXPECT_EQ(r.take(std::numeric_limits<size_t>::max()), "");
  EXPECT_FALSE(r.ok());
}

// --- parse_* on valid bodies -------------------------------------------------------------

TEST(ReaderTest, AuthRequestCodeAndData) {
  const std::string sasl = Wire().i32(10).cstr("SCRAM-SHA-256-PLUS").cstr("SCRAM-SHA-256").byte(0);
  const auto a = parse_auth_request(as_bytes(sasl));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 10);
  EXPECT_EQ(a->data, Wire().cstr("SCRAM-SHA-256-PLUS").cstr("SCRAM-SHA-256").byte(0).str());

  const std::string ok = Wire().i32(0);
  const auto b = parse_auth_request(as_bytes(ok));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->code, 0);
  EXPECT_EQ(b->data, "");
}

TEST(ReaderTest, ErrorFieldsKeyedByCode) {
  const std::string body = Wire()
                               .field('S', "ERROR")
                               .field('V', "ERROR")
                               .field('C', "23505")
                               .field('M', "duplicate key value violates unique constraint")
                               .field('D', "Key (id)=(1) already exists.")
                               .field('n', "t_pkey")
                               .byte(0);
  const std::map<char, std::string> expected = {
      {'S', "ERROR"},
      {'V', "ERROR"},
      {'C', "23505"},
      {'M', "duplicate key value violates unique constraint"},
      {'D', "Key (id)=(1) already exists."},
      {'n', "t_pkey"}};
  EXPECT_EQ(parse_error_fields(as_bytes(body)), expected);
}

TEST(ReaderTest, ErrorFieldsStopAtTheTerminator) {
  const std::string body = Wire().field('M', "first").byte(0).field('D', "ignored");
  const std::map<char, std::string> expected = {{'M', "first"}};
  EXPECT_EQ(parse_error_fields(as_bytes(body)), expected);
  EXPECT_TRUE(parse_error_fields(Bytes{}).empty());
}

TEST(ReaderTest, ParameterStatus) {
  const std::string body = Wire().cstr("integer_datetimes").cstr("on");
  const auto ps = parse_parameter_status(as_bytes(body));
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->first, "integer_datetimes");
  EXPECT_EQ(ps->second, "on");

  const std::string trailing = body + "x";
  EXPECT_FALSE(parse_parameter_status(as_bytes(trailing)).has_value());
}

TEST(ReaderTest, BackendKeyMustBeExactlyEightBytes) {
  const std::string body = Wire().i32(-1).i32(0x7FFFFFFF);
  const auto k = parse_backend_key(as_bytes(body));
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->pid, -1);
  EXPECT_EQ(k->key, 0x7FFFFFFF);

  const std::string longer = body + std::string(1, '\0');
  EXPECT_FALSE(parse_backend_key(as_bytes(longer)).has_value());
}

TEST(ReaderTest, SaslInitialWithData) {
  const std::string data = std::string("n,,n=,r=\0\xff", 10);
  const std::string body = Wire().cstr("SCRAM-SHA-256").i32(10).raw(data);
  const auto s = parse_sasl_initial(as_bytes(body));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(s->data, data);
}

TEST(ReaderTest, SaslInitialWithoutInitialResponse) {
  const std::string body = Wire().cstr("SCRAM-SHA-256").i32(-1);
  const auto s = parse_sasl_initial(as_bytes(body));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(s->data, "");
}

TEST(ReaderTest, SaslInitialRejectsLengthsThatDoNotMatchTheData) {
  const std::vector<std::string> bad = {
      Wire().cstr("SCRAM-SHA-256").i32(5).raw("abcd"),   // length beyond the body
      Wire().cstr("SCRAM-SHA-256").i32(3).raw("abcd"),   // trailing byte
      Wire().cstr("SCRAM-SHA-256").i32(-1).raw("abcd"),  // no data announced, data sent
      Wire().cstr("SCRAM-SHA-256").i32(-2),              // negative length other than -1
      Wire().cstr("SCRAM-SHA-256").i32(INT32_MIN),       // ditto
      Wire().cstr("SCRAM-SHA-256").i32(INT32_MAX).raw("x"),
  };
  for (const std::string& body : bad) {
    EXPECT_FALSE(parse_sasl_initial(as_bytes(body)).has_value()) << ::testing::PrintToString(body);
  }
}

TEST(ReaderTest, PasswordAndQuery) {
  const std::string body = Wire().cstr("s3cret pa55");
  EXPECT_EQ(parse_password(as_bytes(body)), "s3cret pa55");
  EXPECT_EQ(parse_query(as_bytes(body)), "s3cret pa55");

  const std::string empty = Wire().cstr("");
  EXPECT_EQ(parse_query(as_bytes(empty)), "");

  const std::string two_strings = Wire().cstr("a").cstr("b");
  EXPECT_FALSE(parse_password(as_bytes(two_strings)).has_value());
  EXPECT_FALSE(parse_query(as_bytes(two_strings)).has_value());
}

// --- Every truncation of a valid body ----------------------------------------------------

TEST(ReaderTruncationTest, AuthRequestNeedsItsCode) {
  const std::string body = Wire().i32(12).raw("v=c2lnbmF0dXJl");
  for (size_t n = 0; n < body.size(); ++n) {
    const auto bytes = prefix(body, n);
    const auto a = parse_auth_request(Bytes(bytes));
    if (n < 4) {
      EXPECT_FALSE(a.has_value()) << n;
    } else {
      // The data has no length of its own: a shorter body is shorter data.
      ASSERT_TRUE(a.has_value()) << n;
      EXPECT_EQ(a->code, 12);
      EXPECT_EQ(a->data, body.substr(4, n - 4));
    }
  }
}

TEST(ReaderTruncationTest, ErrorFieldsKeepOnlyCompleteFields) {
  const std::string body = Wire()
                               .field('S', "FATAL")
                               .field('C', "53300")
                               .field('M', "sorry, too many clients already")
                               .byte(0);
  const auto full = parse_error_fields(as_bytes(body));
  ASSERT_EQ(full.size(), 3u);
  size_t previous = 0;
  for (size_t n = 0; n < body.size(); ++n) {
    SCOPED_TRACE(n);
    const auto bytes = prefix(body, n);
    const auto fields = parse_error_fields(Bytes(bytes));
    for (const auto& [code, value] : fields) {
      ASSERT_TRUE(full.count(code)) << code;
      EXPECT_EQ(value, full.at(code)) << code;
    }
    EXPECT_GE(fields.size(), previous);
    previous = fields.size();
  }
  EXPECT_EQ(previous, 3u);  // complete before the final terminator
}

TEST(ReaderTruncationTest, LengthCheckedParsersRejectEveryStrictPrefix) {
  struct Case {
    const char* name;
    std::string body;
    bool (*parses)(Bytes);
  };
  const std::vector<Case> cases = {
      {"ParameterStatus", Wire().cstr("application_name").cstr("psql"),
       [](Bytes b) { return parse_parameter_status(b).has_value(); }},
      {"BackendKeyData", Wire().i32(1234).i32(5678),
       [](Bytes b) { return parse_backend_key(b).has_value(); }},
      {"SASLInitialResponse", Wire().cstr("SCRAM-SHA-256").i32(6).raw("n,,n=,"),
       [](Bytes b) { return parse_sasl_initial(b).has_value(); }},
      {"SASLInitialResponseNoData", Wire().cstr("SCRAM-SHA-256").i32(-1),
       [](Bytes b) { return parse_sasl_initial(b).has_value(); }},
      {"PasswordMessage", Wire().cstr("hunter2"),
       [](Bytes b) { return parse_password(b).has_value(); }},
      {"Query", Wire().cstr("SELECT now()"), [](Bytes b) { return parse_query(b).has_value(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.parses(as_bytes(c.body)));
    for (size_t n = 0; n < c.body.size(); ++n) {
      const auto bytes = prefix(c.body, n);
      EXPECT_FALSE(c.parses(Bytes(bytes))) << n;
    }
  }
}

}  // namespace
}  // namespace sluice::protocol
