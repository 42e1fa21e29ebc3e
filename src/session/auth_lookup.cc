#include "session/auth_lookup.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pool/pool_manager.h"
#include "protocol/builder.h"
#include "protocol/scram.h"

namespace sluice::session {

pool::ServerCredentials server_credentials(const config::Config& cfg,
                                           const config::DatabaseConfig& db,
                                           const std::string& user,
                                           const std::optional<std::string>& secret) {
  pool::ServerCredentials creds;
  const bool forced_user = !db.user.empty() && cfg.databases.count(db.name) > 0;
  if ((forced_user || user == db.user) && !db.password.empty()) {
    creds.password = db.password;
    return creds;
  }
  if (!secret) return creds;
  if (secret->size() == 35 && secret->rfind("md5", 0) == 0) {
    creds.md5_secret = *secret;
  } else if (!protocol::ScramSecret::parse(*secret)) {
    creds.password = *secret;
  }
  return creds;
}

std::optional<SecretLookup> known_secret(server::ProxyContext& ctx, const config::Config& cfg,
                                         const std::string& user) {
  SecretLookup result;
  if (auto users = ctx.users()) result.secret = users->secret_for(user);
  if (result.secret || cfg.auth.auth_query.empty() || cfg.auth.type == config::AuthType::kTrust) {
    return result;
  }
  return std::nullopt;
}

asio::awaitable<SecretLookup> lookup_secret(server::ProxyContext& ctx, const config::Config& cfg,
                                            const config::DatabaseConfig& db,
                                            const std::string& user) {
  if (auto known = known_secret(ctx, cfg, user)) co_return *std::move(known);
  SecretLookup result;
  auto users = ctx.users();
  // auth_query: log in as auth_user and ask the server for the user's stored secret.
  const std::string& auth_user = cfg.auth.auth_user;
  pool::ServerTarget target = pool::PoolManager::target_for(cfg, db, auth_user);
  target.user = auth_user;
  auto auth_secret = users ? users->secret_for(auth_user) : std::nullopt;
  pool::ServerCredentials creds = server_credentials(cfg, db, auth_user, auth_secret);
  pool::ConnectResult c = co_await pool::connect_server(target, creds, cfg.server_connect_timeout,
                                                        ctx.server_tls, cfg.max_message_size);
  if (!c.conn) {
    spdlog::warn("auth_query login as {} failed: {}", auth_user,
                 c.error ? c.error->message : "unknown error");
    result.error = pool::ServerError{std::string(protocol::sqlstate::kConnectionFailure),
                                     "auth_query failed: could not log in as auth_user", "FATAL"};
    co_return result;
  }
  pool::QueryResult q =
      co_await pool::run_param_query(*c.conn, cfg.auth.auth_query, user, cfg.max_message_size);
  co_await pool::terminate_server(*c.conn);
  if (q.io_failed || q.error) {
    result.error = pool::ServerError{
        std::string(protocol::sqlstate::kConnectionFailure),
        fmt::format("auth_query failed: {}", q.error ? q.error->message : "connection lost"),
        "FATAL"};
    co_return result;
  }
  if (!q.rows.empty() && q.rows[0].size() >= 2 && q.rows[0][1]) result.secret = *q.rows[0][1];
  co_return result;
}

}  // namespace sluice::session
