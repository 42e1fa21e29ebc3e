#include "admin/http_api.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "admin/admin_console.h"
#include "admin/metrics.h"
#include "admin/query_report.h"
#include "admin/show_commands.h"
#include "admin/show_util.h"
#include "net/no_throw.h"
#include "router/statement_classifier.h"
#include "stats/slow_query_log.h"

namespace sluice::admin {

namespace {

using net::kNoThrow;
using nlohmann::json;

constexpr auto kReadyConnectTimeout = std::chrono::seconds(1);
constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kHttpCaller = "http-api";

HttpResponse json_response(int status, const json& body) {
  return {status, "application/json", body.dump(2) + "\n", {}};
}

HttpResponse error_response(int status, std::string_view message) {
  return json_response(status, json{{"error", message}});
}

// Compares without stopping at the first difference, so timing tells nothing.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

bool authorized(const config::Config& cfg, const HttpRequest& r) {
  if (cfg.admin_token.empty()) return r.loopback_peer;
  const auto it = r.headers.find("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (it == r.headers.end() || !std::string_view(it->second).starts_with(kBearer)) return false;
  return same_secret(std::string_view(it->second).substr(kBearer.size()), cfg.admin_token);
}

std::string iso_time(SystemTime t) {
  std::string s = format_time(t);  // "YYYY-mm-dd HH:MM:SS UTC"
  return s.substr(0, 10) + "T" + s.substr(11, 8) + "Z";
}

json pools_json(server::ProxyContext& ctx) {
  json out = json::array();
  for (const auto& [key, l] : collect_pool_lines(ctx)) {
    json p = {{"database", key.first},
              {"user", key.second},
              {"pool_mode", l.mode.value_or("")},
              {"clients_active", l.cl_active},
              {"clients_waiting", l.cl_waiting},
              {"servers_active", l.sv.active},
              {"servers_idle", l.sv.idle},
              {"servers_opening", l.sv.opening},
              {"max_wait_seconds", static_cast<double>(l.max_wait_us) / 1e6}};
    if (l.pool) {
      const stats::Totals t = l.pool->stats().totals();
      p["pool_size"] = l.pool->options().settings.pool_size;
      p["transactions"] = t.xact_count;
      p["queries"] = t.query_count;
      p["bytes_received"] = t.bytes_received;
      p["bytes_sent"] = t.bytes_sent;
      p["query_time_seconds"] = static_cast<double>(t.query_time_us) / 1e6;
      p["wait_time_seconds"] = static_cast<double>(t.wait_time_us) / 1e6;
    }
    out.push_back(std::move(p));
  }
  return out;
}

json clients_json(server::ProxyContext& ctx) {
  json out = json::array();
  auto clients = ctx.clients.all();
  std::sort(clients.begin(), clients.end(),
            [](const auto& a, const auto& b) { return a->id < b->id; });
  for (const auto& c : clients) {
    const session::ClientState state = c->state.load(std::memory_order_acquire);
    if (state == session::ClientState::kLogin) continue;  // user/database not set yet
    json pins = json::array();
    const uint8_t bits = c->pins.load(std::memory_order_relaxed);
    for (size_t r = 0; r < router::kPinReasonCount; ++r) {
      if (bits & (1u << r)) pins.push_back(router::to_string(static_cast<router::PinReason>(r)));
    }
    const uint64_t server = c->server_id.load(std::memory_order_relaxed);
    out.push_back({{"id", c->id},
                   {"user", c->user},
                   {"database", c->database},
                   {"application_name", c->application_name},
                   {"state", session::to_string(state)},
                   {"addr", c->addr},
                   {"port", c->port},
                   {"tls", c->tls},
                   {"connect_time", iso_time(c->connect_time)},
                   {"server_id", server == 0 ? json(nullptr) : json(server)},
                   {"pins", pins}});
  }
  return out;
}

json servers_json(server::ProxyContext& ctx) {
  json out = json::array();
  for (const auto& p : ctx.pools.all()) {
    for (const pool::Pool::ServerRow& s : p->server_rows()) {
      out.push_back({{"id", s.id},
                     {"database", p->database()},
                     {"user", p->user()},
                     {"state", s.active ? "active" : "idle"},
                     {"host", s.host},
                     {"port", s.port},
                     {"backend_pid", s.backend_pid},
                     {"tls", s.tls},
                     {"created", iso_time(to_system(s.created))},
                     {"last_used", iso_time(to_system(s.last_used))},
                     {"client_id", s.client_id == 0 ? json(nullptr) : json(s.client_id)}});
    }
  }
  return out;
}

json config_json(server::ProxyContext& ctx) {
  const auto cfg = ctx.config();
  json settings = json::object();
  for (const SettingValue& s : settings_of(*cfg)) settings[s.key] = s.value;
  json databases = json::object();
  for (const auto& [name, db] : cfg->databases) {
    databases[name] = {{"host", db.host},
                       {"port", db.port},
                       {"dbname", db.dbname.empty() ? name : db.dbname},
                       {"user", db.user},
                       {"password", db.password.empty() ? "" : "(set)"}};
  }
  return {{"settings", settings}, {"databases", databases}};
}

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

// ?limit=N (1..max), else `fallback`; nullopt when malformed.
std::optional<size_t> limit_of(const HttpRequest& r, size_t fallback) {
  const auto it = r.query.find("limit");
  if (it == r.query.end()) return fallback;
  size_t n = 0;
  const auto [end, ec] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || n == 0) {
    return std::nullopt;
  }
  return n;
}

HttpResponse queries_response(const HttpRequest& r) {
  const auto order_it = r.query.find("order");
  const auto order = parse_query_order(order_it == r.query.end() ? "total_time" : order_it->second);
  if (!order) {
    return error_response(400, fmt::format("order must be one of: {}", kQueryOrderChoices));
  }
  const auto limit = limit_of(r, kDefaultTopQueries);
  if (!limit) return error_response(400, "limit must be a positive integer");
  const QueryReport report = top_queries(*order, *limit);
  json rows = json::array();
  for (const QueryRow& q : report.rows) {
    const stats::QueryEntry& e = q.entry;
    rows.push_back({{"fingerprint", fmt::format("{:016x}", e.fingerprint)},
                    {"query", *e.normalized},
                    {"database", e.database},
                    {"user", e.user},
                    {"application_name", e.application_name},
                    {"calls", e.calls},
                    {"errors", e.errors},
                    {"rows", e.rows},
                    {"total_time_ms", ms(e.exec_us)},
                    {"mean_time_ms", ms(q.mean_us)},
                    {"p50_ms", ms(q.p50_us)},
                    {"p95_ms", ms(q.p95_us)},
                    {"p99_ms", ms(q.p99_us)},
                    {"max_time_ms", ms(e.max_exec_us)},
                    {"wait_time_ms", ms(e.wait_us)}});
  }
  return json_response(
      200, {{"entries", report.total_entries}, {"evictions", report.evictions}, {"queries", rows}});
}

HttpResponse slow_queries_response(const HttpRequest& r) {
  const auto limit = limit_of(r, stats::kRecentSlowQueries);
  if (!limit) return error_response(400, "limit must be a positive integer");
  json rows = json::array();
  for (auto& q : stats::slow_query_log().recent(*limit)) rows.push_back(std::move(q));
  return json_response(200, {{"slow_queries", rows}});
}

// Backends a server connection can be opened to: the default server and [databases].
std::vector<std::pair<std::string, uint16_t>> backends(const config::Config& cfg) {
  std::vector<std::pair<std::string, uint16_t>> out;
  auto add = [&out](const config::DatabaseConfig& db) {
    const std::pair<std::string, uint16_t> hp{db.host, db.port};
    if (std::find(out.begin(), out.end(), hp) == out.end()) out.push_back(hp);
  };
  if (cfg.default_server) add(*cfg.default_server);
  for (const auto& [name, db] : cfg.databases) add(db);
  return out;
}

// One TCP connect with a deadline: can a server connection be opened at all?
asio::awaitable<bool> reachable(const std::string& host, uint16_t port) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), kNoThrow);
  if (rec || results.empty()) co_return false;
  asio::ip::tcp::socket socket(ex);
  asio::steady_timer deadline(ex, kReadyConnectTimeout);
  deadline.async_wait([&socket](std::error_code ec) {
    if (!ec) socket.close(ec);
  });
  auto [ec, ep] = co_await asio::async_connect(socket, results, kNoThrow);
  deadline.cancel();
  co_return !ec;
}

asio::awaitable<HttpResponse> ready(server::ProxyContext& ctx) {
  json servers = json::array();
  bool any = false;
  // A pool with open connections reached its server; otherwise try a connect.
  for (const auto& p : ctx.pools.all()) {
    const pool::PoolSnapshot s = p->snapshot();
    any = any || s.active + s.idle > 0;
  }
  for (const auto& [host, port] : backends(*ctx.config())) {
    const bool ok = co_await reachable(host, port);
    any = any || ok;
    servers.push_back({{"host", host}, {"port", port}, {"reachable", ok}});
  }
  co_return json_response(any ? 200 : 503, {{"ready", any}, {"servers", servers}});
}

// POST /api/v1/<action>[?database=NAME]: the console command of the same name.
asio::awaitable<HttpResponse> action(server::ProxyContext& ctx, const HttpRequest& r,
                                     std::string_view name) {
  std::string command(name);
  for (char& c : command) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto db = r.query.find("database");
  if (db != r.query.end() && !db->second.empty()) {
    if (command == "RELOAD") co_return error_response(400, "reload takes no database");
    // Quoted as an identifier so any name passes through the console's parser.
    std::string quoted = "\"";
    for (char c : db->second) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    command += " " + quoted + "\"";
  }
  const std::string error = co_await run_trusted_command(ctx, command, kHttpCaller);
  if (!error.empty()) co_return error_response(409, error);
  co_return json_response(200, {{"ok", true}, {"command", command}});
}

}  // namespace

asio::awaitable<HttpResponse> handle_http(server::ProxyContext& ctx, const HttpRequest& r) {
  const auto cfg = ctx.config();
  const bool get = r.method == "GET" || r.method == "HEAD";
  if (r.path == "/health") {
    co_return json_response(200, {{"status", "ok"}});
  }
  if (r.path == "/ready") co_return co_await ready(ctx);
  if (!authorized(*cfg, r)) {
    HttpResponse denied = error_response(401, "missing or wrong bearer token (admin.admin_token)");
    denied.headers["WWW-Authenticate"] = "Bearer";
    co_return denied;
  }
  if (r.path == "/metrics" && get) {
    co_return HttpResponse{200, std::string(kPrometheusContentType), render_metrics(ctx), {}};
  }
  constexpr std::string_view kApi = "/api/v1/";
  if (!std::string_view(r.path).starts_with(kApi)) co_return error_response(404, "not found");
  const std::string_view name = std::string_view(r.path).substr(kApi.size());
  if (get) {
    if (name == "pools") co_return json_response(200, pools_json(ctx));
    if (name == "clients") co_return json_response(200, clients_json(ctx));
    if (name == "servers") co_return json_response(200, servers_json(ctx));
    if (name == "config") co_return json_response(200, config_json(ctx));
    if (name == "queries") co_return queries_response(r);
    if (name == "slow_queries") co_return slow_queries_response(r);
  }
  if (name == "reload" || name == "pause" || name == "resume" || name == "reconnect") {
    if (r.method != "POST") co_return error_response(405, "use POST");
    co_return co_await action(ctx, r, name);
  }
  co_return error_response(404, "not found");
}

}  // namespace sluice::admin
