// The idle client connections of one worker, watched by one epoll set that the worker's
// event loop waits on, instead of an asio socket and a pending wait each.
//
// Why by hand: asio keeps per-socket state (~256 bytes) for every open socket and ~200
// bytes for every pending wait, and has nothing that watches many raw descriptors at
// once. With thousands of idle clients that state was a third of a parked client's
// memory; here a parked descriptor costs the proxy nothing but its entry in the kernel's
// epoll set.
#pragma once

#include <asio.hpp>

namespace sluice::net {

class ParkingLot {
 public:
  // Called on the worker once a parked descriptor is readable (data, end of stream or an
  // error); the descriptor is no longer watched then.
  using Wake = void (*)(void* owner);

  ParkingLot(const asio::any_io_executor& ex, Wake wake);
  ~ParkingLot();
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;

  // Watches `fd` for `owner` until it is readable, then wakes the owner once. `again`: fd
  // was parked here before and is still open (re-arming it is one system call less).
  // False when the kernel refuses (the caller watches fd itself then).
  bool park(int fd, void* owner, bool again);
  // Stops watching fd without waking its owner.
  void unpark(int fd);
  // The worker's event loop.
  asio::any_io_executor executor() { return watcher_.get_executor(); }

  // The lot of the worker running on this thread; null on other threads.
  static ParkingLot* current();
  // Makes a lot the current thread's, for the life of the scope.
  class Scope {
   public:
    explicit Scope(ParkingLot& lot);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };

 private:
  void wait();
  void wake_ready();

  int epoll_fd_;
  asio::posix::stream_descriptor watcher_;  // the epoll set, readable while one is ready
  Wake wake_;
};

}  // namespace sluice::net
