// State shared by every worker of one `sluice serve` process. Each member says who may
// write it; everything else reads.
#pragma once

#include <array>
#include <asio/ssl.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "config/userlist.h"
#include "pool/pool_manager.h"
#include "session/auth_failures.h"
#include "session/client_registry.h"

namespace sluice::server {

class ProxyContext {
 public:
  ProxyContext(std::shared_ptr<const config::Config> cfg, int workers);

  // Replaced whole on RELOAD (main thread); readers take a snapshot per login.
  std::shared_ptr<const config::Config> config() const { return config_.load(); }
  std::shared_ptr<const config::UserList> users() const { return users_.load(); }
  void set_config(std::shared_ptr<const config::Config> cfg,
                  std::shared_ptr<const config::UserList> users);

  // TLS towards clients; null when no certificate is configured. Replaced on RELOAD.
  std::shared_ptr<asio::ssl::context> client_tls() const { return client_tls_.load(); }
  void set_client_tls(std::shared_ptr<asio::ssl::context> ctx) {
    client_tls_.store(std::move(ctx));
  }

  pool::ServerTls server_tls;
  pool::PoolManager pools;
  session::ClientRegistry clients;
  // Failed password logins per client address (auth.failure_delay); any worker.
  session::AuthFailures auth_failures;
  const int workers;
  // Times a client got pinned, per router::PinReason (SHOW PINS).
  std::array<std::atomic<uint64_t>, 5> pins_total{};
  const std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  // Set by the server runtime: stop everything (SHUTDOWN) / re-read the config file
  // (RELOAD; returns "" or a one-line error).
  std::function<void()> request_shutdown;
  std::function<std::string()> reload;

 private:
  std::atomic<std::shared_ptr<const config::Config>> config_;
  std::atomic<std::shared_ptr<const config::UserList>> users_;
  std::atomic<std::shared_ptr<asio::ssl::context>> client_tls_;
};

// Builds the TLS server context from cert/key files; throws std::runtime_error.
std::shared_ptr<asio::ssl::context> make_client_tls(const config::TlsClientSide& tls);

}  // namespace sluice::server
