// What a client session reports about each request it relays: per-fingerprint statistics
// (stats::QueryStats), the slow-query log, and errors by SQLSTATE class. The relay calls
// on_client_message() for Query, Parse, Bind, Sync and FunctionCall, on_server_message()
// for CommandComplete, ErrorResponse and ReadyForQuery, and on_lease_wait() after waiting
// for a server connection; nothing else.
//
// A request is a Query, or extended-protocol messages up to a Sync; it ends at its
// ReadyForQuery. Requests may be pipelined: they are matched to ReadyForQuery in order
// through a small ring. Its text is the Query's, or that of the statement last parsed or
// bound before the Sync (a named statement's text is found through the client's Parse).
//
// Threading: owned by the session, used on its worker only. Settings are the session's
// config snapshot: RELOAD applies to sessions that log in afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "pool/server_connection.h"
#include "session/client_registry.h"
#include "session/prepared_statements.h"
#include "stats/query_stats.h"

namespace sluice::session {

class QueryProbe {
 public:
  QueryProbe(const ClientInfo& client, const config::Config& cfg);

  // `prepared` (transaction mode) knows the text of statements whose Parse the proxy
  // answered itself; may be null.
  // `now`: when the message arrived (one clock read per batch, by the caller).
  void on_client_message(char type, std::span<const uint8_t> body,
                         const PreparedStatements* prepared, pool::Clock::time_point now);
  void on_server_message(char type, std::span<const uint8_t> body, pool::Clock::time_point now);
  void on_lease_wait(uint64_t us) { pending_wait_us_ += us; }
  // Client message types whose whole body the probe reads (Query, Parse, Bind), and
  // server message types it wants at all (CommandComplete, ErrorResponse, ReadyForQuery).
  bool reads_body(char type) const {
    return reads_text_ && (type == 'Q' || type == 'P' || type == 'B');
  }
  static bool watches(char type) { return type == 'C' || type == 'E' || type == 'Z'; }
  // query_shape_hash() of the last Query's text, which on_client_message() has just seen;
  // 0 when the probe does not read texts, or that one was not whole.
  uint64_t last_query_shape() const { return query_shape_; }

 private:
  using Params = std::vector<std::optional<std::string>>;
  struct Request {
    stats::QueryRef query;  // empty: not recorded (FunctionCall, unknown text)
    pool::Clock::time_point start;
    uint64_t rows = 0;
    bool error = false;
    std::optional<Params> params;  // only with log_parameters
  };
  // Requests in flight; beyond this many, later ones go unrecorded until the ring drains.
  static constexpr size_t kMaxInFlight = 16;
  // Longer texts are looked up each time rather than kept (see last_text_).
  static constexpr size_t kMaxRememberedText = 1024;
  // Named statements remembered per session when the proxy does not track them.
  static constexpr size_t kMaxNamedStatements = 256;

  // `repeats`: a text the client likely sent last time too (a Parse's), see last_text_.
  void set_current(std::string_view sql, bool repeats);
  void push(bool with_text, pool::Clock::time_point now);
  void finish(Request& r, pool::Clock::time_point now);
  void on_bind(std::span<const uint8_t> body, const PreparedStatements* prepared);

  const ClientInfo& client_;
  stats::QueryLabels labels_;
  const bool record_;       // stats.query_stats
  const uint64_t slow_us_;  // stats.slow_query_threshold; 0 = off
  const bool log_params_;   // stats.log_parameters (with a threshold)
  const std::string slow_log_path_;
  const bool reads_text_;  // statistics or the slow-query log are on
  stats::QueryRef current_;
  // The last Parse's text looked up and what it was: clients of the extended protocol send
  // the same text with every Parse, which then costs a comparison, not a hash of the text.
  std::string last_text_;
  stats::QueryRef last_ref_;
  uint64_t query_shape_ = 0;
  std::optional<Params> current_params_;
  std::unordered_map<std::string, stats::QueryRef> named_;  // session mode only
  std::array<Request, kMaxInFlight> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  size_t skipped_ = 0;  // requests not in the ring (it was full), still awaiting their Z
  uint64_t pending_wait_us_ = 0;
};

}  // namespace sluice::session
