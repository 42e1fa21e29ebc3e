// The running proxy: worker threads with one event loop each, listeners, the periodic
// pool maintenance, signals, RELOAD and SHUTDOWN.
//
// Threads: the main thread runs main_io_ (maintenance, reload, shutdown); a signal thread
// hands SIGTERM/SIGINT/SIGHUP to it (start_signal_thread); worker i runs
// workers_[i]->io and owns the sessions it accepted; with admin_listen, one more thread
// runs http_io_ (the HTTP endpoints, whose RELOAD blocks until the main thread ran it). Each worker
// has its own listening socket per address (SO_REUSEPORT), so the kernel spreads new connections
// over workers; with server.unix_socket_dir, every worker also accepts on a copy of the one
// Unix-domain socket (server/unix_listener.h). With a takeover socket, one more thread
// answers `sluice serve --takeover` (server/takeover.h), which hands every listening socket
// to a new process.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "admin/http_server.h"
#include "config/cli_overrides.h"
#include "pool/pool.h"
#include "server/context.h"
#include "server/takeover.h"
#include "server/unix_listener.h"

namespace sluice::server {

class Runtime {
 public:
  // `handoff`: the sockets received from the running proxy (`--takeover`), or null.
  Runtime(config::CliOverrides overrides, const std::shared_ptr<const config::Config>& cfg,
          std::shared_ptr<const config::UserList> users, std::unique_ptr<Handoff> handoff = {});
  ~Runtime();

  // Listens, serves until SHUTDOWN or a signal; returns the exit code.
  int run();

 private:
  struct Worker {
    int index = 0;
    asio::io_context io{1};
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors;
    // Its copy of the Unix-domain listening socket, when there is one.
    std::unique_ptr<asio::ip::tcp::acceptor> unix_acceptor;
    std::thread thread;
    // Accept loops still running (written by the worker, read by the control thread).
    std::atomic<int> accept_loops{0};
    // Worker thread only: set when the listeners are to close.
    bool stop_accepting = false;
    // Accept loops plus client sessions, reported to the main thread while draining after
    // a takeover; -1 = not reported yet.
    std::atomic<int64_t> open{-1};
  };
  // What a drain waits for before the process exits (or shutdown_timeout passes).
  enum class DrainUntil {
    kNoLease,   // SIGTERM/SIGINT: no transaction under way (no leased server connection)
    kNoClient,  // after a takeover: every client has disconnected
  };

  void start_signal_thread();
  // The takeover sockets spread over the workers; the addresses they were bound to no
  // longer accept there. Throws TakeoverError when the configuration drops an address.
  void adopt_listeners();
  // A socket for every worker and address that got none from a takeover.
  void bind_listeners();
  // The Unix-domain socket, taken over or bound here, and a copy of it for every worker.
  void open_unix_listener();
  void start_http();
  void open_control_socket();
  // Takeover: tells the old process to stop accepting, once every worker accepts here.
  void release_old();
  // Control thread: copies of every listening socket, unless the proxy is shutting down.
  std::vector<PassedSocket> export_sockets(std::string* refusal);
  // `unix_port`: 0 for a TCP listener; for the Unix-domain one, the listen port its
  // clients are shown with.
  asio::awaitable<void> accept_loop(Worker& w, asio::ip::tcp::acceptor& acceptor,
                                    uint16_t unix_port);
  asio::awaitable<void> sweep_loop();
  asio::awaitable<void> maintenance_loop();
  std::string reload();
  void shutdown();
  // Closes every listener (each accept loop closes its own once its pending accept has
  // completed); false when that already happened.
  bool stop_accepting();
  // SIGTERM/SIGINT: stops accepting, waits until no server connection is leased (or
  // shutdown_timeout), then shutdown(). SHUTDOWN in the console stops at once.
  void drain();
  // A new process took the listening sockets over: waits for the clients to leave.
  void drain_after_takeover(pid_t new_pid);
  // Control thread, after a takeover: until every accept loop has ended, so that the new
  // process, told so, knows that every new connection is its own.
  void wait_until_not_accepting() const;
  asio::awaitable<void> drain_then_stop(pool::Clock::time_point deadline, DrainUntil until);
  // Accept loops and sessions over all workers, from their last reports; -1 = not all in.
  int64_t open_connections() const;

  config::CliOverrides overrides_;
  asio::io_context main_io_{1};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<ProxyContext> ctx_;
  asio::io_context http_io_{1};
  std::unique_ptr<admin::HttpServer> http_;
  std::thread http_thread_;

  std::unique_ptr<Handoff> handoff_;  // until the old process released the sockets
  // Unix-domain socket received with the takeover (until open_unix_listener()).
  UniqueFd passed_unix_;
  std::unique_ptr<UnixSocketFile> unix_socket_;  // server.unix_socket_dir, when set
  uint16_t unix_port_ = 0;                       // its clients' port (the first listen port)
  std::shared_ptr<ControlSocket> control_;
  // Every listening socket (kind, descriptor), fixed once listening; the control thread
  // copies them while accepting_ holds, which stop_accepting() clears first.
  std::vector<std::pair<SocketKind, int>> listening_;
  std::mutex accepting_mutex_;
  bool accepting_ = true;
};

}  // namespace sluice::server
