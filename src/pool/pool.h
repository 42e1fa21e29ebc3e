// A pool of server connections for one (database, user), shared by all workers.
// Limits (pool_size, reserve_pool_size, max_db_connections) hold globally; a client that
// finds no free connection waits in one FIFO queue and gets the first connection released
// on any worker. All mutable state below is guarded by mutex_.
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
#include "pool/server_connection.h"
#include "stats/pool_stats.h"

namespace sluice::pool {

class Pool;

// Connection accounting shared by every pool of one database (max_db_connections).
struct DatabaseState {
  std::string name;
  std::atomic<int> total{0};
  std::atomic<bool> paused{false};

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
  size_t max_message_size = 0;
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

class Pool {
 public:
  Pool(std::string database, std::string user, ServerTarget target, ServerCredentials creds,
       PoolOptions options, std::shared_ptr<DatabaseState> db, ServerTls& tls, int worker_slots);

  const std::string& database() const { return database_; }
  const std::string& user() const { return user_; }

  // A server connection for the caller, waiting up to query_wait_timeout.
  asio::awaitable<AcquireResult> acquire();
  // Returns a connection; it is closed instead when broken or not idle ('I').
  void release(ServerPtr conn);

  // Server ParameterStatus values for clients' welcome messages (empty until known).
  FlatStringMap server_params() const;
  // Keys recovered from a client's SCRAM login, used for later server logins.
  void learn_scram_keys(const protocol::ScramKey& client_key, const protocol::ScramKey& server_key);
  void set_options(PoolOptions options);
  PoolOptions options() const;

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

 private:
  struct Waiter;
  bool can_open_locked(bool reserve) const;
  bool db_cap_blocks_locked() const;
  bool expired_locked(const ServerConnection& conn, Clock::time_point now) const;
  // Removes and returns an idle connection (idle_ not empty), preferring one on `ex`.
  ServerPtr take_idle_locked(const asio::any_io_executor& ex);
  asio::awaitable<AcquireResult> open_new();
  void hand_over_locked(ServerPtr conn);
  void wake_connect_locked();
  void forget(ServerConnection* conn);

  const std::string database_;
  const std::string user_;
  const ServerTarget target_;
  std::shared_ptr<DatabaseState> db_;
  ServerTls& tls_;
  stats::PoolStats stats_;

  mutable std::mutex mutex_;
  ServerCredentials creds_;
  PoolOptions options_;
  std::deque<ServerPtr> idle_;                   // most recently used at the back
  std::deque<std::shared_ptr<Waiter>> waiters_;  // FIFO: first to wait is first served
  std::vector<ServerConnection*> leased_;        // for SHOW SERVERS only; not owned
  int total_ = 0;                                // open + opening, counts against pool_size
  int opening_ = 0;
  FlatStringMap server_params_;
  uint64_t next_id_ = 1;
  Clock::time_point reconnect_before_{};  // connections created earlier are not reused
};

}  // namespace sluice::pool
