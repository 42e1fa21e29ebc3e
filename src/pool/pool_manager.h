// All pools of the process, keyed by (client database, client user), plus the per-database
// accounting they share. Pools live until shutdown; lookups take one mutex, once per login.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pool/pool.h"

namespace sluice::pool {

class PoolManager {
 public:
  PoolManager(ServerTls& tls, int worker_slots) : tls_(tls), worker_slots_(worker_slots) {}

  // The pool for a client of `db` logged in as `client_user`, created on first use.
  // `creds` seed the pool's server credentials when it is created.
  std::shared_ptr<Pool> get(const config::Config& cfg, const config::DatabaseConfig& db,
                            const std::string& client_user, const ServerCredentials& creds);

  std::vector<std::shared_ptr<Pool>> all() const;
  // The accounting of database `db` (its gate configured from `cfg` when created).
  std::shared_ptr<DatabaseState> database(const config::Config& cfg,
                                          const config::DatabaseConfig& db);
  // nullptr when no client of that database has logged in yet.
  std::shared_ptr<DatabaseState> find_database(const std::string& name) const;
  std::vector<std::shared_ptr<DatabaseState>> databases() const;
  // The state of each server host:port (breaker, failures), created with its first pool;
  // for SHOW DATABASES / SHOW SERVERS and metrics. find_host: nullptr when none yet.
  std::vector<HostSnapshot> hosts() const;
  std::shared_ptr<ServerHost> find_host(const std::string& host, uint16_t port) const;

  // Applies reloaded settings to existing pools.
  void apply_config(const config::Config& cfg);

  static GateSettings gate_settings_for(const config::Config& cfg,
                                        const config::DatabaseConfig& db);
  static BreakerSettings breaker_settings_for(const config::Config& cfg);
  static PoolOptions options_for(const config::Config& cfg, const config::DatabaseConfig& db);
  static ServerTarget target_for(const config::Config& cfg, const config::DatabaseConfig& db,
                                 const std::string& client_user);

 private:
  ServerTls& tls_;
  const int worker_slots_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Pool>> pools_;
  std::map<std::string, std::shared_ptr<DatabaseState>> databases_;
  std::map<std::pair<std::string, uint16_t>, std::shared_ptr<ServerHost>> hosts_;
};

}  // namespace sluice::pool
