#include "server/runtime.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <future>
#include <stdexcept>

#include "admin/http_api.h"
#include "config/load.h"
#include "net/no_throw.h"
#include "server/io_backend.h"
#include "session/client_session.h"
#include "session/worker_sessions.h"
#include "stats/pool_stats.h"
#include "stats/proxy_counters.h"
#include "stats/query_stats.h"

namespace sluice::server {

using net::kNoThrow;

namespace {

constexpr auto kSweepInterval = std::chrono::seconds(1);
// Sessions parked in one sweep (each frees ~2 KiB) worth a malloc_trim() at the next.
constexpr size_t kParkedBeforeTrim = 256;
constexpr auto kMaintenanceInterval = std::chrono::seconds(1);
constexpr int kListenBacklog = 4096;

int effective_workers(const config::Config& cfg) {
  if (cfg.workers > 0) return cfg.workers;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace

Runtime::Runtime(config::CliOverrides overrides, std::shared_ptr<const config::Config> cfg,
                 std::shared_ptr<const config::UserList> users)
    : overrides_(std::move(overrides)) {
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

Runtime::~Runtime() = default;

void Runtime::listen() {
  auto cfg = ctx_->config();
  for (auto& w : workers_) {
    for (const auto& hp : cfg->listen) {
      std::error_code ec;
      auto address = asio::ip::make_address(hp.host == "*" ? "0.0.0.0" : hp.host, ec);
      if (ec) {
        asio::ip::tcp::resolver resolver(w->io);
        auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
        if (ec || results.empty()) {
          throw std::runtime_error("cannot resolve listen address " + hp.host + ": " +
                                   ec.message());
        }
        address = results.begin()->endpoint().address();
      }
      asio::ip::tcp::endpoint ep(address, hp.port);
      auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(w->io);
      acceptor->open(ep.protocol());
      acceptor->set_option(asio::socket_base::reuse_address(true));
      const int one = 1;
      ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      acceptor->bind(ep, ec);
      if (ec) {
        throw std::runtime_error("cannot listen on " + hp.host + ":" + std::to_string(hp.port) +
                                 ": " + ec.message() +
                                 " (is another process using it? pick another with --listen)");
      }
      acceptor->listen(kListenBacklog);
      w->acceptors.push_back(std::move(acceptor));
    }
  }
}

void Runtime::start_http() {
  const auto cfg = ctx_->config();
  if (!cfg->admin_listen) return;
  const config::HostPort hp = *cfg->admin_listen;
  http_ = std::make_unique<admin::HttpServer>(
      http_io_, hp.host, hp.port,
      [ctx = ctx_.get()](const admin::HttpRequest& r) { return admin::handle_http(*ctx, r); });
  http_->start();
  http_thread_ = std::thread([this] { http_io_.run(); });
  spdlog::info("admin HTTP endpoint on {}:{} (/metrics, /health, /ready, /api/v1/)", hp.host,
               hp.port);
}

asio::awaitable<void> Runtime::accept_loop(asio::ip::tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    auto session = std::make_shared<session::ClientSession>(*ctx_, std::move(socket));
    asio::co_spawn(acceptor.get_executor(), session->run(), asio::detached);
  }
}

asio::awaitable<void> Runtime::sweep_loop() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  size_t parked = 0;
  for (;;) {
    timer.expires_after(kSweepInterval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) co_return;
    // Memory the sessions parked in the last sweep freed goes back to the system when
    // there is enough of it (malloc keeps freed memory otherwise).
    if (parked >= kParkedBeforeTrim) malloc_trim(0);
    parked = 0;
    const auto now = pool::Clock::now();
    std::vector<session::ClientSession*> sessions(session::WorkerSessions::current().begin(),
                                                  session::WorkerSessions::current().end());
    for (auto* s : sessions) parked += s->check_timeouts(now) ? 1 : 0;
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

void Runtime::drain() {
  const auto timeout = ctx_->config()->shutdown_timeout;
  spdlog::info(
      "shutting down: no longer accepting clients; waiting up to {} ms for "
      "transactions under way",
      timeout.count());
  for (auto& w : workers_) {
    asio::post(w->io, [&w = *w] {
      std::error_code ignored;
      for (auto& a : w.acceptors) a->close(ignored);
    });
  }
  asio::co_spawn(main_io_, drain_then_stop(pool::Clock::now() + timeout), asio::detached);
}

asio::awaitable<void> Runtime::drain_then_stop(pool::Clock::time_point deadline) {
  asio::steady_timer timer(main_io_);
  for (;;) {
    int leased = 0;
    for (const auto& pool : ctx_->pools.all()) leased += pool->snapshot().active;
    if (leased == 0) break;
    if (pool::Clock::now() >= deadline) {
      spdlog::warn("shutdown_timeout: closing {} server connections still in use", leased);
      break;
    }
    timer.expires_after(std::chrono::milliseconds(20));
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
  listen();
  start_http();
  for (auto& w : workers_) {
    for (auto& a : w->acceptors) asio::co_spawn(w->io, accept_loop(*a), asio::detached);
    asio::co_spawn(w->io, sweep_loop(), asio::detached);
  }
  asio::co_spawn(main_io_, maintenance_loop(), asio::detached);
  std::signal(SIGPIPE, SIG_IGN);

  auto cfg = ctx_->config();
  for (const auto& hp : cfg->listen) {
    spdlog::info("listening on {}:{} with {} workers on {}", hp.host, hp.port, workers_.size(),
                 compiled_backend());
  }
  for (auto& w : workers_) {
    w->thread = std::thread([&io = w->io, index = w->index] {
      stats::set_current_slot(index);
      io.run();
    });
  }
  main_io_.run();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
  http_io_.stop();
  if (http_thread_.joinable()) http_thread_.join();
  // Server connections leased across workers make an orderly teardown of every event
  // loop fragile; the process exits here and the kernel closes every socket, which
  // makes each server roll back whatever its client left open.
  for (const auto& pool : ctx_->pools.all()) pool->close_idle();
  spdlog::info("stopped");
  spdlog::shutdown();
  std::_Exit(0);
}

}  // namespace sluice::server
