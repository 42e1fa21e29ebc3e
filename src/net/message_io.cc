#include "net/message_io.h"

namespace sluice::net {

namespace {
constexpr size_t kHeaderRead = 64;
}  // namespace

awaitable<protocol::Frame> read_message(Stream& stream, ReadBuffer& buf, size_t max_size,
                                        bool startup) {
  for (;;) {
    protocol::Frame f = startup ? protocol::peek_startup_packet(buf.data())
                                : protocol::peek_message(buf.data(), max_size);
    if (f.status != protocol::FrameStatus::kNeedMore) co_return f;
    // Until a header is complete the size is unknown: a small read (one login packet
    // usually fits) keeps logins from taking a 16 KiB chunk each (read_buffer.cc).
    const size_t want = f.need > buf.size() ? f.need - buf.size() : kHeaderRead;
    auto [ec, n] =
        co_await stream.read_some(buf.prepare(std::min(want, ReadBuffer::kDefaultChunk)));
    if (ec || n == 0) {
      protocol::Frame closed;
      closed.status = protocol::FrameStatus::kError;
      closed.error = ec ? ec.message() : "connection closed";
      closed.io_error = true;
      co_return closed;
    }
    buf.commit(n);
  }
}

}  // namespace sluice::net
