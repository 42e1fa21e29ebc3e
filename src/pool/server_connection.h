// One connection from the proxy to a PostgreSQL server, and the login that opens it.
// Ownership: a ServerConnection is owned by exactly one place at a time — its Pool's idle
// list, or the client session holding its Lease. The socket is registered with the event
// loop of the worker that opened it; whoever holds it may use it from its own worker.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/flat_string_map.h"
#include "config/config.h"
#include "net/read_buffer.h"
#include "net/stream.h"
#include "pool/statement_cache.h"
#include "protocol/reader.h"
#include "protocol/scram.h"

namespace sluice::pool {

using Clock = std::chrono::steady_clock;

// Where and as whom to log in.
struct ServerTarget {
  std::string host;
  uint16_t port = 5432;
  std::string dbname;
  std::string user;
  config::ServerSslMode sslmode = config::ServerSslMode::kPrefer;
};

// What the proxy can prove to the server; any subset may be present.
struct ServerCredentials {
  std::optional<std::string> password;                 // plain text
  std::optional<std::string> md5_secret;               // "md5..." stored form
  std::optional<protocol::ScramKey> scram_client_key;  // recovered from a client's SCRAM login
  std::optional<protocol::ScramKey> scram_server_key;
};

// An error to report to a client: SQLSTATE, message, and whether the server sent it.
struct ServerError {
  std::string sqlstate;
  std::string message;
  std::string severity = "ERROR";
};

class Pool;

class ServerConnection {
 public:
  explicit ServerConnection(net::tcp::socket socket) : stream(std::move(socket)) {}

  net::Stream stream;
  net::ReadBuffer in;
  protocol::BackendKey key;
  FlatStringMap params;                // last ParameterStatus values, plus extras
  std::set<std::string> extra_params;  // non-reported parameters the proxy SET
  ServerStatementCache statements;     // prepared statements (transaction mode)
  std::string params_fingerprint;      // the client parameters it was last synced to ("" = unknown)
  char tx_status = 'I';
  Clock::time_point created = Clock::now();
  Clock::time_point last_used = Clock::now();
  // Last known good (login or a passed check); compared with ServerHost::suspect_before().
  Clock::time_point checked = created;
  uint64_t id = 0;
  std::string host;
  uint16_t port = 0;
  Pool* pool = nullptr;
  // Read by the admin console from other threads.
  std::atomic<bool> active{false};
  std::atomic<uint64_t> client_id{0};
  bool broken = false;  // must not return to the pool
};

using ServerPtr = std::unique_ptr<ServerConnection>;

struct ConnectResult {
  ServerPtr conn;
  std::optional<ServerError> error;
};

// TLS client contexts shared by all server connections (one per sslmode family).
struct ServerTls {
  asio::ssl::context no_verify{asio::ssl::context::tls_client};
  asio::ssl::context verify{asio::ssl::context::tls_client};
  explicit ServerTls(const std::string& ca_file);
};

// Connects, negotiates TLS per sslmode, sends the startup packet and authenticates.
asio::awaitable<ConnectResult> connect_server(const ServerTarget& target,
                                              const ServerCredentials& creds,
                                              std::chrono::milliseconds timeout, ServerTls& tls,
                                              size_t max_message_size);

// Result of a query the proxy runs itself (reset, SET, checks, auth_query).
struct QueryResult {
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::optional<ServerError> error;
  bool io_failed = false;
};

// Runs `sql` with the simple protocol and reads through ReadyForQuery.
asio::awaitable<QueryResult> run_simple_query(ServerConnection& conn, const std::string& sql,
                                              size_t max_message_size);
// Runs `sql` with one text parameter through the extended protocol.
asio::awaitable<QueryResult> run_param_query(ServerConnection& conn, const std::string& sql,
                                             const std::string& param, size_t max_message_size);

// Sends Terminate and closes.
asio::awaitable<void> terminate_server(ServerConnection& conn);

}  // namespace sluice::pool
