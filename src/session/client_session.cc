#include "session/client_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "admin/admin_console.h"
#include "admin/show_util.h"
#include "config/priority_classes.h"
#include "net/address_text.h"
#include "net/message_io.h"
#include "net/no_throw.h"
#include "net/parking_lot.h"
#include "protocol/builder.h"
#include "protocol/reader.h"
#include "router/statement_classifier.h"
#include "session/auth_lookup.h"
#include "session/cancel.h"
#include "session/client_auth.h"
#include "session/login_memo.h"
#include "session/session_params.h"
#include "session/worker_sessions.h"

namespace sluice::session {

namespace {

// Server connections tried for one lease when each dies before the client's statements.
constexpr int kLeaseAttempts = 3;
// The welcome (AuthenticationOk, ~14 ParameterStatus, BackendKeyData, ReadyForQuery) is
// ~450 bytes: one allocation instead of a few as it grows.
constexpr size_t kWelcomeBytes = 512;
// A startup packet is ~100 bytes: a small first read keeps a login from taking a 16 KiB
// buffer (the same size read_message() asks for).
constexpr size_t kFirstPacketRead = 64;

using protocol::Frame;
using protocol::FrameStatus;
namespace sqlstate = protocol::sqlstate;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Note: GCC 12 destroys temporaries of a ?: inside a co_await's arguments twice, so
// errors are built into named values before being awaited on.
pool::ServerError error_or(const std::optional<pool::ServerError>& error, std::string fallback) {
  if (error) return *error;
  return pool::ServerError{std::string(sqlstate::kConnectionFailure), std::move(fallback), "FATAL"};
}

}  // namespace

ClientSession::Live::Live(net::tcp::socket socket, size_t max_message_size)
    : client_(std::move(socket)), client_scan_(max_message_size), server_scan_(max_message_size) {}

ClientSession::ClientSession(server::ProxyContext& ctx, net::tcp::socket socket)
    : ctx_(ctx),
      cfg_(ctx.config()),
      max_message_size_(cfg_->max_message_size),
      live_(std::make_unique<Live>(std::move(socket), max_message_size_)),
      last_client_activity_(pool::Clock::now()) {}

ClientSession::~ClientSession() {
  end_fresh_login();
  if (info_) ctx_.clients.remove(*info_);
}

asio::steady_timer& ClientSession::changed() {
  if (!live_->changed_) {
    // Never expires: waits on it end when cancel() wakes every waiter at once.
    live_->changed_ = std::make_unique<asio::steady_timer>(live_->client_.socket().get_executor(),
                                                           pool::Clock::time_point::max());
  }
  return *live_->changed_;
}

void ClientSession::set_state(ClientState state) {
  if (info_) info_->state.store(state, std::memory_order_release);
}

asio::awaitable<void> ClientSession::fatal(std::string_view sqlstate, std::string_view message) {
  // An answer may still be on its way (its lease already ended, see release_before_answer):
  // the error goes after it, not into it.
  while (client_writing_) co_await wait_changed();
  co_await send_fatal(live_->client_, sqlstate, message);
  live_->client_.close();
}

asio::awaitable<void> ClientSession::run(Addresses addresses) {
  auto self = shared_from_this();
  // start()'s frame, with the login's state, ends with the login.
  if (!co_await start(addresses)) {
    live_->client_.close();
    co_return;
  }
  // A client that logged in and sent nothing yet waits for its first message as a fresh
  // login (WorkerSessions::add_fresh_login): parked when too many others logged in after
  // it, or at the next sweep.
  if (live_->in_.empty()) {
    fresh_login_ = true;
    if (ClientSession* oldest = WorkerSessions::add_fresh_login(this)) {
      oldest->fresh_login_ = false;
      oldest->request_park();
    }
  }
  co_await serve();
}

namespace {

// operator new at the requested size. (std::allocator would not do: asio takes it for "no
// allocator" and recycles its own blocks.)
template <typename T>
struct ExactSizeAllocator {
  using value_type = T;
  ExactSizeAllocator() = default;
  template <typename U>
  explicit ExactSizeAllocator(const ExactSizeAllocator<U>& /*other*/) {}
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) { std::allocator<T>().deallocate(p, n); }
  template <typename U>
  bool operator==(const ExactSizeAllocator<U>& /*other*/) const {
    return true;
  }
};

}  // namespace

asio::awaitable<void> ClientSession::serve() {
  auto self = shared_from_this();
  if (co_await relay()) {
    end_fresh_login();
    WorkerSessions::count_park();
    // Parked: no coroutine waits for this client. Its socket goes to the worker's parking
    // lot, which holds the session and serves it again when the client sends something (or
    // closes); when the lot cannot take it (TLS, a write under way), a plain wait on the
    // socket does the same.
    if (!pump_loop_alive_ && !client_writing_ && !server_writing_) {
      live_->changed_.reset();
      if (park_in_lot()) co_return;
    }
    // Otherwise the session waits on its own socket. The wait is allocated at its own size
    // (ExactSizeAllocator): asio's default recycles the thread's last freed block, often an
    // accept several times as large, and a parked client would keep that while it idles.
    live_->client_.socket().async_wait(
        net::tcp::socket::wait_read,
        asio::bind_allocator(ExactSizeAllocator<void>(), [self](std::error_code) {
          asio::co_spawn(
              self->live_->client_.socket().get_executor(), [self]() { return self->serve(); },
              asio::detached);
        }));
    co_return;
  }
  co_await finish();
  pump_loop_exit_ = true;
  notify_changed();
  wake_pump();
}

bool ClientSession::park_in_lot() {
  auto* lot = net::ParkingLot::current();
  if (lot == nullptr || disconnecting_ || !live_->settings_in_flight_.empty()) return false;
  const net::DetachedSocket socket = live_->client_.detach();
  if (socket.fd < 0) return false;
  if (!lot->park(socket.fd, this, parked_before_)) {
    live_->client_.attach(socket);
    return false;
  }
  parked_before_ = true;
  parked_ = socket;
  parked_self_ = shared_from_this();
  live_.reset();
  return true;
}

void ClientSession::resume_from_lot(bool unpark) {
  auto self = std::move(parked_self_);
  auto* lot = net::ParkingLot::current();
  if (unpark) lot->unpark(parked_.fd);
  live_ = std::make_unique<Live>(net::tcp::socket(lot->executor()), max_message_size_);
  live_->client_.attach(std::exchange(parked_, {}));
  asio::co_spawn(
      lot->executor(), [self]() { return self->serve(); }, asio::detached);
}

void ClientSession::wake_parked(void* session) {
  static_cast<ClientSession*>(session)->resume_from_lot(/*unpark=*/false);
}

asio::awaitable<bool> ClientSession::start(Addresses addresses) {
  auto self = shared_from_this();
  // (No TCP_NODELAY to set: an accepted socket has it from its listener, see listeners.cc.)

  // The login deadline closes the socket, failing whatever read is pending.
  asio::steady_timer login_deadline(live_->client_.socket().get_executor(),
                                    cfg_->client_login_timeout);
  std::weak_ptr<ClientSession> weak = self;
  login_deadline.async_wait([weak](std::error_code ec) {
    if (ec) return;
    if (auto s = weak.lock(); s && s->live_) s->live_->client_.close();
  });

  unix_client_ = addresses.unix_port != 0;
  auto startup = co_await read_startup();
  if (!startup) co_return false;
  if (startup->kind == protocol::StartupKind::kCancel) {
    login_deadline.cancel();
    co_await forward_cancel(*startup);
    co_return false;
  }
  info_ = ctx_.clients.add();
  if (unix_client_) {
    info_->addr = net::kUnixSocketAddress;
    info_->port = addresses.unix_port;
    info_->local_addr = InternedString(net::kUnixSocketAddress);
    info_->local_port = addresses.unix_port;
    // Told here, or detach() (parking) would ask the socket for its TCP address.
    live_->client_.set_protocol(net::tcp::v4());
  } else {
    set_tcp_addresses(addresses);
  }
  info_->tls = live_->client_.is_tls();
  if (admin::is_admin_database(startup->param("database"))) {
    const bool ok = co_await login_admin(*startup);
    login_deadline.cancel();
    if (ok) co_await admin::run_admin_console(ctx_, live_->client_, live_->in_, *info_);
    co_return false;
  }
  const bool logged_in = co_await login(*startup);
  login_deadline.cancel();
  co_return logged_in;
}

void ClientSession::set_tcp_addresses(Addresses addresses) {
  // (A client gone before this has no addresses: its fields stay empty.)
  if (addresses.peer.port() == 0) addresses.peer = live_->client_.remote_endpoint();
  if (addresses.peer.port() != 0) {
    info_->addr = net::address_text(addresses.peer.address());
    info_->port = addresses.peer.port();
  }
  if (addresses.local.port() == 0) {
    addresses.local = live_->client_.local_endpoint();
  } else {
    live_->client_.set_protocol(addresses.local.protocol());
  }
  if (addresses.local.port() != 0) {
    info_->local_addr = InternedString(net::address_text(addresses.local.address()));
    info_->local_port = addresses.local.port();
  }
}

asio::awaitable<std::optional<protocol::StartupPacket>> ClientSession::read_startup() {
  // (TCP_DEFER_ACCEPT is TCP's: a Unix-domain connection comes as soon as it is made.)
  if (cfg_->tcp_defer_accept && !unix_client_) {
    // The listener hands a connection over once its first packet has arrived
    // (TCP_DEFER_ACCEPT, listeners.cc): it is read straight away, not through the event loop.
    std::error_code ec;
    const size_t n = live_->client_.read_available(live_->in_.prepare(kFirstPacketRead), ec);
    if (ec) co_return std::nullopt;
    live_->in_.commit(n);
  }
  // At most one SSLRequest and one GSSENCRequest may precede the real startup packet.
  for (int round = 0; round < 3; ++round) {
    Frame f = co_await net::read_message(live_->client_, live_->in_, 0, /*startup=*/true);
    if (f.status != FrameStatus::kMessage) {
      if (!f.io_error) co_await fatal(sqlstate::kProtocolViolation, f.error);
      co_return std::nullopt;
    }
    protocol::StartupPacket p = protocol::parse_startup_packet(f.body);
    live_->in_.consume(f.size);
    switch (p.kind) {
      case protocol::StartupKind::kSslRequest: {
        auto tls = ctx_.client_tls();
        const char answer = (tls && !live_->client_.is_tls() && !unix_client_) ? 'S' : 'N';
        if (co_await live_->client_.write_all_at_once(asio::buffer(&answer, 1)))
          co_return std::nullopt;
        if (answer == 'S') {
          // Bytes sent before the handshake would bypass TLS: refuse them.
          if (!live_->in_.empty()) {
            co_await fatal(sqlstate::kProtocolViolation,
                           "received unencrypted data after SSL request");
            co_return std::nullopt;
          }
          if (auto ec = co_await live_->client_.accept_tls(*tls)) {
            spdlog::debug("client TLS handshake failed: {}", ec.message());
            live_->client_.close();
            co_return std::nullopt;
          }
        }
        continue;
      }
      case protocol::StartupKind::kGssEncRequest: {
        const char answer = 'N';
        if (co_await live_->client_.write_all_at_once(asio::buffer(&answer, 1)))
          co_return std::nullopt;
        continue;
      }
      case protocol::StartupKind::kInvalid:
        co_await fatal(sqlstate::kProtocolViolation, p.error);
        co_return std::nullopt;
      default:
        co_return p;
    }
  }
  co_await fatal(sqlstate::kProtocolViolation, "too many negotiation requests");
  co_return std::nullopt;
}

asio::awaitable<void> ClientSession::forward_cancel(const protocol::StartupPacket& packet) {
  live_->client_.close();  // a cancel connection gets no reply, as with PostgreSQL
  auto target = ctx_.clients.find_by_cancel_key(packet.cancel_pid, packet.cancel_key);
  if (target) co_await cancel_server_query(*target);
}

asio::awaitable<bool> ClientSession::login_admin(const protocol::StartupPacket& startup) {
  const std::string user(startup.param("user"));
  info_->user = user;
  info_->database = startup.param("database");
  info_->application_name = startup.param("application_name");
  const auto& admins = cfg_->admin_users;
  const auto& stats = cfg_->stats_users;
  const bool allowed = std::find(admins.begin(), admins.end(), user) != admins.end() ||
                       std::find(stats.begin(), stats.end(), user) != stats.end();
  auto users = ctx_.users();
  auto secret = users ? users->secret_for(user) : std::nullopt;
  auto auth = co_await authenticate_client(live_->client_, live_->in_, cfg_->auth,
                                           ctx_.auth_failures, user, secret, max_message_size_);
  if (!auth.ok) co_return false;
  if (!allowed) {
    co_await fatal(sqlstate::kInvalidAuthorization,
                   fmt::format("user \"{}\" is not allowed to use the admin console "
                               "(add it to admin_users or stats_users)",
                               user));
    co_return false;
  }
  std::string out;
  out.reserve(kWelcomeBytes);
  protocol::append_auth_ok(out);
  protocol::append_parameter_status(out, "server_version", "15.0 (Sluice 0.1.0)");
  protocol::append_parameter_status(out, "server_encoding", "UTF8");
  protocol::append_parameter_status(out, "client_encoding", "UTF8");
  protocol::append_parameter_status(out, "DateStyle", "ISO, MDY");
  protocol::append_parameter_status(out, "integer_datetimes", "on");
  protocol::append_parameter_status(out, "standard_conforming_strings", "on");
  protocol::append_backend_key_data(out, info_->cancel_pid, info_->cancel_key);
  protocol::append_ready_for_query(out, 'I');
  set_state(ClientState::kActive);
  co_return !(co_await live_->client_.write_all_at_once(asio::buffer(out)));
}

asio::awaitable<bool> ClientSession::login(const protocol::StartupPacket& startup) {
  const std::string user(startup.param("user"));
  std::string database(startup.param("database"));
  if (database.empty()) database = user;
  info_->user = user;
  info_->database = database;
  info_->application_name = startup.param("application_name");

  if (cfg_->client_tls.require && !live_->client_.is_tls() && !unix_client_) {
    co_await fatal(sqlstate::kInvalidAuthorization, "SSL required: connect with sslmode=require");
    co_return false;
  }
  if (static_cast<int>(ctx_.clients.size()) > cfg_->max_client_conn) {
    co_await fatal(sqlstate::kTooManyConnections, "no more connections allowed (max_client_conn)");
    co_return false;
  }
  auto db = cfg_->resolve_database(database);
  if (!db) {
    co_await fatal(sqlstate::kInvalidCatalogName, fmt::format("no such database: {}", database));
    co_return false;
  }
  std::optional<SecretLookup> known = known_secret(ctx_, *cfg_, user);
  SecretLookup secret;
  if (known) {
    secret = std::move(*known);
  } else {
    secret = co_await lookup_secret(ctx_, *cfg_, *db, user);
  }
  if (secret.error) {
    co_await fatal(secret.error->sqlstate, secret.error->message);
    co_return false;
  }
  auto auth =
      co_await authenticate_client(live_->client_, live_->in_, cfg_->auth, ctx_.auth_failures, user,
                                   secret.secret, max_message_size_);
  if (!auth.ok) co_return false;

  pool::ServerCredentials creds = server_credentials(*cfg_, *db, user, secret.secret);
  pool_ = ctx_.pools.get(*cfg_, *db, user, creds);
  if (auth.client_key && auth.server_key)
    pool_->learn_scram_keys(*auth.client_key, *auth.server_key);
  mode_ = cfg_->pool_settings_for(*db).pool_mode;
  track_statements_ = mode_ == config::PoolMode::kTransaction && cfg_->max_prepared_statements > 0;
  info_->server_host = InternedString(db->host);
  info_->server_port = db->port;

  // The welcome repeats the server's parameters, which the first connection tells us.
  std::shared_ptr<const FlatStringMap> defaults = pool_->server_params();
  if (!defaults) {
    set_state(ClientState::kWaiting);
    pool::AcquireResult r = co_await pool_->acquire();
    if (!r.conn) {
      const pool::ServerError err = error_or(r.error, "could not connect to server");
      co_await fatal(err.sqlstate, err.message);
      co_return false;
    }
    pool_->release(std::move(r.conn));
    defaults = pool_->server_params();
  }
  const std::shared_ptr<const LoginOutcome> outcome = login_outcome(defaults, startup);
  if (!outcome->error.empty()) {
    co_await fatal(sqlstate::kFeatureNotSupported, outcome->error);
    co_return false;
  }
  wanted_params_.share(outcome->params);
  startup_params_ = outcome->extras;
  if (!co_await choose_priority_class(*db, outcome->requested_class)) co_return false;

  std::string out;
  out.reserve(kWelcomeBytes);
  protocol::append_auth_ok(out);
  out += outcome->parameter_status;
  protocol::append_backend_key_data(out, info_->cancel_pid, info_->cancel_key);
  protocol::append_ready_for_query(out, 'I');
  set_state(ClientState::kIdle);
  co_return !(co_await live_->client_.write_all_at_once(asio::buffer(out)));
}

asio::awaitable<bool> ClientSession::choose_priority_class(const config::DatabaseConfig& db,
                                                           const std::string& requested) {
  if (cfg_->classes.empty()) co_return true;  // no classes: the option is ignored
  if (!requested.empty() && !cfg_->classes.count(requested)) {
    std::string known;
    for (const auto& [name, c] : cfg_->classes) known += (known.empty() ? "" : ", ") + name;
    const std::string message =
        fmt::format("unknown priority class \"{}\" in startup option {}; configured: {}", requested,
                    config::kClassOption, known);
    co_await fatal(sqlstate::kInvalidParameterValue, message);
    co_return false;
  }
  priority_class_ =
      config::classify_client(*cfg_, info_->user, db.name, info_->application_name, requested);
  co_return true;
}

bool ClientSession::transaction_idle_between_leases() const {
  return pending_syncs_ == 0 && !extended_open_ && tx_status_ == 'I' &&
         !live_->client_scan_.mid_message();
}

bool ClientSession::transaction_idle() const {
  return pending_syncs_ == 0 && !extended_open_ && tx_status_ == 'I' &&
         !live_->client_scan_.mid_message() && live_->in_.empty() &&
         (!prepared_ || prepared_->idle());
}

bool ClientSession::lease_idle_now(pool::Pool::Ticket* ticket) {
  if (pool_->db_state().gate.enabled() && !live_->gate_ticket_) return false;
  pool::ServerPtr conn =
      pool_->try_acquire_idle(live_->client_.socket().get_executor(), pool::Clock::now(), ticket);
  if (!conn) return false;
  pool_->stats().add_wait(0);
  if (probe_) probe_->on_lease_wait(0);
  live_->server_ = std::move(conn);
  return true;
}

void ClientSession::attach_server() {
  live_->server_->stream.rebind(live_->client_.socket().get_executor());
  live_->server_->active = true;
  live_->server_->client_id = info_->id;
  live_->xact_start_ = pool::Clock::now();
  info_->server_id.store(live_->server_->id, std::memory_order_relaxed);
  info_->server_key.store(live_->server_->key.key, std::memory_order_relaxed);
  info_->server_pid.store(live_->server_->key.pid, std::memory_order_release);
  info_->request_time_us.store(now_us(), std::memory_order_relaxed);
  set_state(ClientState::kActive);
}

void ClientSession::start_pump() {
  pump_running_ = true;
  if (pump_loop_alive_) {
    wake_pump();  // server_pump_loop() takes it from here
  } else {
    // One pump per session, parked between leases (cheaper than a coroutine per lease),
    // started at the first lease and again after check_timeouts() ended it.
    pump_loop_alive_ = true;
    asio::co_spawn(
        live_->client_.socket().get_executor(),
        [self = shared_from_this()]() { return self->server_pump_loop(); }, asio::detached);
  }
}

void ClientSession::begin_wait() {
  set_state(ClientState::kWaiting);
  info_->wait_start_us.store(now_us(), std::memory_order_relaxed);
}

bool ClientSession::lease_now(pool::Pool::Ticket* ticket) {
  if (!lease_idle_now(ticket)) {
    begin_wait();  // (a client leased at once never shows as waiting)
    return false;
  }
  attach_server();
  // Differing session parameters are set by ensure_server(), which takes it from here.
  if (live_->server_->params_fingerprint != wanted_params_.fingerprint()) return false;
  start_pump();
  return true;
}

bool ClientSession::lease_handed() {
  pool::Pool::Ticket& ticket = live_->pool_ticket_;
  if (!ticket.queued()) return false;
  pool::Pool::Handed handed = pool_->take_handed(ticket);
  if (!handed.conn) return false;  // ensure_server() goes on from the ticket
  pool_->stats().add_wait(static_cast<uint64_t>(handed.waited.count()));
  if (probe_) probe_->on_lease_wait(static_cast<uint64_t>(handed.waited.count()));
  live_->server_ = std::move(handed.conn);
  attach_server();
  // Differing session parameters are set by ensure_server(), which takes it from here.
  if (live_->server_->params_fingerprint != wanted_params_.fingerprint()) return false;
  start_pump();
  return true;
}

asio::awaitable<bool> ClientSession::ensure_server() {
  // lease_now() has just looked for an idle connection (and may have leased one, else it
  // showed the client as waiting): neither again on the first try.
  // A connection that dies while taking the client's settings has not seen any of the
  // client's statements yet, so another one may serve them: up to kLeaseAttempts.
  for (int attempt = 1;; ++attempt) {
    if (!live_->server_) {
      if (attempt > 1) set_state(ClientState::kWaiting);
      if (attempt == 1 || !lease_idle_now()) {
        // Waits for the priority gate (with classes), then for a server connection. A
        // client already in the pool's queue (classes came with a RELOAD during its wait)
        // keeps its place rather than hold a connection handed to it while in the gate.
        pool::PriorityGate& gate = pool_->db_state().gate;
        if (gate.enabled() && !live_->gate_ticket_ && !live_->pool_ticket_.queued()) {
          const auto deadline = pool::Clock::now() + pool_->query_wait_timeout();
          pool::PriorityGate::EnterResult admitted = co_await gate.enter(priority_class_, deadline);
          if (admitted.error) {
            co_await lease_failed(*admitted.error);
            co_return false;
          }
          live_->gate_ticket_ = std::move(admitted.ticket);
        }
        pool::AcquireResult r = co_await pool_->acquire(std::move(live_->pool_ticket_));
        pool_->stats().add_wait(static_cast<uint64_t>(r.waited.count()));
        if (probe_) probe_->on_lease_wait(static_cast<uint64_t>(r.waited.count()));
        if (!r.conn) {
          gate.leave(live_->gate_ticket_);
          const pool::ServerError error = error_or(r.error, "could not get a server connection");
          co_await lease_failed(error);
          co_return false;
        }
        live_->server_ = std::move(r.conn);
      }
      attach_server();
    }
    SyncOutcome synced = SyncOutcome::kSynced;
    if (live_->server_->params_fingerprint != wanted_params_.fingerprint()) {
      synced = co_await sync_parameters();  // (not called otherwise: a coroutine costs)
    }
    if (synced == SyncOutcome::kSynced) break;
    if (synced == SyncOutcome::kServerLost && attempt < kLeaseAttempts) {
      spdlog::info(
          "client {}: server connection lost while applying session parameters; "
          "trying another",
          info_->id);
      continue;
    }
    if (synced == SyncOutcome::kServerLost) {
      co_await fatal(protocol::sqlstate::kConnectionFailure,
                     "server connection lost while applying session parameters");
    }
    co_return false;
  }
  start_pump();
  co_return true;
}

asio::awaitable<void> ClientSession::lease_failed(const pool::ServerError& error) {
  set_state(ClientState::kIdle);
  co_await fatal(error.sqlstate, error.message);
}

asio::awaitable<ClientSession::SyncOutcome> ClientSession::sync_parameters() {
  if (live_->server_->params_fingerprint == wanted_params_.fingerprint())
    co_return SyncOutcome::kSynced;
  const std::string sql = parameter_sync_sql(wanted_params_.get(), live_->server_->params,
                                             live_->server_->extra_params);
  if (sql.empty()) {
    live_->server_->params_fingerprint = wanted_params_.fingerprint();
    co_return SyncOutcome::kSynced;
  }
  pool::QueryResult r = co_await pool::run_simple_query(*live_->server_, sql, max_message_size_);
  // Gone before the client's statements: closed, or ended with a FATAL (terminated).
  if ((r.io_failed && !r.error) || (r.error && r.error->severity == protocol::kSeverityFatal)) {
    live_->server_->broken = true;
    release_server();
    co_return SyncOutcome::kServerLost;
  }
  if (r.error) {
    live_->server_->broken = true;
    release_server();
    pool::ServerError err = *r.error;
    err.message = "could not apply session parameters: " + err.message;
    co_await fatal(err.sqlstate, err.message);
    co_return SyncOutcome::kFailed;
  }
  // The server reports canonical spellings (UTF8 for "unicode"): adopt them.
  wanted_params_.update([this](ParamMap& m) {
    record_synced_params(m, {live_->server_->params, live_->server_->extra_params});
  });
  live_->server_->params_fingerprint = wanted_params_.fingerprint();
  co_return SyncOutcome::kSynced;
}

void ClientSession::release_server(pool::Clock::time_point now, bool resume_waiter_here) {
  if (!live_->server_) return;
  if (prepared_) prepared_->reset_pending();
  info_->server_pid.store(0, std::memory_order_relaxed);
  info_->server_id.store(0, std::memory_order_relaxed);
  set_state(ClientState::kIdle);
  pool_->release(std::move(live_->server_), now, resume_waiter_here);
  live_->server_.reset();
  pool_->db_state().gate.leave(live_->gate_ticket_);
}

asio::awaitable<void> ClientSession::stop_server_pump() {
  if (!pump_running_) co_return;
  closing_ = true;
  if (live_->server_) {
    std::error_code ignored;
    live_->server_->stream.socket().cancel(ignored);
  }
  while (pump_running_) {
    co_await wait_changed();
  }
}

asio::awaitable<void> ClientSession::finish() {
  closing_ = true;
  live_->client_.close();
  if (!live_->server_) co_return;
  // A pinned connection carries the client's LISTENs, locks or temp tables: not reusable.
  const bool clean = pending_syncs_ == 0 && !extended_open_ && tx_status_ == 'I' &&
                     !live_->client_scan_.mid_message() && pins_ == 0;
  if (!clean) {
    // Mid-transaction or mid-query: closing makes the server roll back. Wait for the
    // pump first so nobody touches the socket afterwards.
    live_->server_->broken = true;
    live_->server_->stream.close();
    co_await stop_server_pump();
    release_server();
    co_return;
  }
  co_await stop_server_pump();
  if (!live_->server_) co_return;
  if (live_->server_->broken) {
    release_server();
    co_return;
  }
  // Session mode (or server_reset_query_always): reset before anyone else gets it; a
  // connection the reset fails on is closed, not pooled.
  const bool reset = mode_ == config::PoolMode::kSession || cfg_->server_reset_query_always;
  if (reset && !cfg_->server_reset_query.empty()) {
    pool::QueryResult r = co_await pool::run_simple_query(*live_->server_, cfg_->server_reset_query,
                                                          max_message_size_);
    if (r.io_failed || r.error) live_->server_->broken = true;
    // The reset (DISCARD ALL) undid every extra parameter the proxy had SET.
    for (const auto& name : live_->server_->extra_params) live_->server_->params.erase(name);
    live_->server_->extra_params.clear();
    live_->server_->params_fingerprint.clear();
    live_->server_->statements.clear();  // DISCARD ALL dropped them too
  }
  release_server();
}

void ClientSession::disconnect_later(std::string_view sqlstate, std::string_view message) {
  disconnecting_ = true;
  asio::co_spawn(
      live_->client_.socket().get_executor(),
      [self = shared_from_this(), code = std::string(sqlstate),
       text = std::string(message)]() -> asio::awaitable<void> {
        // Stop the pump first: it may be writing to the client.
        co_await self->stop_server_pump();
        co_await self->fatal(code, text);
      },
      asio::detached);
}

void ClientSession::close_for_idle_timeout() {
  spdlog::info("closing client {}: client_idle_timeout", info_->id);
  disconnect_later(sqlstate::kIdleSessionTimeout,
                   "terminating connection due to client_idle_timeout");
}

void ClientSession::check_timeouts(pool::Clock::time_point now) {
  if (!info_ || closing_ || disconnecting_) return;
  const auto state = info_->state.load(std::memory_order_relaxed);
  if (state == ClientState::kLogin) return;
  const auto idle_for = now - last_client_activity_;
  const bool idle_timeout =
      cfg_->client_idle_timeout.count() > 0 && idle_for >= cfg_->client_idle_timeout;
  if (!live_) {
    // In the ParkingLot only client_idle_timeout applies; the client is taken back (to be
    // served until the close) and closed as any other.
    if (!idle_timeout) return;
    resume_from_lot(/*unpark=*/true);
    close_for_idle_timeout();
    return;
  }
  if (fresh_login_) {
    // Silent since its login, however recent: it parks now, as before fresh logins.
    end_fresh_login();
    if (request_park()) return;
  }
  if (!live_->server_ && idle_for >= kParkAfter) {
    // Long-idle clients keep no coroutine: the parked pump ends, then the relay parks.
    if (pump_loop_alive_ && !pump_running_) {
      pump_loop_end_ = true;
      live_->pump_parked_.notify_later();  // (the caller walks the worker's sessions)
    } else if (request_park()) {
      return;
    }
  }
  const bool in_tx = live_->server_ && tx_status_ != 'I' && pending_syncs_ == 0;
  if (cfg_->idle_transaction_timeout.count() > 0 && in_tx &&
      idle_for >= cfg_->idle_transaction_timeout) {
    spdlog::info("closing client {}: idle_transaction_timeout", info_->id);
    disconnect_later(sqlstate::kIdleInTransactionTimeout,
                     "terminating connection due to idle_transaction_timeout");
    return;
  }
  const bool idle = pending_syncs_ == 0 && !in_tx;
  if (idle && idle_timeout) {
    close_for_idle_timeout();
    return;
  }
  if (query_timeout_cancel_sent_ && pending_syncs_ > 0 && pending_syncs_ < syncs_at_cancel_) {
    // The server answered the cancelled query; the next one queued behind it gets its own
    // query_timeout from now.
    query_timeout_cancel_sent_ = false;
    live_->query_start_ = now;
  }
  if (cfg_->query_timeout.count() > 0 && live_->server_ && pending_syncs_ > 0 &&
      query_timeout_cancel_sent_ && now - live_->query_cancel_sent_at_ >= kCancelGrace) {
    // The server did not act on the cancel (frozen or unreachable): close its connection
    // rather than hand it to anyone again, and end the client's wait with an error.
    spdlog::warn("client {}: query_timeout, the server ignored the cancel; closing", info_->id);
    live_->server_->broken = true;
    disconnect_later(sqlstate::kQueryCanceled,
                     "canceling statement due to query_timeout: the server did not answer the "
                     "cancel request, so its connection was closed");
    return;
  }
  if (cfg_->query_timeout.count() > 0 && live_->server_ && pending_syncs_ > 0 &&
      !query_timeout_cancel_sent_ && now - live_->query_start_ >= cfg_->query_timeout) {
    query_timeout_cancel_sent_ = true;
    live_->query_cancel_sent_at_ = now;
    syncs_at_cancel_ = pending_syncs_;
    spdlog::info("client {}: query_timeout, cancelling its query", info_->id);
    asio::co_spawn(
        live_->client_.socket().get_executor(),
        [info = info_]() -> asio::awaitable<void> { co_await cancel_server_query(*info); },
        asio::detached);
  }
}

}  // namespace sluice::session
