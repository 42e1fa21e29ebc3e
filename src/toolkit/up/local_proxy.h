// The proxy that `sluice up` runs in the background: this same binary's `serve` subcommand,
// detached (setsid), logging to ./.sluice/sluice.log, its pid in ./.sluice/sluice.pid.
#pragma once

#include <sys/types.h>

#include <filesystem>

namespace sluice::toolkit::up {

class LocalProxy {
 public:
  LocalProxy(std::filesystem::path pid_file, std::filesystem::path log_file);

  // The pid from the pid file when that process is alive and is a `sluice serve`; else 0.
  pid_t running_pid() const;
  // Starts `serve` on 127.0.0.1:port in front of PostgreSQL on pg_port (transaction mode,
  // postgres as admin user) and waits until it accepts connections. Throws UpError.
  pid_t start(int port, int pg_port);
  // SIGTERM (SIGKILL after a grace period); returns the pid stopped, 0 when none ran.
  pid_t stop();

  const std::filesystem::path& log_file() const { return log_file_; }

 private:
  std::filesystem::path pid_file_;
  std::filesystem::path log_file_;
};

}  // namespace sluice::toolkit::up
