// The running proxy: worker threads with one event loop each, listeners, the periodic
// pool maintenance, signals, RELOAD and SHUTDOWN.
//
// Threads: the main thread runs main_io_ (maintenance, reload, shutdown); a signal thread
// hands SIGTERM/SIGINT/SIGHUP to it (start_signal_thread); worker i runs
// workers_[i]->io and owns the sessions it accepted; with admin_listen, one more thread
// runs http_io_ (the HTTP endpoints, whose RELOAD blocks until the main thread ran it). Each worker
// has its own listening socket per address (SO_REUSEPORT), so the kernel spreads new connections
// over workers.
#pragma once

#include <asio.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "admin/http_server.h"
#include "config/cli_overrides.h"
#include "pool/pool.h"
#include "server/context.h"

namespace sluice::server {

class Runtime {
 public:
  Runtime(config::CliOverrides overrides, std::shared_ptr<const config::Config> cfg,
          std::shared_ptr<const config::UserList> users);
  ~Runtime();

  // Listens, serves until SHUTDOWN or a signal; returns the exit code.
  int run();

 private:
  struct Worker {
    int index = 0;
    asio::io_context io{1};
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors;
    std::thread thread;
  };

  void start_signal_thread();
  void listen();
  void start_http();
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> sweep_loop();
  asio::awaitable<void> maintenance_loop();
  std::string reload();
  void shutdown();
  // SIGTERM/SIGINT: closes the listeners, waits until no server connection is leased (or
  // shutdown_timeout), then shutdown(). SHUTDOWN in the console stops at once.
  void drain();
  asio::awaitable<void> drain_then_stop(pool::Clock::time_point deadline);

  config::CliOverrides overrides_;
  asio::io_context main_io_{1};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<ProxyContext> ctx_;
  asio::io_context http_io_{1};
  std::unique_ptr<admin::HttpServer> http_;
  std::thread http_thread_;
};

}  // namespace sluice::server
