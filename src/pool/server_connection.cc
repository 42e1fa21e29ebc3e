#include "pool/server_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/socket_path.h"
#include "net/message_io.h"
#include "net/no_throw.h"
#include "net/server_address.h"
#include "protocol/builder.h"
#include "protocol/md5_auth.h"

namespace sluice::pool {

using net::kNoThrow;

namespace {

constexpr int32_t kAuthOk = 0;
constexpr int32_t kAuthCleartext = 3;
constexpr int32_t kAuthMd5 = 5;
constexpr int32_t kAuthSasl = 10;
constexpr int32_t kAuthSaslContinue = 11;
constexpr int32_t kAuthSaslFinal = 12;

ServerError connection_error(std::string message) {
  return ServerError{std::string(protocol::sqlstate::kConnectionFailure), std::move(message),
                     "FATAL"};
}

ServerError from_error_fields(protocol::Bytes body) {
  auto fields = protocol::parse_error_fields(body);
  ServerError e;
  e.sqlstate = fields.count('C') ? fields['C'] : std::string(protocol::sqlstate::kInternalError);
  e.message = fields['M'];
  e.severity = fields.count('V') ? fields['V'] : (fields.count('S') ? fields['S'] : "ERROR");
  return e;
}

// Answers one Authentication request; returns an error when we cannot.
asio::awaitable<std::optional<ServerError>> answer_auth(
    ServerConnection& conn, const ServerTarget& target, const ServerCredentials& creds,
    const protocol::AuthRequest& req, std::optional<protocol::ScramClient>& scram) {
  std::string out;
  switch (req.code) {
    case kAuthCleartext:
      if (!creds.password)
        co_return connection_error(
            "server asked for a password but none is configured for user \"" + target.user + "\"");
      protocol::append_password(out, *creds.password);
      break;
    case kAuthMd5: {
      if (req.data.size() != 4) co_return connection_error("malformed MD5 request from server");
      protocol::Md5Salt salt;
      std::copy(req.data.begin(), req.data.end(), salt.begin());
      std::string secret = creds.md5_secret.value_or("");
      if (creds.password) secret = protocol::md5_stored_secret(target.user, *creds.password);
      if (secret.empty())
        co_return connection_error(
            "server asked for an MD5 password but none is configured for user \"" + target.user +
            "\"");
      protocol::append_password(out, protocol::md5_response_from_secret(secret, salt));
      break;
    }
    case kAuthSasl: {
      if (req.data.find("SCRAM-SHA-256") == std::string::npos) {
        co_return connection_error("server offers no SASL mechanism the proxy supports");
      }
      if (creds.password) {
        scram = protocol::ScramClient::with_password(*creds.password);
      } else if (creds.scram_client_key && creds.scram_server_key) {
        scram = protocol::ScramClient::with_keys(*creds.scram_client_key, *creds.scram_server_key);
      } else {
        co_return connection_error(
            "server asked for SCRAM but the proxy holds no password or SCRAM keys for user \"" +
            target.user + "\"");
      }
      protocol::append_sasl_initial_response(out, "SCRAM-SHA-256", scram->client_first());
      break;
    }
    case kAuthSaslContinue: {
      if (!scram) co_return connection_error("unexpected SASL continue from server");
      auto step = scram->on_server_first(req.data);
      if (!step.ok) co_return connection_error("SCRAM with server failed: " + step.error);
      protocol::append_sasl_response(out, step.message);
      break;
    }
    case kAuthSaslFinal: {
      if (!scram) co_return connection_error("unexpected SASL final from server");
      auto step = scram->on_server_final(req.data);
      if (!step.ok) co_return connection_error("SCRAM server signature invalid: " + step.error);
      co_return std::nullopt;
    }
    default:
      co_return connection_error(
          fmt::format("unsupported authentication method {} requested by server", req.code));
  }
  if (auto ec = co_await conn.stream.write_all(asio::buffer(out))) {
    co_return connection_error("lost server connection during login: " + ec.message());
  }
  co_return std::nullopt;
}

// SSLRequest negotiation per sslmode; returns an error when TLS is required but refused.
asio::awaitable<std::optional<ServerError>> negotiate_tls(ServerConnection& conn,
                                                          const ServerTarget& target,
                                                          ServerTls& tls) {
  using config::ServerSslMode;
  // (libpq too ignores sslmode on Unix-domain sockets, where PostgreSQL offers no TLS.)
  if (target.sslmode == ServerSslMode::kDisable || net::is_unix_socket_dir(target.host)) {
    co_return std::nullopt;
  }
  std::string req;
  protocol::append_ssl_request(req);
  if (auto ec = co_await conn.stream.write_all(asio::buffer(req))) {
    co_return connection_error("could not send SSLRequest: " + ec.message());
  }
  char answer = 0;
  auto [ec, n] =
      co_await asio::async_read(conn.stream.socket(), asio::buffer(&answer, 1), kNoThrow);
  if (ec) co_return connection_error("server closed the connection during SSL negotiation");
  if (answer != 'S') {
    if (target.sslmode == ServerSslMode::kPrefer) co_return std::nullopt;
    co_return connection_error("server does not support SSL, but sslmode requires it");
  }
  const bool verify =
      target.sslmode == ServerSslMode::kVerifyCa || target.sslmode == ServerSslMode::kVerifyFull;
  auto hs = co_await conn.stream.connect_tls(verify ? tls.verify : tls.no_verify, target.host,
                                             target.sslmode == ServerSslMode::kVerifyFull);
  if (hs) co_return connection_error("SSL handshake with server failed: " + hs.message());
  co_return std::nullopt;
}

asio::awaitable<ConnectResult> login(ServerPtr conn, const ServerTarget& target,
                                     const ServerCredentials& creds, ServerTls& tls,
                                     size_t max_message_size) {
  ConnectResult result;
  if (auto err = co_await negotiate_tls(*conn, target, tls)) {
    result.error = err;
    co_return result;
  }
  std::string out;
  protocol::append_startup(out, {{"user", target.user}, {"database", target.dbname}});
  if (auto ec = co_await conn->stream.write_all(asio::buffer(out))) {
    result.error = connection_error("could not send startup packet: " + ec.message());
    co_return result;
  }
  std::optional<protocol::ScramClient> scram;
  for (;;) {
    protocol::Frame f = co_await net::read_message(conn->stream, conn->in, max_message_size);
    if (f.status != protocol::FrameStatus::kMessage) {
      result.error = connection_error("server connection failed during login: " + f.error);
      co_return result;
    }
    switch (f.type) {
      case 'R': {
        auto req = protocol::parse_auth_request(f.body);
        if (!req) {
          result.error = connection_error("malformed authentication request from server");
          co_return result;
        }
        if (req->code != kAuthOk) {
          if (auto err = co_await answer_auth(*conn, target, creds, *req, scram)) {
            result.error = err;
            co_return result;
          }
        }
        break;
      }
      case 'E':
        result.error = from_error_fields(f.body);
        co_return result;
      case 'S':
        if (auto p = protocol::parse_parameter_status(f.body)) conn->params[p->first] = p->second;
        break;
      case 'K':
        if (auto k = protocol::parse_backend_key(f.body)) conn->key = *k;
        break;
      case 'Z':
        conn->in.consume(f.size);
        result.conn = std::move(conn);
        co_return result;
      default:
        break;  // NoticeResponse, NegotiateProtocolVersion: nothing to do
    }
    conn->in.consume(f.size);
  }
}

}  // namespace

ServerTls::ServerTls(const std::string& ca_file) {
  no_verify.set_verify_mode(asio::ssl::verify_none);
  verify.set_verify_mode(asio::ssl::verify_peer);
  std::error_code ec;
  if (!ca_file.empty()) {
    verify.load_verify_file(ca_file, ec);
  } else {
    verify.set_default_verify_paths(ec);
  }
  if (ec) spdlog::warn("could not load server CA file '{}': {}", ca_file, ec.message());
}

namespace {

// Resolves and connects over TCP; the caller's deadline closes the socket when it passes,
// which fails the pending connect, and sets `timed_out`.
asio::awaitable<std::optional<ServerError>> connect_tcp(ServerConnection& conn,
                                                        const ServerTarget& target,
                                                        const bool& timed_out) {
  net::tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(target.host, std::to_string(target.port), kNoThrow);
  if (rec) {
    co_return connection_error(
        fmt::format("could not resolve server host \"{}\": {}", target.host, rec.message()));
  }
  auto [cec, ep] = co_await asio::async_connect(conn.stream.socket(), endpoints, kNoThrow);
  if (cec) {
    co_return connection_error(fmt::format("could not connect to server {}:{}: {}", target.host,
                                           target.port, timed_out ? "timed out" : cec.message()));
  }
  conn.stream.socket().set_option(net::tcp::no_delay(true));
  co_return std::nullopt;
}

}  // namespace

asio::awaitable<ConnectResult> connect_server(const ServerTarget& target,
                                              const ServerCredentials& creds,
                                              std::chrono::milliseconds timeout, ServerTls& tls,
                                              size_t max_message_size) {
  auto ex = co_await asio::this_coro::executor;
  ConnectResult result;
  auto conn = std::make_unique<ServerConnection>(net::tcp::socket(ex));
  conn->host = target.host;
  conn->port = target.port;
  // The deadline closes the socket, which fails whatever operation is pending.
  asio::steady_timer deadline(ex, timeout);
  bool timed_out = false;
  ServerConnection* raw = conn.get();
  deadline.async_wait([raw, &timed_out](std::error_code ec) {
    if (ec) return;
    timed_out = true;
    raw->stream.close();
  });
  std::optional<ServerError> error;
  if (net::is_unix_socket_dir(target.host)) {
    if (auto ec = net::connect_unix_socket(conn->stream.socket(), target.host, target.port)) {
      error = connection_error(fmt::format("could not connect to server socket \"{}\": {}",
                                           postgres_socket_path(target.host, target.port),
                                           ec.message()));
    }
    // (Known, so rebind() and detach() need no getsockname, which has no TCP answer here.)
    conn->stream.set_protocol(net::tcp::v4());
  } else {
    error = co_await connect_tcp(*conn, target, timed_out);
  }
  if (error) {
    deadline.cancel();
    result.error = std::move(error);
    co_return result;
  }
  result = co_await login(std::move(conn), target, creds, tls, max_message_size);
  deadline.cancel();
  if (timed_out && result.error) {
    result.error = connection_error(
        fmt::format("server {} did not complete login within server_connect_timeout",
                    net::server_address(target.host, target.port)));
  }
  co_return result;
}

namespace {

asio::awaitable<QueryResult> read_query_result(ServerConnection& conn, size_t max_message_size) {
  QueryResult result;
  for (;;) {
    protocol::Frame f = co_await net::read_message(conn.stream, conn.in, max_message_size);
    if (f.status != protocol::FrameStatus::kMessage) {
      result.io_failed = true;
      conn.broken = true;
      co_return result;
    }
    switch (f.type) {
      case 'D': {
        protocol::BodyReader r(f.body);
        const int16_t n = r.i16();
        std::vector<std::optional<std::string>> row;
        for (int16_t i = 0; i < n && r.ok(); ++i) {
          const int32_t len = r.i32();
          if (len < 0) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(r.take(static_cast<size_t>(len))));
          }
        }
        result.rows.push_back(std::move(row));
        break;
      }
      case 'E':
        result.error = from_error_fields(f.body);
        break;
      case 'S':
        if (auto p = protocol::parse_parameter_status(f.body)) conn.params[p->first] = p->second;
        break;
      case 'Z':
        if (!f.body.empty()) conn.tx_status = static_cast<char>(f.body[0]);
        conn.in.consume(f.size);
        co_return result;
      default:
        break;
    }
    conn.in.consume(f.size);
  }
}

}  // namespace

namespace {

asio::awaitable<QueryResult> send_and_read(ServerConnection& conn, const std::string& out,
                                           size_t max_message_size) {
  if (auto ec = co_await conn.stream.write_all(asio::buffer(out))) {
    conn.broken = true;
    QueryResult r;
    r.io_failed = true;
    co_return r;
  }
  co_return co_await read_query_result(conn, max_message_size);
}

}  // namespace

asio::awaitable<QueryResult> run_simple_query(ServerConnection& conn, const std::string& sql,
                                              size_t max_message_size) {
  std::string out;
  protocol::append_query(out, sql);
  co_return co_await send_and_read(conn, out, max_message_size);
}

asio::awaitable<QueryResult> run_param_query(ServerConnection& conn, const std::string& sql,
                                             const std::string& param, size_t max_message_size) {
  std::string out;
  protocol::MessageWriter w(out);
  w.begin('P').cstr("").cstr(sql).i16(0).end();
  w.begin('B').cstr("").cstr("").i16(0).i16(1).i32(static_cast<int32_t>(param.size())).raw(param);
  w.i16(0).end();
  w.begin('E').cstr("").i32(0).end();
  protocol::append_sync(out);
  co_return co_await send_and_read(conn, out, max_message_size);
}

asio::awaitable<void> terminate_server(ServerConnection& conn) {
  if (conn.stream.is_open()) {
    std::string out;
    protocol::append_terminate(out);
    co_await conn.stream.write_all(asio::buffer(out));
  }
  conn.stream.close();
}

}  // namespace sluice::pool
