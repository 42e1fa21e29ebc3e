// Child processes and TCP ports for `sluice up` / `sluice down`: run a command and capture
// its output, start a detached daemon, signal and wait for a pid, find and probe ports.
// Plain POSIX (fork/exec/waitpid); CLI code, so failures throw UpError.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sluice::toolkit::up {

// A failure with a one-line message that names the problem and the fix.
class UpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The OS user PostgreSQL runs as when we are root (initdb and postgres refuse root).
inline constexpr const char* kPostgresOsUser = "postgres";

bool running_as_root();

struct RunOptions {
  bool as_postgres_user = false;  // when root: `runuser -u postgres --` in front
  std::vector<std::pair<std::string, std::string>> env;  // added to the environment
  std::filesystem::path cwd;                             // empty = inherit
};

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH when it has no slash) and waits for it.
// Throws UpError only when the program cannot be started at all.
// The last non-empty line of a command's output: where pg_ctl, psql and pgbench put the
// reason they failed.
std::string last_line(const std::string& text);

RunResult run_command(const std::vector<std::string>& argv, const RunOptions& options = {});

// Starts argv in a new session (setsid) with stdin from /dev/null and stdout/stderr
// appended to log_file; returns its pid without waiting.
pid_t spawn_daemon(const std::vector<std::string>& argv, const std::filesystem::path& log_file);

bool pid_alive(pid_t pid);
// SIGTERM, then SIGKILL after `grace`; true when the process is gone.
bool stop_pid(pid_t pid, std::chrono::milliseconds grace);
// The command line of a running process ("" when unknown), arguments joined by spaces.
std::string process_command_line(pid_t pid);

// A TCP port on 127.0.0.1 nobody listens on right now.
int free_tcp_port();
bool port_in_use(int port);  // something accepts connections on 127.0.0.1:port
// Waits until 127.0.0.1:port accepts connections; false on timeout or when `pid` (if > 0)
// exits first.
bool wait_for_port(int port, std::chrono::milliseconds timeout, pid_t pid = 0);

// The path of the running executable (/proc/self/exe).
std::filesystem::path self_executable();

}  // namespace sluice::toolkit::up
