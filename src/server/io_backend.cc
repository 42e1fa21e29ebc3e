#include "server/io_backend.h"

#include <liburing.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::server {

namespace {

CliEntry g_io_uring_entry = nullptr;
int g_argc = 0;
char** g_argv = nullptr;

}  // namespace

void offer_io_uring(CliEntry entry, int argc, char** argv) {
  g_io_uring_entry = entry;
  g_argc = argc;
  g_argv = argv;
}

bool io_uring_usable() {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

const char* compiled_backend() {
#if defined(ASIO_HAS_IO_URING) && defined(ASIO_DISABLE_EPOLL)
  return "io_uring";
#else
  return "epoll";
#endif
}

std::optional<int> serve_on_io_uring(const config::Config& cfg) {
  if (cfg.io_backend == config::IoBackend::kEpoll || g_io_uring_entry == nullptr) {
    return std::nullopt;
  }
  if (!io_uring_usable()) {
    if (cfg.io_backend == config::IoBackend::kAuto) return std::nullopt;
    throw std::runtime_error(
        "io_backend = \"io_uring\", but this kernel refuses io_uring (too old, disabled by "
        "sysctl kernel.io_uring_disabled, or blocked by a seccomp profile): set io_backend "
        "to \"auto\" or \"epoll\"");
  }
  const CliEntry entry = g_io_uring_entry;
  g_io_uring_entry = nullptr;  // once
  return entry(g_argc, g_argv);
}

}  // namespace sluice::server
