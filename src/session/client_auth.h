// Authenticating a client against a stored secret: trust, MD5 or SCRAM-SHA-256, with the
// secret in any of the forms PgBouncer's userlist.txt and pg_authid hold (plain text,
// "md5...", "SCRAM-SHA-256$..."). Writes the auth requests and, on failure, the FATAL
// ErrorResponse (late, when the client's address failed before: see auth_failures.h);
// the caller sends AuthenticationOk and the rest of the welcome.
#pragma once

#include <asio.hpp>
#include <optional>
#include <string>

#include "config/config.h"
#include "net/read_buffer.h"
#include "net/stream.h"
#include "protocol/scram.h"
#include "session/auth_failures.h"

namespace sluice::session {

struct ClientAuthResult {
  bool ok = false;
  bool answered = false;  // the client gave a password (or SCRAM proof): a failure was wrong
  // Recovered from a SCRAM login against a SCRAM secret: lets the proxy log into the
  // server as this user without knowing the password.
  std::optional<protocol::ScramKey> client_key;
  std::optional<protocol::ScramKey> server_key;
};

// `secret` is nullopt for an unknown user: the exchange still runs (so the reply does
// not reveal which users exist) and then fails. A wrong answer counts against the
// client's address in `failures`, a success clears it (auth.failure_delay*).
asio::awaitable<ClientAuthResult> authenticate_client(net::Stream& client, net::ReadBuffer& in,
                                                      const config::AuthConfig& auth,
                                                      AuthFailures& failures,
                                                      const std::string& user,
                                                      const std::optional<std::string>& secret,
                                                      size_t max_message_size);

// Sends a FATAL ErrorResponse and nothing else.
asio::awaitable<void> send_fatal(net::Stream& client, std::string_view sqlstate,
                                 std::string_view message);

}  // namespace sluice::session
