// Which kernel interface runs the event loops under asio: epoll or io_uring.
//
// asio picks its backend at compile time, so the binary holds the proxy twice (see
// CMakeLists.txt): on epoll (namespace sluice) and on io_uring (namespace sluice_uring).
// On epoll every read issued before data is there costs a failed recv (or, waiting first,
// an epoll_ctl re-arm), and every wake-up an epoll_wait; io_uring queues reads and writes
// for many sockets and reaps their completions with one system call, which is about 2.1
// system calls per pgbench transaction against 5.6. epoll remains for kernels or sandboxes
// (seccomp profiles) that refuse io_uring, chosen by `io_backend`.
#pragma once

#include <optional>

#include "config/config.h"

namespace sluice::server {

using CliEntry = int (*)(int argc, char** argv);

// main() offers the io_uring copy's command line, with the process arguments.
void offer_io_uring(CliEntry entry, int argc, char** argv);

// Whether this kernel lets the process set up an io_uring.
bool io_uring_usable();

// The backend this copy of the proxy was built on: "epoll" or "io_uring".
const char* compiled_backend();

// Called by `serve` once the configuration is read: when io_backend asks for io_uring (or
// is "auto" and io_uring is usable) and the io_uring copy was offered, runs the command
// line again there and returns its exit code. nullopt: serve here. Throws
// std::runtime_error when io_uring is asked for explicitly but refused by the kernel.
std::optional<int> serve_on_io_uring(const config::Config& cfg);

}  // namespace sluice::server
