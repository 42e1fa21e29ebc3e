// Child processes and TCP ports for `sluice up` / `sluice down` (see process.h).
#include "toolkit/up/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::toolkit::up {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr int kExecFailedCode = 127;

std::vector<char*> to_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  out.reserve(args.size() + 1);
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the child after fork: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(std::vector<std::string> args) {
  std::vector<char*> argv = to_argv(args);
  execvp(argv[0], argv.data());
  const char* msg = "exec failed: ";
  (void)!write(STDERR_FILENO, msg, strlen(msg));
  (void)!write(STDERR_FILENO, argv[0], strlen(argv[0]));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(kExecFailedCode);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

bool connect_ok(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool running_as_root() { return geteuid() == 0; }

RunResult run_command(const std::vector<std::string>& argv, const RunOptions& options) {
  std::vector<std::string> args;
  if (options.as_postgres_user && running_as_root()) {
    args = {"runuser", "-u", kPostgresOsUser, "--"};
  }
  args.insert(args.end(), argv.begin(), argv.end());

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw UpError("cannot create a pipe: " + std::string(strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    throw UpError("cannot fork to run " + argv.at(0) + ": " + strerror(errno));
  }
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(kExecFailedCode);
    for (const auto& [key, value] : options.env) setenv(key.c_str(), value.c_str(), 1);
    exec_child(std::move(args));
  }
  close(pipe_fds[1]);
  RunResult result;
  char buf[4096];
  for (;;) {
    ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n > 0) {
      result.output.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = exit_code_of(status);
  return result;
}

pid_t spawn_daemon(const std::vector<std::string>& argv, const std::filesystem::path& log_file) {
  int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw UpError("cannot open " + log_file.string() + ": " + strerror(errno));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    throw UpError("cannot fork to start " + argv.at(0) + ": " + strerror(errno));
  }
  if (pid == 0) {
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    exec_child(argv);
  }
  close(log_fd);
  return pid;
}

bool pid_alive(pid_t pid) {
  if (pid <= 0) return false;
  // Reap it if it is our own exited child, so a zombie does not look alive.
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) return false;
  return kill(pid, 0) == 0 || errno == EPERM;
}

bool stop_pid(pid_t pid, std::chrono::milliseconds grace) {
  if (!pid_alive(pid)) return true;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!pid_alive(pid)) return true;
    std::this_thread::sleep_for(kPollInterval);
  }
  kill(pid, SIGKILL);
  std::this_thread::sleep_for(kPollInterval);
  return !pid_alive(pid);
}

std::string process_command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  return raw;
}

int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw UpError("cannot create a socket: " + std::string(strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw UpError("cannot find a free TCP port on 127.0.0.1: " + std::string(strerror(errno)));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool port_in_use(int port) { return port > 0 && connect_ok(port); }

bool wait_for_port(int port, std::chrono::milliseconds timeout, pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (connect_ok(port)) return true;
    if (pid > 0 && !pid_alive(pid)) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return false;
}

std::filesystem::path self_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw UpError("cannot resolve /proc/self/exe: " + ec.message());
  return path;
}

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace sluice::toolkit::up
