#include "session/prepared_statements.h"

#include <gtest/gtest.h>

#include "../common/allocation_count.h"
#include "protocol/builder.h"
#include "protocol/frame.h"

namespace sluice::session {
namespace {

using Bytes = std::span<const uint8_t>;

Bytes bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Body (no header) of a client message.
std::string parse_body(const std::string& name, const std::string& query) {
  std::string out;
  protocol::MessageWriter(out).begin('P').cstr(name).cstr(query).i16(0).end();
  return out.substr(protocol::kHeaderSize);
}
std::string bind_body(const std::string& name) {
  std::string out;
  protocol::MessageWriter(out).begin('B').cstr("").cstr(name).i16(0).i16(0).i16(0).end();
  return out.substr(protocol::kHeaderSize);
}
std::string close_body(const std::string& name) {
  std::string out;
  protocol::MessageWriter(out).begin('C').byte('S').cstr(name).end();
  return out.substr(protocol::kHeaderSize);
}

// Message types found in a byte string of whole messages.
std::string types_of(const std::string& wire) {
  std::string types;
  size_t pos = 0;
  while (pos < wire.size()) {
    auto f = protocol::peek_message(bytes(wire).subspan(pos), 1 << 20);
    if (f.status != protocol::FrameStatus::kMessage) return types + "?";
    types += f.type;
    pos += f.size;
  }
  return types;
}

struct Routed {
  bool forward;
  std::string before;
  std::string after;
};
Routed route(PreparedStatements& ps, pool::ServerStatementCache& cache, char type,
             Bytes body = {}) {
  Routed r{};
  ps.on_server_message(type, body, cache, r.forward, r.before, r.after);
  return r;
}

// A whole client message of `type` with `body`.
std::string whole(char type, const std::string& body) {
  std::string out;
  protocol::MessageWriter(out).begin(type).raw(body).end();
  return out;
}

// The body of PostgreSQL's error for a statement whose result type changed after DDL.
std::string stale_plan_error() {
  std::string body;
  for (const auto& [field, value] : {std::pair<char, std::string>{'S', "ERROR"},
                                     {'C', "0A000"},
                                     {'M', "cached plan must not change result type"},
                                     {'R', "RevalidateCachedQuery"}}) {
    body += field;
    body += value;
    body += '\0';
  }
  body += '\0';
  return body;
}

// Prepares "s1" on `cache` and sees it answered, outside a transaction block.
void prepare_s1(PreparedStatements& ps, pool::ServerStatementCache& cache) {
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s1", "SELECT * FROM t")), cache, out));
  ps.note_request('S', bytes(whole('S', "")));
  route(ps, cache, '1');
  route(ps, cache, 'Z', bytes(std::string("I")));
  ASSERT_TRUE(ps.idle());
}

TEST(PreparedStatements, DeallocateIsFoundInAnyCaseAfterWhitespace) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  std::string out;
  ASSERT_TRUE(ps.rewrite_query(" \n\tDeAllocate Prepare s1;", cache, out));
  EXPECT_EQ(types_of(out), "Q");
  EXPECT_NE(out.find("DEALLOCATE sluice_"), std::string::npos);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(PreparedStatements, DiscardAllInAnyCaseForgetsEveryStatement) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  std::string out;
  EXPECT_FALSE(ps.rewrite_query("Discard ALL", cache, out));  // sent on as it is
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));  // s1 is gone
}

TEST(PreparedStatements, OtherSimpleQueriesAreLeftAsTheyAre) {
  for (const char* sql : {"SELECT 1", "deallocated_rows", "discarding", "DISCARD TEMP",
                          "deallocate unknown_name", "   ", ""}) {
    PreparedStatements ps(10);
    pool::ServerStatementCache cache;
    prepare_s1(ps, cache);
    std::string out;
    EXPECT_FALSE(ps.rewrite_query(sql, cache, out)) << sql;
    EXPECT_EQ(out, "") << sql;
    EXPECT_EQ(cache.size(), 1u) << sql;
  }
}

TEST(PreparedStatements, SimpleQueryPassesWithoutAnAllocation) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  std::string out;
  const size_t before = test::allocations_on_this_thread();
  EXPECT_FALSE(
      ps.rewrite_query("SELECT abalance FROM pgbench_accounts WHERE aid = 1;", cache, out));
  EXPECT_EQ(test::allocations_on_this_thread() - before, 0u);
}

TEST(PreparedStatements, UnnamedStatementPassesWithoutAnAllocation) {
  // What `pgbench -M extended` sends for every transaction: Parse, Bind, Describe,
  // Execute and Sync of the unnamed statement.
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  const std::string parse = parse_body("", "SELECT abalance FROM pgbench_accounts WHERE aid = $1");
  std::string bind;
  protocol::MessageWriter(bind)
      .begin('B')
      .cstr("")
      .cstr("")
      .i16(0)
      .i16(1)
      .i32(6)
      .raw("123456")
      .i16(0)
      .end();
  bind = bind.substr(protocol::kHeaderSize);
  const std::string batch = whole('P', parse) + whole('B', bind) + whole('S', "");
  std::string out;
  std::string answers;
  const size_t before = test::allocations_on_this_thread();
  EXPECT_FALSE(ps.answer_prepare_batch(bytes(batch), answers));
  EXPECT_FALSE(ps.rewrite('P', bytes(parse), cache, out));
  EXPECT_FALSE(ps.rewrite('B', bytes(bind), cache, out));
  EXPECT_EQ(test::allocations_on_this_thread() - before, 0u);
}

TEST(PreparedStatements, FirstParseGoesToServerUnderASharedName) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s1", "SELECT 1")), cache, out));
  EXPECT_EQ(types_of(out), "P");
  EXPECT_NE(out.find("sluice_"), std::string::npos);
  EXPECT_EQ(out.find("s1"), std::string::npos);
  EXPECT_EQ(cache.size(), 1u);
  ps.note_request('S');
  EXPECT_TRUE(route(ps, cache, '1').forward);  // the client's own ParseComplete
  EXPECT_TRUE(route(ps, cache, 'Z').forward);
  EXPECT_TRUE(ps.idle());
}

TEST(PreparedStatements, SecondClientWithSameTextIsAnsweredLocally) {
  pool::ServerStatementCache cache;
  PreparedStatements a(10), b(10);
  std::string out;
  ASSERT_TRUE(a.rewrite('P', bytes(parse_body("x", "SELECT 2")), cache, out));
  out.clear();
  ASSERT_TRUE(b.rewrite('P', bytes(parse_body("other_name", "SELECT 2")), cache, out));
  EXPECT_TRUE(out.empty());  // nothing for the server
  std::string answers;
  b.take_ready_answers(answers);
  EXPECT_EQ(types_of(answers), "1");
}

TEST(PreparedStatements, BindOnAServerWithoutTheStatementPreparesItFirst) {
  PreparedStatements ps(10);
  pool::ServerStatementCache first, second;
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s1", "SELECT 3")), first, out));
  ps.note_request('S');
  route(ps, first, '1');
  route(ps, first, 'Z');
  out.clear();
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), second, out));
  EXPECT_EQ(types_of(out), "PB");  // a Parse of our own, then the rewritten Bind
  ps.note_request('E');
  ps.note_request('S');
  Routed parsed = route(ps, second, '1');
  EXPECT_FALSE(parsed.forward);  // the client never asked for this ParseComplete
  EXPECT_TRUE(route(ps, second, '2').forward);
  EXPECT_TRUE(route(ps, second, 'C').forward);
  EXPECT_TRUE(route(ps, second, 'Z').forward);
  EXPECT_TRUE(ps.idle());
  EXPECT_EQ(second.size(), 1u);
}

TEST(PreparedStatements, AnswersKeepTheirPlaceAmongServerResponses) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s1", "SELECT 4")), cache, out));
  ps.note_request('S');
  out.clear();
  // Pipelined: Bind s1, Close s1 (answered by the proxy), Sync.
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  ASSERT_TRUE(ps.rewrite('C', bytes(close_body("s1")), cache, out));
  ps.note_request('S');
  std::string early;
  ps.take_ready_answers(early);
  EXPECT_TRUE(early.empty());  // the CloseComplete must wait for the responses before it
  route(ps, cache, '1');
  route(ps, cache, 'Z');
  Routed bound = route(ps, cache, '2');
  EXPECT_EQ(types_of(bound.after), "3");  // right after BindComplete, before ReadyForQuery
  EXPECT_TRUE(route(ps, cache, 'Z').forward);
  EXPECT_TRUE(ps.idle());
}

TEST(PreparedStatements, AnswersWaitForSimpleQueriesSentBeforeThem) {
  // Simple Queries with nothing in flight before them are only counted, not queued: an
  // answer owed after two of them (a Parse of a statement the server has) still comes
  // after their results, an error in one included, and not before.
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  ps.note_request('Q');
  ps.note_request('Q');
  EXPECT_FALSE(ps.idle());
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s2", "SELECT * FROM t")), cache, out));
  EXPECT_TRUE(out.empty());  // the server has it: answered by the proxy
  ps.note_request('S');
  std::string early;
  ps.take_ready_answers(early);
  EXPECT_TRUE(early.empty());
  for (char type : {'T', 'D', 'C'}) {
    const Routed r = route(ps, cache, type);
    EXPECT_TRUE(r.forward && r.before.empty() && r.after.empty()) << type;
  }
  EXPECT_TRUE(route(ps, cache, 'Z', bytes(std::string("I"))).after.empty());
  const Routed error = route(ps, cache, 'E', bytes(stale_plan_error()));
  EXPECT_TRUE(error.forward && error.after.empty());
  const Routed second = route(ps, cache, 'Z', bytes(std::string("I")));
  EXPECT_TRUE(second.forward);
  EXPECT_EQ(types_of(second.after), "1");  // the ParseComplete, right after both queries
  EXPECT_TRUE(route(ps, cache, 'Z', bytes(std::string("I"))).forward);  // the Sync's
  EXPECT_TRUE(ps.idle());
}

TEST(PreparedStatements, AnswersKeepTheirOrderAmongUnnamedStatementRequests) {
  // Requests without names are queued without their strings, those of the others apart:
  // each answer must still come out after the response of the request sent before it.
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  std::string out;
  EXPECT_FALSE(ps.rewrite('P', bytes(parse_body("", "SELECT 6")), cache, out));
  ps.note_request('P');
  ASSERT_TRUE(ps.rewrite('C', bytes(close_body("s1")), cache, out));
  EXPECT_FALSE(ps.rewrite('B', bytes(bind_body("")), cache, out));
  ps.note_request('B');
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s1", "SELECT * FROM t")), cache, out));
  ps.note_request('S');
  EXPECT_TRUE(out.empty());  // both answered by the proxy: the server has s1
  const Routed parsed = route(ps, cache, '1');
  EXPECT_TRUE(parsed.forward);
  EXPECT_EQ(types_of(parsed.after), "3");  // the CloseComplete, after the unnamed Parse's
  const Routed bound = route(ps, cache, '2');
  EXPECT_TRUE(bound.forward && bound.before.empty());
  EXPECT_EQ(types_of(bound.after), "1");  // the ParseComplete of s1, after the Bind's
  EXPECT_TRUE(route(ps, cache, 'Z', bytes(std::string("I"))).after.empty());
  EXPECT_TRUE(ps.idle());
}

TEST(PreparedStatements, ErrorOnAnUnnamedStatementForgetsTheNamedOnesAfterIt) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  std::string out;
  EXPECT_FALSE(ps.rewrite('P', bytes(parse_body("", "SELEC 7")), cache, out));
  ps.note_request('P');
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("s2", "SELECT 7")), cache, out));
  ps.note_request('S');
  EXPECT_EQ(cache.size(), 1u);  // sent to the server: the cache counts on it
  EXPECT_TRUE(route(ps, cache, 'E').forward);
  EXPECT_EQ(cache.size(), 0u);  // the server skipped that Parse
  EXPECT_TRUE(route(ps, cache, 'Z', bytes(std::string("I"))).forward);
  EXPECT_TRUE(ps.idle());
  EXPECT_FALSE(ps.rewrite('B', bytes(bind_body("s2")), cache, out));  // the client's s2 too
}

TEST(PreparedStatements, ErrorSkipsToSyncAndForgetsFailedStatements) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("bad", "SELEC nonsense")), cache, out));
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("bad")), cache, out));
  ps.note_request('E');
  ps.note_request('S');
  EXPECT_TRUE(route(ps, cache, 'E').forward);  // errors always reach the client
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(route(ps, cache, 'Z').forward);
  EXPECT_TRUE(ps.idle());
  out.clear();
  // The failed statement is gone: a later Bind of it is relayed for the server to refuse.
  EXPECT_FALSE(ps.rewrite('B', bytes(bind_body("bad")), cache, out));
}

TEST(PreparedStatements, CacheEvictsLeastRecentlyUsedWithAClose) {
  PreparedStatements ps(2);
  pool::ServerStatementCache cache;
  std::string out;
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("a", "SELECT 'a'")), cache, out));
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("b", "SELECT 'b'")), cache, out));
  out.clear();
  ASSERT_TRUE(ps.rewrite('P', bytes(parse_body("c", "SELECT 'c'")), cache, out));
  EXPECT_EQ(types_of(out), "CP");
  EXPECT_EQ(cache.size(), 2u);
}

TEST(PreparedStatements, PrepareOnlyBatchIsAnsweredWithoutAServer) {
  PreparedStatements ps(10);
  std::string batch;
  protocol::MessageWriter(batch).begin('P').cstr("s1").cstr("SELECT 5").i16(0).end();
  protocol::append_sync(batch);
  std::string answers;
  ASSERT_TRUE(ps.answer_prepare_batch(bytes(batch), answers));
  EXPECT_EQ(types_of(answers), "1Z");
  // The statement is known: binding it later prepares it on the server first.
  pool::ServerStatementCache cache;
  std::string out;
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  EXPECT_EQ(types_of(out), "PB");

  std::string with_bind = batch;
  protocol::MessageWriter(with_bind).begin('B').cstr("").cstr("s1").i16(0).i16(0).i16(0).end();
  PreparedStatements other(10);
  answers.clear();
  EXPECT_FALSE(other.answer_prepare_batch(bytes(with_bind), answers));
  EXPECT_TRUE(answers.empty());
}

TEST(PreparedStatements, StaleStatementIsRepreparedAndTheBatchSentAgain) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  // Bind, Describe portal, Execute, Sync: fails at Bind, nothing ran.
  std::string out;
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  const std::string describe = std::string("P") + '\0';
  ps.note_request('D', bytes(whole('D', describe)));
  ps.note_request('E', bytes(whole('E', std::string("\0\0\0\0\0", 5))));
  ps.note_request('S', bytes(whole('S', "")));
  const std::string error = stale_plan_error();
  EXPECT_FALSE(route(ps, cache, 'E', bytes(error)).forward);  // the client never sees it
  const std::string resend = ps.take_resend();
  EXPECT_EQ(types_of(resend), "CPBDES");  // close, prepare again, then the batch
  EXPECT_FALSE(route(ps, cache, 'Z', bytes(std::string("I"))).forward);
  EXPECT_FALSE(route(ps, cache, '3').forward);
  EXPECT_FALSE(route(ps, cache, '1').forward);
  for (const char type : std::string("2TDCZ")) {
    EXPECT_TRUE(route(ps, cache, type, bytes(std::string("I"))).forward) << type;
  }
  EXPECT_TRUE(ps.idle());
  EXPECT_EQ(cache.size(), 1u);
}

TEST(PreparedStatements, BatchThatBeginsUnnamedIsNotKeptForAResend) {
  // Only batches that begin with a named statement's message are kept (copied) for a
  // re-send. One that begins with the unnamed statement and then binds a stale named one
  // gets the error, as PostgreSQL sends it; the statement is prepared afresh next time.
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  std::string out;
  const std::string unnamed = parse_body("", "SELECT 1");
  EXPECT_FALSE(ps.rewrite('P', bytes(unnamed), cache, out));
  ps.note_request('P', bytes(whole('P', unnamed)));
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  ps.note_request('E', bytes(whole('E', std::string("\0\0\0\0\0", 5))));
  ps.note_request('S', bytes(whole('S', "")));
  EXPECT_TRUE(route(ps, cache, '1').forward);
  EXPECT_TRUE(route(ps, cache, 'E', bytes(stale_plan_error())).forward);  // reaches the client
  EXPECT_EQ(ps.take_resend(), "");
  EXPECT_TRUE(route(ps, cache, 'Z', bytes(std::string("I"))).forward);
  EXPECT_TRUE(ps.idle());
  out.clear();
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  EXPECT_EQ(types_of(out), "CPB");  // the stale copy closed, prepared again, then the Bind
}

TEST(PreparedStatements, StaleStatementInATransactionBlockReportsAndClosesLater) {
  PreparedStatements ps(10);
  pool::ServerStatementCache cache;
  prepare_s1(ps, cache);
  ps.note_request('Q', bytes(whole('Q', std::string("BEGIN") + '\0')));
  route(ps, cache, 'C');
  route(ps, cache, 'Z', bytes(std::string("T")));
  std::string out;
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  ps.note_request('E', bytes(whole('E', std::string("\0\0\0\0\0", 5))));
  ps.note_request('S', bytes(whole('S', "")));
  const std::string error = stale_plan_error();
  EXPECT_TRUE(route(ps, cache, 'E', bytes(error)).forward);  // something may have run
  EXPECT_TRUE(ps.take_resend().empty());
  EXPECT_TRUE(route(ps, cache, 'Z', bytes(std::string("E"))).forward);
  EXPECT_EQ(cache.size(), 0u);
  // The next use closes the stale statement before preparing it again.
  out.clear();
  ASSERT_TRUE(ps.rewrite('B', bytes(bind_body("s1")), cache, out));
  EXPECT_EQ(types_of(out), "CPB");
}

TEST(PreparedStatements, SameTextUnderAnotherSearchPathIsAnotherServerStatement) {
  pool::ServerStatementCache cache;
  PreparedStatements a(10);
  PreparedStatements b(10);
  b.set_name_context("other_schema");
  std::string out;
  ASSERT_TRUE(a.rewrite('P', bytes(parse_body("x", "SELECT * FROM t")), cache, out));
  out.clear();
  ASSERT_TRUE(b.rewrite('P', bytes(parse_body("x", "SELECT * FROM t")), cache, out));
  EXPECT_EQ(types_of(out), "P");  // not answered from a's statement
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace sluice::session
