// libpq-style connection URLs for backend servers ([server] default_server,
// [databases.NAME] url and --server):
//
//   postgresql://[USER[:PASSWORD]@]HOST[:PORT][/DBNAME][?PARAM=VALUE&...]
//
// "postgres://" is accepted too. USER, PASSWORD, HOST, DBNAME and parameter values
// are percent-decoded ("p%40ss" is "p@ss"). IPv6 hosts go in brackets: [::1]:5432.
// Parameters: sslmode (disable|prefer|require|verify-ca|verify-full), and, as in
// libpq, host, port, user, password and dbname (these win over the URL parts).
// A host that starts with '/' is the directory of the server's Unix-domain socket, as in
// libpq: postgresql://%2Fvar%2Frun%2Fpostgresql/db or postgresql:///db?host=/tmp.
// Multiple hosts are not supported.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/load.h"

namespace sluice::config {

inline constexpr std::string_view kPostgresUrlForm =
    "postgresql://[USER[:PASSWORD]@]HOST[:PORT][/DBNAME][?sslmode=MODE]";

// Returns the URL's parts in a DatabaseConfig: host, port (default 5432), dbname
// (empty if absent), user (empty = the client's user), password, and sslmode (unset
// unless ?sslmode= is given). `name` and the pool fields are left unset.
// Throws ConfigError on a malformed URL with a one-line message (password redacted).
DatabaseConfig parse_postgres_url(std::string_view url);

// Same, but reports a malformed URL by returning nullopt and setting *reason to a
// short explanation such as `bad port "x"` (for callers that name the key themselves).
std::optional<DatabaseConfig> try_parse_postgres_url(std::string_view url, std::string* reason);

// The URL with its password (in the user info or a password= parameter) replaced by
// "***", for logs and error messages.
std::string redact_postgres_url(std::string_view url);

}  // namespace sluice::config
