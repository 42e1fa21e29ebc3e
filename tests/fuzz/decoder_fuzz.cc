// libFuzzer target for the wire-protocol decoder (src/protocol/): the input is what a client
// or server might send on a fresh connection. The first bytes go through startup framing
// and parsing; the rest (or the whole input when it is no startup packet) is framed as a
// stream of typed messages with a small max_message_size, and every body is fed to every
// parse_* function. Besides the sanitizers, the target traps when a framing invariant
// breaks, when splitting the stream changes how it is framed, or when a decoded message
// re-encoded with the builder does not give back the original bytes.
//
// Build and run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "protocol/builder.h"
#include "protocol/frame.h"
#include "protocol/reader.h"
#include "protocol/startup.h"

namespace {

using sluice::protocol::Bytes;
using sluice::protocol::Frame;
using sluice::protocol::FrameStatus;
namespace p = sluice::protocol;

constexpr size_t kMaxMessageSize = 512;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

std::string_view as_view(Bytes b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

bool within(Bytes inner, Bytes outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void check_startup(Bytes data) {
  const Frame f = p::peek_startup_packet(data);
  switch (f.status) {
    case FrameStatus::kNeedMore:
      FUZZ_CHECK(f.error.empty());
      FUZZ_CHECK(f.need == 0 ? data.size() < 4 : f.need > data.size());
      FUZZ_CHECK(f.need <= p::kMaxStartupPacketSize);
      return;
    case FrameStatus::kError:
      FUZZ_CHECK(!f.error.empty());
      return;
    case FrameStatus::kMessage:
      break;
  }
  FUZZ_CHECK(f.size >= p::kStartupHeaderSize && f.size <= p::kMaxStartupPacketSize);
  FUZZ_CHECK(f.size <= data.size() && f.body.size() == f.size - 4);
  FUZZ_CHECK(f.body.data() == data.data() + 4);

  const p::StartupPacket pkt = p::parse_startup_packet(f.body);
  const std::string_view packet = as_view(data.first(f.size));
  std::string rebuilt;
  switch (pkt.kind) {
    case p::StartupKind::kStartup:
      FUZZ_CHECK(!pkt.param("user").empty());
      if (sluice::read_u32(f.body.data()) == p::kProtocolV3) {
        p::append_startup(rebuilt, pkt.params);
        FUZZ_CHECK(rebuilt == packet);
      }
      break;
    case p::StartupKind::kSslRequest:
      p::append_ssl_request(rebuilt);
      FUZZ_CHECK(rebuilt == packet);
      break;
    case p::StartupKind::kCancel:
      p::append_cancel_request(rebuilt, pkt.cancel_pid, pkt.cancel_key);
      FUZZ_CHECK(rebuilt == packet);
      break;
    case p::StartupKind::kGssEncRequest:
      FUZZ_CHECK(f.size == 8);
      break;
    case p::StartupKind::kInvalid:
      FUZZ_CHECK(!pkt.error.empty());
      break;
  }
}

// Every decoder on one body, with re-encoding checks where the encoding is unique.
void check_body(Bytes body) {
  std::string rebuilt;
  const std::string_view original = as_view(body);
  // The builder writes whole messages; compare what follows the 5-byte header.
  auto rebuilt_body = [&rebuilt]() { return std::string_view(rebuilt).substr(p::kHeaderSize); };

  if (const auto auth = p::parse_auth_request(body)) {
    FUZZ_CHECK(body.size() >= 4 && auth->data.size() == body.size() - 4);
    FUZZ_CHECK(auth->code == sluice::read_i32(body.data()));
  } else {
    FUZZ_CHECK(body.size() < 4);
  }

  const auto fields = p::parse_error_fields(body);
  size_t field_bytes = 0;
  for (const auto& [code, value] : fields) {
    FUZZ_CHECK(code != 0);
    field_bytes += value.size() + 2;
  }
  FUZZ_CHECK(field_bytes <= body.size());

  if (const auto ps = p::parse_parameter_status(body)) {
    rebuilt.clear();
    p::append_parameter_status(rebuilt, ps->first, ps->second);
    FUZZ_CHECK(rebuilt_body() == original);
  }

  if (const auto key = p::parse_backend_key(body)) {
    rebuilt.clear();
    p::append_backend_key_data(rebuilt, key->pid, key->key);
    FUZZ_CHECK(rebuilt_body() == original);
  } else {
    FUZZ_CHECK(body.size() != 8);
  }

  if (const auto sasl = p::parse_sasl_initial(body)) {
    rebuilt.clear();
    p::append_sasl_initial_response(rebuilt, sasl->mechanism, sasl->data);
    const size_t len_at = sasl->mechanism.size() + 1;
    const bool no_initial_response =
        body.size() == len_at + 4 && sluice::read_i32(body.data() + len_at) == -1;
    if (!no_initial_response) FUZZ_CHECK(rebuilt_body() == original);
  }

  if (const auto password = p::parse_password(body)) {
    rebuilt.clear();
    p::append_password(rebuilt, *password);
    FUZZ_CHECK(rebuilt_body() == original);
  }
  if (const auto query = p::parse_query(body)) {
    rebuilt.clear();
    p::append_query(rebuilt, *query);
    FUZZ_CHECK(rebuilt_body() == original);
  }

  // Startup decoding of arbitrary bytes must be as safe as of framed packets.
  (void)p::parse_startup_packet(body);
}

struct Framed {
  char type;
  size_t offset;
  size_t size;
  bool operator==(const Framed&) const = default;
};

// Frames `stream` from the start; returns the messages and whether it ended in an error.
std::vector<Framed> frame_all(Bytes stream, bool& error, bool check_bodies) {
  std::vector<Framed> out;
  size_t pos = 0;
  error = false;
  for (;;) {
    const Bytes rest = stream.subspan(pos);
    const Frame f = p::peek_message(rest, kMaxMessageSize);
    if (f.status == FrameStatus::kNeedMore) {
      FUZZ_CHECK(f.error.empty() && f.size == 0);
      FUZZ_CHECK(f.need == 0 ? rest.size() < p::kHeaderSize : f.need > rest.size());
      FUZZ_CHECK(f.need <= kMaxMessageSize + 1);
      break;
    }
    if (f.status == FrameStatus::kError) {
      FUZZ_CHECK(!f.error.empty() && rest.size() >= p::kHeaderSize);
      error = true;
      break;
    }
    FUZZ_CHECK(f.size >= p::kHeaderSize && f.size <= rest.size());
    FUZZ_CHECK(f.size - 1 <= kMaxMessageSize);
    FUZZ_CHECK(f.body.size() == f.size - p::kHeaderSize && within(f.body, rest));
    FUZZ_CHECK(f.type == static_cast<char>(rest[0]));
    if (check_bodies) check_body(f.body);
    out.push_back({f.type, pos, f.size});
    pos += f.size;
  }
  return out;
}

void check_stream(Bytes stream) {
  bool error = false;
  const std::vector<Framed> whole = frame_all(stream, error, true);

  // Framing a prefix must give a prefix of the same messages, never anything else, and an
  // error only where the whole stream has one.
  size_t end = 0;
  for (const Framed& m : whole) end = m.offset + m.size;
  const size_t cut = stream.empty() ? 0 : (stream[0] * 131u + stream.size()) % (stream.size() + 1);
  bool prefix_error = false;
  const std::vector<Framed> part = frame_all(stream.first(cut), prefix_error, false);
  FUZZ_CHECK(part.size() <= whole.size());
  for (size_t i = 0; i < part.size(); ++i) FUZZ_CHECK(part[i] == whole[i]);
  if (prefix_error) FUZZ_CHECK(error && part.size() == whole.size());
  if (cut >= end && !prefix_error) FUZZ_CHECK(part.size() == whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Bytes input(data, size);
  check_startup(input);

  const Frame startup = p::peek_startup_packet(input);
  if (startup.status == FrameStatus::kMessage) {
    check_stream(input.subspan(startup.size));
  } else {
    check_stream(input);
  }
  return 0;
}
