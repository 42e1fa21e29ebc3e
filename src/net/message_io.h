// Reading whole protocol messages from a Stream into its ReadBuffer.
#pragma once

#include "net/read_buffer.h"
#include "net/stream.h"
#include "protocol/frame.h"

namespace sluice::net {

// Reads until one complete message (or startup packet when `startup`) is buffered.
// On success the frame's body points into `buf`; call buf.consume(frame.size) when done.
// Returns a kError frame for malformed input, and for a closed/failed socket (error set).
awaitable<protocol::Frame> read_message(Stream& stream, ReadBuffer& buf, size_t max_size,
                                        bool startup = false);

}  // namespace sluice::net
