#include "session/prepared_statements.h"

#include <cctype>
#include <optional>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "common/bytes.h"
#include "protocol/builder.h"
#include "protocol/frame.h"
#include "protocol/reader.h"
#include "protocol/sha256.h"
#include "stats/proxy_counters.h"

namespace sluice::session {

namespace {

constexpr size_t kServerNameHashBytes = 16;  // 128 bits: collisions are not a concern
// A batch larger than this is not kept for a re-send (a stale statement's error then
// reaches the client).
constexpr size_t kMaxResendBytes = size_t{64} * 1024;
// Between batches a client keeps at most this much of that buffer.
constexpr size_t kKeptResendCapacity = 1024;

// "sluice_" + hex of a hash of query text, parameter types and name context.
std::string hashed_statement_name(const std::string& query, const std::string& param_types,
                                  const std::string& context) {
  constexpr std::string_view kSeparator("\0", 1);
  protocol::Sha256 hash;
  hash.update(query).update(kSeparator).update(param_types);
  if (!context.empty()) hash.update(kSeparator).update(context);
  const auto digest = hash.finish();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "sluice_";
  for (size_t i = 0; i < kServerNameHashBytes; ++i) {
    name += kHex[digest[i] >> 4];
    name += kHex[digest[i] & 0xF];
  }
  return name;
}

std::string parse_message(std::string_view name, std::string_view query,
                          std::string_view param_types) {
  std::string out;
  protocol::MessageWriter(out).begin('P').cstr(name).cstr(query).raw(param_types).end();
  return out;
}

std::string close_statement_message(const std::string& name) {
  std::string out;
  protocol::MessageWriter(out).begin('C').byte('S').cstr(name).end();
  return out;
}

std::string bare_message(char type) {
  std::string out;
  protocol::MessageWriter(out).begin(type).end();
  return out;
}

// Whether `response` completes a request of type `request` (errors are handled apart).
bool completes(char request, char response) {
  switch (request) {
    case 'P':
      return response == '1';
    case 'B':
      return response == '2';
    case 'D':
      return response == 'T' || response == 'n';
    case 'E':
      return response == 'C' || response == 'I' || response == 's';
    case 'C':
      return response == '3';
    case 'S':
    case 'Q':
    case 'F':
      return response == 'Z';
    default:
      return false;
  }
}

bool is_extended(char request) {
  return request == 'P' || request == 'B' || request == 'D' || request == 'E' || request == 'C';
}

// Whether a request of this type gets a response the tracker waits for.
bool gets_response(char type) { return completes(type, 'Z') || is_extended(type); }

// PostgreSQL's "cached plan must not change result type": 0A000 raised where a cached
// plan is revalidated (the routine name is not translated, unlike the message).
bool is_stale_plan_error(std::span<const uint8_t> body) {
  const auto fields = protocol::parse_error_fields(body);
  const auto code = fields.find('C');
  const auto routine = fields.find('R');
  return code != fields.end() && code->second == protocol::sqlstate::kFeatureNotSupported &&
         routine != fields.end() && routine->second == "RevalidateCachedQuery";
}

// Splits simple SQL into words: identifiers (unquoted lower-cased, "quoted" kept as is)
// and a final ';'. Returns false on anything else (comments, literals, several statements).
bool simple_words(std::string_view sql, std::vector<std::string>& words) {
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == ';') {
      ++i;
      while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
      return i == sql.size();
    } else if (c == '"') {
      std::string word;
      for (++i; i < sql.size(); ++i) {
        if (sql[i] == '"') {
          if (i + 1 < sql.size() && sql[i + 1] == '"') {
            word += '"';
            ++i;
          } else {
            break;
          }
        } else {
          word += sql[i];
        }
      }
      if (i >= sql.size()) return false;
      ++i;
      words.push_back(std::move(word));
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      std::string word;
      while (i < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i++])));
      }
      words.push_back(std::move(word));
    } else {
      return false;
    }
  }
  return true;
}

// Whether the statement's first word is DISCARD or DEALLOCATE (any case): the only ones
// rewrite_deallocate() acts on. Checked before simple_words(), which allocates, as every
// simple query and unnamed Parse passes here: ASCII tests, no locale calls.
bool starts_with_discard_or_deallocate(std::string_view sql) {
  const auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  size_t i = 0;
  while (i < sql.size() && is_space(sql[i])) ++i;
  if (i == sql.size() || ascii_lower(sql[i]) != 'd') return false;
  size_t end = i;
  while (end < sql.size() && ascii_lower(sql[end]) >= 'a' && ascii_lower(sql[end]) <= 'z') ++end;
  const std::string_view word = sql.substr(i, end - i);
  return iequals(word, "discard") || iequals(word, "deallocate");
}

}  // namespace

std::string PreparedStatements::server_statement_name(const std::string& query,
                                                      const std::string& types) const {
  return hashed_statement_name(query, types, name_context_);
}

void PreparedStatements::begin_message() {
  if (batch_open_) return;
  batch_open_ = true;
  batch_first_ = true;
  batch_resendable_ = idle() && tx_status_ == 'I';
  batch_is_resend_ = false;
  if (!batch_) return;
  batch_->clear();
  if (batch_->bytes.capacity() > kKeptResendCapacity) {
    std::string().swap(batch_->bytes);  // a big batch's buffer is not kept for the next
  } else {
    batch_->bytes.clear();
  }
}

void PreparedStatements::settle_resendable(bool named) {
  if (!batch_first_) return;
  batch_first_ = false;
  if (!named) {
    batch_resendable_ = false;
    if (batch_) batch_->clear();
  }
}

void PreparedStatements::keep_sent(char type, std::string_view sent) {
  if (type == 'S' || type == 'Q' || type == 'F') batch_open_ = false;
  if (!batch_resendable_) return;
  KeptBatch& kept = kept_batch();
  if (type == 'Q' || type == 'F' || kept.bytes.size() + sent.size() > kMaxResendBytes) {
    batch_resendable_ = false;  // a simple query is no part of an extended batch
    kept.clear();
    return;
  }
  kept.bytes.append(sent);
}

void PreparedStatements::ensure_prepared(const Statement& st, pool::ServerStatementCache& server,
                                         std::string& out) {
  const bool hit = server.touch(st.server_name);
  stats::counters().add_statement_cache(hit);
  if (hit) return;
  prepare_on_server(st, server, ResponseRoute::kSwallow, {}, out);
}

void PreparedStatements::prepare_on_server(const Statement& st, pool::ServerStatementCache& server,
                                           ResponseRoute route, const std::string& client_name,
                                           std::string& out) {
  if (server.take_stale(st.server_name)) {
    out += close_statement_message(st.server_name);
    push('C', ResponseRoute::kSwallow);
  }
  if (auto evicted = server.add(st.server_name, max_per_server_)) {
    out += close_statement_message(*evicted);
    push('C', ResponseRoute::kSwallow);
  }
  out += parse_message(st.server_name, st.query, st.param_types);
  push('P', route, std::string(), st.server_name, client_name);
}

bool PreparedStatements::rewrite(char type, Bytes body, pool::ServerStatementCache& server,
                                 std::string& out) {
  begin_message();
  const size_t mark = out.size();
  if (!rewrite_message(type, body, server, out)) return false;
  settle_resendable(true);
  keep_sent(type, std::string_view(out).substr(mark));
  return true;
}

bool PreparedStatements::rewrite_message(char type, Bytes body, pool::ServerStatementCache& server,
                                         std::string& out) {
  protocol::BodyReader r(body);
  switch (type) {
    case 'P': {
      // Views into the message: an unnamed statement (most of them, and every one of
      // `pgbench -M extended`) passes on without a copy.
      const std::string_view name = r.cstr();
      // Drivers also DEALLOCATE through the unnamed statement (psycopg 3 does); any other
      // unnamed one passes on as it is, without a scan for the end of its text.
      if (r.ok() && name.empty() &&
          !starts_with_discard_or_deallocate(protocol::BodyReader(r).rest())) {
        return false;
      }
      const std::string_view query = r.cstr();
      const std::string_view types = r.rest();
      if (!r.ok()) return false;
      if (name.empty()) {
        auto replacement = rewrite_deallocate(query, server, out);
        if (!replacement) return false;
        out += parse_message("", *replacement, types);
        push('P', ResponseRoute::kForward);
        return true;
      }
      Statement st{std::string(query), std::string(types), {}};
      st.server_name = server_statement_name(st.query, st.param_types);
      const Statement& saved = statements_[std::string(name)] = std::move(st);
      const bool hit = server.touch(saved.server_name);
      stats::counters().add_statement_cache(hit);
      if (hit) {
        push('P', ResponseRoute::kAnswer, bare_message('1'));
        return true;
      }
      prepare_on_server(saved, server, ResponseRoute::kForward, std::string(name), out);
      return true;
    }
    case 'B': {
      const std::string_view portal = r.cstr();
      const std::string_view name = r.cstr();
      const std::string_view rest = r.rest();
      if (!r.ok() || name.empty()) return false;
      auto it = statements_.find(std::string(name));
      if (it == statements_.end()) return false;  // the server reports the unknown name
      ensure_prepared(it->second, server, out);
      protocol::MessageWriter(out)
          .begin('B')
          .cstr(portal)
          .cstr(it->second.server_name)
          .raw(rest)
          .end();
      push('B', ResponseRoute::kForward, std::string(), std::string(), std::string(name));
      return true;
    }
    case 'D': {
      const char kind = static_cast<char>(r.u8());
      if (kind != 'S') return false;  // a portal: nothing to rename
      std::string name(r.cstr());
      if (!r.ok() || name.empty()) return false;
      auto it = statements_.find(name);
      if (it == statements_.end()) return false;
      ensure_prepared(it->second, server, out);
      protocol::MessageWriter(out).begin('D').byte('S').cstr(it->second.server_name).end();
      push('D', ResponseRoute::kForward, std::string(), std::string(), name);
      return true;
    }
    case 'C': {
      const char kind = static_cast<char>(r.u8());
      if (kind != 'S') return false;  // a portal: nothing to rename
      std::string name(r.cstr());
      if (!r.ok() || name.empty()) return false;
      // Other clients may share the server-side statement: only the client's name goes.
      statements_.erase(name);
      push('C', ResponseRoute::kAnswer, bare_message('3'));
      return true;
    }
    default:
      return false;
  }
}

bool PreparedStatements::answer_prepare_batch(Bytes data, std::string& answers) {
  std::vector<std::pair<std::string, Statement>> batch;
  size_t pos = 0;
  bool synced = false;
  while (pos + protocol::kHeaderSize <= data.size() && !synced) {
    const char type = static_cast<char>(data[pos]);
    protocol::BodyReader header(data.subspan(pos + 1, 4));
    const auto len = static_cast<size_t>(static_cast<uint32_t>(header.i32()));
    if (len < 4 || pos + 1 + len > data.size()) return false;
    const Bytes body = data.subspan(pos + protocol::kHeaderSize, len - 4);
    pos += 1 + len;
    if (type == 'S') {
      synced = true;
    } else if (type == 'P') {
      protocol::BodyReader r(body);
      const std::string_view name = r.cstr();
      if (name.empty()) return false;  // (before the text is read: the usual case)
      const std::string_view query = r.cstr();
      const std::string_view types = r.rest();
      if (!r.ok()) return false;
      Statement st{std::string(query), std::string(types), {}};
      st.server_name = server_statement_name(st.query, st.param_types);
      batch.emplace_back(std::string(name), std::move(st));
    } else if (type != 'H') {
      return false;
    }
  }
  if (!synced || pos != data.size() || batch.empty() || !idle()) return false;
  for (auto& [name, st] : batch) {
    statements_[name] = std::move(st);
    answers += bare_message('1');
  }
  protocol::append_ready_for_query(answers, 'I');
  return true;
}

std::optional<std::string> PreparedStatements::rewrite_deallocate(
    std::string_view sql, pool::ServerStatementCache& server, std::string& prefix) {
  if (!starts_with_discard_or_deallocate(sql)) return std::nullopt;
  std::vector<std::string> w;
  if (!simple_words(sql, w) || w.empty()) return std::nullopt;
  const bool discard_all = w[0] == "discard" && w.size() == 2 && w[1] == "all";
  if (!discard_all && w[0] != "deallocate") return std::nullopt;
  size_t at = 1;
  if (!discard_all && at < w.size() && w[at] == "prepare") ++at;
  if (discard_all || (at + 1 == w.size() && w[at] == "all")) {
    // The server drops every statement: the client's and our cache of them go too.
    statements_.clear();
    server.clear();
    return std::nullopt;
  }
  if (at + 1 != w.size()) return std::nullopt;
  auto it = statements_.find(w[at]);
  if (it == statements_.end()) return std::nullopt;  // an SQL-level PREPAREd statement
  const Statement st = std::move(it->second);
  statements_.erase(it);
  // The server must have it for DEALLOCATE to succeed as the client expects.
  ensure_prepared(st, server, prefix);
  server.remove(st.server_name);
  return "DEALLOCATE " + st.server_name;
}

bool PreparedStatements::rewrite_query(std::string_view sql, pool::ServerStatementCache& server,
                                       std::string& out) {
  begin_message();
  const size_t mark = out.size();
  auto replacement = rewrite_deallocate(sql, server, out);
  if (!replacement) return false;
  protocol::append_query(out, *replacement);
  push('Q', ResponseRoute::kForward);
  keep_sent('Q', std::string_view(out).substr(mark));
  return true;
}

void PreparedStatements::note_request(char type, Bytes message) {
  begin_message();
  settle_resendable(false);
  if (type == 'Q' && pending_.empty()) {
    ++plain_queries_;  // (a Query ends any batch kept for a re-send: keep_sent below)
  } else if (gets_response(type)) {
    push(type, ResponseRoute::kForward);
  }
  if (message.empty()) batch_resendable_ = false;  // streamed through: not kept
  keep_sent(type, std::string_view(reinterpret_cast<const char*>(message.data()), message.size()));
}

void PreparedStatements::append_ready_answers(std::string& out) {
  while (!pending_.empty() && pending_.front().route == ResponseRoute::kAnswer) {
    out += front_detail().answer;
    pop_request();
  }
}

void PreparedStatements::drop_until_sync(pool::ServerStatementCache& server) {
  // After an error the server skips every extended-protocol message up to Sync: none of
  // them will be answered, and statements they would have created do not exist.
  while (!pending_.empty() && pending_.front().type != 'S') {
    const PendingRequest& p = front_detail();
    if (pending_.front().type == 'P') {
      if (!p.server_statement.empty()) server.remove(p.server_statement);
      if (!p.client_statement.empty()) statements_.erase(p.client_statement);
    }
    pop_request();
  }
}

std::vector<PendingRequest> PreparedStatements::KeptBatch::expand() const {
  std::vector<PendingRequest> all;
  all.reserve(requests.size());
  size_t detail = 0;
  for (const InFlight& r : requests) {
    if (r.detailed) {
      all.push_back(details[detail++]);
    } else {
      all.emplace_back(r.type, r.route);
    }
  }
  return all;
}

bool PreparedStatements::retry_stale_statement(pool::ServerStatementCache& server) {
  const auto found = statements_.find(front_detail().client_statement);
  if (found == statements_.end()) return false;  // closed since: nothing left to re-prepare
  const Statement& statement = found->second;
  const std::string& stale = statement.server_name;
  // Resendable: the whole batch (through its Sync) is kept, nothing was sent after it, and
  // no Execute of it ran before the failure; the implicit transaction it ran in is gone.
  static const KeptBatch kNone;
  const std::vector<InFlight>& kept = (batch_ ? *batch_ : kNone).requests;
  const bool whole = batch_resendable_ && !batch_open_ && !batch_is_resend_ && !kept.empty() &&
                     kept.back().type == 'S' && pending_.size() <= kept.size() &&
                     pending_.back().type == 'S';
  const size_t failed = whole ? kept.size() - pending_.size() : 0;
  bool executed = false;
  for (size_t i = 0; i < failed; ++i) executed = executed || kept[i].type == 'E';
  if (!whole || executed) {
    server.mark_stale(stale);  // the next use closes and prepares it again
    return false;
  }
  // The server skips to the Sync and answers it: swallow both, then send again.
  while (pending_.front().type != 'S') pop_request();
  pending_.front().route = ResponseRoute::kSwallow;

  // (whole: batch_ exists.)
  const std::vector<PendingRequest> sent = batch_->expand();
  const std::string bytes = std::move(batch_->bytes);
  batch_->clear();
  batch_->bytes.clear();
  batch_is_resend_ = true;  // batch_resendable_ stays: the new batch is kept the same way
  std::string& out = batch_->resend;
  out += close_statement_message(stale);
  push('C', ResponseRoute::kSwallow);
  out += parse_message(stale, statement.query, statement.param_types);
  push('P', ResponseRoute::kSwallow, std::string(), stale);
  server.touch(stale);
  // Walk the messages sent with the requests they made (answered ones made none).
  size_t pos = 0;
  size_t next = 0;
  while (pos + protocol::kHeaderSize <= bytes.size()) {
    const char type = bytes[pos];
    const size_t len = 1 + read_u32(reinterpret_cast<const uint8_t*>(bytes.data()) + pos + 1);
    if (len > bytes.size() - pos) break;  // (only whole messages are kept)
    const std::string_view message(bytes.data() + pos, len);
    pos += len;
    if (!gets_response(type)) {
      if (next >= failed) out += message;
      continue;
    }
    while (next < sent.size() && sent[next].route == ResponseRoute::kAnswer) {
      if (next >= failed) push(sent[next]);  // owed, not delivered yet
      ++next;
    }
    if (next >= sent.size()) break;
    PendingRequest request = sent[next];
    if (next++ < failed) {
      // Already answered. Statements it prepared survived the failure; its portals did
      // not: bind them again, quietly.
      if (type != 'B') continue;
      request.route = ResponseRoute::kSwallow;
    }
    out += message;
    push(std::move(request));
  }
  batch_open_ = false;
  return true;
}

void PreparedStatements::on_server_message(char type, Bytes body,
                                           pool::ServerStatementCache& server, bool& forward,
                                           std::string& before, std::string& after) {
  take_ready_answers(before);
  forward = true;
  if (type == 'Z' && !body.empty()) tx_status_ = static_cast<char>(body[0]);
  if (type == 'N' || type == 'S' || type == 'A' || idle()) return;
  if (plain_queries_ > 0) {
    if (type == 'Z' && --plain_queries_ == 0) take_ready_answers(after);
    return;
  }
  const InFlight& front = pending_.front();
  if (type == 'E') {
    if ((front.type == 'B' || front.type == 'D') && !front_detail().client_statement.empty() &&
        is_stale_plan_error(body) && retry_stale_statement(server)) {
      forward = false;
      return;
    }
    if (is_extended(front.type)) drop_until_sync(server);
  } else {
    forward = front.route != ResponseRoute::kSwallow;
    if (completes(front.type, type)) pop_request();
  }
  take_ready_answers(after);
}

}  // namespace sluice::session
