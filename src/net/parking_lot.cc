#include "net/parking_lot.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace sluice::net {

namespace {

thread_local ParkingLot* current_lot = nullptr;

// One-shot: a woken descriptor stays in the set, disarmed, until it is parked again (one
// epoll_ctl per park, none per wake-up) or closed (which removes it).
constexpr uint32_t kParkEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;

}  // namespace

ParkingLot::ParkingLot(const asio::any_io_executor& ex, Wake wake)
    : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)), watcher_(ex), wake_(wake) {
  // Without an epoll set (out of descriptors) nothing parks here: clients wait on their
  // own sockets, as without a lot.
  std::error_code ec;
  if (epoll_fd_ >= 0) watcher_.assign(epoll_fd_, ec);
  if (ec) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
  }
  if (epoll_fd_ >= 0) wait();
}

ParkingLot::~ParkingLot() {
  std::error_code ignored;
  watcher_.close(ignored);  // closes epoll_fd_
}

bool ParkingLot::park(int fd, void* owner, bool again) {
  if (epoll_fd_ < 0) return false;
  epoll_event ev{};
  ev.events = kParkEvents;
  ev.data.ptr = owner;
  return (again && ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) ||
         ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void ParkingLot::unpark(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void ParkingLot::wait() {
  watcher_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (ec) return;  // closed with the lot
    wake_ready();
    wait();
  });
}

void ParkingLot::wake_ready() {
  // Everything ready now, so the set is not readable any more when the wait is re-armed.
  // (A wake-up runs its session up to the session's first wait, a read: nothing parks or
  // leaves the lot meanwhile.)
  std::array<epoll_event, 64> events{};
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) wake_(events[static_cast<size_t>(i)].data.ptr);
    if (static_cast<size_t>(n) < events.size()) return;
  }
}

ParkingLot* ParkingLot::current() { return current_lot; }

ParkingLot::Scope::Scope(ParkingLot& lot) { current_lot = &lot; }

ParkingLot::Scope::~Scope() { current_lot = nullptr; }

}  // namespace sluice::net
