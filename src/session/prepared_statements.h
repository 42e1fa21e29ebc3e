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
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pool/statement_cache.h"

namespace sluice::session {

// What the proxy does with the server's responses to one request it forwarded or made.
enum class ResponseRoute : uint8_t {
  kForward,  // the client's own request: pass responses through
  kSwallow,  // the proxy's own request: drop its responses (errors still reach the client)
  kAnswer,   // answered by the proxy: `answer` goes to the client in this request's place
};

struct PendingRequest {
  char type = 0;  // the request's message type: P B D E C S Q F
  ResponseRoute route = ResponseRoute::kForward;
  std::string answer;            // for kAnswer
  std::string server_statement;  // for P: the server-side name being prepared
  std::string client_statement;  // for P from the client: its own name
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
  // Records a request forwarded unchanged (E, S, Q, F, and P/B/D/C it did not rewrite).
  void note_request(char type);

  // Routes one complete-or-starting server message. Sets `forward` (pass it on), and
  // fills `before`/`after` with answers the proxy owes the client around it.
  void on_server_message(char type, pool::ServerStatementCache& server, bool& forward,
                         std::string& before, std::string& after);
  // Answers owed right now because nothing the server still has to answer precedes them.
  void take_ready_answers(std::string& out);

  bool idle() const { return pending_.empty(); }
  // The lease ended abnormally: forget requests in flight.
  void reset_pending() { pending_.clear(); }

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
  void ensure_prepared(const Statement& st, pool::ServerStatementCache& server, std::string& out);
  void drop_until_sync(pool::ServerStatementCache& server);

  size_t max_per_server_;
  std::unordered_map<std::string, Statement> statements_;  // by the client's name
  std::deque<PendingRequest> pending_;
};

}  // namespace sluice::session
