// One client connection from accept to close: startup, TLS, authentication, then relaying
// between the client and a leased server connection, in session or transaction mode.
//
// Files: client_session.cc (startup, login, leases, timeouts, teardown) and
// client_relay.cc (relay, pump, and what they track in flight).
//
// Threading: a session lives on the worker that accepted it. Two coroutines run on that
// worker's executor: run() reads the client and forwards to the server; server_pump_loop()
// reads the leased server and forwards to the client. Both may write to either side (the
// pump re-sends a batch that failed on a stale prepared statement), always through
// write_client() / write_server(), which let one write at a time.
#pragma once

#include <asio.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "net/no_throw.h"
#include "net/read_buffer.h"
#include "net/stream.h"
#include "net/wake_up.h"
#include "pool/pool.h"
#include "protocol/startup.h"
#include "router/statement_classifier.h"
#include "server/context.h"
#include "session/client_registry.h"
#include "session/message_scanner.h"
#include "session/prepared_statements.h"
#include "session/query_probe.h"
#include "session/session_params.h"
#include "session/shared_params.h"
#include "session/splicer.h"
#include "session/worker_sessions.h"

namespace sluice::session {

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(server::ProxyContext& ctx, net::tcp::socket socket);
  ~ClientSession();

  // The connection's addresses as accept() learnt them (the listener's own, unless bound
  // to a wildcard address); one left at port 0 is asked of the socket, a system call.
  // A client of the Unix-domain socket has none: it is shown as net::kUnixSocketAddress
  // with `unix_port`, the listen port, on both sides.
  struct Addresses {
    net::tcp::endpoint peer;
    net::tcp::endpoint local;
    uint16_t unix_port = 0;  // 0 = a TCP client
  };
  asio::awaitable<void> run(Addresses addresses);
  // Enforces client_idle_timeout, idle_transaction_timeout and query_timeout, and parks
  // long-idle clients; called about once a second on the session's own worker.
  void check_timeouts(pool::Clock::time_point now);
  // net::ParkingLot's wake-up: the parked session's client sent something (or closed).
  static void wake_parked(void* session);

 private:
  // Startup, TLS and login; true when the client is logged in for relaying.
  asio::awaitable<bool> start(Addresses addresses);
  // info_'s addresses for a TCP client.
  void set_tcp_addresses(Addresses addresses);
  asio::awaitable<std::optional<protocol::StartupPacket>> read_startup();
  asio::awaitable<bool> login(const protocol::StartupPacket& startup);
  asio::awaitable<bool> login_admin(const protocol::StartupPacket& startup);
  asio::awaitable<void> forward_cancel(const protocol::StartupPacket& packet);
  // Relaying, then the end of the session (finish()) — or parking, when relay() parks.
  asio::awaitable<void> serve();
  // A parked plain-TCP client's socket goes to the worker's ParkingLot, the session kept
  // alive by parked_self_; false when there is no lot (or it refused), or TLS, whose
  // socket stays with asio. resume_from_lot() takes it back and serves the client again.
  bool park_in_lot();
  void resume_from_lot(bool unpark);
  // Returns true when the client parks (request_park()), false when the session is over.
  asio::awaitable<bool> relay();
  // Cancels relay()'s wait for a client with nothing under way, so that it parks; false
  // when it is not waiting so (busy, TLS, or already asked).
  bool request_park();
  // The client sent its first message, parks or ends: it is no longer a fresh login.
  void end_fresh_login() {
    if (fresh_login_) {
      fresh_login_ = false;
      WorkerSessions::remove_fresh_login(this);
    }
  }
  // One read of client data and everything it sets off; false when the session ends.
  asio::awaitable<bool> relay_round(bool read_first);
  void count_client_message(char type, pool::Clock::time_point now);
  // Transaction mode: pins the client to its server connection for what cannot move
  // (LISTEN, session advisory locks, temp tables, WITH HOLD cursors, SQL PREPARE), and
  // unpins on what releases it.
  // `repeats`: see QueryProbe::set_current().
  void classify_statement(std::string_view sql, bool repeats);
  // Called per server message while relaying: settles settings_in_flight_.
  void settle_settings(char type, std::span<const uint8_t> body, pool::ServerConnection& server);
  // Prepared statements are shared between clients only under the same search_path.
  void update_statement_name_context();
  asio::awaitable<std::error_code> write_client(std::span<const asio::const_buffer> bufs);
  asio::awaitable<std::error_code> write_server(std::span<const asio::const_buffer> bufs);
  // write_client() / write_server() in two halves, for the relay's hot path: start_*()
  // hands over the write itself when no other is under way (asio's own awaitable, without
  // a coroutine frame of ours: a frame per message costs more than the rest of the call),
  // else a coroutine that waits its turn first. finish_*() must follow its completion.
  using WriteResult = std::tuple<std::error_code, size_t>;
  asio::awaitable<WriteResult> start_client_write(std::span<const asio::const_buffer> bufs);
  asio::awaitable<WriteResult> start_server_write(std::span<const asio::const_buffer> bufs);
  asio::awaitable<WriteResult> client_write_in_turn(std::span<const asio::const_buffer> bufs);
  asio::awaitable<WriteResult> server_write_in_turn(std::span<const asio::const_buffer> bufs);
  void finish_client_write() {
    client_writing_ = false;
    notify_changed();
  }
  void finish_server_write() {
    server_writing_ = false;
    notify_changed();
  }
  // A server connection into server_ for the client's next request, its session
  // parameters set, and the pump started: lease_now() when that takes no waiting (an idle
  // connection that needs nothing done, without a coroutine); else, when every connection
  // is busy, a wait with the ticket lease_now() took (Live::pool_ticket_: Pool::wait_turn(),
  // then lease_handed(), no coroutine frame of their own, as at -c 200 nearly every
  // transaction waits); else ensure_server(), which takes a slot from the priority gate
  // (with classes) first and waits as long as needed, going on from the ticket's wait
  // if any. ensure_server() is called only after the others failed; it sends the
  // client a FATAL and returns false when it fails.
  bool lease_now(pool::Pool::Ticket* ticket = nullptr);
  bool lease_handed();  // from live_->pool_ticket_
  asio::awaitable<bool> ensure_server();
  // Pool::try_acquire_idle() for the session; false when nothing was taken.
  bool lease_idle_now(pool::Pool::Ticket* ticket = nullptr);
  void begin_wait();     // the client shows as waiting (SHOW CLIENTS)
  void attach_server();  // a leased server_ now serves this client
  void start_pump();
  asio::awaitable<void> lease_failed(const pool::ServerError& error);
  // Classes the client at login (priority_class_), from the config's rules or its own
  // `-c sluice.class=NAME` (`requested`, "" when absent); refuses an unknown name. False
  // when it sent a FATAL.
  asio::awaitable<bool> choose_priority_class(const config::DatabaseConfig& db,
                                              const std::string& requested);
  enum class SyncOutcome {
    kSynced,
    kServerLost,  // the connection died first: released; another may serve the client
    kFailed,      // the server refused a setting: the client got a FATAL error
  };
  asio::awaitable<SyncOutcome> sync_parameters();
  asio::awaitable<void> server_pump_loop();
  // Ends the lease before the transaction's last answer (`bufs`) is written to the
  // client, copying it to live_->answer_ first. `now`: when the answer arrived.
  void release_before_answer(std::span<const asio::const_buffer> bufs, pool::Clock::time_point now);
  asio::awaitable<void> stop_server_pump();
  asio::awaitable<void> finish();
  // `now` spares a clock read where the caller has one. `resume_waiter_here`: see
  // Pool::release(); the pump passes it at a transaction's end, nobody else.
  void release_server(pool::Clock::time_point now = pool::Clock::now(),
                      bool resume_waiter_here = false);
  bool transaction_idle() const;
  // No conversation with a server under way (nothing sent, nothing owed).
  bool transaction_idle_between_leases() const;
  asio::awaitable<void> fatal(std::string_view sqlstate, std::string_view message);
  // Sends a FATAL error and closes, from outside the session's coroutines (timeouts).
  void disconnect_later(std::string_view sqlstate, std::string_view message);
  void close_for_idle_timeout();
  void set_state(ClientState state);

  server::ProxyContext& ctx_;
  WorkerSessions::Registration registration_{this};  // swept for timeouts, closed at shutdown
  std::shared_ptr<const config::Config> cfg_;
  std::shared_ptr<ClientInfo> info_;
  std::shared_ptr<pool::Pool> pool_;
  config::PoolMode mode_ = config::PoolMode::kSession;
  size_t max_message_size_ = 0;
  std::string priority_class_;  // set at login when the config has classes

  // What the session needs only while its client is not parked in the ParkingLot, where
  // it is dropped (with nothing under way, none of it holds anything then): a parked
  // client costs the size of the rest.
  struct Live {
    Live(net::tcp::socket socket, size_t max_message_size);
    net::Stream client_;
    net::ReadBuffer in_;
    pool::ServerPtr server_;                  // the lease, when held
    pool::PriorityGate::Ticket gate_ticket_;  // held with the lease when classes are on
    // The client's place in the pool's queue while it waits (see lease_now()). Here, not
    // in relay_round()'s frame, which it would make too big for asio's frame recycling.
    pool::Pool::Ticket pool_ticket_;
    // One wake-up for every waiter of the session (never expires; cancel() wakes them all
    // and each re-checks what it waits for): a lease started (pump_running_ set), the pump
    // ended, a write ended, the session ends. One timer instead of one per purpose keeps
    // idle clients small; made by the first wait and dropped when the session parks.
    std::unique_ptr<asio::steady_timer> changed_;
    // Where the pump waits between leases (see wake_pump()).
    net::WakeUp pump_parked_;
    // Protocol state of the client's conversation with the server.
    MessageScanner client_scan_;
    MessageScanner server_scan_;
    pool::Clock::time_point query_start_;
    pool::Clock::time_point xact_start_;
    pool::Clock::time_point query_cancel_sent_at_;
    // SET/RESET of non-reported parameters sent but not yet known to have taken effect:
    // applied at the next ReadyForQuery 'I' unless an error came or the transaction that
    // held them did not commit.
    std::vector<router::SessionSetting> settings_in_flight_;
    // The last Parse's text router::might_matter() cleared: an extended-protocol client
    // sends the same text with every Parse, and a comparison costs less than the scan.
    std::string cleared_text_;
    // A transaction's last answer, written to the client after its lease ended.
    std::string answer_;
    // What the relay's edits to each direction's bytes are built in (see Splicer); made at
    // the first edit.
    std::unique_ptr<SpliceStore> client_splice_;
    std::unique_ptr<SpliceStore> server_splice_;
  };
  std::unique_ptr<Live> live_;
  // While parked in the lot: the socket, and the session's owner. (At exit the process
  // ends without destroying sessions, so this cycle is never left to leak.)
  net::DetachedSocket parked_;
  std::shared_ptr<ClientSession> parked_self_;
  bool pump_running_ = false;
  bool pump_loop_exit_ = false;
  bool pump_loop_alive_ = false;  // server_pump_loop() is running (parked or pumping)
  bool pump_loop_end_ = false;    // ask a parked server_pump_loop() to end
  // After this long with no client activity and no lease, the parked pump ends (the next
  // lease starts one) and then the relay parks too (serve() starts again on data).
  static constexpr auto kParkAfter = std::chrono::seconds(5);
  bool waiting_idle_ = false;    // relay() waits for the client with nothing under way
  bool park_requested_ = false;  // check_timeouts() cancelled that wait to park
  // Logged in, sent nothing yet, in WorkerSessions' fresh logins (see there).
  bool fresh_login_ = false;
  bool client_writing_ = false;  // write_client() in progress
  bool server_writing_ = false;  // write_server() in progress
  asio::steady_timer& changed();
  // Waits until notify_changed(); the timer never expires, so only that ends a wait.
  auto wait_changed() {
    ++changed_waiters_;
    return changed().async_wait(net::kNoThrow);
  }
  void notify_changed() {
    // Skipped when nobody waits: a cancel costs a lock of the event loop even then, and
    // every write ends with a notify.
    if (changed_waiters_ == 0 || !live_->changed_) return;
    changed_waiters_ = 0;  // cancel() wakes every waiter
    live_->changed_->cancel();
  }
  int changed_waiters_ = 0;
  // Resumes the pump parked between leases to re-check pump_running_ / pump_loop_end_ /
  // pump_loop_exit_ (inline: it issues its read before the caller goes on).
  void wake_pump() { live_->pump_parked_.notify(); }
  bool closing_ = false;
  bool disconnecting_ = false;  // a timeout is closing the session
  bool parked_before_ = false;  // the lot's epoll set has the socket (see ParkingLot::park)
  // A client of the Unix-domain socket: local, as PostgreSQL treats one, it is offered no
  // TLS (SSLRequest answered 'N') and tls.client_require does not apply.
  bool unix_client_ = false;

  int pending_syncs_ = 0;       // Query/Sync/FunctionCall sent, ReadyForQuery not yet seen
  bool extended_open_ = false;  // extended-protocol messages sent since the last Sync
  char tx_status_ = 'I';
  bool query_timeout_cancel_sent_ = false;
  pool::Clock::time_point last_client_activity_;
  int syncs_at_cancel_ = 0;  // pending_syncs_ then: fewer later = the server answered
  // A query still running this long after its query_timeout cancel is abandoned.
  static constexpr auto kCancelGrace = std::chrono::seconds(2);

  // Session parameters the client wants (startup values, then what the server reports
  // after the client's SET), re-applied on whichever server connection it gets; shared
  // with other clients of this worker that want the same.
  SharedParams wanted_params_;
  std::unique_ptr<PreparedStatements> prepared_;  // with track_statements_, from the
                                                  // client's first message
  bool track_statements_ = false;  // transaction mode with max_prepared_statements > 0
  uint8_t pins_ = 0;               // bit per router::PinReason; non-zero keeps the lease
  // Of the settings in flight (Live::settings_in_flight_):
  bool settings_failed_ = false;
  bool settings_in_tx_ = false;      // a transaction block was open while they were pending
  bool settings_committed_ = false;  // ... and it ended with COMMIT
  ParamMap startup_params_;          // for RESET ALL

  // Query statistics and the slow-query log; created with the client's first message.
  std::unique_ptr<QueryProbe> probe_;
};

}  // namespace sluice::session
