// Where a user's secret comes from (the auth file, else auth_query run on the server) and
// which credentials the proxy then uses to log into the server as that user.
#pragma once

#include <asio.hpp>
#include <optional>
#include <string>

#include "config/config.h"
#include "pool/server_connection.h"
#include "server/context.h"

namespace sluice::session {

struct SecretLookup {
  std::optional<std::string> secret;       // nullopt: unknown user
  std::optional<pool::ServerError> error;  // auth_query could not run
};

asio::awaitable<SecretLookup> lookup_secret(server::ProxyContext& ctx, const config::Config& cfg,
                                            const config::DatabaseConfig& db,
                                            const std::string& user);

pool::ServerCredentials server_credentials(const config::Config& cfg,
                                           const config::DatabaseConfig& db,
                                           const std::string& user,
                                           const std::optional<std::string>& secret);

}  // namespace sluice::session
