// The relaying half of ClientSession: the client-to-server loop (relay), the
// server-to-client pump, and what they track on the way (requests in flight, prepared
// statements, pins, session settings). Login, leases and timeouts are in
// client_session.cc.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <span>

#include "net/no_throw.h"
#include "protocol/builder.h"
#include "protocol/reader.h"
#include "router/statement_classifier.h"
#include "session/client_session.h"
#include "session/session_params.h"
#include "session/splicer.h"

namespace sluice::session {

using net::kNoThrow;

namespace {

namespace sqlstate = protocol::sqlstate;

// The largest answer copied so that its server connection can go back to the pool before the
// client has it (see release_before_answer); bigger ones are written from the connection's
// buffer. Single-row answers and small batches are well under.
constexpr size_t kAnswerCopyMax = 4096;
// A worker keeps at most this much of its scratch string for rewritten client messages
// between messages (a rewritten Parse carries its query's whole text).
constexpr size_t kMaxKeptRewrite = size_t{64} * 1024;

uint64_t micros_between(pool::Clock::time_point from, pool::Clock::time_point to) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(to - from).count());
}

// Severity FATAL or PANIC: PostgreSQL ends the session after sending it.
bool is_fatal_error(std::span<const uint8_t> body) {
  const auto fields = protocol::parse_error_fields(body);
  auto it = fields.find('V');
  if (it == fields.end()) it = fields.find('S');
  return it != fields.end() && (it->second == "FATAL" || it->second == "PANIC");
}

}  // namespace

namespace {

bool is_statement_message(char type) {
  return type == 'P' || type == 'B' || type == 'D' || type == 'C';
}

// Server responses the prepared-statement tracker must see whole: completions of
// requests, and the small ones it may drop.
bool is_completion(char type) {
  switch (type) {
    case '1':
    case '2':
    case '3':
    case 'T':
    case 'n':
    case 'C':
    case 'I':
    case 's':
      return true;
    default:
      return false;
  }
}

}  // namespace

namespace {

constexpr size_t kClassifierCacheEntries = 4096;
// Longer texts are scanned each time rather than kept (Live::cleared_text_).
constexpr size_t kMaxClearedText = 1024;

// The SQL text of a Query body ("" when malformed).
std::string_view query_text(std::span<const uint8_t> body) {
  protocol::BodyReader r(body);
  const std::string_view sql = r.cstr();
  return r.ok() ? sql : std::string_view();
}

// One memo of classified statements per worker thread (the cache is not thread-safe).
router::ClassifierCache& classifier() {
  thread_local router::ClassifierCache cache(kClassifierCacheEntries);
  return cache;
}

// Shapes (stats::query_shape_hash) of Query texts might_matter() cleared, per worker
// thread: simple-protocol clients send a few shapes with other constants each time, and
// a client that connects per transaction sends them from a new session each time.
// Direct-mapped by the hash's low bits; 0 is no shape.
class ClearedShapes {
 public:
  bool contains(uint64_t shape) const { return shapes_[shape % kSlots] == shape; }
  void add(uint64_t shape) { shapes_[shape % kSlots] = shape; }

 private:
  static constexpr size_t kSlots = 256;
  std::array<uint64_t, kSlots> shapes_{};
};

ClearedShapes& cleared_shapes() {
  thread_local ClearedShapes shapes;
  return shapes;
}

}  // namespace

void ClientSession::classify_statement(std::string_view sql, bool repeats) {
  std::string& cleared = live_->cleared_text_;
  if (repeats && !cleared.empty() && sql == cleared) return;
  // A Query of the same shape as one cleared before differs from it in constants only, and
  // might_matter() finds nothing in constants that the parser would not dismiss: what it
  // looks for (keywords at statement starts, function and schema names, comments) the
  // shape holds as written. The probe has just hashed the text.
  const uint64_t shape = repeats ? 0 : probe_->last_query_shape();
  if (shape != 0 && cleared_shapes().contains(shape)) return;
  if (!router::might_matter(sql)) {
    if (repeats && sql.size() <= kMaxClearedText) cleared.assign(sql);
    if (shape != 0) cleared_shapes().add(shape);
    return;
  }
  const router::Classification& c = classifier().classify(sql);
  uint8_t pins = pins_;
  // Unpins first: a statement that releases and takes the same thing keeps it.
  for (const router::UnpinAction action : c.unpins) {
    for (size_t r = 0; r < router::kPinReasonCount; ++r) {
      if (router::releases(action, static_cast<router::PinReason>(r))) pins &= ~(1u << r);
    }
  }
  for (const router::PinReason reason : c.pins) {
    const auto bit = static_cast<uint8_t>(1u << static_cast<size_t>(reason));
    if (!(pins & bit)) ctx_.pins_total[static_cast<size_t>(reason)]++;
    pins |= bit;
  }
  if (pins != pins_) {
    pins_ = pins;
    info_->pins.store(pins, std::memory_order_relaxed);
  }
  for (const auto& setting : c.session_settings) live_->settings_in_flight_.push_back(setting);
}

void ClientSession::settle_settings(char type, std::span<const uint8_t> body,
                                    pool::ServerConnection& server) {
  if (live_->settings_in_flight_.empty()) return;
  if (type == 'E') {
    settings_failed_ = true;
  } else if (type == 'C') {
    const std::string_view tag(reinterpret_cast<const char*>(body.data()),
                               body.empty() ? 0 : body.size() - 1);
    if (tag == "COMMIT") settings_committed_ = true;
  } else if (type == 'Z' && !body.empty()) {
    const char status = static_cast<char>(body[0]);
    if (status != 'I') {
      settings_in_tx_ = true;
      return;
    }
    if (!settings_failed_ && (!settings_in_tx_ || settings_committed_)) {
      for (const auto& setting : live_->settings_in_flight_) {
        wanted_params_.update([&](ParamMap& m) {
          apply_client_setting(setting.name, setting.value, startup_params_, m,
                               {server.params, server.extra_params});
        });
      }
      server.params_fingerprint = wanted_params_.fingerprint();
      update_statement_name_context();
    }
    live_->settings_in_flight_.clear();
    settings_failed_ = settings_in_tx_ = settings_committed_ = false;
  }
}

void ClientSession::update_statement_name_context() {
  if (!prepared_) return;
  const auto it = wanted_params_.find("search_path");
  prepared_->set_name_context(it == wanted_params_.end() ? std::string() : it->second);
}

void ClientSession::count_client_message(char type, pool::Clock::time_point now) {
  switch (type) {
    case 'Q':
    case 'F':
      if (pending_syncs_++ == 0) live_->query_start_ = now;
      break;
    case 'S':
      if (pending_syncs_++ == 0) live_->query_start_ = now;
      extended_open_ = false;
      break;
    case 'P':
    case 'B':
    case 'D':
    case 'E':
    case 'C':
    case 'H':
      extended_open_ = true;
      break;
    default:
      break;
  }
}

bool ClientSession::request_park() {
  if (pump_loop_alive_ || !waiting_idle_ || park_requested_) return false;
  park_requested_ = true;
  std::error_code ignored;
  live_->client_.socket().cancel(ignored);  // only the relay's read is pending
  return true;
}

asio::awaitable<bool> ClientSession::relay() {
  // Bytes left after a scan are an incomplete message, so every round starts with a read
  // (except the first, which may find a message sent right behind the login).
  bool need_read = live_->in_.empty();
  for (;;) {
    bool read_first = need_read;
    if (need_read && live_->in_.empty() && !live_->client_.is_tls()) {
      // (TLS may hold decrypted bytes: relay_round reads at once.)
      // The read is issued straight away, holding the buffer: a wait-then-read would cost
      // an epoll_ctl per message, as asio re-arms the socket for every wait. A client idle
      // for kParkAfter gives the buffer back when check_timeouts() cancels this read.
      // A fresh login's first read is small: a silent one parks later, and should leave no
      // default chunk behind (see ReadBuffer::kSmallChunk).
      // (Chosen before the co_await: GCC 12 miscompiles a ?: inside one.)
      const asio::mutable_buffer into = live_->in_.prepare(
          fresh_login_ ? net::ReadBuffer::kSmallChunk : net::ReadBuffer::kDefaultChunk);
      waiting_idle_ = true;
      auto [ec, n] = co_await live_->client_.read_some(into);
      waiting_idle_ = false;
      const bool park = ec == asio::error::operation_aborted && park_requested_;
      park_requested_ = false;  // (a cancel that came after the data had no effect)
      if (park) {
        live_->in_.release();
        co_return true;
      }
      if (ec || n == 0) co_return false;
      end_fresh_login();
      live_->in_.commit(n);
      read_first = false;
    }
    if (!co_await relay_round(read_first)) co_return false;
    need_read = true;
  }
}

asio::awaitable<bool> ClientSession::relay_round(bool read_first) {
  {
    if (read_first) {
      auto [ec, n] = co_await live_->client_.read_some(live_->in_.prepare());
      if (ec || n == 0) co_return false;
      live_->in_.commit(n);
    }
    if (track_statements_ && !prepared_) {
      // Created with the client's first message, before any request is in flight: idle
      // clients that never sent anything do without.
      prepared_ =
          std::make_unique<PreparedStatements>(static_cast<size_t>(cfg_->max_prepared_statements));
      update_statement_name_context();
    }
    if (!probe_) probe_ = std::make_unique<QueryProbe>(*info_, *cfg_);
    if (prepared_ && !live_->server_ && transaction_idle_between_leases()) {
      std::string answers;
      if (prepared_->answer_prepare_batch(live_->in_.data(), answers)) {
        live_->in_.consume(live_->in_.size());
        const std::array<asio::const_buffer, 1> bufs{asio::buffer(answers)};
        if (co_await write_client(bufs)) co_return false;
        co_return true;
      }
    }
    // Statement names are rewritten for the server at hand, so it must be known first.
    if (prepared_ && !live_->server_ && live_->in_.size() >= protocol::kHeaderSize &&
        live_->in_.data()[0] != 'X') {
      if (!lease_now(&live_->pool_ticket_)) {
        if (live_->pool_ticket_.queued()) co_await pool_->wait_turn(live_->pool_ticket_, kNoThrow);
        if (!lease_handed() && !co_await ensure_server()) co_return false;
      }
    }
    // One clock read per batch of client messages (they arrived together), taken after any
    // wait for a server above: it starts the batch's query and probe timings.
    const pool::Clock::time_point now = pool::Clock::now();
    last_client_activity_ = now;
    bool terminate = false;
    Splicer splice(live_->in_.data(), live_->client_splice_);
    const bool track = prepared_ != nullptr;
    const bool pinning = mode_ == config::PoolMode::kTransaction;
    ScanResult scan = live_->client_scan_.scan(
        live_->in_.data(),
        [track, pinning, probe = probe_.get()](char type) {
          return (pinning && (type == 'Q' || type == 'P')) ||
                 (track && is_statement_message(type)) || probe->reads_body(type);
        },
        [&](char type, std::span<const uint8_t> body, bool complete, size_t offset) {
          if (type == 'X') {
            terminate = true;
            return ScanAction::kStopBefore;
          }
          count_client_message(type, now);
          probe_->on_client_message(type, body, prepared_.get(), now);
          if (pinning && complete && (type == 'Q' || type == 'P')) {
            protocol::BodyReader r(body);
            if (type == 'P') r.cstr();  // the statement name
            const std::string_view sql = r.cstr();
            if (r.ok()) classify_statement(sql, type == 'P');
          }
          if (track && live_->server_) {
            // Rewritten into the worker's scratch string, then copied into the splice: no
            // allocation per message, and no store for a session whose bytes are never
            // rewritten. (Used within this call only: no suspension in between.)
            thread_local std::string rewritten;
            if (rewritten.capacity() > kMaxKeptRewrite) std::string().swap(rewritten);
            rewritten.clear();
            const bool rewrote =
                complete &&
                (type == 'Q'
                     ? prepared_->rewrite_query(query_text(body), live_->server_->statements,
                                                rewritten)
                     : is_statement_message(type) &&
                           prepared_->rewrite(type, body, live_->server_->statements, rewritten));
            if (rewrote) {
              splice.replace(offset, offset + protocol::kHeaderSize + body.size(), rewritten);
            } else {
              // Whole messages are kept in case the batch must be sent again.
              const auto message = complete ? std::span<const uint8_t>(live_->in_.data().subspan(
                                                  offset, protocol::kHeaderSize + body.size()))
                                            : std::span<const uint8_t>();
              prepared_->note_request(type, message);
            }
          }
          return ScanAction::kForward;
        });
    if (scan.error) {
      co_await stop_server_pump();
      co_await fatal(sqlstate::kProtocolViolation, scan.error_message);
      co_return false;
    }
    if (scan.forward > 0) {
      if (!live_->server_ && !lease_now(&live_->pool_ticket_)) {
        if (live_->pool_ticket_.queued()) co_await pool_->wait_turn(live_->pool_ticket_, kNoThrow);
        if (!lease_handed() && !co_await ensure_server()) co_return false;
      }
      pool_->stats().add_received(scan.forward);
      std::array<asio::const_buffer, 1> plain;  // no allocation for the common case
      plain[0] = asio::buffer(live_->in_.data().data(), scan.forward);
      const std::span<const asio::const_buffer> bufs =
          splice.edited() ? splice.finish(scan.forward)
                          : std::span<const asio::const_buffer>(plain);
      const auto [ec, n] = co_await start_server_write(bufs);
      finish_server_write();
      if (ec) {
        if (live_->server_) live_->server_->broken = true;
        co_await stop_server_pump();
        co_await fatal(sqlstate::kConnectionFailure, "server connection lost");
        co_return false;
      }
      live_->in_.consume(scan.forward);
      if (track) {
        // Answers the proxy owes with nothing still pending before them (a Parse of a
        // statement the server has, then Flush) go out now.
        std::string answers;
        prepared_->take_ready_answers(answers);
        if (!answers.empty()) {
          const std::array<asio::const_buffer, 1> bufs{asio::buffer(answers)};
          if (co_await write_client(bufs)) co_return false;
        }
      }
    }
    if (terminate) co_return false;
  }
  co_return true;
}

asio::awaitable<std::error_code> ClientSession::write_client(
    std::span<const asio::const_buffer> bufs) {
  const auto [ec, n] = co_await start_client_write(bufs);
  finish_client_write();
  co_return ec;
}

asio::awaitable<std::error_code> ClientSession::write_server(
    std::span<const asio::const_buffer> bufs) {
  const auto [ec, n] = co_await start_server_write(bufs);
  finish_server_write();
  co_return ec;
}

asio::awaitable<ClientSession::WriteResult> ClientSession::start_client_write(
    std::span<const asio::const_buffer> bufs) {
  // (Not a coroutine.) The relay and the pump may both answer the client: one write at a
  // time.
  if (client_writing_) return client_write_in_turn(bufs);
  client_writing_ = true;
  return live_->client_.send_all(bufs);
}

asio::awaitable<ClientSession::WriteResult> ClientSession::start_server_write(
    std::span<const asio::const_buffer> bufs) {
  // (Not a coroutine.) The relay forwards, the pump re-sends a batch: one write at a time.
  if (server_writing_ || !live_->server_) return server_write_in_turn(bufs);
  server_writing_ = true;
  return live_->server_->stream.send_all(bufs);
}

asio::awaitable<ClientSession::WriteResult> ClientSession::client_write_in_turn(
    std::span<const asio::const_buffer> bufs) {
  while (client_writing_) co_await wait_changed();
  client_writing_ = true;
  co_return co_await live_->client_.send_all(bufs);
}

asio::awaitable<ClientSession::WriteResult> ClientSession::server_write_in_turn(
    std::span<const asio::const_buffer> bufs) {
  while (server_writing_) co_await wait_changed();
  server_writing_ = true;
  if (!live_->server_) co_return WriteResult{asio::error::not_connected, 0};
  co_return co_await live_->server_->stream.send_all(bufs);
}

asio::awaitable<void> ClientSession::server_pump_loop() {
  // One coroutine per session, parked between leases. A lease's pumping runs inline below:
  // a coroutine of its own would cost a frame per lease.
  auto self = shared_from_this();
  while (!pump_loop_exit_) {
    if (!pump_running_) {
      if (pump_loop_end_) break;
      co_await live_->pump_parked_.wait(kNoThrow);
      continue;
    }
    bool release = false;
    bool answered = false;        // the lease ended before its last answer was written
    pool::Clock::time_point now;  // when the last batch arrived
    // closing_ is checked before every read: a stop requested before the first read was
    // issued had nothing to cancel.
    while (live_->server_ && !release && !closing_) {
      pool::ServerConnection& server = *live_->server_;
      {
        auto [ec, n] = co_await server.stream.read_some(server.in.prepare());
        if (ec || n == 0) {
          // Only our own cancel (client left while the server was idle) keeps it reusable.
          if (ec != asio::error::operation_aborted) server.broken = true;
          if (ec != asio::error::operation_aborted && !closing_) {
            // The server went away mid-conversation: tell the client, then drop it. It may
            // have restarted: the pool's older connections must be checked before reuse.
            pool_->host().mark_suspect(pool::Clock::now());
            std::string out;
            protocol::append_error(out, protocol::kSeverityFatal, sqlstate::kConnectionFailure,
                                   "server closed the connection unexpectedly");
            co_await live_->client_.write_all(asio::buffer(out));
            live_->client_.close();
          }
          break;
        }
        server.in.commit(n);
      }
      bool saw_idle_rfq = false;
      const bool track = prepared_ != nullptr;
      // One clock read per batch of server messages, for every timing they end.
      now = pool::Clock::now();
      Splicer splice(server.in.data(), live_->server_splice_);
      ScanResult scan = live_->server_scan_.scan(
          server.in.data(),
          [track, settling = mode_ == config::PoolMode::kTransaction,
           probing = probe_ != nullptr](char type) {
            return type == 'Z' || type == 'S' || type == 'E' || (track && is_completion(type)) ||
                   ((settling || probing) && type == 'C');
          },
          [&](char type, std::span<const uint8_t> body, bool, size_t offset) {
            saw_idle_rfq = false;
            if (track) {
              bool forward = true;
              std::string before;
              std::string after;
              prepared_->on_server_message(type, body, server.statements, forward, before, after);
              const size_t end = offset + protocol::kHeaderSize + body.size();
              if (!before.empty()) splice.insert(offset, before);
              if (!forward) splice.drop(offset, end);
              if (!after.empty()) splice.insert(end, after);
              // What the proxy swallows of a batch it sends again (the error, its
              // ReadyForQuery) never happened for the client.
              if (!forward && (type == 'E' || type == 'Z')) return ScanAction::kForward;
            }
            if (probe_ && QueryProbe::watches(type)) probe_->on_server_message(type, body, now);
            if (type == 'Z' && !body.empty()) {
              tx_status_ = static_cast<char>(body[0]);
              server.tx_status = tx_status_;
              if (pending_syncs_ > 0 && --pending_syncs_ == 0) {
                pool_->stats().add_query(micros_between(live_->query_start_, now));
                query_timeout_cancel_sent_ = false;
              }
              if (tx_status_ == 'I') {
                pool_->stats().add_xact(micros_between(live_->xact_start_, now));
                live_->xact_start_ = now;
                saw_idle_rfq = true;
              }
            } else if (type == 'E' && is_fatal_error(body)) {
              server.broken = true;  // the server closes the connection after a FATAL
            } else if (type == 'S') {
              if (auto p = protocol::parse_parameter_status(body)) {
                server.params[p->first] = p->second;
                if (reported_param_differs(wanted_params_.get(), p->first, p->second) &&
                    wanted_params_.update(
                        [&](ParamMap& m) { track_reported_param(m, p->first, p->second); })) {
                  // The report came from this server: it now holds exactly what we want.
                  server.params_fingerprint = wanted_params_.fingerprint();
                }
              }
            }
            if (type == 'E' || type == 'C' || type == 'Z') settle_settings(type, body, server);
            return ScanAction::kForward;
          });
      if (scan.error) {
        spdlog::warn("server sent a malformed message: {}", scan.error_message);
        server.broken = true;
        co_await fatal(sqlstate::kProtocolViolation, "server sent a malformed message");
        break;
      }
      // A batch that failed on a stale statement goes again, re-prepared (after the answer).
      const std::string resend = track ? prepared_->take_resend() : std::string();
      // Transaction mode: the lease ends at the transaction's end when nothing else is
      // under way on either side.
      auto lease_ends = [&] {
        return saw_idle_rfq && mode_ == config::PoolMode::kTransaction && pins_ == 0 &&
               transaction_idle() && !closing_;
      };
      if (scan.forward > 0) {
        pool_->stats().add_sent(scan.forward);
        // (No co_await inside ?: or on braced temporaries: GCC 12 miscompiles those.)
        std::array<asio::const_buffer, 1> plain;  // no allocation for the common case
        plain[0] = asio::buffer(server.in.data().data(), scan.forward);
        const std::span<const asio::const_buffer> bufs =
            splice.edited() ? splice.finish(scan.forward)
                            : std::span<const asio::const_buffer>(plain);
        if (scan.forward <= kAnswerCopyMax && scan.forward == server.in.size() && resend.empty() &&
            lease_ends()) {
          release_before_answer(bufs, now);
          // (Written here rather than in a coroutine of its own: a frame per transaction.)
          const std::array<asio::const_buffer, 1> answer{asio::buffer(live_->answer_)};
          const auto [ec, n] = co_await start_client_write(answer);
          finish_client_write();
          if (ec) live_->client_.close();  // run() sees that and cleans up
          answered = true;
          break;
        }
        const auto [ec, n] = co_await start_client_write(bufs);
        finish_client_write();
        server.in.consume(scan.forward);
        if (ec) {
          live_->client_.close();  // the client is gone; run() sees that and cleans up
          break;
        }
      }
      if (!resend.empty()) {
        const std::array<asio::const_buffer, 1> bufs{asio::buffer(resend)};
        if (co_await write_server(bufs)) {
          server.broken = true;
          co_await fatal(sqlstate::kConnectionFailure, "server connection lost");
          break;
        }
      }
      release = lease_ends() && server.in.empty();
    }
    if (answered) continue;  // (release_before_answer() has ended the lease)
    pump_running_ = false;
    if (release) release_server(now, true);
    notify_changed();
  }
  pump_loop_alive_ = false;
  pump_loop_end_ = false;
}

void ClientSession::release_before_answer(std::span<const asio::const_buffer> bufs,
                                          pool::Clock::time_point now) {
  // The server has said all it will: its connection goes back to the pool now, not after
  // the write to the client completes. That write takes an event-loop round (on io_uring
  // its completion comes with the next batch), which a client waiting for a connection
  // would otherwise wait too. The answer is copied first, since the next lease reuses the
  // connection's buffer.
  std::string& answer = live_->answer_;
  answer.clear();
  for (const auto& b : bufs) answer.append(static_cast<const char*>(b.data()), b.size());
  live_->server_->in.consume(live_->server_->in.size());
  pump_running_ = false;
  release_server(now, true);  // (a client waiting here may run before the answer goes out)
  notify_changed();
}

}  // namespace sluice::session
