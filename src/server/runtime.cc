#include "server/runtime.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <future>
#include <stdexcept>

#include "admin/http_api.h"
#include "admin/show_commands.h"
#include "common/group_id.h"
#include "config/load.h"
#include "net/listener.h"
#include "net/no_throw.h"
#include "net/parking_lot.h"
#include "server/io_backend.h"
#include "server/listeners.h"
#include "server/worker_count.h"
#include "session/client_session.h"
#include "session/worker_sessions.h"
#include "stats/pool_stats.h"
#include "stats/proxy_counters.h"
#include "stats/query_stats.h"

namespace sluice::server {

using net::kNoThrow;

namespace {

constexpr auto kSweepInterval = std::chrono::seconds(1);
// Sessions parked between two sweeps (each frees ~2 KiB) worth a malloc_trim().
constexpr size_t kParkedBeforeTrim = 256;
constexpr auto kMaintenanceInterval = std::chrono::seconds(1);
constexpr auto kDrainPoll = std::chrono::milliseconds(20);
constexpr auto kStopAcceptingPoll = std::chrono::milliseconds(1);
constexpr auto kStopAcceptingWait = std::chrono::seconds(5);

int effective_workers(const config::Config& cfg) {
  return cfg.workers > 0 ? cfg.workers : default_workers(usable_cores());
}

// RELOAD leaves what is set at start (listening sockets, workers, ...) as it runs: said in
// the log, so that an edited file does not look applied.
void warn_start_only_changes(const config::Config& running, const config::Config& loaded) {
  const std::vector<admin::SettingValue> before = admin::settings_of(running);
  const std::vector<admin::SettingValue> after = admin::settings_of(loaded);
  for (size_t i = 0; i < before.size() && i < after.size(); ++i) {
    if (before[i].changeable || before[i].value == after[i].value) continue;
    spdlog::warn(
        "reload: {} = \"{}\" is not applied: it is set at start (still \"{}\"); restart "
        "to change it",
        after[i].key, after[i].value, before[i].value);
  }
}

}  // namespace

Runtime::Runtime(config::CliOverrides overrides, const std::shared_ptr<const config::Config>& cfg,
                 std::shared_ptr<const config::UserList> users, std::unique_ptr<Handoff> handoff)
    : overrides_(std::move(overrides)), handoff_(std::move(handoff)) {
  const int n = effective_workers(*cfg);
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i + 1;
    workers_.push_back(std::move(w));
  }
  stats::install_counters(n);
  // stats.query_stats_max bounds all workers together.
  stats::QueryStats::set_entries_per_worker(
      static_cast<size_t>(std::max(1, cfg->query_stats_max / n)));
  ctx_ = std::make_unique<ProxyContext>(cfg, n);
  ctx_->set_config(cfg, std::move(users));
  ctx_->set_client_tls(make_client_tls(cfg->client_tls));
  ctx_->request_shutdown = [this] { asio::post(main_io_, [this] { shutdown(); }); };
  ctx_->reload = [this] {
    // RELOAD arrives on a worker; the reload itself runs on the main thread.
    std::promise<std::string> done;
    auto result = done.get_future();
    asio::post(main_io_, [this, &done] { done.set_value(reload()); });
    return result.get();
  };
}

Runtime::~Runtime() {
  // Start failed (run() exits the process otherwise): a socket file bound here goes too.
  if (unix_socket_) unix_socket_->remove_file();
}

void Runtime::adopt_listeners() {
  if (!handoff_) return;
  const auto cfg = ctx_->config();
  std::vector<asio::ip::tcp::endpoint> wanted;
  for (const auto& hp : cfg->listen) wanted.push_back(resolve_address(main_io_, hp, "listen"));
  // Every socket received keeps being accepted on: one closed would drop the connections
  // queued in it. So an address this configuration drops cannot be taken over.
  std::vector<std::vector<UniqueFd>> per_address(wanted.size());
  for (PassedSocket& s : handoff_->sockets()) {
    if (s.kind == SocketKind::kUnixListener) {
      // Closed, it would be gone for the old process too, once that stops accepting.
      const std::string path = bound_unix_path(s.fd.get());
      if (path != cfg->unix_socket_path()) {
        throw TakeoverError(fmt::format(
            "--takeover: pid {} accepts clients on the Unix socket {}, which this "
            "configuration does not (server.unix_socket_dir, --unix-socket-dir, and the first "
            "listen port): add it, or start without --takeover once that process has stopped",
            handoff_->old_pid(), path));
      }
      if (!passed_unix_) passed_unix_ = std::move(s.fd);  // (any copies: the same socket)
      continue;
    }
    if (s.kind != SocketKind::kListener) continue;
    const asio::ip::tcp::endpoint ep = bound_address(s.fd.get());
    const auto it = std::find(wanted.begin(), wanted.end(), ep);
    if (it == wanted.end()) {
      throw TakeoverError(
          fmt::format("--takeover: pid {} listens on {}, which this configuration does not "
                      "(server.listen, --listen): add it, or start without --takeover once "
                      "that process has stopped",
                      handoff_->old_pid(), to_string(ep)));
    }
    per_address[it - wanted.begin()].push_back(std::move(s.fd));
  }
  // Spread round-robin, whatever the two worker counts: a worker may get several.
  size_t taken = 0;
  for (auto& fds : per_address) {
    for (size_t j = 0; j < fds.size(); ++j, ++taken) {
      Worker& w = *workers_[j % workers_.size()];
      w.acceptors.push_back(adopt_listener(w.io, std::move(fds[j])));
      set_defer_accept(*w.acceptors.back(), cfg->tcp_defer_accept);
    }
  }
  spdlog::info("taking over {} listening sockets from pid {}", taken, handoff_->old_pid());
}

void Runtime::bind_listeners() {
  const auto cfg = ctx_->config();
  auto serves = [](const std::unique_ptr<Worker>& w, const asio::ip::tcp::endpoint& ep) {
    return std::any_of(w->acceptors.begin(), w->acceptors.end(), [&ep](const auto& a) {
      std::error_code ec;
      return a->local_endpoint(ec) == ep;
    });
  };
  auto taken_over = [&](const asio::ip::tcp::endpoint& ep) {
    return std::any_of(workers_.begin(), workers_.end(),
                       [&](const std::unique_ptr<Worker>& w) { return serves(w, ep); });
  };
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& hp : cfg->listen) {
    endpoints.push_back(resolve_address(main_io_, hp, "listen"));
    // Before binding any: the workers' SO_REUSEPORT would let this process join another
    // one's group on the port (same user) and silently take part of its connections.
    if (!taken_over(endpoints.back()) && someone_listens_on(endpoints.back())) {
      throw std::runtime_error(fmt::format(
          "cannot listen on {}:{}: another process listens there (a sluice, PgBouncer or "
          "PostgreSQL): stop it, replace a running sluice with `sluice serve --takeover`, or "
          "pick another address with --listen",
          hp.host, hp.port));
    }
  }
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const config::HostPort& hp = cfg->listen[i];
    const asio::ip::tcp::endpoint& ep = endpoints[i];
    const bool is_taken_over = taken_over(ep);
    for (auto& w : workers_) {
      if (serves(w, ep)) continue;
      std::error_code ec;
      auto acceptor = bind_listener(w->io, ep, /*reuse_port=*/true, ec);
      if (acceptor) {
        set_defer_accept(*acceptor, cfg->tcp_defer_accept);
        w->acceptors.push_back(std::move(acceptor));
      } else if (is_taken_over) {
        // Joining the group needs the user that created it; the sockets taken over serve.
        spdlog::warn(
            "worker {} has no listening socket of its own on {}:{} ({}); the ones "
            "taken over accept for it",
            w->index, hp.host, hp.port, ec.message());
      } else {
        throw std::runtime_error("cannot listen on " + hp.host + ":" + std::to_string(hp.port) +
                                 ": " + ec.message() +
                                 " (is another process using it? pick another with --listen)");
      }
    }
  }
}

void Runtime::open_unix_listener() {
  const auto cfg = ctx_->config();
  const std::string path = cfg->unix_socket_path();
  if (path.empty()) return;
  const SocketFileAccess access{cfg->unix_socket_mode, group_id(cfg->unix_socket_group)};
  if (passed_unix_) {
    unix_socket_ = UnixSocketFile::adopt(path, std::move(passed_unix_));
    spdlog::info("taking over the Unix socket {} from pid {}", path, handoff_->old_pid());
    // This configuration's access, not the old one's; the socket serves either way.
    if (std::string problem = unix_socket_->set_access(access); !problem.empty()) {
      spdlog::warn("{}; the socket keeps the previous process's", problem);
    }
  } else {
    unix_socket_ = UnixSocketFile::bind(path, access);
  }
  unix_port_ = cfg->listen.front().port;
  UniqueFd fd = unix_socket_->take_fd();
  for (size_t i = workers_.size(); i-- > 0;) {
    UniqueFd copy(i == 0 ? fd.release() : ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
      throw std::runtime_error(
          fmt::format("cannot copy the Unix socket {}: {}", path, std::strerror(errno)));
    }
    workers_[i]->unix_acceptor = unix_acceptor(workers_[i]->io, std::move(copy));
  }
}

void Runtime::start_http() {
  const auto cfg = ctx_->config();
  UniqueFd passed;
  if (handoff_) {
    for (PassedSocket& s : handoff_->sockets()) {
      if (s.kind == SocketKind::kAdmin && s.fd) passed = std::move(s.fd);
    }
  }
  if (!cfg->admin_listen) return;  // a socket passed for it closes with `passed`
  const config::HostPort hp = *cfg->admin_listen;
  auto handler = [ctx = ctx_.get()](const admin::HttpRequest& r) {
    return admin::handle_http(*ctx, r);
  };
  if (passed && bound_address(passed.get()) == resolve_address(http_io_, hp, "admin_listen")) {
    http_ = std::make_unique<admin::HttpServer>(
        std::move(*adopt_listener(http_io_, std::move(passed))), handler);
  } else {
    http_ = std::make_unique<admin::HttpServer>(http_io_, hp.host, hp.port, handler);
  }
  listening_.emplace_back(SocketKind::kAdmin, http_->native_handle());
  spdlog::info("admin HTTP endpoint on {}:{} (/metrics, /health, /ready, /api/v1/)", hp.host,
               hp.port);
}

void Runtime::open_control_socket() {
  const std::string path = ctx_->config()->takeover_socket_path();
  if (path.empty()) return;
  try {
    control_ = ControlSocket::open(path, /*replacing_live=*/handoff_ != nullptr);
  } catch (const TakeoverError&) {
    throw;
  } catch (const std::runtime_error& e) {
    // A takeover without a control socket would leave the next one nothing to find; a
    // proxy started afresh serves without one.
    if (handoff_) throw TakeoverError(fmt::format("--takeover: {}", e.what()));
    spdlog::warn("{}; `sluice serve --takeover` cannot replace this process", e.what());
    return;
  }
  spdlog::info("takeover socket {} (`sluice serve --takeover` replaces this process)", path);
}

void Runtime::release_old() {
  const pid_t old_pid = handoff_->old_pid();
  const std::string error = handoff_->release_old();
  handoff_.reset();
  // The socket file is this process's to remove now (the old one leaves it, see run()).
  if (unix_socket_) unix_socket_->set_owned(true);
  if (error.empty()) {
    spdlog::info(
        "took over the listening sockets of pid {}: it stops accepting, lets its clients "
        "finish (up to shutdown_timeout) and exits",
        old_pid);
  } else {
    spdlog::warn(
        "took over the listening sockets of pid {}, but it did not confirm that it stopped "
        "accepting ({}): both accept until it exits (SIGTERM stops it)",
        old_pid, error);
  }
}

std::vector<PassedSocket> Runtime::export_sockets(std::string* refusal) {
  std::vector<PassedSocket> out;
  // Held while copying, so stop_accepting() cannot close one of them meanwhile.
  const std::lock_guard lock(accepting_mutex_);
  if (!accepting_) {
    *refusal = "it is shutting down; start without --takeover once it has exited";
    return {};
  }
  for (const auto& [kind, fd] : listening_) {
    UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) {
      *refusal = fmt::format("cannot copy its listening sockets: {}", std::strerror(errno));
      return {};
    }
    out.push_back(PassedSocket{kind, std::move(copy)});
  }
  return out;
}

asio::awaitable<void> Runtime::accept_loop(Worker& w, asio::ip::tcp::acceptor& acceptor,
                                           uint16_t unix_port) {
  ++w.accept_loops;
  // Every connection accepted here has the listener's address, unless that is a wildcard
  // (0.0.0.0, ::): then the session asks each socket (a system call per connection).
  std::error_code local_ec;
  asio::ip::tcp::endpoint local;
  if (unix_port == 0) local = acceptor.local_endpoint(local_ec);
  if (local_ec || local.address().is_unspecified()) local = {};
  while (!w.stop_accepting) {
    // (A Unix-domain peer's address, which fits the endpoint, goes unused: see unix_port.)
    session::ClientSession::Addresses addresses{{}, local, unix_port};
    auto [ec, socket] = co_await acceptor.async_accept(addresses.peer, kNoThrow);
    if (!ec) {
      // Served even when stopping: it was taken off the socket's queue here.
      auto session = std::make_shared<session::ClientSession>(*ctx_, std::move(socket));
      asio::co_spawn(acceptor.get_executor(), session->run(addresses), asio::detached);
      continue;
    }
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    spdlog::warn("accept failed: {}", ec.message());
    asio::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(50));
    co_await backoff.async_wait(kNoThrow);
  }
  // Closed only now that no accept is pending: on io_uring one in flight could still take
  // a connection from the queue.
  net::close_listener(acceptor);
  --w.accept_loops;
}

asio::awaitable<void> Runtime::sweep_loop() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(kSweepInterval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) co_return;
    // Memory the sessions parked since the last sweep freed goes back to the system when
    // there is enough of it (malloc keeps freed memory otherwise).
    if (session::WorkerSessions::take_park_count() >= kParkedBeforeTrim) malloc_trim(0);
    const auto now = pool::Clock::now();
    for (auto* s : session::WorkerSessions::all()) s->check_timeouts(now);
  }
}

asio::awaitable<void> Runtime::maintenance_loop() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  size_t next_worker = 0;
  for (;;) {
    timer.expires_after(kMaintenanceInterval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) co_return;
    for (const auto& pool : ctx_->pools.all()) {
      // New connections are opened on the workers, spread round-robin.
      pool->maintain(workers_[next_worker++ % workers_.size()]->io.get_executor());
    }
  }
}

std::string Runtime::reload() {
  try {
    auto cfg = std::make_shared<const config::Config>(config::build_config(overrides_));
    std::shared_ptr<const config::UserList> users;
    if (!cfg->auth.auth_file.empty()) {
      users = std::make_shared<const config::UserList>(
          config::UserList::load_file(cfg->auth.auth_file));
    }
    auto tls = make_client_tls(cfg->client_tls);
    warn_start_only_changes(*ctx_->config(), *cfg);
    ctx_->set_config(cfg, users);
    ctx_->set_client_tls(tls);
    ctx_->pools.apply_config(*cfg);
    spdlog::set_level(spdlog::level::from_str(cfg->log_level));
    spdlog::info("configuration reloaded");
    return {};
  } catch (const std::exception& e) {
    spdlog::error("reload failed, keeping the running configuration: {}", e.what());
    return e.what();
  }
}

void Runtime::shutdown() {
  spdlog::info("shutting down");
  for (auto& w : workers_) w->io.stop();
  http_io_.stop();
  main_io_.stop();
}

bool Runtime::stop_accepting() {
  {
    const std::lock_guard lock(accepting_mutex_);
    if (!accepting_) return false;
    accepting_ = false;
  }
  for (auto& w : workers_) {
    asio::post(w->io, [&w = *w] {
      w.stop_accepting = true;
      std::error_code ignored;
      for (auto& a : w.acceptors) a->cancel(ignored);
      if (w.unix_acceptor) w.unix_acceptor->cancel(ignored);
    });
  }
  if (http_) asio::post(http_io_, [this] { http_->stop(); });
  return true;
}

void Runtime::drain() {
  const auto timeout = ctx_->config()->shutdown_timeout;
  spdlog::info(
      "shutting down: no longer accepting clients; waiting up to {} ms for "
      "transactions under way",
      timeout.count());
  // After a takeover this runs next to the wait for clients; the first to finish stops.
  stop_accepting();
  asio::co_spawn(main_io_, drain_then_stop(pool::Clock::now() + timeout, DrainUntil::kNoLease),
                 asio::detached);
}

void Runtime::drain_after_takeover(pid_t new_pid) {
  if (!stop_accepting()) return;  // already shutting down (SIGTERM)
  const auto timeout = ctx_->config()->shutdown_timeout;
  spdlog::info(
      "takeover: pid {} accepts on every listening socket; no longer accepting here, waiting "
      "up to {} ms for the clients still connected",
      new_pid, timeout.count());
  asio::co_spawn(main_io_, drain_then_stop(pool::Clock::now() + timeout, DrainUntil::kNoClient),
                 asio::detached);
}

void Runtime::wait_until_not_accepting() const {
  const auto deadline = pool::Clock::now() + kStopAcceptingWait;
  auto accepting = [this] {
    return std::any_of(workers_.begin(), workers_.end(),
                       [](const auto& w) { return w->accept_loops.load() > 0; });
  };
  while (accepting() && pool::Clock::now() < deadline) {
    std::this_thread::sleep_for(kStopAcceptingPoll);
  }
}

int64_t Runtime::open_connections() const {
  int64_t total = 0;
  for (const auto& w : workers_) {
    const int64_t n = w->open.load(std::memory_order_acquire);
    if (n < 0) return -1;
    total += n;
  }
  return total;
}

asio::awaitable<void> Runtime::drain_then_stop(pool::Clock::time_point deadline, DrainUntil until) {
  asio::steady_timer timer(main_io_);
  const bool clients = until == DrainUntil::kNoClient;
  for (;;) {
    int leased = 0;
    for (const auto& pool : ctx_->pools.all()) leased += pool->snapshot().active;
    const int64_t open = clients ? open_connections() : 0;
    if (leased == 0 && open == 0) break;
    if (pool::Clock::now() >= deadline) {
      if (clients) {
        spdlog::warn("shutdown_timeout: closing {} client connections ({} inside a transaction)",
                     std::max<int64_t>(open, 0), leased);
      } else {
        spdlog::warn("shutdown_timeout: closing {} server connections still in use", leased);
      }
      break;
    }
    if (clients) {
      // Each worker counts its own; posted after stop_accepting()'s cancel, so a count of
      // 0 means no accept loop is left to start a session.
      for (auto& w : workers_) {
        asio::post(w->io, [&w = *w] {
          const auto sessions = static_cast<int64_t>(session::WorkerSessions::count());
          w.open.store(w.accept_loops + sessions, std::memory_order_release);
        });
      }
    }
    timer.expires_after(kDrainPoll);
    co_await timer.async_wait(kNoThrow);
  }
  shutdown();
}

void Runtime::start_signal_thread() {
  // Signals go to one thread that waits for them with sigwait() and hands them to the main
  // loop, rather than to asio::signal_set: on asio's io_uring backend (1.22) a signal_set
  // never completes, and this works the same on both backends. Every thread started after
  // this inherits the blocked mask, so no other thread is interrupted.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([this, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        asio::post(main_io_, [this] { reload(); });
        continue;
      }
      asio::post(main_io_, [this] { drain(); });
      return;  // the process exits at the end of run()
    }
  }).detach();
}

int Runtime::run() {
  start_signal_thread();
  // A second sluice on this configuration hears of --takeover before anything else it
  // shares with the first (the Unix socket, the ports) refuses it.
  const std::string takeover_path = ctx_->config()->takeover_socket_path();
  if (!handoff_ && !takeover_path.empty()) ControlSocket::refuse_if_running(takeover_path);
  // Everything that can fail comes before the control socket replaces the old process's
  // path (takeover) and before new sockets join the listeners' groups: closing one of
  // those would drop the connections queued in it.
  adopt_listeners();
  open_unix_listener();
  start_http();
  open_control_socket();
  bind_listeners();
  for (auto& w : workers_) {
    for (auto& a : w->acceptors) {
      listening_.emplace_back(SocketKind::kListener, a->native_handle());
      asio::co_spawn(w->io, accept_loop(*w, *a, 0), asio::detached);
    }
    if (w->unix_acceptor) {
      asio::co_spawn(w->io, accept_loop(*w, *w->unix_acceptor, unix_port_), asio::detached);
    }
    asio::co_spawn(w->io, sweep_loop(), asio::detached);
  }
  // One copy is enough: they are all the same socket.
  if (unix_socket_) {
    listening_.emplace_back(SocketKind::kUnixListener,
                            workers_.front()->unix_acceptor->native_handle());
  }
  asio::co_spawn(main_io_, maintenance_loop(), asio::detached);
  std::signal(SIGPIPE, SIG_IGN);

  auto cfg = ctx_->config();
  for (const auto& hp : cfg->listen) {
    spdlog::info("listening on {}:{} with {} workers on {}", hp.host, hp.port, workers_.size(),
                 compiled_backend());
  }
  if (unix_socket_) {
    spdlog::info("listening on Unix socket {} (psql -h {} -p {})", unix_socket_->path(),
                 cfg->unix_socket_dir, unix_port_);
  }
  for (auto& w : workers_) {
    w->thread = std::thread([&io = w->io, index = w->index] {
      stats::set_current_slot(index);
      net::ParkingLot lot(io.get_executor(), &session::ClientSession::wake_parked);
      const net::ParkingLot::Scope current_lot(lot);
      io.run();
    });
  }
  if (http_) {
    http_->start();
    http_thread_ = std::thread([this] { http_io_.run(); });
  }
  if (handoff_) release_old();
  if (control_) {
    ControlSocket::serve(
        control_, {[this](std::string* refusal) { return export_sockets(refusal); },
                   [this](pid_t new_pid) {
                     // The new process serves the Unix socket's file from now on.
                     if (unix_socket_) unix_socket_->set_owned(false);
                     asio::post(main_io_, [this, new_pid] { drain_after_takeover(new_pid); });
                     wait_until_not_accepting();
                   }});
  }
  main_io_.run();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
  http_io_.stop();
  if (http_thread_.joinable()) http_thread_.join();
  if (control_) control_->remove_file();
  if (unix_socket_) unix_socket_->remove_file();
  // Server connections leased across workers make an orderly teardown of every event
  // loop fragile; the process exits here and the kernel closes every socket, which
  // makes each server roll back whatever its client left open.
  for (const auto& pool : ctx_->pools.all()) pool->close_idle();
  spdlog::info("stopped");
  spdlog::shutdown();
  std::_Exit(0);
}

}  // namespace sluice::server
