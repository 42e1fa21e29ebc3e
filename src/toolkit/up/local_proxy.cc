// The background proxy of `sluice up` (see local_proxy.h).
#include "toolkit/up/local_proxy.h"

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "toolkit/up/local_postgres.h"
#include "toolkit/up/process.h"

namespace sluice::toolkit::up {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(15);
constexpr auto kStopGrace = std::chrono::seconds(10);

std::string last_log_line(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last.empty() ? "no output" : last;
}

}  // namespace

LocalProxy::LocalProxy(std::filesystem::path pid_file, std::filesystem::path log_file)
    : pid_file_(std::move(pid_file)), log_file_(std::move(log_file)) {}

pid_t LocalProxy::running_pid() const {
  std::ifstream in(pid_file_);
  pid_t pid = 0;
  if (!(in >> pid) || !pid_alive(pid)) return 0;
  // The pid may have been reused by another program since the file was written.
  std::string cmdline = process_command_line(pid);
  return cmdline.find(" serve ") != std::string::npos ? pid : 0;
}

pid_t LocalProxy::start(int port, int pg_port) {
  std::vector<std::string> argv = {
      self_executable().string(),
      "serve",
      "--listen",
      "127.0.0.1:" + std::to_string(port),
      "--server",
      "postgresql://" + std::string(kPgSuperuser) + "@127.0.0.1:" + std::to_string(pg_port) +
          "/postgres",
      "--pool-mode",
      "transaction",
      "--admin-users",
      kPgSuperuser,
  };
  {
    std::ofstream log(log_file_, std::ios::app);
    log << "---- sluice up: starting the proxy on port " << port << " ----\n";
  }
  pid_t pid = spawn_daemon(argv, log_file_);
  if (!wait_for_port(port, kStartTimeout, pid)) {
    bool exited = !pid_alive(pid);
    stop_pid(pid, kStopGrace);
    throw UpError(std::string("the proxy ") + (exited ? "exited" : "did not listen within 15 s") +
                  " (" + last_log_line(log_file_) + "): see " + log_file_.string() +
                  "; build it with `make build`");
  }
  std::ofstream out(pid_file_, std::ios::trunc);
  out << pid << '\n';
  if (!out) throw UpError("cannot write " + pid_file_.string() + ": check permissions");
  return pid;
}

pid_t LocalProxy::stop() {
  pid_t pid = running_pid();
  if (pid != 0 && !stop_pid(pid, kStopGrace)) {
    throw UpError("the proxy (pid " + std::to_string(pid) + ") did not stop: kill it by hand");
  }
  std::error_code ec;
  std::filesystem::remove(pid_file_, ec);
  return pid;
}

}  // namespace sluice::toolkit::up
