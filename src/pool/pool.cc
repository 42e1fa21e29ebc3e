#include "pool/pool.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "net/no_throw.h"
#include "pool/health_check.h"
#include "protocol/builder.h"

namespace sluice::pool {

using net::kNoThrow;

// A client queued for a connection. It sleeps on `wake` rather than on a timer of its own:
// arming and cancelling a timer per wait (timer-queue entries, locks, an extra handler)
// cost more than the rest of a wait at -c 200. Its time limits are kept by one timer per
// pool instead (arm_expiry_locked).
//
// At -c 200 nearly every transaction waits, so a wait takes the pool's lock once (to
// queue); parking and the hand-over's result go through two atomics instead:
//  - `turn`: the waiter parks its handler in `wake` and moves kQueued -> kParked; a
//    notifier (under the lock) moves it to kReady. Whichever comes second resumes it.
//  - `queued`: cleared (release) by the notifier that takes the waiter out of waiters_,
//    after it wrote the result (conn, may_connect or error). A woken waiter that finds it
//    clear reads the result without the lock, as nothing writes to it any more.
// The other fields are guarded by the pool's mutex_ while the waiter is queued.
struct Pool::Waiter {
  enum Turn : uint8_t { kQueued, kParked, kReady };
  explicit Waiter(asio::any_io_executor executor) : ex(std::move(executor)) {}
  std::atomic<uint8_t> turn{kQueued};
  std::atomic<bool> queued{false};
  asio::any_io_executor ex;          // the waiting client's worker
  net::WakeUp wake;                  // its handler, resumed (through `ex`) at kReady
  ServerPtr conn;                    // handed over by release()
  bool may_connect = false;          // a slot was reserved for this waiter to open a connection
  Admission admission;               // ... with the host's go-ahead
  std::optional<ServerError> error;  // the breaker opened and fails waiting clients fast
  Clock::time_point wake_at = Clock::time_point::max();  // query_wait_timeout or reserve time
  Clock::time_point since = Clock::now();
};

// What acquire() does next.
struct Pool::Step {
  enum class Kind {
    kLeased,  // `conn` is the caller's
    kCheck,   // `conn` is the caller's once it passes a check
    kOpen,    // a slot is taken: open a connection (with `admission`)
    kEvict,   // only max_db_connections stands in the way: close another pool's idle one
    kWait,    // queued
    kFail,    // give up with `error`
  };
  Kind kind = Kind::kWait;
  ServerPtr conn;
  Admission admission;
  std::optional<ServerError> error;
};

Pool::Pool(std::string database, std::string user, ServerTarget target, ServerCredentials creds,
           PoolOptions options, std::shared_ptr<DatabaseState> db, std::shared_ptr<ServerHost> host,
           ServerTls& tls, int worker_slots)
    : database_(std::move(database)),
      user_(std::move(user)),
      target_(std::move(target)),
      db_(std::move(db)),
      host_(std::move(host)),
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

bool Pool::over_size_locked() const {
  const auto& s = options_.settings;
  return total_ > s.pool_size + s.reserve_pool_size;
}

void Pool::trim_idle_locked(std::vector<ServerPtr>& to_close) {
  while (over_size_locked() && !idle_.empty()) {
    to_close.push_back(std::move(idle_.front()));  // the least recently used
    idle_.pop_front();
    --total_;
    --db_->total;
  }
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

std::deque<ServerPtr>::iterator Pool::pick_idle_locked(const asio::any_io_executor& ex) {
  // The most recently used connection already registered with the caller's worker, if
  // any: moving a socket to another worker's event loop costs four system calls.
  auto it = std::find_if(idle_.rbegin(), idle_.rend(),
                         [&ex](const ServerPtr& c) { return c->stream.executor() == ex; });
  return it == idle_.rend() ? std::prev(idle_.end()) : std::prev(it.base());
}

ServerPtr Pool::take_idle_locked(const asio::any_io_executor& ex) {
  auto pos = pick_idle_locked(ex);
  ServerPtr conn = std::move(*pos);
  idle_.erase(pos);
  return conn;
}

ServerPtr Pool::try_acquire_idle(const asio::any_io_executor& ex, Clock::time_point now,
                                 Ticket* ticket) {
  std::lock_guard lock(mutex_);
  // Every connection busy and no other to open: the caller waits (as next_step() would
  // queue it), holding its ticket.
  if (ticket && !db_->paused && idle_.empty() && !can_open_locked(false) &&
      !db_cap_blocks_locked()) {
    ticket->waiter_ = std::allocate_shared<Waiter>(asio::recycling_allocator<Waiter>(), ex);
    ticket->limits_ = WaitLimits{};  // (a session's ticket is used again for each wait)
    ticket->limits_.start = now;
    read_limits_locked(ticket->limits_);
    queue_locked(ticket->waiter_, ticket->limits_);
    return nullptr;
  }
  while (!db_->paused && !idle_.empty()) {
    auto pos = pick_idle_locked(ex);
    ServerConnection& conn = **pos;
    if (expired_locked(conn, now)) {
      ServerPtr expired = std::move(*pos);
      idle_.erase(pos);
      drop_locked(std::move(expired));
      continue;
    }
    // Anything next_step() would look at more closely (a peek for a closed connection, a
    // check query) is left to acquire().
    if (needs_check_locked(conn, now) || now - conn.last_used >= kPeekAfterIdle) return nullptr;
    ServerPtr leased = std::move(*pos);
    idle_.erase(pos);
    leased_.push_back(leased.get());
    return leased;
  }
  return nullptr;
}

void Pool::enqueue_locked(const std::shared_ptr<Waiter>& waiter) {
  // Ordered by arrival: a client that goes back to waiting after a failed attempt keeps
  // its place. New arrivals go to the back, found at once from the end.
  auto it = waiters_.end();
  while (it != waiters_.begin() && (*std::prev(it))->since > waiter->since) --it;
  waiters_.insert(it, waiter);
}

bool Pool::needs_check_locked(const ServerConnection& conn, Clock::time_point now) const {
  const bool suspect = conn.checked < host_->suspect_before();
  return suspect || (!options_.server_check_query.empty() &&
                     now - conn.last_used >= options_.server_check_delay);
}

Pool::Step Pool::lease_idle_locked(ServerPtr conn, Clock::time_point now) {
  const bool check = needs_check_locked(*conn, now);
  leased_.push_back(conn.get());
  Step step;
  step.kind = check ? Step::Kind::kCheck : Step::Kind::kLeased;
  step.conn = std::move(conn);
  return step;
}

void Pool::read_limits_locked(WaitLimits& limits) const {
  limits.known = true;
  if (options_.query_wait_timeout.count() > 0) {
    limits.deadline = limits.start + options_.query_wait_timeout;
  }
  if (options_.settings.reserve_pool_size > 0) {
    limits.reserve_at = limits.start + options_.settings.reserve_pool_timeout;
  }
}

void Pool::queue_locked(const std::shared_ptr<Waiter>& waiter, const WaitLimits& limits) {
  waiter->wake_at = std::min(limits.deadline, limits.reserve_at);
  waiter->turn.store(Waiter::kQueued, std::memory_order_relaxed);
  waiter->queued.store(true, std::memory_order_relaxed);
  enqueue_locked(waiter);
  arm_expiry_locked(waiter->wake_at, waiter->ex);
}

net::WakeUp::Taken Pool::ready_locked(Waiter& waiter, bool take) {
  if (waiter.turn.exchange(Waiter::kReady, std::memory_order_acq_rel) != Waiter::kParked) {
    return {};  // not parked yet: wait_turn() sees kReady and resumes it itself
  }
  if (take) return waiter.wake.take();
  waiter.wake.notify_later();
  return {};
}

Pool::Step Pool::next_step(const asio::any_io_executor& ex, Clock::time_point now, bool may_evict,
                           std::shared_ptr<Waiter>& waiter, WaitLimits& limits) {
  std::lock_guard lock(mutex_);
  Step step;
  std::optional<Clock::time_point> retry_at;
  if (!db_->paused) {
    while (!idle_.empty()) {
      ServerPtr conn = take_idle_locked(ex);
      if (expired_locked(*conn, now)) {
        drop_locked(std::move(conn));
        continue;
      }
      const bool suspect = conn->checked < host_->suspect_before();
      if ((suspect || now - conn->last_used >= kPeekAfterIdle) && looks_dead(*conn)) {
        host_->mark_suspect(now);  // the server closed it: its siblings may be stale too
        drop_locked(std::move(conn));
        continue;
      }
      return lease_idle_locked(std::move(conn), now);
    }
    if (can_open_locked(false)) {
      step.admission = host_->admit(now);
      switch (step.admission.kind) {
        case Admission::Kind::kGo:
          SLUICE_TAKE_SLOT();
          step.kind = Step::Kind::kOpen;
          return step;
        case Admission::Kind::kFailFast:
          step.kind = Step::Kind::kFail;
          step.error = host_->failing_error("failing fast");
          return step;
        case Admission::Kind::kWait:
          retry_at = step.admission.until;
          break;
      }
    } else if (may_evict && db_cap_blocks_locked()) {
      step.kind = Step::Kind::kEvict;
      return step;
    }
  }
  // From the worker's recycling allocator: at -c 200 nearly every transaction waits here,
  // and a malloc and free per wait showed among the hot path's costs.
  if (!waiter) waiter = std::allocate_shared<Waiter>(asio::recycling_allocator<Waiter>(), ex);
  if (!limits.known) read_limits_locked(limits);
  queue_locked(waiter, limits);
  if (retry_at) schedule_wake_locked(*retry_at);
  step.kind = Step::Kind::kWait;
  return step;
}

void Pool::park(Waiter& waiter, net::WakeUp::Parked handler) {
  waiter.wake.park(std::move(handler));
  uint8_t expected = Waiter::kQueued;
  if (!waiter.turn.compare_exchange_strong(expected, Waiter::kParked, std::memory_order_acq_rel)) {
    waiter.wake.notify_later();
  }
}

Pool::Handed Pool::take_handed(Ticket& ticket) {
  Handed handed;
  Waiter& waiter = *ticket.waiter_;
  // Taken out of the queue with its result: nothing else writes to it (see Waiter).
  if (waiter.queued.load(std::memory_order_acquire) || !waiter.conn) return handed;
  handed.conn = std::move(waiter.conn);
  handed.waited =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ticket.limits_.start);
  ticket.waiter_.reset();
  return handed;
}

asio::awaitable<AcquireResult> Pool::acquire() { return acquire(Ticket()); }

asio::awaitable<AcquireResult> Pool::acquire(Ticket ticket) {
  auto ex = co_await asio::this_coro::executor;
  // A woken ticket goes on from its wait (after_wake()), else the first step is next_step().
  bool woken = ticket.queued();
  std::shared_ptr<Waiter> waiter = std::move(ticket.waiter_);
  WaitLimits limits = ticket.limits_;  // read by next_step() when it first queues
  if (!woken) limits.start = Clock::now();
  const auto start = limits.start;
  std::optional<PoolOptions> opts;  // read when first needed (a check): not on the fast path
  auto waited = [start] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  };
  for (bool may_evict = true;;) {
    Step step;
    if (woken) {
      woken = false;
      step = after_wake(*waiter, limits);
    } else {
      step = next_step(ex, Clock::now(), may_evict, waiter, limits);
    }
    if (step.kind == Step::Kind::kEvict) {
      may_evict = false;  // one eviction attempt, then queue like everyone else
      db_->evict_idle_except(this);
      continue;
    }
    if (step.kind == Step::Kind::kWait) {
      do {
        co_await wait_turn(waiter, kNoThrow);
        step = after_wake(*waiter, limits);
      } while (step.kind == Step::Kind::kWait);
    }
    AcquireResult r;
    switch (step.kind) {
      case Step::Kind::kCheck: {
        if (!opts) opts = options();
        const bool ok =
            co_await check_server_connection(*step.conn, opts->server_check_query,
                                             opts->server_connect_timeout, opts->max_message_size);
        if (!ok) {
          drop(std::move(step.conn));
          continue;
        }
        r.conn = std::move(step.conn);
        break;
      }
      case Step::Kind::kOpen: {
        r = co_await open_new(step.admission);
        if (r.conn || !r.error || !is_transient_connect_error(*r.error)) break;
        // The server may be restarting: keep waiting, with backoff, up to the deadline.
        std::lock_guard lock(mutex_);
        if (!limits.known) read_limits_locked(limits);
        if (Clock::now() < limits.deadline) continue;
        r.error = wait_timeout_error_locked();
        break;
      }
      case Step::Kind::kFail:
        r.error = std::move(step.error);
        break;
      default:
        r.conn = std::move(step.conn);
        break;
    }
    r.waited = waited();
    co_return r;
  }
}

std::optional<Pool::Step> Pool::take_result(Waiter& waiter) {
  Step step;
  if (waiter.conn) {
    step.kind = Step::Kind::kLeased;
    step.conn = std::move(waiter.conn);
  } else if (waiter.may_connect) {
    waiter.may_connect = false;
    step.kind = Step::Kind::kOpen;
    step.admission = waiter.admission;
  } else if (waiter.error) {
    step.kind = Step::Kind::kFail;
    step.error = std::move(waiter.error);
    waiter.error.reset();
  } else {
    return std::nullopt;
  }
  return step;
}

Pool::Step Pool::after_wake(Waiter& waiter, WaitLimits& limits) {
  // Taken out of the queue with its result: nothing else writes to it (see Waiter).
  if (!waiter.queued.load(std::memory_order_acquire)) {
    if (auto step = take_result(waiter)) return *std::move(step);
  }
  std::lock_guard lock(mutex_);
  if (auto step = take_result(waiter)) return *std::move(step);
  // Still queued: its wake_at passed.
  Step step;
  const auto now = Clock::now();
  if (now >= limits.reserve_at) {
    limits.reserve_at = Clock::time_point::max();
    if (!db_->paused && can_open_locked(true)) {
      step.admission = host_->admit(now);
      if (step.admission.kind == Admission::Kind::kGo) {
        remove_waiter_locked(waiter);
        SLUICE_TAKE_SLOT();
        spdlog::info("pool {}/{}: using reserve pool", database_, user_);
        step.kind = Step::Kind::kOpen;
        return step;
      }
    }
  }
  if (now >= limits.deadline) {
    remove_waiter_locked(waiter);
    step.kind = Step::Kind::kFail;
    step.error = wait_timeout_error_locked();
    return step;
  }
  waiter.wake_at = std::min(limits.deadline, limits.reserve_at);
  waiter.turn.store(Waiter::kQueued, std::memory_order_relaxed);
  arm_expiry_locked(waiter.wake_at, waiter.ex);
  step.kind = Step::Kind::kWait;
  return step;
}

void Pool::remove_waiter_locked(Waiter& waiter) {
  std::erase_if(waiters_, [&waiter](const auto& w) { return w.get() == &waiter; });
  waiter.queued.store(false, std::memory_order_relaxed);
}

void Pool::arm_expiry_locked(Clock::time_point when, const asio::any_io_executor& ex) {
  if (when >= expiry_at_) return;  // (also when `when` is max: no limit)
  expiry_at_ = when;
  auto timer = std::make_shared<asio::steady_timer>(ex, when);
  timer->async_wait([weak = weak_from_this(), timer, when](std::error_code) {
    auto self = weak.lock();
    if (!self) return;
    std::lock_guard lock(self->mutex_);
    if (self->expiry_at_ == when) self->expiry_at_ = Clock::time_point::max();
    self->expire_waiters_locked(Clock::now());
  });
}

void Pool::expire_waiters_locked(Clock::time_point now) {
  // Rare (once per limit's length, not per wait), so a walk over the queue is fine.
  auto next = Clock::time_point::max();
  const Waiter* next_waiter = nullptr;
  for (const auto& w : waiters_) {
    if (w->wake_at <= now) {
      w->wake_at = Clock::time_point::max();  // (until after_wake() sets the next one)
      ready_locked(*w);
    } else if (w->wake_at < next) {
      next = w->wake_at;
      next_waiter = w.get();
    }
  }
  if (next_waiter) arm_expiry_locked(next, next_waiter->ex);
}

ServerError Pool::wait_timeout_error_locked() const {
  const auto seconds = std::chrono::duration<double>(options_.query_wait_timeout).count();
  if (auto failing = host_->failing_error(
          fmt::format("no server connection within query_wait_timeout ({:g}s)", seconds))) {
    return *failing;
  }
  return ServerError{std::string(protocol::sqlstate::kProtocolViolation), "query_wait_timeout",
                     "ERROR"};
}

asio::awaitable<AcquireResult> Pool::open_new(Admission admission) {
  ServerCredentials creds;
  PoolOptions opts;
  {
    std::lock_guard lock(mutex_);
    creds = creds_;
    opts = options_;
  }
  ConnectResult c = co_await connect_server(target_, creds, opts.server_connect_timeout, tls_,
                                            opts.max_message_size);
  // (No ?: on temporaries in a coroutine: GCC 12 destroys them twice.)
  std::optional<ServerError> failure;
  if (!c.conn) failure = c.error;
  if (!c.conn && !failure) {
    failure.emplace();
    failure->sqlstate = protocol::sqlstate::kConnectionFailure;
    failure->message = "could not connect to server";
  }
  host_->attempt_done(admission, failure, Clock::now());
  if (failure) {
    spdlog::warn("pool {}/{}: could not connect to {}:{}: {}", database_, user_, target_.host,
                 target_.port, failure->message);
  }
  AcquireResult r;
  std::lock_guard lock(mutex_);
  --opening_;
  if (!c.conn) {
    --total_;
    --db_->total;
    wake_connect_locked();
    r.error = failure;
    co_return r;
  }
  c.conn->id = next_id_++;
  c.conn->pool = this;
  if (!server_params_) server_params_ = std::make_shared<const FlatStringMap>(c.conn->params);
  leased_.push_back(c.conn.get());
  r.conn = std::move(c.conn);
  // After failures, waiters held back by the host may connect again.
  wake_connect_locked();
  co_return r;
}

void Pool::forget(ServerConnection* conn) { std::erase(leased_, conn); }

void Pool::drop_locked(ServerPtr conn) {
  --total_;
  --db_->total;
  conn->stream.close();
}

void Pool::drop(ServerPtr conn) {
  std::lock_guard lock(mutex_);
  forget(conn.get());
  drop_locked(std::move(conn));
  wake_connect_locked();
}

net::WakeUp::Taken Pool::hand_over_locked(ServerPtr conn, bool take) {
  auto pick = waiters_.begin();
  const asio::any_io_executor home = conn->stream.executor();
  if ((*pick)->ex != home) {
    // A waiter on the connection's own worker keeps the socket where it is registered
    // (moving it costs system calls and a cross-thread wake-up). Only one that
    // arrived within local_hand_off_slack of the first in line may go ahead of it, so
    // arrival order bends by at most that much and no one waits on the preference.
    const Clock::time_point latest = (*pick)->since + options_.local_hand_off_slack;
    for (auto it = std::next(pick); it != waiters_.end() && (*it)->since <= latest; ++it) {
      if ((*it)->ex == home) {
        pick = it;
        break;
      }
    }
  }
  std::shared_ptr<Waiter> w = std::move(*pick);
  waiters_.erase(pick);
  leased_.push_back(conn.get());
  w->conn = std::move(conn);
  w->queued.store(false, std::memory_order_release);
  return ready_locked(*w, take);
}

void Pool::wake_connect_locked() {
  if (db_->paused) return;
  while (!waiters_.empty() && can_open_locked(false)) {
    const Admission admission = host_->admit(Clock::now());
    if (admission.kind == Admission::Kind::kWait) {
      schedule_wake_locked(admission.until);
      return;
    }
    if (admission.kind == Admission::Kind::kFailFast) {
      if (auto error = host_->failing_error("failing fast")) fail_waiters_locked(*error);
      return;
    }
    std::shared_ptr<Waiter> w = waiters_.front();
    waiters_.pop_front();
    SLUICE_TAKE_SLOT();
    w->may_connect = true;
    w->admission = admission;
    w->queued.store(false, std::memory_order_release);
    ready_locked(*w);
  }
}

void Pool::schedule_wake_locked(Clock::time_point when) {
  if (waiters_.empty() || when >= wake_at_) return;
  wake_at_ = when;
  auto timer = std::make_shared<asio::steady_timer>(waiters_.front()->ex, when);
  timer->async_wait([weak = weak_from_this(), timer, when](std::error_code) {
    auto self = weak.lock();
    if (!self) return;
    std::lock_guard lock(self->mutex_);
    if (self->wake_at_ == when) self->wake_at_ = Clock::time_point::max();
    self->wake_connect_locked();
  });
}

void Pool::fail_waiters_locked(const ServerError& error) {
  for (const auto& w : waiters_) {
    w->error = error;
    w->queued.store(false, std::memory_order_release);
    ready_locked(*w);
  }
  waiters_.clear();
}

void Pool::release(ServerPtr conn, Clock::time_point now, bool resume_here) {
  conn->last_used = now;
  conn->active = false;
  conn->client_id = 0;
  std::unique_lock lock(mutex_);
  forget(conn.get());
  const bool expired = expired_locked(*conn, conn->last_used);
  // Past pool_size (+ reserve_pool_size), after a RELOAD made the pool smaller: closed.
  const bool reusable = !conn->broken && conn->tx_status == 'I' && conn->stream.is_open() &&
                        !expired && !over_size_locked();
  if (!reusable) {
    // Broken by the server (it closed the connection or sent a FATAL): it may have
    // restarted, so the other connections to it are suspect until checked.
    if (conn->broken && conn->stream.is_open() && looks_dead(*conn))
      host_->mark_suspect(conn->last_used);
    --total_;
    --db_->total;
    wake_connect_locked();
    lock.unlock();
    conn->stream.close();
    return;
  }
  if (!db_->paused && !waiters_.empty()) {
    net::WakeUp::Taken woken = hand_over_locked(std::move(conn), resume_here);
    lock.unlock();
    woken.resume();
    return;
  }
  idle_.push_back(std::move(conn));
}

std::shared_ptr<const FlatStringMap> Pool::server_params() const {
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
  std::vector<ServerPtr> to_close;
  {
    std::lock_guard lock(mutex_);
    options_ = std::move(options);
    // A smaller pool: idle connections past the new size close now, leased ones when
    // they come back (release()). A larger one: waiting clients may open connections.
    trim_idle_locked(to_close);
    wake_connect_locked();
  }
  for (auto& c : to_close) c->stream.close();
}

PoolOptions Pool::options() const {
  std::lock_guard lock(mutex_);
  return options_;
}

std::chrono::milliseconds Pool::query_wait_timeout() const {
  std::lock_guard lock(mutex_);
  return options_.query_wait_timeout;
}

void Pool::maintain(const asio::any_io_executor& ex) {
  std::vector<ServerPtr> to_close;
  std::vector<Admission> to_open;
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
      const bool dead = looks_dead(c);
      if (dead) host_->mark_suspect(now);
      if (idle_too_long || too_old || dead) {
        to_close.push_back(std::move(*it));
        it = idle_.erase(it);
        --total_;
        --db_->total;
      } else {
        ++it;
      }
    }
    trim_idle_locked(to_close);
    if (!db_->paused) {
      while (total_ < o.settings.min_pool_size && can_open_locked(false)) {
        const Admission admission = host_->admit(now);
        if (admission.kind != Admission::Kind::kGo) break;  // the host is failing: not now
        SLUICE_TAKE_SLOT();
        to_open.push_back(admission);
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
  for (const Admission& admission : to_open) {
    asio::co_spawn(
        ex,
        [this, admission]() -> asio::awaitable<void> {
          AcquireResult r = co_await open_new(admission);
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
