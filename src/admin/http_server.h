// A minimal HTTP/1.1 server for the admin endpoints (/metrics, /health, /ready,
// /api/v1/...). Hand-written on asio because Debian bookworm packages no HTTP server
// library that fits (Boost.Beast would pull all of Boost, cpp-httplib is not packaged, and
// libmicrohttpd brings its own threads and event loop): the endpoints need one request per
// connection, small headers, a small body and Connection: close, which is ~200 lines.
//
// Threading: runs on the io_context it is given (the runtime's own HTTP thread), one
// coroutine per connection; handlers may co_await (PAUSE waits for leases to return).
#pragma once

#include <asio.hpp>
#include <functional>
#include <map>
#include <string>

namespace sluice::admin {

struct HttpRequest {
  std::string method;                          // GET, POST, ...
  std::string path;                            // without the query string
  std::map<std::string, std::string> query;    // ?a=b&c=d, percent-decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool loopback_peer = false;  // the client connected from 127.0.0.0/8 or ::1
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers
};

using HttpHandler = std::function<asio::awaitable<HttpResponse>(const HttpRequest&)>;

// Limits that keep a misbehaving client from holding memory or a connection.
inline constexpr size_t kMaxHttpHeaderBytes = size_t{16} * 1024;
inline constexpr size_t kMaxHttpBodyBytes = size_t{64} * 1024;
inline constexpr std::chrono::seconds kHttpRequestTimeout{10};

class HttpServer {
 public:
  // Binds and listens at once; throws std::runtime_error naming the address on failure.
  HttpServer(asio::io_context& io, const std::string& host, uint16_t port, HttpHandler handler);
  // On a listening socket opened elsewhere (one a takeover handed over).
  HttpServer(asio::ip::tcp::acceptor listening, HttpHandler handler);
  void start();
  // Stops accepting (requests under way finish); run it on the server's io_context.
  void stop();
  int native_handle() { return acceptor_.native_handle(); }

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(asio::ip::tcp::socket socket);

  asio::ip::tcp::acceptor acceptor_;
  HttpHandler handler_;
  bool stopping_ = false;
};

// Parses the request line and headers of `head` (everything before the blank line).
// Returns false for a malformed request.
bool parse_http_head(std::string_view head, HttpRequest& out);
std::string http_status_text(int status);

}  // namespace sluice::admin
