// The messages the proxy emits: exact bytes against hand encodings, and round trips through
// the framing and reading code.
#include "protocol/builder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/frame.h"
#include "protocol/reader.h"
#include "protocol/startup.h"
#include "wire_test_util.h"

namespace sluice::protocol {
namespace {

using wire::as_bytes;
using wire::to_string;
using wire::typed;
using wire::untyped;
using wire::Wire;

constexpr size_t kMax = 1 << 20;

// Frames the single message `out` must consist of, checking nothing is left over.
Frame only_message(const std::string& out, char type) {
  const Frame f = peek_message(as_bytes(out), kMax);
  EXPECT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(f.type, type);
  EXPECT_EQ(f.size, out.size());
  return f;
}

// --- MessageWriter -----------------------------------------------------------------------

TEST(MessageWriterTest, EncodesFieldsBigEndianAndPatchesTheLength) {
  std::string out;
  MessageWriter(out).begin('x').i32(0x01020304).i16(-2).byte('b').cstr("hi").raw("r").end();
  EXPECT_EQ(out, typed('x', Wire().i32(0x01020304).i16(-2).byte('b').cstr("hi").raw("r")));
}

TEST(MessageWriterTest, UntypedMessageHasNoTypeByte) {
  std::string out;
  MessageWriter(out).begin(0).i32(42).end();
  EXPECT_EQ(out, untyped(Wire().i32(42)));
}

TEST(MessageWriterTest, LengthUsesAllFourBytes) {
  const std::string big(70000, 'z');
  std::string out;
  MessageWriter(out).begin('d').raw(big).end();
  EXPECT_EQ(out, typed('d', big));
}

TEST(MessageWriterTest, AppendsAfterExistingBytes) {
  std::string out = "prefix";
  MessageWriter(out).begin('Q').cstr("SELECT 1").end();
  EXPECT_EQ(out, "prefix" + typed('Q', Wire().cstr("SELECT 1")));
}

TEST(MessageWriterTest, SeveralMessagesInOneBufferFrameBackInOrder) {
  std::string out;
  append_auth_ok(out);
  append_parameter_status(out, "server_version", "15.4");
  append_backend_key_data(out, 7, 8);
  append_command_complete(out, "SELECT 1");
  append_empty_query_response(out);
  append_ready_for_query(out, 'I');

  const std::string expected =
      typed('R', Wire().i32(0)) + typed('S', Wire().cstr("server_version").cstr("15.4")) +
      typed('K', Wire().i32(7).i32(8)) + typed('C', Wire().cstr("SELECT 1")) + typed('I', "") +
      typed('Z', "I");
  EXPECT_EQ(out, expected);

  std::string types;
  size_t pos = 0;
  while (pos < out.size()) {
    const Frame f = peek_message(as_bytes(out).subspan(pos), kMax);
    ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
    types.push_back(f.type);
    pos += f.size;
  }
  EXPECT_EQ(types, "RSKCIZ");
}

// --- Backend messages --------------------------------------------------------------------

TEST(BuilderTest, ErrorWithAllFields) {
  std::string out;
  append_error(out, kSeverityFatal, sqlstate::kInvalidPassword,
               "password authentication failed for user \"alice\"", "Connection matched rule 3.");
  EXPECT_EQ(out, typed('E', Wire()
                                .field('S', "FATAL")
                                .field('V', "FATAL")
                                .field('C', "28P01")
                                .field('M', "password authentication failed for user \"alice\"")
                                .field('D', "Connection matched rule 3.")
                                .byte(0)));
}

TEST(BuilderTest, ErrorRoundTripsThroughParseErrorFields) {
  std::string out;
  append_error(out, kSeverityError, sqlstate::kQueryCanceled,
               "canceling statement due to user request", "detail text");
  const Frame f = only_message(out, 'E');
  const std::map<char, std::string> expected = {{'S', "ERROR"},
                                                {'V', "ERROR"},
                                                {'C', "57014"},
                                                {'M', "canceling statement due to user request"},
                                                {'D', "detail text"}};
  EXPECT_EQ(parse_error_fields(f.body), expected);
}

TEST(BuilderTest, ErrorWithoutDetailOrSqlstateOmitsThoseFields) {
  std::string out;
  append_error(out, kSeverityError, "", "boom");
  EXPECT_EQ(out,
            typed('E', Wire().field('S', "ERROR").field('V', "ERROR").field('M', "boom").byte(0)));
  const std::map<char, std::string> expected = {{'S', "ERROR"}, {'V', "ERROR"}, {'M', "boom"}};
  EXPECT_EQ(parse_error_fields(only_message(out, 'E').body), expected);
}

TEST(BuilderTest, Notice) {
  std::string out;
  append_notice(out, "pool is draining");
  EXPECT_EQ(out, typed('N', Wire()
                                .field('S', "NOTICE")
                                .field('V', "NOTICE")
                                .field('C', "00000")
                                .field('M', "pool is draining")
                                .byte(0)));
}

TEST(BuilderTest, ReadyForQuery) {
  for (char status : {'I', 'T', 'E'}) {
    std::string out;
    append_ready_for_query(out, status);
    EXPECT_EQ(out, typed('Z', std::string(1, status)));
  }
}

TEST(BuilderTest, AuthenticationRequests) {
  const uint8_t salt[4] = {0x00, 0xFF, 0x7F, 0x80};
  std::string out;
  append_auth_ok(out);
  EXPECT_EQ(out, typed('R', Wire().i32(0)));
  out.clear();
  append_auth_cleartext(out);
  EXPECT_EQ(out, typed('R', Wire().i32(3)));
  out.clear();
  append_auth_md5(out, salt);
  EXPECT_EQ(out, typed('R', Wire().i32(5).byte(0x00).byte(0xFF).byte(0x7F).byte(0x80)));
  out.clear();
  append_auth_sasl(out, "SCRAM-SHA-256");
  EXPECT_EQ(out, typed('R', Wire().i32(10).cstr("SCRAM-SHA-256").byte(0)));
  out.clear();
  append_auth_sasl_continue(out, "r=abc,s=c2FsdA==,i=4096");
  EXPECT_EQ(out, typed('R', Wire().i32(11).raw("r=abc,s=c2FsdA==,i=4096")));
  out.clear();
  append_auth_sasl_final(out, "v=c2lnbmF0dXJl");
  EXPECT_EQ(out, typed('R', Wire().i32(12).raw("v=c2lnbmF0dXJl")));
}

TEST(BuilderTest, AuthMd5RoundTripsThroughParseAuthRequest) {
  const uint8_t salt[4] = {0x00, 0x01, 0x00, 0xFE};
  std::string out;
  append_auth_md5(out, salt);
  const auto auth = parse_auth_request(only_message(out, 'R').body);
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->code, 5);
  EXPECT_EQ(auth->data, std::string("\x00\x01\x00\xFE", 4));
}

TEST(BuilderTest, ParameterStatusRoundTrips) {
  std::string out;
  append_parameter_status(out, "TimeZone", "Europe/Berlin");
  EXPECT_EQ(out, typed('S', Wire().cstr("TimeZone").cstr("Europe/Berlin")));
  const auto ps = parse_parameter_status(only_message(out, 'S').body);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->first, "TimeZone");
  EXPECT_EQ(ps->second, "Europe/Berlin");
}

TEST(BuilderTest, BackendKeyDataRoundTrips) {
  std::string out;
  append_backend_key_data(out, 123456, -2023406815);
  EXPECT_EQ(out, typed('K', Wire().i32(123456).i32(-2023406815)));
  const auto key = parse_backend_key(only_message(out, 'K').body);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->pid, 123456);
  EXPECT_EQ(key->key, -2023406815);
}

TEST(BuilderTest, CommandCompleteAndEmptyQueryResponse) {
  std::string out;
  append_command_complete(out, "SHOW");
  EXPECT_EQ(out, typed('C', Wire().cstr("SHOW")));
  out.clear();
  append_empty_query_response(out);
  EXPECT_EQ(out, typed('I', ""));
}

TEST(BuilderTest, RowDescriptionUsesTheTypeSizes) {
  std::string out;
  append_row_description(out,
                         {{"database", kOidText}, {"cl_active", kOidInt8}, {"port", kOidInt4}});
  EXPECT_EQ(out, typed('T', Wire()
                                .i16(3)
                                .cstr("database")
                                .i32(0)
                                .i16(0)
                                .i32(25)
                                .i16(-1)
                                .i32(-1)
                                .i16(0)
                                .cstr("cl_active")
                                .i32(0)
                                .i16(0)
                                .i32(20)
                                .i16(8)
                                .i32(-1)
                                .i16(0)
                                .cstr("port")
                                .i32(0)
                                .i16(0)
                                .i32(23)
                                .i16(4)
                                .i32(-1)
                                .i16(0)));
}

TEST(BuilderTest, RowDescriptionAndDataRowWithNullsDecode) {
  std::string out;
  append_row_description(out, {{"name", kOidText}, {"note", kOidText}, {"n", kOidInt8}});
  const std::vector<std::optional<std::string>> row = {std::string("main"), std::nullopt,
                                                       std::string("")};
  append_data_row(out, row);
  append_data_row(out, {std::nullopt, std::string("a\0b", 3), std::string("42")});

  Frame f = peek_message(as_bytes(out), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  ASSERT_EQ(f.type, 'T');
  BodyReader t(f.body);
  ASSERT_EQ(t.i16(), 3);
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    names.emplace_back(t.cstr());
    t.take(18);  // table oid, attnum, type oid, typlen, typmod, format
  }
  EXPECT_TRUE(t.ok());
  EXPECT_TRUE(t.at_end());
  EXPECT_EQ(names, (std::vector<std::string>{"name", "note", "n"}));

  auto decode_row = [](Bytes body) {
    BodyReader r(body);
    std::vector<std::optional<std::string>> values(static_cast<size_t>(r.i16()));
    for (auto& v : values) {
      const int32_t len = r.i32();
      if (len >= 0) v = std::string(r.take(static_cast<size_t>(len)));
    }
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
    return values;
  };
  size_t pos = f.size;
  f = peek_message(as_bytes(out).subspan(pos), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  ASSERT_EQ(f.type, 'D');
  EXPECT_EQ(decode_row(f.body), row);
  EXPECT_EQ(to_string(f.body), Wire().i16(3).i32(4).raw("main").i32(-1).i32(0).str());

  pos += f.size;
  f = peek_message(as_bytes(out).subspan(pos), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  ASSERT_EQ(f.type, 'D');
  EXPECT_EQ(decode_row(f.body), (std::vector<std::optional<std::string>>{
                                    std::nullopt, std::string("a\0b", 3), std::string("42")}));
  EXPECT_EQ(pos + f.size, out.size());
}

// --- Frontend messages -------------------------------------------------------------------

TEST(BuilderTest, StartupRoundTripsThroughStartupParsing) {
  const std::vector<std::pair<std::string, std::string>> params = {
      {"user", "alice"},
      {"database", "app"},
      {"application_name", "sluice"},
      {"options", "-c statement_timeout=0"}};
  std::string out;
  append_startup(out, params);
  Wire expected;
  expected.i32(196608);
  for (const auto& [k, v] : params) expected.cstr(k).cstr(v);
  expected.byte(0);
  EXPECT_EQ(out, untyped(expected));

  const Frame f = peek_startup_packet(as_bytes(out));
  ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(f.size, out.size());
  const StartupPacket p = parse_startup_packet(f.body);
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.error;
  EXPECT_EQ(p.code, kProtocolV3);
  EXPECT_EQ(p.params, params);
}

TEST(BuilderTest, SslRequestRoundTrips) {
  std::string out;
  append_ssl_request(out);
  EXPECT_EQ(out, Wire().i32(8).i32(80877103).str());
  const Frame f = peek_startup_packet(as_bytes(out));
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  EXPECT_EQ(parse_startup_packet(f.body).kind, StartupKind::kSslRequest);
}

TEST(BuilderTest, CancelRequestRoundTrips) {
  std::string out;
  append_cancel_request(out, 98765, -1);
  EXPECT_EQ(out, Wire().i32(16).i32(80877102).i32(98765).i32(-1).str());
  const Frame f = peek_startup_packet(as_bytes(out));
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  const StartupPacket p = parse_startup_packet(f.body);
  ASSERT_EQ(p.kind, StartupKind::kCancel) << p.error;
  EXPECT_EQ(p.cancel_pid, 98765);
  EXPECT_EQ(p.cancel_key, -1);
}

TEST(BuilderTest, SaslInitialResponseRoundTrips) {
  const std::string data = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
  std::string out;
  append_sasl_initial_response(out, "SCRAM-SHA-256", data);
  EXPECT_EQ(
      out,
      typed('p', Wire().cstr("SCRAM-SHA-256").i32(static_cast<int32_t>(data.size())).raw(data)));
  const auto s = parse_sasl_initial(only_message(out, 'p').body);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(s->data, data);
}

TEST(BuilderTest, SaslInitialResponseWithEmptyData) {
  std::string out;
  append_sasl_initial_response(out, "SCRAM-SHA-256", "");
  const auto s = parse_sasl_initial(only_message(out, 'p').body);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(s->data, "");
}

TEST(BuilderTest, SaslResponseIsRawData) {
  std::string out;
  append_sasl_response(out, "c=biws,r=abc,p=cHJvb2Y=");
  EXPECT_EQ(out, typed('p', "c=biws,r=abc,p=cHJvb2Y="));
}

TEST(BuilderTest, PasswordAndQueryRoundTrip) {
  std::string out;
  append_password(out, "md5a3556571e93b0d20722ba62be61e8c2d");
  EXPECT_EQ(out, typed('p', Wire().cstr("md5a3556571e93b0d20722ba62be61e8c2d")));
  EXPECT_EQ(parse_password(only_message(out, 'p').body), "md5a3556571e93b0d20722ba62be61e8c2d");

  out.clear();
  append_query(out, "SHOW POOLS;");
  EXPECT_EQ(out, typed('Q', Wire().cstr("SHOW POOLS;")));
  EXPECT_EQ(parse_query(only_message(out, 'Q').body), "SHOW POOLS;");
}

TEST(BuilderTest, TerminateAndSyncAreEmpty) {
  std::string out;
  append_terminate(out);
  append_sync(out);
  EXPECT_EQ(out, typed('X', "") + typed('S', ""));
}

}  // namespace
}  // namespace sluice::protocol
