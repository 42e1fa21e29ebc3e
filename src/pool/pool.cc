#include "pool/pool.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "net/no_throw.h"
#include "protocol/builder.h"

namespace sluice::pool {

using net::kNoThrow;

namespace {

// Idle connections older than this get a cheap liveness peek before being handed out.
constexpr auto kPeekAfterIdle = std::chrono::seconds(1);

// True when the server closed the connection or sent something unsolicited (usually a
// FATAL before closing) while it sat idle: such a connection must not be handed out.
bool looks_dead(ServerConnection& conn) {
  if (!conn.stream.is_open()) return true;
  char byte;
  const ssize_t n = ::recv(conn.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n > 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK;
}

}  // namespace

struct Pool::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  ServerPtr conn;            // handed over by release()
  bool may_connect = false;  // a slot was reserved for this waiter to open a connection
  Clock::time_point since = Clock::now();
};

Pool::Pool(std::string database, std::string user, ServerTarget target, ServerCredentials creds,
           PoolOptions options, std::shared_ptr<DatabaseState> db, ServerTls& tls, int worker_slots)
    : database_(std::move(database)),
      user_(std::move(user)),
      target_(std::move(target)),
      db_(std::move(db)),
      tls_(tls),
      stats_(worker_slots),
      creds_(std::move(creds)),
      options_(std::move(options)) {}

bool Pool::can_open_locked(bool reserve) const {
  const auto& s = options_.settings;
  const int limit = s.pool_size + (reserve ? s.reserve_pool_size : 0);
  if (total_ >= limit) return false;
  if (s.max_db_connections > 0 && db_->total.load() >= s.max_db_connections) return false;
  return true;
}

// Only the database-wide cap, not this pool's own size, stops a new connection.
bool Pool::db_cap_blocks_locked() const {
  const auto& s = options_.settings;
  return total_ < s.pool_size && s.max_db_connections > 0 &&
         db_->total.load() >= s.max_db_connections;
}

bool Pool::expired_locked(const ServerConnection& conn, Clock::time_point now) const {
  return (options_.server_lifetime.count() > 0 && now - conn.created >= options_.server_lifetime) ||
         conn.created < reconnect_before_;
}

void DatabaseState::add_pool(const std::shared_ptr<Pool>& pool) {
  std::lock_guard lock(mutex_);
  pools_.push_back(pool);
}

bool DatabaseState::evict_idle_except(const Pool* self) {
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard lock(mutex_);
    for (const auto& weak : pools_) {
      if (auto p = weak.lock(); p && p.get() != self) pools.push_back(std::move(p));
    }
  }
  for (const auto& p : pools) {
    if (p->close_one_idle()) return true;
  }
  return false;
}

bool Pool::close_one_idle() {
  ServerPtr victim;
  {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return false;
    victim = std::move(idle_.front());
    idle_.pop_front();
    --total_;
    --db_->total;
  }
  victim->stream.close();
  return true;
}

// Counts a new connection against every limit; caller holds mutex_.
#define SLUICE_TAKE_SLOT() (++total_, ++opening_, ++db_->total)

ServerPtr Pool::take_idle_locked(const asio::any_io_executor& ex) {
  // The most recently used connection already registered with the caller's worker, if
  // any: moving a socket to another worker's event loop costs four system calls.
  auto it = std::find_if(idle_.rbegin(), idle_.rend(),
                         [&ex](const ServerPtr& c) { return c->stream.executor() == ex; });
  auto pos = it == idle_.rend() ? std::prev(idle_.end()) : std::prev(it.base());
  ServerPtr conn = std::move(*pos);
  idle_.erase(pos);
  return conn;
}

asio::awaitable<AcquireResult> Pool::acquire() {
  auto ex = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  std::shared_ptr<Waiter> waiter;
  bool open = false;
  for (bool may_evict = true;;) {
    bool evict = false;
    {
      std::lock_guard lock(mutex_);
      if (!db_->paused) {
        while (!idle_.empty()) {
          ServerPtr conn = take_idle_locked(ex);
          if (expired_locked(*conn, start) ||
              (start - conn->last_used >= kPeekAfterIdle && looks_dead(*conn))) {
            --total_;
            --db_->total;
            conn->stream.close();
            continue;
          }
          leased_.push_back(conn.get());
          AcquireResult r;
          r.conn = std::move(conn);
          co_return r;
        }
        if (can_open_locked(false)) {
          SLUICE_TAKE_SLOT();
          open = true;
        } else {
          evict = may_evict && db_cap_blocks_locked();
        }
      }
      if (!open && !evict) {
        waiter = std::make_shared<Waiter>(ex);
        waiters_.push_back(waiter);
      }
    }
    if (!evict) break;
    may_evict = false;  // one eviction attempt, then queue like everyone else
    db_->evict_idle_except(this);
  }
  if (open) co_return co_await open_new();

  const PoolOptions opts = options();
  const auto never = Clock::time_point::max();
  const auto deadline =
      opts.query_wait_timeout.count() > 0 ? start + opts.query_wait_timeout : never;
  auto reserve_at =
      opts.settings.reserve_pool_size > 0 ? start + opts.settings.reserve_pool_timeout : never;
  for (;;) {
    waiter->timer.expires_at(std::min(deadline, reserve_at));
    co_await waiter->timer.async_wait(kNoThrow);
    std::unique_lock lock(mutex_);
    const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    if (waiter->conn) {
      AcquireResult r;
      r.conn = std::move(waiter->conn);
      r.waited = waited;
      co_return r;
    }
    if (waiter->may_connect) {
      lock.unlock();
      AcquireResult r = co_await open_new();
      r.waited = waited;
      co_return r;
    }
    const auto now = Clock::now();
    if (now >= reserve_at) {
      reserve_at = never;
      if (!db_->paused && can_open_locked(true)) {
        std::erase(waiters_, waiter);
        SLUICE_TAKE_SLOT();
        lock.unlock();
        spdlog::info("pool {}/{}: using reserve pool", database_, user_);
        AcquireResult r = co_await open_new();
        r.waited = waited;
        co_return r;
      }
    }
    if (now >= deadline) {
      std::erase(waiters_, waiter);
      AcquireResult r;
      r.error = ServerError{std::string(protocol::sqlstate::kProtocolViolation),
                            "query_wait_timeout", "ERROR"};
      r.waited = waited;
      co_return r;
    }
  }
}

asio::awaitable<AcquireResult> Pool::open_new() {
  ServerCredentials creds;
  PoolOptions opts;
  {
    std::lock_guard lock(mutex_);
    creds = creds_;
    opts = options_;
  }
  ConnectResult c = co_await connect_server(target_, creds, opts.server_connect_timeout, tls_,
                                            opts.max_message_size);
  AcquireResult r;
  std::lock_guard lock(mutex_);
  --opening_;
  if (!c.conn) {
    --total_;
    --db_->total;
    wake_connect_locked();
    r.error = c.error;
    co_return r;
  }
  c.conn->id = next_id_++;
  c.conn->pool = this;
  if (server_params_.empty()) server_params_ = c.conn->params;
  leased_.push_back(c.conn.get());
  r.conn = std::move(c.conn);
  co_return r;
}

void Pool::forget(ServerConnection* conn) { std::erase(leased_, conn); }

void Pool::hand_over_locked(ServerPtr conn) {
  std::shared_ptr<Waiter> w = waiters_.front();
  waiters_.pop_front();
  leased_.push_back(conn.get());
  w->conn = std::move(conn);
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

void Pool::wake_connect_locked() {
  if (db_->paused) return;
  while (!waiters_.empty() && can_open_locked(false)) {
    std::shared_ptr<Waiter> w = waiters_.front();
    waiters_.pop_front();
    SLUICE_TAKE_SLOT();
    w->may_connect = true;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

void Pool::release(ServerPtr conn) {
  conn->last_used = Clock::now();
  conn->active = false;
  conn->client_id = 0;
  std::unique_lock lock(mutex_);
  forget(conn.get());
  const bool expired = expired_locked(*conn, conn->last_used);
  const bool reusable =
      !conn->broken && conn->tx_status == 'I' && conn->stream.is_open() && !expired;
  if (!reusable) {
    --total_;
    --db_->total;
    wake_connect_locked();
    lock.unlock();
    conn->stream.close();
    return;
  }
  if (!db_->paused && !waiters_.empty()) {
    hand_over_locked(std::move(conn));
    return;
  }
  idle_.push_back(std::move(conn));
}

FlatStringMap Pool::server_params() const {
  std::lock_guard lock(mutex_);
  return server_params_;
}

void Pool::learn_scram_keys(const protocol::ScramKey& client_key,
                            const protocol::ScramKey& server_key) {
  std::lock_guard lock(mutex_);
  creds_.scram_client_key = client_key;
  creds_.scram_server_key = server_key;
}

void Pool::set_options(PoolOptions options) {
  std::lock_guard lock(mutex_);
  options_ = std::move(options);
  wake_connect_locked();
}

PoolOptions Pool::options() const {
  std::lock_guard lock(mutex_);
  return options_;
}

void Pool::maintain(const asio::any_io_executor& ex) {
  std::vector<ServerPtr> to_close;
  int to_open = 0;
  bool evict = false;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    const auto& o = options_;
    for (auto it = idle_.begin(); it != idle_.end();) {
      ServerConnection& c = **it;
      const bool idle_too_long = o.server_idle_timeout.count() > 0 &&
                                 now - c.last_used >= o.server_idle_timeout &&
                                 total_ > o.settings.min_pool_size;
      const bool too_old = o.server_lifetime.count() > 0 && now - c.created >= o.server_lifetime;
      if (idle_too_long || too_old || looks_dead(c)) {
        to_close.push_back(std::move(*it));
        it = idle_.erase(it);
        --total_;
        --db_->total;
      } else {
        ++it;
      }
    }
    if (!db_->paused) {
      while (total_ < o.settings.min_pool_size && can_open_locked(false)) {
        SLUICE_TAKE_SLOT();
        ++to_open;
      }
      wake_connect_locked();
      evict = !waiters_.empty() && db_cap_blocks_locked();
    }
  }
  // Waiters held back only by max_db_connections: free a slot from another user's pool.
  if (evict && db_->evict_idle_except(this)) {
    std::lock_guard lock(mutex_);
    wake_connect_locked();
  }
  for (auto& c : to_close) c->stream.close();
  for (int i = 0; i < to_open; ++i) {
    asio::co_spawn(
        ex,
        [this]() -> asio::awaitable<void> {
          AcquireResult r = co_await open_new();
          if (r.conn) {
            release(std::move(r.conn));
          } else if (r.error) {
            spdlog::warn("pool {}/{}: could not open min_pool_size connection: {}", database_,
                         user_, r.error->message);
          }
        },
        asio::detached);
  }
}

void Pool::close_idle() {
  std::deque<ServerPtr> to_close;
  {
    std::lock_guard lock(mutex_);
    to_close.swap(idle_);
    total_ -= static_cast<int>(to_close.size());
    db_->total -= static_cast<int>(to_close.size());
  }
  for (auto& c : to_close) c->stream.close();
}

void Pool::reconnect() {
  {
    std::lock_guard lock(mutex_);
    reconnect_before_ = Clock::now();
  }
  close_idle();
}

void Pool::kick() {
  std::lock_guard lock(mutex_);
  if (db_->paused) return;
  while (!waiters_.empty() && !idle_.empty()) {
    ServerPtr conn = std::move(idle_.back());
    idle_.pop_back();
    hand_over_locked(std::move(conn));
  }
  wake_connect_locked();
}

PoolSnapshot Pool::snapshot() const {
  std::lock_guard lock(mutex_);
  PoolSnapshot s;
  s.active = static_cast<int>(leased_.size());
  s.idle = static_cast<int>(idle_.size());
  s.opening = opening_;
  s.waiting = static_cast<int>(waiters_.size());
  if (!waiters_.empty()) {
    s.max_wait = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                       waiters_.front()->since);
  }
  return s;
}

std::vector<Pool::ServerRow> Pool::server_rows() const {
  std::lock_guard lock(mutex_);
  std::vector<ServerRow> rows;
  auto add = [&rows](const ServerConnection& c, bool active) {
    rows.push_back(ServerRow{c.id, active, c.host, c.port, c.key.pid, c.created, c.last_used,
                             c.stream.is_tls(), c.client_id.load()});
  };
  for (const ServerConnection* c : leased_) add(*c, true);
  for (const auto& c : idle_) add(*c, false);
  return rows;
}

}  // namespace sluice::pool
