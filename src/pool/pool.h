// A pool of server connections for one (database, user), shared by all workers.
// Limits (pool_size, reserve_pool_size, max_db_connections) hold globally; a client that
// finds no free connection waits in one queue in arrival order and gets the first
// connection released on any worker (a waiter on that connection's worker may go up to
// local_hand_off_slack ahead). All mutable state below is guarded by mutex_.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/wake_up.h"
#include "pool/priority_gate.h"
#include "pool/server_connection.h"
#include "pool/server_host.h"
#include "stats/pool_stats.h"

namespace sluice::pool {

class Pool;

// Connection accounting shared by every pool of one database (max_db_connections).
struct DatabaseState {
  std::string name;
  std::atomic<int> total{0};
  std::atomic<bool> paused{false};
  PriorityGate gate;  // priority classes sharing this database's budget (off without classes)

  void add_pool(const std::shared_ptr<Pool>& pool);
  // Closes one idle connection of another pool of this database, so a user held back by
  // max_db_connections is not starved by another user's idle connections.
  bool evict_idle_except(const Pool* self);

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<Pool>> pools_;
};

struct PoolOptions {
  config::PoolSettings settings;
  std::chrono::milliseconds query_wait_timeout{0};
  std::chrono::milliseconds server_connect_timeout{0};
  std::chrono::milliseconds server_idle_timeout{0};
  std::chrono::milliseconds server_lifetime{0};
  std::string server_check_query;  // "" = peek only (suspect connections: an empty query)
  std::chrono::milliseconds server_check_delay{0};
  size_t max_message_size = 0;
  // How much later than the first in line a waiter may have arrived and still be handed
  // a released connection first because it waits on the connection's worker. 20 ms: at
  // pgbench -S -c 200 over 20 connections it beat 1 ms on throughput, proxy CPU and p99
  // alike (fewer sockets moved between workers); 100 ms doubled p99 (docs/architecture.md).
  std::chrono::microseconds local_hand_off_slack{20000};
};

struct AcquireResult {
  ServerPtr conn;
  std::optional<ServerError> error;
  std::chrono::microseconds waited{0};
};

// Numbers for SHOW POOLS.
struct PoolSnapshot {
  int active = 0;  // leased to clients
  int idle = 0;
  int opening = 0;
  int waiting = 0;  // clients queued
  std::chrono::microseconds max_wait{0};
};

class Pool : public std::enable_shared_from_this<Pool> {
  struct Waiter;
  // A waiting acquire()'s time limits, read from the options when it first queues.
  struct WaitLimits {
    Clock::time_point start;
    bool known = false;
    Clock::time_point deadline = Clock::time_point::max();    // query_wait_timeout
    Clock::time_point reserve_at = Clock::time_point::max();  // reserve_pool_timeout
  };

 public:
  // A client's place in the wait queue, taken by try_acquire_idle() when every connection
  // is busy. At -c 200 nearly every transaction waits; with a ticket it waits through
  // wait_turn() and take_handed(), without acquire()'s coroutine frame (or its caller's).
  class Ticket {
   public:
    bool queued() const { return waiter_ != nullptr; }

   private:
    friend class Pool;
    std::shared_ptr<Waiter> waiter_;
    WaitLimits limits_;
  };
  Pool(std::string database, std::string user, ServerTarget target, ServerCredentials creds,
       PoolOptions options, std::shared_ptr<DatabaseState> db, std::shared_ptr<ServerHost> host,
       ServerTls& tls, int worker_slots);

  const std::string& database() const { return database_; }
  const std::string& user() const { return user_; }

  // A server connection for the caller, waiting up to query_wait_timeout. Failed
  // connection attempts are retried (backoff and breaker per ServerHost) within that time;
  // idle connections are checked first when due or suspect. Goes on from a woken
  // `ticket` when given one.
  asio::awaitable<AcquireResult> acquire(Ticket ticket);
  asio::awaitable<AcquireResult> acquire();
  // acquire()'s common cases without a coroutine: an idle connection that needs no check,
  // leased at once (no wait). Null when acquire() is needed; nothing is taken then, but
  // when every connection is busy and `ticket` is given, the caller is queued with it.
  ServerPtr try_acquire_idle(const asio::any_io_executor& ex, Clock::time_point now,
                             Ticket* ticket = nullptr);
  // Completes when the queued `ticket` is handed a connection, or has anything else for
  // acquire(ticket) to go on with (a slot to open one, an error, its time limit).
  template <typename Token>
  auto wait_turn(Ticket& ticket, Token&& token) {
    return wait_turn(ticket.waiter_, std::forward<Token>(token));
  }
  // The connection handed to a woken `ticket`, and how long it waited; null (and the ticket
  // kept) when something else woke it: acquire(ticket) then goes on.
  struct Handed {
    ServerPtr conn;
    std::chrono::microseconds waited{0};
  };
  Handed take_handed(Ticket& ticket);
  // Returns a connection; it is closed instead when broken or not idle ('I').
  // `resume_here`: a client waiting on the caller's worker that gets the connection
  // resumes inside this call (after the pool's lock is released) rather than through the
  // event loop's queue: for callers that can have another session run first, as the
  // pump at a transaction's end can.
  void release(ServerPtr conn, Clock::time_point now = Clock::now(), bool resume_here = false);

  // Server ParameterStatus values for clients' welcome messages (null until the first
  // connection tells them). Shared, never edited: every login reads them, and a copy of
  // the map cost a login about twenty allocations.
  std::shared_ptr<const FlatStringMap> server_params() const;
  // Keys recovered from a client's SCRAM login, used for later server logins.
  void learn_scram_keys(const protocol::ScramKey& client_key, const protocol::ScramKey& server_key);
  void set_options(PoolOptions options);
  PoolOptions options() const;
  // Without copying the options (per lease, for the priority gate's deadline).
  std::chrono::milliseconds query_wait_timeout() const;

  // Closes idle connections past server_idle_timeout/server_lifetime, opens up to
  // min_pool_size, wakes waiters that can now connect. Called periodically.
  void maintain(const asio::any_io_executor& ex);
  // Closes every idle connection (RELOAD with changed targets, SHUTDOWN).
  void close_idle();
  // Closes every connection opened until now: idle ones at once, leased ones when they
  // come back (RECONNECT).
  void reconnect();
  // Hands idle connections and free slots to waiting clients (after RESUME).
  void kick();
  // Closes the longest-idle connection, if any (see DatabaseState::evict_idle_except).
  bool close_one_idle();

  PoolSnapshot snapshot() const;
  // Snapshot of the connections for SHOW SERVERS (idle ones and leased ones).
  struct ServerRow {
    uint64_t id;
    bool active;
    std::string host;
    uint16_t port;
    int32_t backend_pid;
    Clock::time_point created;
    Clock::time_point last_used;
    bool tls;
    uint64_t client_id;
  };
  std::vector<ServerRow> server_rows() const;

  stats::PoolStats& stats() { return stats_; }
  DatabaseState& db_state() { return *db_; }
  ServerHost& host() { return *host_; }

 private:
  struct Step;
  void read_limits_locked(WaitLimits& limits) const;
  bool can_open_locked(bool reserve) const;
  bool db_cap_blocks_locked() const;
  // More connections open than pool_size + reserve_pool_size (the pool was made smaller).
  bool over_size_locked() const;
  // Moves idle connections past that size to `to_close` (the caller closes them unlocked).
  void trim_idle_locked(std::vector<ServerPtr>& to_close);
  bool expired_locked(const ServerConnection& conn, Clock::time_point now) const;
  // Removes and returns an idle connection (idle_ not empty), preferring one on `ex`.
  ServerPtr take_idle_locked(const asio::any_io_executor& ex);
  // The one take_idle_locked() takes.
  std::deque<ServerPtr>::iterator pick_idle_locked(const asio::any_io_executor& ex);
  // What acquire() does next when not (or no longer) queued; queues `waiter` (created
  // when null) when it must wait.
  Step next_step(const asio::any_io_executor& ex, Clock::time_point now, bool may_evict,
                 std::shared_ptr<Waiter>& waiter, WaitLimits& limits);
  // Queues `waiter` until a hand-over or its time limit.
  void queue_locked(const std::shared_ptr<Waiter>& waiter, const WaitLimits& limits);
  // Resumes `waiter` (through its event loop), or returns it to be resumed by the caller
  // when `take`, once it parked; else it resumes itself when it parks (see Waiter).
  net::WakeUp::Taken ready_locked(Waiter& waiter, bool take = false);
  // An idle connection due for a check query, or suspect (its server may have restarted).
  bool needs_check_locked(const ServerConnection& conn, Clock::time_point now) const;
  // Hands out an idle connection: leased at once, or after a check when due or suspect.
  Step lease_idle_locked(ServerPtr conn, Clock::time_point now);
  void enqueue_locked(const std::shared_ptr<Waiter>& waiter);
  // Completes once `waiter` is handed a connection or a slot, failed fast, or its wake_at
  // passed. (No lock: see Waiter in pool.cc. A notifier that came first left the handler
  // to it.)
  template <typename Token>
  static auto wait_turn(const std::shared_ptr<Waiter>& waiter, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [waiter](auto handler) { park(*waiter, net::WakeUp::Parked(std::move(handler))); }, token);
  }
  // Stores the handler, and resumes it at once when the waiter was readied first.
  static void park(Waiter& waiter, net::WakeUp::Parked handler);
  // What a woken waiter does next: kWait to wait again (its reserve time passed, with no
  // reserve connection to be had). Ends its wait at the deadline.
  Step after_wake(Waiter& waiter, WaitLimits& limits);
  // The step a hand-over left in `waiter` (a connection, a slot, an error), if any.
  static std::optional<Step> take_result(Waiter& waiter);
  void remove_waiter_locked(Waiter& waiter);
  // The pool's one timer for its waiters' time limits: set for `when` unless set earlier.
  void arm_expiry_locked(Clock::time_point when, const asio::any_io_executor& ex);
  // Wakes the waiters whose wake_at has passed, and sets the timer for the next one.
  void expire_waiters_locked(Clock::time_point now);
  asio::awaitable<AcquireResult> open_new(Admission admission);
  // A connection that failed its check, or leaves the pool for good: gives back its slot.
  void drop(ServerPtr conn);
  void drop_locked(ServerPtr conn);
  // Hands `conn` to a waiter, which is resumed through its event loop, or returned to be
  // resumed by the caller when `take` (see release()).
  net::WakeUp::Taken hand_over_locked(ServerPtr conn, bool take = false);
  // Lets waiting clients open connections, as far as the limits and the host allow.
  void wake_connect_locked();
  // Calls wake_connect_locked() at `when` (the host's next allowed attempt).
  void schedule_wake_locked(Clock::time_point when);
  void fail_waiters_locked(const ServerError& error);
  ServerError wait_timeout_error_locked() const;
  void forget(ServerConnection* conn);

  const std::string database_;
  const std::string user_;
  const ServerTarget target_;
  std::shared_ptr<DatabaseState> db_;
  std::shared_ptr<ServerHost> host_;
  ServerTls& tls_;
  stats::PoolStats stats_;

  mutable std::mutex mutex_;
  ServerCredentials creds_;
  PoolOptions options_;
  std::deque<ServerPtr> idle_;                   // most recently used at the back
  std::deque<std::shared_ptr<Waiter>> waiters_;  // by arrival (see hand_over_locked)
  std::vector<ServerConnection*> leased_;        // for SHOW SERVERS only; not owned
  int total_ = 0;                                // open + opening, counts against pool_size
  int opening_ = 0;
  std::shared_ptr<const FlatStringMap> server_params_;
  uint64_t next_id_ = 1;
  Clock::time_point wake_at_ = Clock::time_point::max();    // a scheduled wake_connect_locked()
  Clock::time_point expiry_at_ = Clock::time_point::max();  // arm_expiry_locked()'s timer
  Clock::time_point reconnect_before_{};  // connections created earlier are not reused
};

}  // namespace sluice::pool
