#include "session/client_auth.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "net/address_text.h"
#include "net/message_io.h"
#include "net/no_throw.h"
#include "protocol/builder.h"
#include "protocol/md5_auth.h"
#include "protocol/reader.h"

namespace sluice::session {

namespace {

constexpr int kScramIterationsForPlainSecrets = 4096;

bool is_md5_secret(const std::string& s) { return s.size() == 35 && s.rfind("md5", 0) == 0; }

// Reads the client's next 'p' message body; nullopt when it left or sent something else.
asio::awaitable<std::optional<std::string>> read_password_message(net::Stream& client,
                                                                  net::ReadBuffer& in,
                                                                  size_t max_size) {
  protocol::Frame f = co_await net::read_message(client, in, max_size);
  if (f.status != protocol::FrameStatus::kMessage || f.type != 'p') co_return std::nullopt;
  std::string body(reinterpret_cast<const char*>(f.body.data()), f.body.size());
  in.consume(f.size);
  co_return body;
}

protocol::Bytes as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

asio::awaitable<ClientAuthResult> run_md5(net::Stream& client, net::ReadBuffer& in,
                                          const std::string& user,
                                          const std::optional<std::string>& secret,
                                          size_t max_size) {
  ClientAuthResult result;
  const protocol::Md5Salt salt = protocol::random_md5_salt();
  std::string out;
  protocol::append_auth_md5(out, salt.data());
  if (co_await client.write_all(asio::buffer(out))) co_return result;
  auto body = co_await read_password_message(client, in, max_size);
  if (!body) co_return result;
  result.answered = true;
  auto response = protocol::parse_password(as_bytes(*body));
  if (!response || !secret) co_return result;
  const std::string stored =
      is_md5_secret(*secret) ? *secret : protocol::md5_stored_secret(user, *secret);
  result.ok = protocol::md5_verify(stored, salt, *response);
  co_return result;
}

asio::awaitable<ClientAuthResult> run_scram(net::Stream& client, net::ReadBuffer& in,
                                            const protocol::ScramSecret& scram_secret,
                                            bool secret_known, size_t max_size) {
  ClientAuthResult result;
  std::string out;
  protocol::append_auth_sasl(out, "SCRAM-SHA-256");
  if (co_await client.write_all(asio::buffer(out))) co_return result;
  auto initial_body = co_await read_password_message(client, in, max_size);
  if (!initial_body) co_return result;
  auto initial = protocol::parse_sasl_initial(as_bytes(*initial_body));
  if (!initial || initial->mechanism != "SCRAM-SHA-256") co_return result;
  protocol::ScramServer server(scram_secret);
  auto first = server.on_client_first(initial->data);
  if (!first.ok) co_return result;
  out.clear();
  protocol::append_auth_sasl_continue(out, first.message);
  if (co_await client.write_all(asio::buffer(out))) co_return result;
  auto final_body = co_await read_password_message(client, in, max_size);
  if (!final_body) co_return result;
  result.answered = true;
  auto final_step = server.on_client_final(*final_body);
  if (!final_step.ok || !secret_known) co_return result;
  out.clear();
  protocol::append_auth_sasl_final(out, final_step.message);
  if (co_await client.write_all(asio::buffer(out))) co_return result;
  result.ok = true;
  result.client_key = server.client_key();
  result.server_key = scram_secret.server_key;
  co_return result;
}

// "" when the client is already gone. Clients of the Unix-domain socket all count as one
// address, as every client on 127.0.0.1 does.
std::string address_key_of(const net::Stream& client) {
  const net::tcp::endpoint remote = client.remote_endpoint();
  if (remote.data()->sa_family == AF_UNIX) return std::string(net::kUnixSocketAddress);
  if (remote.port() == 0) return {};
  return AuthFailures::address_key(remote.address());
}

// Counts a wrong password against the client's address and waits as long as that asks
// for, on a timer: the worker serves its other clients meanwhile.
asio::awaitable<void> delay_failure(net::Stream& client, const config::AuthConfig& auth,
                                    AuthFailures& failures, const std::string& user) {
  if (auth.failure_delay.count() <= 0) co_return;
  const std::string address = address_key_of(client);
  if (address.empty()) co_return;
  const AuthFailures::Settings settings{auth.failure_delay, auth.failure_delay_max,
                                        auth.failure_forget_after};
  const auto delay = failures.on_failure(address, settings, AuthFailures::Clock::now());
  if (delay.count() <= 0) co_return;
  spdlog::info("failed password for user \"{}\" from {}: answering after {} ms", user, address,
               delay.count());
  asio::steady_timer timer(client.executor(), delay);
  co_await timer.async_wait(net::kNoThrow);
}

}  // namespace

asio::awaitable<void> send_fatal(net::Stream& client, std::string_view sqlstate,
                                 std::string_view message) {
  std::string out;
  protocol::append_error(out, protocol::kSeverityFatal, sqlstate, message);
  co_await client.write_all(asio::buffer(out));
}

asio::awaitable<ClientAuthResult> authenticate_client(net::Stream& client, net::ReadBuffer& in,
                                                      const config::AuthConfig& auth,
                                                      AuthFailures& failures,
                                                      const std::string& user,
                                                      const std::optional<std::string>& secret,
                                                      size_t max_message_size) {
  const config::AuthType type = auth.type;
  ClientAuthResult result;
  if (type == config::AuthType::kTrust) {
    result.ok = true;
    co_return result;
  }
  auto scram_secret = secret ? protocol::ScramSecret::parse(*secret) : std::nullopt;
  // As PgBouncer does: a SCRAM secret can only be checked with SCRAM, an MD5 secret only
  // with MD5, whatever auth type is configured.
  const bool use_scram = scram_secret.has_value() || (type == config::AuthType::kScramSha256 &&
                                                      !(secret && is_md5_secret(*secret)));
  if (use_scram) {
    bool known = true;
    if (!scram_secret) {
      // A plain password (or an unknown user: a throwaway secret keeps the exchange
      // looking the same) is turned into a SCRAM secret on the fly.
      known = secret.has_value();
      std::string salt(16, '\0');
      RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size()));
      scram_secret = protocol::ScramSecret::from_password(secret.value_or(std::string(32, 'x')),
                                                          salt, kScramIterationsForPlainSecrets);
    }
    result = co_await run_scram(client, in, *scram_secret, known, max_message_size);
    // A plain secret: the proxy knows the password, so no keys are needed for the server.
    if (result.ok && secret && !protocol::ScramSecret::parse(*secret)) {
      result.client_key.reset();
      result.server_key.reset();
    }
  } else {
    result = co_await run_md5(client, in, user, secret, max_message_size);
  }
  if (result.ok) {
    if (!failures.empty()) failures.on_success(address_key_of(client));
    co_return result;
  }
  // A client that left (or never answered) learnt nothing: only wrong answers count.
  if (result.answered) co_await delay_failure(client, auth, failures, user);
  co_await send_fatal(client, protocol::sqlstate::kInvalidPassword,
                      fmt::format("password authentication failed for user \"{}\"", user));
  co_return result;
}

}  // namespace sluice::session
