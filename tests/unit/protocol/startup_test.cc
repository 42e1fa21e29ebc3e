// Framing and decoding of the startup-phase packets: StartupMessage, SSLRequest,
// GSSENCRequest and CancelRequest.
#include "protocol/startup.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "protocol/frame.h"
#include "wire_test_util.h"

namespace sluice::protocol {
namespace {

using wire::as_bytes;
using wire::be32;
using wire::to_string;
using wire::untyped;
using wire::Wire;

using Params = std::vector<std::pair<std::string, std::string>>;

// Frames `packet` with peek_startup_packet and decodes it.
StartupPacket frame_and_parse(const std::string& packet) {
  const Frame f = peek_startup_packet(as_bytes(packet));
  EXPECT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(f.size, packet.size());
  return parse_startup_packet(f.body);
}

StartupPacket parse_body(const std::string& body) { return parse_startup_packet(as_bytes(body)); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- Framing -----------------------------------------------------------------------------

TEST(StartupFrameTest, FewerThanFourBytesNeedMore) {
  const std::string buf = be32(8);
  for (size_t n = 0; n < 4; ++n) {
    const Frame f = peek_startup_packet(as_bytes(buf).first(n));
    EXPECT_EQ(f.status, FrameStatus::kNeedMore) << n;
    EXPECT_EQ(f.need, 0u) << n;
  }
}

TEST(StartupFrameTest, LengthBelowEightIsAnError) {
  for (uint32_t len : {0u, 1u, 4u, 7u}) {
    SCOPED_TRACE(len);
    const std::string buf = be32(len) + be32(kSslRequestCode);
    const Frame f = peek_startup_packet(as_bytes(buf));
    EXPECT_EQ(f.status, FrameStatus::kError);
    EXPECT_TRUE(contains(f.error, std::to_string(len))) << f.error;
  }
}

TEST(StartupFrameTest, LengthEightIsTheSmallestPacket) {
  const std::string buf = be32(8) + be32(kSslRequestCode);
  const Frame f = peek_startup_packet(as_bytes(buf));
  ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(f.type, 0);
  EXPECT_EQ(f.size, 8u);
  EXPECT_EQ(to_string(f.body), be32(kSslRequestCode));
}

TEST(StartupFrameTest, LengthAboveTenThousandIsAnError) {
  for (uint32_t len : {10001u, 65536u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(len);
    const std::string buf = be32(len) + be32(kProtocolV3);
    const Frame f = peek_startup_packet(as_bytes(buf));
    EXPECT_EQ(f.status, FrameStatus::kError);
    EXPECT_TRUE(contains(f.error, std::to_string(len))) << f.error;
  }
}

TEST(StartupFrameTest, LengthOfExactlyTenThousandIsAccepted) {
  // user=<long name>, padded so the whole packet is exactly 10000 bytes.
  const std::string prefix = Wire().i32(kProtocolV3).cstr("user");
  const std::string user(kMaxStartupPacketSize - 4 - prefix.size() - 2, 'u');
  const std::string packet = untyped(prefix + Wire().cstr(user).byte(0).str());
  ASSERT_EQ(packet.size(), kMaxStartupPacketSize);

  const Frame partial = peek_startup_packet(as_bytes(packet).first(4));
  EXPECT_EQ(partial.status, FrameStatus::kNeedMore);
  EXPECT_EQ(partial.need, kMaxStartupPacketSize);

  const StartupPacket p = frame_and_parse(packet);
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.error;
  EXPECT_EQ(p.param("user"), user);
}

TEST(StartupFrameTest, EveryStrictPrefixNeedsMoreAndNextBytesAreLeftAlone) {
  const std::string packet =
      untyped(Wire().i32(kProtocolV3).cstr("user").cstr("alice").byte(0).str());
  for (size_t n = 0; n < packet.size(); ++n) {
    const Frame f = peek_startup_packet(as_bytes(packet).first(n));
    EXPECT_EQ(f.status, FrameStatus::kNeedMore) << n;
    EXPECT_EQ(f.need, n < 4 ? 0 : packet.size()) << n;
  }
  // A client that pipelines its first Query right behind the startup packet.
  const std::string buf = packet + wire::typed('Q', Wire().cstr("SELECT 1"));
  const Frame f = peek_startup_packet(as_bytes(buf));
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  EXPECT_EQ(f.size, packet.size());
  EXPECT_EQ(f.body.size(), packet.size() - 4);
}

// --- StartupMessage ----------------------------------------------------------------------

TEST(StartupParseTest, ProtocolThreeWithParametersInOrder) {
  const Params params = {{"user", "alice"},
                         {"database", "app db"},
                         {"application_name", "psql"},
                         {"options", "-c search_path=public -c statement_timeout=5s"}};
  Wire body;
  body.i32(kProtocolV3);
  for (const auto& [k, v] : params) body.cstr(k).cstr(v);
  body.byte(0);

  const StartupPacket p = frame_and_parse(untyped(body));
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.error;
  EXPECT_EQ(p.code, kProtocolV3);
  EXPECT_EQ(p.params, params);
  EXPECT_EQ(p.param("user"), "alice");
  EXPECT_EQ(p.param("database"), "app db");
  EXPECT_EQ(p.param("application_name"), "psql");
  EXPECT_EQ(p.param("options"), "-c search_path=public -c statement_timeout=5s");
  EXPECT_EQ(p.param("client_encoding"), "");
}

TEST(StartupParseTest, EmptyValuesAreKept) {
  const StartupPacket p = parse_body(
      Wire().i32(kProtocolV3).cstr("user").cstr("bob").cstr("application_name").cstr("").byte(0));
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.error;
  EXPECT_EQ(p.params, (Params{{"user", "bob"}, {"application_name", ""}}));
}

TEST(StartupParseTest, MissingUserIsInvalid) {
  const StartupPacket p = parse_body(Wire().i32(kProtocolV3).cstr("database").cstr("db").byte(0));
  EXPECT_EQ(p.kind, StartupKind::kInvalid);
  EXPECT_TRUE(contains(p.error, "user")) << p.error;
}

TEST(StartupParseTest, EmptyUserIsInvalid) {
  const StartupPacket p = parse_body(Wire().i32(kProtocolV3).cstr("user").cstr("").byte(0));
  EXPECT_EQ(p.kind, StartupKind::kInvalid);
  EXPECT_TRUE(contains(p.error, "user")) << p.error;
}

TEST(StartupParseTest, NoParametersAtAllIsInvalid) {
  EXPECT_EQ(parse_body(Wire().i32(kProtocolV3).byte(0)).kind, StartupKind::kInvalid);
  EXPECT_EQ(parse_body(Wire().i32(kProtocolV3)).kind, StartupKind::kInvalid);
}

TEST(StartupParseTest, UnterminatedParametersAreInvalid) {
  const std::string v3 = Wire().i32(kProtocolV3);
  const std::vector<std::string> bodies = {
      v3 + "user",                                   // key without NUL
      v3 + Wire().cstr("user").raw("alice").str(),   // value without NUL
      v3 + Wire().cstr("user").cstr("alice").str(),  // no final terminator
      v3 + Wire().cstr("user").cstr("alice").raw("database").str(),
  };
  for (const std::string& body : bodies) {
    const StartupPacket p = parse_body(body);
    EXPECT_EQ(p.kind, StartupKind::kInvalid) << ::testing::PrintToString(body);
    EXPECT_FALSE(p.error.empty());
    EXPECT_TRUE(p.params.empty());
  }
}

TEST(StartupParseTest, EveryTruncationOfAValidPacketIsInvalid) {
  const std::string body =
      Wire().i32(kProtocolV3).cstr("user").cstr("alice").cstr("database").cstr("db").byte(0);
  ASSERT_EQ(parse_body(body).kind, StartupKind::kStartup);
  for (size_t n = 0; n < body.size(); ++n) {
    // Exactly sized copy so a sanitizer sees any read past the end.
    const std::vector<uint8_t> prefix(body.begin(), body.begin() + static_cast<ptrdiff_t>(n));
    const StartupPacket p = parse_startup_packet(Bytes(prefix));
    EXPECT_EQ(p.kind, StartupKind::kInvalid) << n;
    EXPECT_FALSE(p.error.empty()) << n;
  }
}

TEST(StartupParseTest, TrailingBytesAfterTerminatorAreInvalid) {
  const StartupPacket p =
      parse_body(Wire().i32(kProtocolV3).cstr("user").cstr("alice").byte(0).raw("x"));
  EXPECT_EQ(p.kind, StartupKind::kInvalid);
  EXPECT_TRUE(contains(p.error, "trailing")) << p.error;
}

TEST(StartupParseTest, ProtocolTwoIsRejected) {
  const StartupPacket p = frame_and_parse(untyped(Wire().i32(2 << 16).raw(std::string(292, 0))));
  EXPECT_EQ(p.kind, StartupKind::kInvalid);
  EXPECT_TRUE(contains(p.error, "unsupported frontend protocol 2.0")) << p.error;
}

TEST(StartupParseTest, OtherMajorVersionsAreRejected) {
  for (uint32_t code : {0u, (1u << 16), (4u << 16), (1234u << 16) | 5677u}) {
    const StartupPacket p = parse_body(Wire().i32(code).cstr("user").cstr("alice").byte(0));
    EXPECT_EQ(p.kind, StartupKind::kInvalid) << code;
    EXPECT_TRUE(contains(p.error, "unsupported frontend protocol")) << p.error;
  }
}

TEST(StartupParseTest, NewerMinorVersionIsServedAsThreeZero) {
  const StartupPacket p = parse_body(Wire().i32((3 << 16) | 2).cstr("user").cstr("alice").byte(0));
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.error;
  EXPECT_EQ(p.code, kProtocolV3);
  EXPECT_EQ(p.param("user"), "alice");
}

TEST(StartupParseTest, BodyShorterThanACodeIsInvalid) {
  for (size_t n = 0; n < 4; ++n) {
    const std::vector<uint8_t> body(n, 0);
    EXPECT_EQ(parse_startup_packet(Bytes(body)).kind, StartupKind::kInvalid) << n;
  }
}

// --- SSLRequest / GSSENCRequest ----------------------------------------------------------

TEST(StartupParseTest, SslRequest) {
  const std::string packet = Wire().i32(8).i32(80877103);
  const StartupPacket p = frame_and_parse(packet);
  EXPECT_EQ(p.kind, StartupKind::kSslRequest);
  EXPECT_EQ(p.code, kSslRequestCode);
}

TEST(StartupParseTest, GssEncRequest) {
  const std::string packet = Wire().i32(8).i32(80877104);
  const StartupPacket p = frame_and_parse(packet);
  EXPECT_EQ(p.kind, StartupKind::kGssEncRequest);
  EXPECT_EQ(p.code, kGssEncRequestCode);
}

TEST(StartupParseTest, SslAndGssRequestsWithExtraBytesAreInvalid) {
  for (uint32_t code : {kSslRequestCode, kGssEncRequestCode}) {
    const StartupPacket p = frame_and_parse(untyped(Wire().i32(code).i32(0)));
    EXPECT_EQ(p.kind, StartupKind::kInvalid) << code;
  }
}

// --- CancelRequest -----------------------------------------------------------------------

TEST(StartupParseTest, CancelRequestCarriesPidAndKey) {
  const std::string packet = Wire().i32(16).i32(80877102).i32(31337).i32(-1091581186);
  const StartupPacket p = frame_and_parse(packet);
  ASSERT_EQ(p.kind, StartupKind::kCancel) << p.error;
  EXPECT_EQ(p.code, kCancelRequestCode);
  EXPECT_EQ(p.cancel_pid, 31337);
  EXPECT_EQ(p.cancel_key, -1091581186);
}

TEST(StartupParseTest, CancelRequestOfTheWrongLengthIsInvalid) {
  for (size_t extra : {0u, 4u, 7u, 9u, 12u}) {
    SCOPED_TRACE(extra);
    const std::string body = Wire().i32(kCancelRequestCode).raw(std::string(extra, '\x01'));
    const StartupPacket p = frame_and_parse(untyped(body));
    EXPECT_EQ(p.kind, StartupKind::kInvalid);
    EXPECT_TRUE(contains(p.error, "cancel")) << p.error;
  }
}

}  // namespace
}  // namespace sluice::protocol
