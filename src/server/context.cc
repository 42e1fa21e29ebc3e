#include "server/context.h"

#include <stdexcept>

namespace sluice::server {

ProxyContext::ProxyContext(std::shared_ptr<const config::Config> cfg, int worker_count)
    : server_tls(cfg->server_tls.ca_file),
      pools(server_tls, worker_count),
      workers(worker_count),
      config_(std::move(cfg)) {}

void ProxyContext::set_config(std::shared_ptr<const config::Config> cfg,
                              std::shared_ptr<const config::UserList> users) {
  config_.store(std::move(cfg));
  users_.store(std::move(users));
}

std::shared_ptr<asio::ssl::context> make_client_tls(const config::TlsClientSide& tls) {
  if (tls.cert_file.empty()) return nullptr;
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  std::error_code ec;
  ctx->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    throw std::runtime_error("tls.client_cert: cannot load '" + tls.cert_file +
                             "': " + ec.message());
  }
  ctx->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("tls.client_key: cannot load '" + tls.key_file + "': " + ec.message());
  }
  if (!tls.ca_file.empty()) {
    ctx->load_verify_file(tls.ca_file, ec);
    if (ec) {
      throw std::runtime_error("tls.client_ca: cannot load '" + tls.ca_file + "': " + ec.message());
    }
  }
  return ctx;
}

}  // namespace sluice::server
