// Protocol-level prepared statements in transaction mode. A client's named statements
// live on whatever server connection it happens to get, so the proxy:
//  - remembers each client's statements (name -> query text and parameter types);
//  - names them on the server by a hash of text and types ("sluice_<hex>"), so clients
//    with the same query share one server-side statement and names never collide;
//  - prepares a statement on demand when a client Binds or Describes it on a server
//    connection that does not have it yet, and keeps at most max_prepared_statements per
//    server connection (least recently used ones are closed);
//  - answers a Parse of a statement the server already has, and a Close, itself.
// Because it adds, drops and answers messages, it tracks every request in flight so that
// each server response is matched to its request and the client sees exactly the
// responses it asked for, in order.
//
// Shared server statements can go stale: after DDL changes a table's shape, PostgreSQL
// refuses to run a statement planned before it ("cached plan must not change result type",
// 0A000) — also for a client that prepared it after the DDL, since the server statement is
// older. The statement is then closed and prepared again on that server connection, and
// when nothing of the client's batch can have run yet (it started outside a transaction
// block and the failure came before any Execute), and the batch began with a message about
// a named statement (so it was kept, see settle_resendable), it is sent again: the client sees
// the results, not the error. Otherwise the error reaches the client, as PostgreSQL would
// send it, and the next use prepares the statement afresh.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pool/statement_cache.h"
#include "session/request_queue.h"

namespace sluice::session {

// What the proxy does with the server's responses to one request it forwarded or made.
enum class ResponseRoute : uint8_t {
  kForward,  // the client's own request: pass responses through
  kSwallow,  // the proxy's own request: drop its responses (errors still reach the client)
  kAnswer,   // answered by the proxy: `answer` goes to the client in this request's place
};

struct PendingRequest {
  PendingRequest(char t, ResponseRoute r, std::string answer_ = {}, std::string server = {},
                 std::string client = {})
      : type(t),
        route(r),
        answer(std::move(answer_)),
        server_statement(std::move(server)),
        client_statement(std::move(client)) {}
  PendingRequest() = default;

  char type = 0;  // the request's message type: P B D E C S Q F
  ResponseRoute route = ResponseRoute::kForward;
  std::string answer;            // for kAnswer
  std::string server_statement;  // for P: the server-side name being prepared
  // For P from the client: its own name; for B and D: the client's name of the statement
  // used (short, so no allocation per message), to find it again after a stale-plan error.
  std::string client_statement;
};

// A request in flight as the queue holds it: most carry no strings (every request of an
// unnamed-statement batch does without), so the strings of the others are queued apart,
// in the same order, and this entry needs no destructor and few bytes.
struct InFlight {
  char type = 0;
  ResponseRoute route = ResponseRoute::kForward;
  bool detailed = false;  // its PendingRequest is in details_
};

class PreparedStatements {
 public:
  using Bytes = std::span<const uint8_t>;

  explicit PreparedStatements(size_t max_per_server) : max_per_server_(max_per_server) {}

  // Rewrites one client message of type P, B, D or C for `server` and appends what must
  // go to the server to `out` (possibly nothing, or extra messages first). Returns false
  // when the message is not one it handles (caller forwards it unchanged) — but then the
  // caller must still call note_request() for types that get responses.
  bool rewrite(char type, Bytes body, pool::ServerStatementCache& server, std::string& out);
  // Without a server connection, a batch of only named Parse (and Flush) messages ending
  // in Sync — what libpq's PQprepare sends — is answered by the proxy: the statements are
  // recorded and prepared on a server when first bound. Waiting for a server here could
  // deadlock a client that prepares synchronously while another of its connections holds
  // the pool's last server connection in a transaction (pgbench -M prepared does).
  // Returns false, changing nothing, for any other batch.
  bool answer_prepare_batch(Bytes data, std::string& answers);
  // For a simple Query: SQL-level DEALLOCATE of one of the client's protocol-level
  // statements (psycopg 3 does this) is rewritten to its server-side name; DEALLOCATE ALL
  // and DISCARD ALL forget the client's statements and the server's cache, since the
  // server drops them all. Returns true when it wrote a replacement to `out` (and noted
  // the request); false means: forward unchanged and call note_request('Q').
  bool rewrite_query(std::string_view sql, pool::ServerStatementCache& server, std::string& out);
  // Records a message forwarded unchanged (E, S, Q, F, and P/B/D/C it did not rewrite);
  // `message` is the whole message as sent, or empty when it streams through in parts.
  void note_request(char type, Bytes message = {});

  // Routes one server message (`body` is complete for the types the relay inspects: Z, E
  // and the completions). Sets `forward` (pass it on), and fills `before`/`after` with
  // answers the proxy owes the client around it.
  void on_server_message(char type, Bytes body, pool::ServerStatementCache& server, bool& forward,
                         std::string& before, std::string& after);
  // Answers owed right now because nothing the server still has to answer precedes them.
  // (Inline: called twice per server message, and there are rarely any.)
  void take_ready_answers(std::string& out) {
    if (plain_queries_ == 0 && !pending_.empty() &&
        pending_.front().route == ResponseRoute::kAnswer) {
      append_ready_answers(out);
    }
  }
  // Messages to send to the server again after a stale statement was re-prepared (see
  // above); empty when none. The caller writes them before any later client message.
  std::string take_resend() { return batch_ ? std::exchange(batch_->resend, {}) : std::string(); }

  // Server-side names also depend on this (the client's search_path: the same text can
  // mean other tables under another one), so clients only share statements that mean the
  // same thing.
  void set_name_context(std::string context) { name_context_ = std::move(context); }

  bool idle() const { return plain_queries_ == 0 && pending_.empty(); }
  // The text of the client's statement `name` (query statistics); null when unknown.
  const std::string* query_of(std::string_view name) const {
    const auto it = statements_.find(std::string(name));
    return it == statements_.end() ? nullptr : &it->second.query;
  }
  // The lease ended abnormally: forget requests in flight.
  void reset_pending() {
    plain_queries_ = 0;
    pending_.clear();
    details_.clear();
    if (batch_) batch_->clear();
    batch_open_ = false;
    tx_status_ = 'I';
  }

 private:
  struct Statement {
    std::string query;
    std::string param_types;  // raw: int16 count + int32 OIDs, as in Parse
    std::string server_name;
  };
  // DEALLOCATE of a client's statement -> the SQL to run instead (a Parse of it may be
  // appended to `prefix` first); DEALLOCATE ALL / DISCARD ALL reset the caches.
  std::optional<std::string> rewrite_deallocate(std::string_view sql,
                                                pool::ServerStatementCache& server,
                                                std::string& prefix);
  void append_ready_answers(std::string& out);
  bool rewrite_message(char type, Bytes body, pool::ServerStatementCache& server, std::string& out);
  void ensure_prepared(const Statement& st, pool::ServerStatementCache& server, std::string& out);
  // Parse of `st` on `server` (closing a stale copy and the evicted statement first);
  // `client_name` is set for the client's own Parse, whose answer it gets (route).
  void prepare_on_server(const Statement& st, pool::ServerStatementCache& server,
                         ResponseRoute route, const std::string& client_name, std::string& out);
  void drop_until_sync(pool::ServerStatementCache& server);
  std::string server_statement_name(const std::string& query, const std::string& types) const;

  // Every request goes through here: in flight, and in the batch kept for a re-send.
  // (Built in place from push()'s arguments: most requests carry no strings, and a
  // PendingRequest copied and moved costs more than the rest of the message's tracking.)
  template <typename... Args>
  void push(char type, ResponseRoute route, Args&&... strings) {
    constexpr bool kDetailed = sizeof...(Args) > 0;
    if (batch_resendable_) {
      KeptBatch& kept = kept_batch();
      kept.requests.push_back(InFlight{type, route, kDetailed});
      if constexpr (kDetailed) kept.details.emplace_back(type, route, strings...);
    }
    if constexpr (kDetailed) details_.emplace_back(type, route, std::forward<Args>(strings)...);
    pending_.push_back(InFlight{type, route, kDetailed});
  }
  void push(PendingRequest request) {
    const bool detailed = !request.answer.empty() || !request.server_statement.empty() ||
                          !request.client_statement.empty();
    if (batch_resendable_) {
      KeptBatch& kept = kept_batch();
      kept.requests.push_back(InFlight{request.type, request.route, detailed});
      if (detailed) kept.details.push_back(request);
    }
    pending_.push_back(InFlight{request.type, request.route, detailed});
    if (detailed) details_.push_back(std::move(request));
  }
  // The strings of pending_.front(); empty ones when it carries none.
  const PendingRequest& front_detail() const {
    static const PendingRequest kNone;
    return pending_.front().detailed ? details_.front() : kNone;
  }
  void pop_request() {
    if (pending_.front().detailed) details_.pop_front();
    pending_.pop_front();
  }
  // A client message starts a batch if none is open; `sent` are the bytes it put on the
  // wire (kept while the batch may have to be sent again).
  void begin_message();
  // A batch is kept for a re-send only when its first message is about a named statement
  // (rewrite() handled it), as only those can fail on a stale statement: the bytes of
  // batches of the unnamed statement (`pgbench -M extended`, most drivers' one-off
  // queries) are not copied. Called for each message, `named` when rewrite() handled it.
  void settle_resendable(bool named);
  void keep_sent(char type, std::string_view sent);
  // On "cached plan must not change result type" for the statement `front` used.
  bool retry_stale_statement(pool::ServerStatementCache& server);

  size_t max_per_server_;
  std::string name_context_;
  std::unordered_map<std::string, Statement> statements_;  // by the client's name
  // Requests in flight, in order: first plain_queries_ simple Queries, then pending_.
  // Simple Queries forwarded as they are, with nothing in pending_ before them, are only
  // counted: their responses pass through untouched, so an entry would tell nothing, and
  // a simple-protocol client sends one per statement.
  size_t plain_queries_ = 0;
  RequestQueue<InFlight> pending_;
  RequestQueue<PendingRequest> details_;  // of the detailed entries of pending_, in order

  // The client's current batch (messages up to and including Sync), kept while it could
  // be sent again: it began with nothing in flight, outside a transaction block, and is
  // small. batch_ mirrors its requests in order (as pending_ and details_ hold them) and
  // holds what was sent. Made when a batch is first kept: clients that never use a named
  // statement do without (10,000 idle clients notice every field).
  bool batch_open_ = false;
  bool batch_first_ = false;  // no message of the open batch was kept or dropped yet
  bool batch_resendable_ = false;
  bool batch_is_resend_ = false;  // a batch is sent again at most once
  char tx_status_ = 'I';          // the server's, as of its last ReadyForQuery
  struct KeptBatch {
    std::vector<InFlight> requests;
    std::vector<PendingRequest> details;  // of the detailed requests, in order
    std::string bytes;                    // what the batch put on the wire
    std::string resend;                   // the batch again, for take_resend()
    void clear() {
      requests.clear();
      details.clear();
    }
    // Every request in full (only when the batch is sent again).
    std::vector<PendingRequest> expand() const;
  };
  KeptBatch& kept_batch() {
    if (!batch_) batch_ = std::make_unique<KeptBatch>();
    return *batch_;
  }
  std::unique_ptr<KeptBatch> batch_;
};

}  // namespace sluice::session
