// Force-included before anything else into the io_uring copy of the proxy (CMakeLists.txt).
//
// asio 1.22's io_uring backend prepares its cancel requests (IORING_OP_ASYNC_CANCEL, sent by
// every cancel(), and by close() with an operation in flight) without setting their
// user_data, and liburing 2.3 leaves whatever the ring slot held before. The cancel's
// completion then reaches the operation that last used the slot: a pending read completes
// with 0 bytes (a false EOF: "server closed the connection unexpectedly"), or bytes meant
// for one buffer land in another. Newer asio clears user_data in get_sqe(); this does the
// same by routing asio's calls to io_uring_get_sqe() through a wrapper. A null user_data
// completion is ignored by asio.
#pragma once

#include <liburing.h>

#include <cerrno>

inline io_uring_sqe* sluice_io_uring_get_sqe_cleared(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe != nullptr) io_uring_sqe_set_data(sqe, nullptr);
  return sqe;
}

// NOLINTNEXTLINE: the only way to reach the calls inside asio's io_uring_service.ipp
#define io_uring_get_sqe sluice_io_uring_get_sqe_cleared

// IORING_SETUP_COOP_TASKRUN (Linux 5.19): a completion for a worker that is running does
// not interrupt it (an inter-processor interrupt and a trip through the kernel per
// completion); it is reaped when the worker next enters the kernel, which it does at
// once when it has nothing else to run. Each ring is only ever waited on by the thread
// that submits to it, the case the flag is meant for. Older kernels refuse the flag:
// the ring is then set up as before.
inline int sluice_io_uring_queue_init_coop(unsigned entries, io_uring* ring, unsigned flags) {
  const int result = io_uring_queue_init(entries, ring, flags | IORING_SETUP_COOP_TASKRUN);
  if (result != -EINVAL) return result;
  return io_uring_queue_init(entries, ring, flags);
}

// NOLINTNEXTLINE: as above, for the ring asio sets up in io_uring_service.ipp
#define io_uring_queue_init sluice_io_uring_queue_init_coop
