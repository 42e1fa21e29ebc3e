#include "admin/show_commands.h"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "admin/show_util.h"
#include "router/statement_classifier.h"

namespace sluice::admin {

namespace {

using session::ClientInfo;
using session::ClientState;

// Reads the state first: a client's user/database strings are written during login, so
// they may only be read once the state has left kLogin.
ClientState visible_state(const ClientInfo& c) { return c.state.load(std::memory_order_acquire); }

// How long a queued client has waited so far, in microseconds (0 when not waiting).
int64_t client_wait_us(const ClientInfo& c, ClientState state, int64_t now) {
  if (state != ClientState::kWaiting) return 0;
  const int64_t start = c.wait_start_us.load(std::memory_order_relaxed);
  return start > 0 && now > start ? now - start : 0;
}

// PgBouncer counts clients between transactions as "active" too (CL_ACTIVE): only
// queued clients are "waiting".
const char* pgbouncer_state(ClientState s) {
  switch (s) {
    case ClientState::kWaiting:
      return "waiting";
    case ClientState::kLogin:
      return "login";
    case ClientState::kIdle:
    case ClientState::kActive:
      break;
  }
  return "active";
}

// Pool mode for a (database, user) group that has clients but no pool yet.
std::string configured_pool_mode(const config::Config& cfg, const std::string& db) {
  if (is_admin_database(db)) return std::string(kAdminPoolMode);
  auto resolved = cfg.resolve_database(db);
  return resolved ? config::to_string(cfg.pool_settings_for(*resolved).pool_mode) : "";
}

std::optional<std::string> id_or_null(uint64_t id) {
  if (id == 0) return std::nullopt;
  return std::to_string(id);
}

}  // namespace

PoolLines collect_pool_lines(server::ProxyContext& ctx) {
  const auto cfg = ctx.config();
  PoolLines lines;
  for (const auto& p : ctx.pools.all()) {
    PoolLine& l = lines[{p->database(), p->user()}];
    l.sv = p->snapshot();
    l.max_wait_us = l.sv.max_wait.count();
    l.mode = config::to_string(p->options().settings.pool_mode);
    l.pool = p;
  }
  const int64_t now = now_us();
  for (const auto& c : ctx.clients.all()) {
    const ClientState state = visible_state(*c);
    if (state == ClientState::kLogin) continue;
    PoolLine& l = lines[{c->database, c->user}];
    if (state == ClientState::kWaiting) {
      ++l.cl_waiting;
      l.max_wait_us = std::max(l.max_wait_us, client_wait_us(*c, state, now));
    } else {
      ++l.cl_active;
    }
  }
  for (auto& [key, l] : lines) {
    if (!l.mode) l.mode = configured_pool_mode(*cfg, key.first);
  }
  return lines;
}

void show_pools(server::ProxyContext& ctx, std::string& out) {
  std::vector<Row> rows;
  for (auto& [key, l] : collect_pool_lines(ctx)) {
    // Cancel requests are relayed on their own short-lived connections and never queue,
    // so the *_cancel* columns stay 0; servers have no "used"/"tested" states here.
    rows.push_back({key.first, key.second, num(l.cl_active), num(l.cl_waiting), num(0), num(0),
                    num(l.sv.active), num(0), num(0), num(l.sv.idle), num(0), num(0),
                    num(l.sv.opening), num(l.max_wait_us / kMicrosPerSecond),
                    num(l.max_wait_us % kMicrosPerSecond), l.mode});
  }
  append_result(
      out,
      columns("ssiiiiiiiiiiiiis", {"database", "user", "cl_active", "cl_waiting",
                                   "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active",
                                   "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
                                   "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"}),
      rows);
}

namespace {

// SHOW CLIENTS and SHOW SERVERS share PgBouncer's column list; SHOW SERVERS adds the
// circuit breaker state of each connection's server host.
std::vector<protocol::Column> socket_columns(bool with_breaker = false) {
  auto cols = columns("sssssisissiiississ",
                      {"type", "user", "database", "state", "addr", "port", "local_addr",
                       "local_port", "connect_time", "request_time", "wait", "wait_us",
                       "close_needed", "ptr", "link", "remote_pid", "tls", "application_name"});
  if (with_breaker) cols.push_back({"breaker", protocol::kOidText});
  return cols;
}

// ClientInfo/ServerRow only know whether TLS is on, not PgBouncer's protocol/cipher
// string; an empty value means plain TCP, as in PgBouncer.
std::string tls_text(bool tls) { return tls ? "TLS" : ""; }

}  // namespace

void show_clients(server::ProxyContext& ctx, std::string& out) {
  auto clients = ctx.clients.all();
  std::sort(clients.begin(), clients.end(),
            [](const auto& a, const auto& b) { return a->id < b->id; });
  const int64_t now = now_us();
  std::vector<Row> rows;
  for (const auto& c : clients) {
    const ClientState state = visible_state(*c);
    // Clients still logging in have no user/database/address yet: nothing to show.
    if (state == ClientState::kLogin) continue;
    const int64_t wait = client_wait_us(*c, state, now);
    const int64_t request_us = c->request_time_us.load(std::memory_order_relaxed);
    const SystemTime request =
        request_us > 0 ? SystemTime(std::chrono::microseconds(request_us)) : c->connect_time;
    rows.push_back({"C", c->user, c->database, pgbouncer_state(state), c->addr, num(c->port),
                    c->local_addr.str(), num(c->local_port), format_time(c->connect_time),
                    format_time(request), num(wait / kMicrosPerSecond),
                    num(wait % kMicrosPerSecond), num(0), std::to_string(c->id),
                    id_or_null(c->server_id.load(std::memory_order_relaxed)), num(0),
                    tls_text(c->tls), c->application_name});
  }
  append_result(out, socket_columns(), rows);
}

void show_servers(server::ProxyContext& ctx, std::string& out) {
  std::vector<Row> rows;
  const auto now = pool::Clock::now();
  for (const auto& p : ctx.pools.all()) {
    const std::string breaker(pool::to_string(p->host().snapshot(now).breaker));
    for (const pool::Pool::ServerRow& s : p->server_rows()) {
      // The local end of a server socket is not recorded: NULL rather than a guess.
      rows.push_back({"S", p->user(), p->database(), s.active ? "active" : "idle", s.host,
                      num(s.port), std::nullopt, std::nullopt, format_time(to_system(s.created)),
                      format_time(to_system(s.last_used)), num(0), num(0), num(0),
                      std::to_string(s.id), id_or_null(s.client_id), num(s.backend_pid),
                      tls_text(s.tls), "", breaker});
    }
  }
  append_result(out, socket_columns(/*with_breaker=*/true), rows);
}

void show_lists(server::ProxyContext& ctx, std::string& out) {
  const auto cfg = ctx.config();
  std::vector<std::string> dbs;
  for (const auto& [name, db] : cfg->databases) dbs.push_back(name);
  for (const auto& d : ctx.pools.databases()) dbs.push_back(d->name);
  dbs.emplace_back(kAdminDatabase);
  std::sort(dbs.begin(), dbs.end());
  dbs.erase(std::unique(dbs.begin(), dbs.end()), dbs.end());

  const auto users = ctx.users();
  const auto pools = ctx.pools.all();
  int64_t used_servers = 0;
  for (const auto& p : pools) {
    const pool::PoolSnapshot s = p->snapshot();
    used_servers += s.active + s.idle + s.opening;
  }
  const auto clients = ctx.clients.all();
  const int64_t login_clients = std::count_if(clients.begin(), clients.end(), [](const auto& c) {
    return visible_state(*c) == ClientState::kLogin;
  });

  // free_* are PgBouncer's slab free lists; Sluice keeps none.
  const std::vector<Row> rows = {
      {"databases", num(static_cast<int64_t>(dbs.size()))},
      {"users", num(users ? static_cast<int64_t>(users->size()) : 0)},
      {"pools", num(static_cast<int64_t>(pools.size()))},
      {"free_clients", num(0)},
      {"used_clients", num(static_cast<int64_t>(clients.size()))},
      {"login_clients", num(login_clients)},
      {"free_servers", num(0)},
      {"used_servers", num(used_servers)},
  };
  append_result(out, columns("si", {"list", "items"}), rows);
}

void show_version(server::ProxyContext& /*ctx*/, std::string& out) {
  append_result(out, columns("s", {"version"}), {{text(kVersion)}});
}

void show_pins(server::ProxyContext& ctx, std::string& out) {
  std::array<int64_t, router::kPinReasonCount> pinned{};
  for (const auto& c : ctx.clients.all()) {
    const uint8_t pins = c->pins.load(std::memory_order_relaxed);
    for (size_t r = 0; r < pinned.size(); ++r) {
      if (pins & (1u << r)) ++pinned[r];
    }
  }
  std::vector<Row> rows;
  for (size_t r = 0; r < pinned.size(); ++r) {
    rows.push_back({text(router::to_string(static_cast<router::PinReason>(r))), num(pinned[r]),
                    num(static_cast<int64_t>(ctx.pins_total[r].load()))});
  }
  append_result(out, columns("sii", {"reason", "clients", "total"}), rows);
}

}  // namespace sluice::admin
