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
  std::shared_ptr<DatabaseState> database(const std::string& name);
  std::vector<std::shared_ptr<DatabaseState>> databases() const;

  // Applies reloaded settings to existing pools.
  void apply_config(const config::Config& cfg);

  static PoolOptions options_for(const config::Config& cfg, const config::DatabaseConfig& db);
  static ServerTarget target_for(const config::Config& cfg, const config::DatabaseConfig& db,
                                 const std::string& client_user);

 private:
  ServerTls& tls_;
  const int worker_slots_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Pool>> pools_;
  std::map<std::string, std::shared_ptr<DatabaseState>> databases_;
};

}  // namespace sluice::pool
