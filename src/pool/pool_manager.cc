#include "pool/pool_manager.h"

#include "config/priority_classes.h"

namespace sluice::pool {

PoolOptions PoolManager::options_for(const config::Config& cfg, const config::DatabaseConfig& db) {
  PoolOptions o;
  o.settings = cfg.pool_settings_for(db);
  o.query_wait_timeout = cfg.query_wait_timeout;
  o.server_connect_timeout = cfg.server_connect_timeout;
  o.server_idle_timeout = cfg.server_idle_timeout;
  o.server_lifetime = cfg.server_lifetime;
  o.server_check_query = cfg.server_check_query;
  o.server_check_delay = cfg.server_check_delay;
  o.max_message_size = cfg.max_message_size;
  return o;
}

BreakerSettings PoolManager::breaker_settings_for(const config::Config& cfg) {
  BreakerSettings b;
  b.retry_base = cfg.connect_retry_base;
  b.retry_max = cfg.connect_retry_max;
  b.failures_to_open = cfg.breaker_failures;
  b.open_time = cfg.breaker_open_time;
  b.fail_fast = cfg.breaker_fail_fast;
  return b;
}

ServerTarget PoolManager::target_for(const config::Config& cfg, const config::DatabaseConfig& db,
                                     const std::string& client_user) {
  ServerTarget t;
  t.host = db.host;
  t.port = db.port;
  t.dbname = db.dbname.empty() ? db.name : db.dbname;
  t.user = client_user;
  // A [databases] entry's user forces the server login user.
  if (!db.user.empty() && !db.name.empty() && cfg.databases.count(db.name)) t.user = db.user;
  t.sslmode = cfg.sslmode_for(db);
  return t;
}

GateSettings PoolManager::gate_settings_for(const config::Config& cfg,
                                            const config::DatabaseConfig& db) {
  GateSettings g;
  if (cfg.classes.empty()) return g;
  g.budget = config::class_budget(cfg, db);
  g.aging = cfg.class_aging;
  for (const auto& [name, c] : cfg.classes) g.classes.push_back(c);
  return g;
}

std::shared_ptr<DatabaseState> PoolManager::database(const config::Config& cfg,
                                                     const config::DatabaseConfig& db) {
  std::lock_guard lock(mutex_);
  auto& d = databases_[db.name];
  if (!d) {
    d = std::make_shared<DatabaseState>();
    d->name = db.name;
    d->gate.configure(gate_settings_for(cfg, db));
  }
  return d;
}

std::shared_ptr<DatabaseState> PoolManager::find_database(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = databases_.find(name);
  return it == databases_.end() ? nullptr : it->second;
}

std::shared_ptr<Pool> PoolManager::get(const config::Config& cfg, const config::DatabaseConfig& db,
                                       const std::string& client_user,
                                       const ServerCredentials& creds) {
  auto db_state = database(cfg, db);
  std::lock_guard lock(mutex_);
  auto& p = pools_[{db.name, client_user}];
  if (!p) {
    ServerTarget target = target_for(cfg, db, client_user);
    auto& host = hosts_[{target.host, target.port}];
    if (!host)
      host = std::make_shared<ServerHost>(target.host, target.port, breaker_settings_for(cfg));
    p = std::make_shared<Pool>(db.name, client_user, std::move(target), creds, options_for(cfg, db),
                               db_state, host, tls_, worker_slots_);
    db_state->add_pool(p);
  }
  return p;
}

std::vector<std::shared_ptr<Pool>> PoolManager::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Pool>> out;
  for (const auto& [key, pool] : pools_) out.push_back(pool);
  return out;
}

std::vector<std::shared_ptr<DatabaseState>> PoolManager::databases() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<DatabaseState>> out;
  for (const auto& [name, d] : databases_) out.push_back(d);
  return out;
}

std::vector<HostSnapshot> PoolManager::hosts() const {
  std::vector<std::shared_ptr<ServerHost>> hosts;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, host] : hosts_) hosts.push_back(host);
  }
  std::vector<HostSnapshot> out;
  out.reserve(hosts.size());
  const auto now = Clock::now();
  for (const auto& h : hosts) out.push_back(h->snapshot(now));
  return out;
}

std::shared_ptr<ServerHost> PoolManager::find_host(const std::string& host, uint16_t port) const {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find({host, port});
  return it == hosts_.end() ? nullptr : it->second;
}

void PoolManager::apply_config(const config::Config& cfg) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, host] : hosts_) host->set_settings(breaker_settings_for(cfg));
  }
  for (const auto& pool : all()) {
    auto db = cfg.resolve_database(pool->database());
    if (db) pool->set_options(options_for(cfg, *db));
  }
  for (const auto& state : databases()) {
    if (auto db = cfg.resolve_database(state->name)) {
      state->gate.configure(gate_settings_for(cfg, *db));
    } else {
      state->gate.configure(GateSettings{});  // removed: no more classes for it
    }
  }
}

}  // namespace sluice::pool
