#include "admin/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <stdexcept>

#include "net/listener.h"
#include "net/no_throw.h"

namespace sluice::admin {

using net::kNoThrow;

namespace {

constexpr std::chrono::milliseconds kAcceptBackoff{50};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void parse_query_string(std::string_view qs, std::map<std::string, std::string>& out) {
  while (!qs.empty()) {
    const size_t amp = qs.find('&');
    const std::string_view pair = qs.substr(0, amp);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[percent_decode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
}

bool is_loopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();  // ::ffff:127.x
  }
  return a.is_loopback();
}

std::string render(const HttpResponse& r) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n", r.status,
      http_status_text(r.status), r.content_type, r.body.size());
  for (const auto& [k, v] : r.headers) out += fmt::format("{}: {}\r\n", k, v);
  out += "\r\n";
  out += r.body;
  return out;
}

HttpResponse plain_error(int status, std::string_view message) {
  return {status, "text/plain; charset=utf-8", std::string(message) + "\n", {}};
}

}  // namespace

std::string http_status_text(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool parse_http_head(std::string_view head, HttpRequest& out) {
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  out.method = std::string(line.substr(0, sp1));
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!line.substr(sp2 + 1).starts_with("HTTP/1.") || target.empty() || target[0] != '/') {
    return false;
  }
  const size_t q = target.find('?');
  out.path = percent_decode(target.substr(0, q));
  if (q != std::string_view::npos) parse_query_string(target.substr(q + 1), out.query);
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    const size_t end = rest.find("\r\n");
    const std::string_view h = rest.substr(0, end);
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    out.headers[lower(trim(h.substr(0, colon)))] = std::string(trim(h.substr(colon + 1)));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
  return true;
}

HttpServer::HttpServer(asio::io_context& io, const std::string& host, uint16_t port,
                       HttpHandler handler)
    : acceptor_(io), handler_(std::move(handler)) {
  std::error_code ec;
  auto address = asio::ip::make_address(host == "*" ? "0.0.0.0" : host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error("cannot resolve admin_listen address " + host + ": " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  const asio::ip::tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot listen on admin_listen {}:{}: {}", host, port, ec.message()));
  }
  acceptor_.listen();
}

HttpServer::HttpServer(asio::ip::tcp::acceptor listening, HttpHandler handler)
    : acceptor_(std::move(listening)), handler_(std::move(handler)) {}

void HttpServer::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void HttpServer::stop() {
  // The accept loop closes the socket once its pending accept has completed.
  stopping_ = true;
  std::error_code ec;
  acceptor_.cancel(ec);
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      spdlog::warn("admin HTTP accept failed: {}", ec.message());
      // Out of descriptors, say: wait a little instead of spinning on the error.
      asio::steady_timer backoff(acceptor_.get_executor(), kAcceptBackoff);
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
  }
  net::close_listener(acceptor_);
}

asio::awaitable<void> HttpServer::serve(asio::ip::tcp::socket socket) {
  // A client that sends too slowly is cut off (the timer closes the socket).
  asio::steady_timer deadline(socket.get_executor(), kHttpRequestTimeout);
  deadline.async_wait([&socket](std::error_code ec) {
    if (!ec) socket.close(ec);
  });
  HttpRequest request;
  std::error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  request.loopback_peer = !peer_ec && is_loopback(peer.address());

  std::string data;
  HttpResponse response;
  bool ok = true;
  size_t head_end = std::string::npos;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > kMaxHttpHeaderBytes) {
      response = plain_error(431, "request headers too large");
      ok = false;
      break;
    }
    char buf[4096];
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), kNoThrow);
    if (ec || n == 0) co_return;
    data.append(buf, n);
  }
  if (ok && head_end > kMaxHttpHeaderBytes) {
    response = plain_error(431, "request headers too large");
    ok = false;
  }
  if (ok && !parse_http_head(std::string_view(data).substr(0, head_end), request)) {
    response = plain_error(400, "malformed HTTP request");
    ok = false;
  }
  if (ok) {
    size_t length = 0;
    if (auto it = request.headers.find("content-length"); it != request.headers.end()) {
      try {
        length = std::stoul(it->second);
      } catch (const std::exception&) {
        length = kMaxHttpBodyBytes + 1;
      }
    }
    if (length > kMaxHttpBodyBytes) {
      response = plain_error(413, "request body too large");
      ok = false;
    } else {
      request.body = data.substr(head_end + 4);
      while (request.body.size() < length) {
        char buf[4096];
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), kNoThrow);
        if (ec || n == 0) co_return;
        request.body.append(buf, n);
      }
      request.body.resize(length);
    }
  }
  if (ok) {
    try {
      response = co_await handler_(request);
    } catch (const std::exception& e) {
      spdlog::error("admin HTTP {} {}: {}", request.method, request.path, e.what());
      response = plain_error(500, "internal error");
    }
  }
  const std::string out = render(response);
  co_await asio::async_write(socket, asio::buffer(out), kNoThrow);
  std::error_code ec;
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  deadline.cancel();
}

}  // namespace sluice::admin
