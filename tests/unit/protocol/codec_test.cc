// Framing of typed (post-startup) messages: every message type of protocol 3.0, streams
// split at arbitrary points, and length validation.
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "protocol/frame.h"
#include "wire_test_util.h"

namespace sluice::protocol {
namespace {

using wire::as_bytes;
using wire::be32;
using wire::to_string;
using wire::typed;
using wire::Wire;

constexpr size_t kMax = 1 << 20;

struct MessageCase {
  const char* name;
  char type;
  std::string body;
};

void PrintTo(const MessageCase& c, std::ostream* os) { *os << c.name; }

// One hand-encoded instance of every message type, frontend and backend.
std::vector<MessageCase> all_messages() {
  const std::string sasl_data = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
  return {
      // Frontend.
      {"Query", 'Q', Wire().cstr("SELECT 1; SELECT 'two'")},
      {"Parse", 'P', Wire().cstr("s1").cstr("SELECT $1::int + $2").i16(2).i32(23).i32(0)},
      {"Bind", 'B',
       Wire().cstr("p1").cstr("s1").i16(1).i16(0).i16(2).i32(1).raw("7").i32(-1).i16(1).i16(1)},
      {"DescribeStatement", 'D', Wire().byte('S').cstr("s1")},
      {"DescribePortal", 'D', Wire().byte('P').cstr("")},
      {"Execute", 'E', Wire().cstr("p1").i32(100)},
      {"Close", 'C', Wire().byte('P').cstr("p1")},
      {"Sync", 'S', ""},
      {"Flush", 'H', ""},
      {"FrontendCopyData", 'd', Wire().raw("1\tfoo\n2\t\\N\n")},
      {"FrontendCopyDone", 'c', ""},
      {"CopyFail", 'f', Wire().cstr("COPY aborted by user")},
      {"FunctionCall", 'F', Wire().i32(1598).i16(1).i16(1).i16(1).i32(4).raw("abcd").i16(0)},
      {"PasswordMessage", 'p', Wire().cstr("md5a3556571e93b0d20722ba62be61e8c2d")},
      {"SASLInitialResponse", 'p',
       Wire().cstr("SCRAM-SHA-256").i32(static_cast<int32_t>(sasl_data.size())).raw(sasl_data)},
      {"SASLResponse", 'p',
       Wire().raw("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjf")},
      {"Terminate", 'X', ""},
      // Backend.
      {"AuthenticationOk", 'R', Wire().i32(0)},
      {"AuthenticationKerberosV5", 'R', Wire().i32(2)},
      {"AuthenticationCleartextPassword", 'R', Wire().i32(3)},
      {"AuthenticationMD5Password", 'R', Wire().i32(5).byte(0x00).byte(0xFF).byte(0x10).byte(0x7F)},
      {"AuthenticationGSS", 'R', Wire().i32(7)},
      {"AuthenticationGSSContinue", 'R', Wire().i32(8).raw(std::string("\x60\x00\x06", 3))},
      {"AuthenticationSSPI", 'R', Wire().i32(9)},
      {"AuthenticationSASL", 'R',
       Wire().i32(10).cstr("SCRAM-SHA-256-PLUS").cstr("SCRAM-SHA-256").byte(0)},
      {"AuthenticationSASLContinue", 'R',
       Wire().i32(11).raw(
           "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")},
      {"AuthenticationSASLFinal", 'R',
       Wire().i32(12).raw("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")},
      {"BackendKeyData", 'K', Wire().i32(4242).i32(-559038737)},
      {"BindComplete", '2', ""},
      {"CloseComplete", '3', ""},
      {"CommandComplete", 'C', Wire().cstr("INSERT 0 1")},
      {"CopyInResponse", 'G', Wire().byte(0).i16(2).i16(0).i16(0)},
      {"CopyOutResponse", 'H', Wire().byte(1).i16(1).i16(1)},
      {"CopyBothResponse", 'W', Wire().byte(0).i16(0)},
      {"BackendCopyData", 'd', Wire().raw(std::string("\x00\x01\x02\xff", 4))},
      {"BackendCopyDone", 'c', ""},
      {"DataRow", 'D', Wire().i16(3).i32(1).raw("1").i32(-1).i32(0)},
      {"EmptyQueryResponse", 'I', ""},
      {"ErrorResponse", 'E',
       Wire()
           .field('S', "ERROR")
           .field('V', "ERROR")
           .field('C', "42P01")
           .field('M', "relation \"nope\" does not exist")
           .field('P', "15")
           .byte(0)},
      {"FunctionCallResponse", 'V', Wire().i32(4).i32(42)},
      {"FunctionCallResponseNull", 'V', Wire().i32(-1)},
      {"NegotiateProtocolVersion", 'v', Wire().i32(196608).i32(1).cstr("_pq_.compression")},
      {"NoData", 'n', ""},
      {"NoticeResponse", 'N',
       Wire()
           .field('S', "NOTICE")
           .field('V', "NOTICE")
           .field('C', "00000")
           .field('M', "table \"t\" does not exist, skipping")
           .byte(0)},
      {"NotificationResponse", 'A', Wire().i32(4242).cstr("jobs").cstr("{\"id\": 7}")},
      {"ParameterDescription", 't', Wire().i16(2).i32(23).i32(25)},
      {"ParameterStatus", 'S', Wire().cstr("server_version").cstr("15.4")},
      {"ParseComplete", '1', ""},
      {"PortalSuspended", 's', ""},
      {"ReadyForQuery", 'Z', Wire().byte('T')},
      {"RowDescription", 'T',
       Wire()
           .i16(2)
           .cstr("id")
           .i32(16384)
           .i16(1)
           .i32(23)
           .i16(4)
           .i32(-1)
           .i16(0)
           .cstr("name")
           .i32(16384)
           .i16(2)
           .i32(25)
           .i16(-1)
           .i32(-1)
           .i16(0)},
  };
}

class MessageTypeTest : public ::testing::TestWithParam<MessageCase> {};

TEST_P(MessageTypeTest, FramesExactlyOneMessage) {
  const MessageCase& c = GetParam();
  const std::string msg = typed(c.type, c.body);

  const Frame f = peek_message(as_bytes(msg), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(f.type, c.type);
  EXPECT_EQ(to_string(f.body), c.body);
  EXPECT_EQ(f.size, msg.size());
}

TEST_P(MessageTypeTest, IgnoresBytesOfTheNextMessage) {
  const MessageCase& c = GetParam();
  const std::string msg = typed(c.type, c.body);
  const std::string buf = msg + typed('Z', "I") + std::string("Q\0\0", 3);

  const Frame f = peek_message(as_bytes(buf), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(f.type, c.type);
  EXPECT_EQ(to_string(f.body), c.body);
  EXPECT_EQ(f.size, msg.size());
  EXPECT_EQ(f.body.data(), reinterpret_cast<const uint8_t*>(buf.data()) + kHeaderSize);
}

TEST_P(MessageTypeTest, EveryStrictPrefixNeedsMore) {
  const MessageCase& c = GetParam();
  const std::string msg = typed(c.type, c.body);
  for (size_t n = 0; n < msg.size(); ++n) {
    SCOPED_TRACE(n);
    const Frame f = peek_message(as_bytes(msg).first(n), kMax);
    EXPECT_EQ(f.status, FrameStatus::kNeedMore);
    EXPECT_EQ(f.need, n < kHeaderSize ? 0 : msg.size());
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MessageTypeTest, ::testing::ValuesIn(all_messages()),
                         [](const ::testing::TestParamInfo<MessageCase>& info) {
                           return std::string(info.param.name);
                         });

struct Framed {
  char type;
  std::string body;
  bool operator==(const Framed&) const = default;
};

// What a connection's read loop does: append what arrived, frame every complete message,
// keep the rest for later.
class Deframer {
 public:
  explicit Deframer(size_t max_size) : max_size_(max_size) {}

  // Returns false on a framing error.
  bool feed(std::string_view chunk) {
    pending_.append(chunk);
    size_t consumed = 0;
    for (;;) {
      const Frame f = peek_message(as_bytes(pending_).subspan(consumed), max_size_);
      if (f.status == FrameStatus::kError) return false;
      if (f.status == FrameStatus::kNeedMore) break;
      out_.push_back({f.type, to_string(f.body)});
      consumed += f.size;
    }
    pending_.erase(0, consumed);
    return true;
  }

  const std::vector<Framed>& messages() const { return out_; }
  size_t pending() const { return pending_.size(); }

 private:
  size_t max_size_;
  std::string pending_;
  std::vector<Framed> out_;
};

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const MessageCase& c : all_messages()) {
      stream_ += typed(c.type, c.body);
      expected_.push_back({c.type, c.body});
      ends_.push_back(stream_.size());
    }
  }

  std::string stream_;
  std::vector<Framed> expected_;
  std::vector<size_t> ends_;  // offset just past each message
};

TEST_F(StreamTest, WholeStreamFramesEveryMessageInOrder) {
  Deframer d(kMax);
  ASSERT_TRUE(d.feed(stream_));
  EXPECT_EQ(d.messages(), expected_);
  EXPECT_EQ(d.pending(), 0u);
}

TEST_F(StreamTest, SplitAtEveryOffsetGivesTheSameMessages) {
  for (size_t cut = 0; cut <= stream_.size(); ++cut) {
    SCOPED_TRACE(cut);
    Deframer d(kMax);
    ASSERT_TRUE(d.feed(std::string_view(stream_).substr(0, cut)));
    // Exactly the messages wholly inside the first chunk are out after it.
    size_t complete = 0;
    while (complete < ends_.size() && ends_[complete] <= cut) ++complete;
    ASSERT_EQ(d.messages().size(), complete);
    ASSERT_TRUE(d.feed(std::string_view(stream_).substr(cut)));
    ASSERT_EQ(d.messages(), expected_);
    ASSERT_EQ(d.pending(), 0u);
  }
}

TEST_F(StreamTest, EveryChunkSizeGivesTheSameMessages) {
  for (size_t chunk = 1; chunk <= stream_.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    Deframer d(kMax);
    for (size_t pos = 0; pos < stream_.size(); pos += chunk) {
      ASSERT_TRUE(d.feed(std::string_view(stream_).substr(pos, chunk)));
    }
    ASSERT_EQ(d.messages(), expected_);
    ASSERT_EQ(d.pending(), 0u);
  }
}

TEST_F(StreamTest, OneByteAtATimeReportsEachMessageOnItsLastByte) {
  size_t next = 0;   // index of the message being assembled
  size_t start = 0;  // its offset in the stream
  for (size_t n = 1; n <= stream_.size(); ++n) {
    SCOPED_TRACE(n);
    const Frame f = peek_message(as_bytes(stream_).subspan(start, n - start), kMax);
    if (n < ends_[next]) {
      ASSERT_EQ(f.status, FrameStatus::kNeedMore);
      EXPECT_TRUE(f.error.empty());
      EXPECT_EQ(f.size, 0u);
      EXPECT_TRUE(f.body.empty());
      EXPECT_EQ(f.need, n - start < kHeaderSize ? 0 : ends_[next] - start);
    } else {
      ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
      EXPECT_EQ((Framed{f.type, to_string(f.body)}), expected_[next]);
      EXPECT_EQ(f.size, ends_[next] - start);
      start = ends_[next];
      ++next;
    }
  }
  EXPECT_EQ(next, expected_.size());
}

TEST(MessageLengthTest, LengthBelowFourIsAnErrorAsSoonAsTheHeaderIsComplete) {
  for (uint32_t len = 0; len < 4; ++len) {
    SCOPED_TRACE(len);
    const std::string buf = "Q" + be32(len);
    const Frame f = peek_message(as_bytes(buf), kMax);
    EXPECT_EQ(f.status, FrameStatus::kError);
    EXPECT_NE(f.error.find(std::to_string(len)), std::string::npos) << f.error;
  }
}

TEST(MessageLengthTest, LengthFourIsAnEmptyBody) {
  const std::string buf = "S" + be32(4);
  const Frame f = peek_message(as_bytes(buf), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  EXPECT_EQ(f.type, 'S');
  EXPECT_TRUE(f.body.empty());
  EXPECT_EQ(f.size, 5u);
}

TEST(MessageLengthTest, LengthAboveMaxIsAnErrorNamingTheSizes) {
  const std::string buf = "d" + be32(1001);
  const Frame f = peek_message(as_bytes(buf), 1000);
  EXPECT_EQ(f.status, FrameStatus::kError);
  EXPECT_NE(f.error.find("1001"), std::string::npos) << f.error;
  EXPECT_NE(f.error.find("1000"), std::string::npos) << f.error;
}

TEST(MessageLengthTest, HugeLengthIsAnErrorNotAnAllocationRequest) {
  const std::string buf = "d" + be32(0xFFFFFFFF);
  const Frame f = peek_message(as_bytes(buf), 64 * 1024 * 1024);
  EXPECT_EQ(f.status, FrameStatus::kError);
  EXPECT_NE(f.error.find("4294967295"), std::string::npos) << f.error;
  EXPECT_EQ(f.need, 0u);
}

TEST(MessageLengthTest, LengthExactlyAtMaxIsAccepted) {
  const std::string body(996, 'x');
  const std::string buf = typed('d', body);  // length field = 1000
  ASSERT_EQ(buf.size(), 1001u);

  const Frame header_only = peek_message(as_bytes(buf).first(kHeaderSize), 1000);
  EXPECT_EQ(header_only.status, FrameStatus::kNeedMore);
  EXPECT_EQ(header_only.need, 1001u);

  const Frame f = peek_message(as_bytes(buf), 1000);
  ASSERT_EQ(f.status, FrameStatus::kMessage) << f.error;
  EXPECT_EQ(to_string(f.body), body);
  EXPECT_EQ(f.size, 1001u);
}

TEST(MessageLengthTest, ShortHeaderNeedsMoreWithoutKnowingHowMuch) {
  const std::string buf = "Q" + be32(2);  // would be an error once complete
  for (size_t n = 0; n < kHeaderSize; ++n) {
    const Frame f = peek_message(as_bytes(buf).first(n), kMax);
    EXPECT_EQ(f.status, FrameStatus::kNeedMore) << n;
    EXPECT_EQ(f.need, 0u) << n;
  }
}

TEST(MessageLengthTest, BadSecondMessageIsReportedOnlyWhenReached) {
  const std::string first = typed('Q', Wire().cstr("SELECT 1"));
  const std::string buf = first + "Q" + be32(3);
  const Frame f = peek_message(as_bytes(buf), kMax);
  ASSERT_EQ(f.status, FrameStatus::kMessage);
  ASSERT_EQ(f.size, first.size());
  const Frame g = peek_message(as_bytes(buf).subspan(f.size), kMax);
  EXPECT_EQ(g.status, FrameStatus::kError);
}

}  // namespace
}  // namespace sluice::protocol
