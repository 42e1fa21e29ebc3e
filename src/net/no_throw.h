// Completion token for coroutines on the data plane: operations return their error code
// in a tuple instead of throwing.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

namespace sluice::net {

inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace sluice::net
