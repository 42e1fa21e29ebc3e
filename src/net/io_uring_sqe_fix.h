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

#include <sys/socket.h>
#include <unistd.h>

// Whether this kernel takes IORING_RECVSEND_POLL_FIRST (Linux 5.19; older ones fail the
// receive with EINVAL): one receive, with the flag, of a byte waiting on a socket pair, on a
// ring of its own.
inline bool sluice_recv_poll_first_supported() {
  io_uring ring{};
  if (io_uring_queue_init(2, &ring, 0) != 0) return false;
  bool supported = false;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0) {
    char byte = 'x';
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (::write(fds[1], &byte, 1) == 1 && sqe != nullptr) {
      io_uring_prep_recvmsg(sqe, fds[0], &msg, 0);
      sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
      io_uring_cqe* cqe = nullptr;
      if (io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_peek_cqe(&ring, &cqe) == 0) {
        supported = cqe->res == 1;
        io_uring_cqe_seen(&ring, cqe);
      }
    }
    ::close(fds[0]);
    ::close(fds[1]);
  }
  io_uring_queue_exit(&ring);
  return supported;
}

// IORING_RECVSEND_POLL_FIRST on every socket read asio submits: the kernel waits for data
// before receiving, rather than first trying a receive that finds nothing and then
// waiting. The relay arms a read right after each write (the server's answer, the
// client's next query), when there is almost never data yet: the flag saves that try.
// Where data is there already, the wait ends at once.
inline void sluice_io_uring_prep_recvmsg_poll_first(io_uring_sqe* sqe, int fd, msghdr* msg,
                                                    unsigned flags) {
  static const bool kSupported = sluice_recv_poll_first_supported();
  io_uring_prep_recvmsg(sqe, fd, msg, flags);
  if (kSupported) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
}

// NOLINTNEXTLINE: as above, for the reads asio prepares in io_uring_socket_recv_op.hpp
#define io_uring_prep_recvmsg sluice_io_uring_prep_recvmsg_poll_first
