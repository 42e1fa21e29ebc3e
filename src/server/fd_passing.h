// Records with file descriptors attached (SCM_RIGHTS) on a Unix SOCK_SEQPACKET socket: how
// `sluice serve --takeover` receives the listening sockets of the running proxy
// (server/takeover.h). Written by hand because asio has no interface for ancillary data.
// Blocking calls; the sockets carry SO_RCVTIMEO / SO_SNDTIMEO (set_timeouts) instead of
// an event loop, since a takeover is a short exchange on a thread of its own.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::server {

// Owns one file descriptor; closes it unless release()d.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Descriptors per record; the kernel allows up to 253 (SCM_MAX_FD).
inline constexpr size_t kMaxFdsPerRecord = 64;
// Bytes of data per record (the takeover's records are one short line).
inline constexpr size_t kMaxRecordBytes = 512;

struct Record {
  std::string data;
  std::vector<UniqueFd> fds;  // received with close-on-exec set
};

// Sends `data` as one record with `fds` (at most kMaxFdsPerRecord) attached; the caller
// keeps its copies of the descriptors.
std::error_code send_record(int sock, std::string_view data, std::span<const int> fds = {});
// Receives one record. The peer closing the connection is std::errc::connection_reset;
// a record too long for kMaxRecordBytes or kMaxFdsPerRecord is std::errc::message_size
// (its descriptors are closed).
std::error_code receive_record(int sock, Record& out);
// SO_RCVTIMEO and SO_SNDTIMEO: a blocked call fails with EAGAIN after `timeout`.
void set_timeouts(int sock, std::chrono::milliseconds timeout);

}  // namespace sluice::server
