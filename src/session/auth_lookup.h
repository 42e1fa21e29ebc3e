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

// The lookup when it needs no auth_query (the auth file has the user, or none is set):
// without a coroutine, as every login asks. Nullopt: lookup_secret() must ask the server.
std::optional<SecretLookup> known_secret(server::ProxyContext& ctx, const config::Config& cfg,
                                         const std::string& user);

asio::awaitable<SecretLookup> lookup_secret(server::ProxyContext& ctx, const config::Config& cfg,
                                            const config::DatabaseConfig& db,
                                            const std::string& user);

pool::ServerCredentials server_credentials(const config::Config& cfg,
                                           const config::DatabaseConfig& db,
                                           const std::string& user,
                                           const std::optional<std::string>& secret);

}  // namespace sluice::session
