#include "router/statement_classifier.h"

#include <gtest/gtest.h>
#include <pg_query.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace sluice::router {

// Readable failure messages (found by ADL, so outside the anonymous namespace).
void PrintTo(const SessionSetting& s, std::ostream* os) {
  *os << s.name << (s.value ? " = " + *s.value : std::string(" (reset)"));
}

namespace {

using Settings = std::vector<SessionSetting>;
using Pins = std::vector<PinReason>;
using Unpins = std::vector<UnpinAction>;

SessionSetting set(std::string name, std::string value) { return {std::move(name), value}; }
SessionSetting reset(std::string name) { return {std::move(name), std::nullopt}; }

Settings settings_of(std::string_view sql) { return classify(sql).session_settings; }
Pins pins_of(std::string_view sql) { return classify(sql).pins; }
Unpins unpins_of(std::string_view sql) { return classify(sql).unpins; }

bool is_nothing(const Classification& c) {
  return c.parse_ok && c.session_settings.empty() && c.pins.empty() && c.unpins.empty() &&
         !c.transaction_control;
}

TEST(StatementClassifier, SetRendersValuesAsWritten) {
  EXPECT_EQ(settings_of("SET search_path = public, \"My Schema\""),
            Settings{set("search_path", "public, \"My Schema\"")});
  EXPECT_EQ(settings_of("SET TimeZone = 'Asia/Tokyo'"), Settings{set("timezone", "'Asia/Tokyo'")});
  EXPECT_EQ(settings_of("SET TIME ZONE 'Asia/Tokyo'"), Settings{set("timezone", "'Asia/Tokyo'")});
  EXPECT_EQ(settings_of("set statement_timeout to 5000"),
            Settings{set("statement_timeout", "5000")});
  EXPECT_EQ(settings_of("SET x.y = -1.5"), Settings{set("x.y", "-1.5")});
  EXPECT_EQ(settings_of("SET x.y = -7"), Settings{set("x.y", "-7")});
  EXPECT_EQ(settings_of("SET SESSION enable_seqscan = OFF"),
            Settings{set("enable_seqscan", "off")});
  EXPECT_EQ(settings_of("SET application_name TO 'it''s'"),
            Settings{set("application_name", "'it''s'")});
  EXPECT_EQ(settings_of("SET application_name TO E'a\\\\b'"),
            Settings{set("application_name", "E'a\\\\b'")});
  EXPECT_EQ(settings_of("SET \"MyApp.Var\" = 'x'"), Settings{set("myapp.var", "'x'")});
  EXPECT_EQ(settings_of("SET NAMES 'UTF8'"), Settings{set("client_encoding", "'UTF8'")});
  EXPECT_EQ(settings_of("SET SCHEMA 'app'"), Settings{set("search_path", "'app'")});
  EXPECT_EQ(settings_of("SET XML OPTION DOCUMENT"), Settings{set("xmloption", "'DOCUMENT'")});
  // `SET timezone TO INTERVAL ...` does not parse; the string form does the same.
  EXPECT_EQ(settings_of("SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE"),
            Settings{set("timezone", "'INTERVAL ''+05:30'''")});
}

// libpg_query 15-4.0's JSON drops negative integers; they are read back from the text.
TEST(StatementClassifier, ZeroAndNegativeIntegers) {
  EXPECT_EQ(settings_of("SET x.y = 0"), Settings{set("x.y", "0")});
  EXPECT_EQ(settings_of("SET x.y = -7"), Settings{set("x.y", "-7")});
  EXPECT_EQ(settings_of("SET x.y = - /* a /* nested */ comment */ 12 -- c\n"),
            Settings{set("x.y", "-12")});
  EXPECT_EQ(settings_of("SET x.y = -0"), Settings{set("x.y", "-0")});
  EXPECT_EQ(settings_of("SET TIME ZONE -7"), Settings{set("timezone", "-7")});
  EXPECT_EQ(settings_of("SET extra_float_digits = -15; SET a.b = 3"),
            (Settings{set("extra_float_digits", "-15"), set("a.b", "3")}));
}

// Clients in LATIN1 and similar encodings send bytes that are not UTF-8.
TEST(StatementClassifier, NonUtf8BytesSurviveUnchanged) {
  EXPECT_EQ(settings_of("SET application_name = 'caf\xe9'"),
            Settings{set("application_name", "'caf\xe9'")});
  EXPECT_EQ(settings_of("SET search_path = sch\xe9ma, \"\xc0\xff\""),
            Settings{set("search_path", "sch\xe9ma, \"\xc0\xff\"")});
  EXPECT_EQ(pins_of("SELECT pg_advisory_lock(1) WHERE 'caf\xe9' <> ''"),
            Pins{PinReason::kAdvisoryLock});
  EXPECT_EQ(settings_of("SET application_name = 'caf\xc3\xa9'"),  // UTF-8 stays as is
            Settings{set("application_name", "'caf\xc3\xa9'")});
  EXPECT_EQ(settings_of("SET application_name = '\xf0\x9f\x98\x80'"),
            Settings{set("application_name", "'\xf0\x9f\x98\x80'")});
  for (std::string bad : {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3"}) {
    EXPECT_EQ(settings_of("SET application_name = '" + bad + "'"),
              Settings{set("application_name", "'" + bad + "'")});
  }
  // A value that exists in neither form (U+263A next to a LATIN1 byte) is not guessed.
  EXPECT_FALSE(classify("SET application_name = U&'\\263A\xe9'").parse_ok);
}

TEST(StatementClassifier, DefaultAndResetMeanReset) {
  EXPECT_EQ(settings_of("SET work_mem TO DEFAULT"), Settings{reset("work_mem")});
  EXPECT_EQ(settings_of("SET work_mem = default"), Settings{reset("work_mem")});
  EXPECT_EQ(settings_of("RESET work_mem"), Settings{reset("work_mem")});
  EXPECT_EQ(settings_of("SET TIME ZONE LOCAL"), Settings{reset("timezone")});
  EXPECT_EQ(settings_of("RESET TIME ZONE"), Settings{reset("timezone")});
  EXPECT_EQ(settings_of("RESET ALL"), Settings{reset("all")});
  // The string 'default' is a value, not the keyword.
  EXPECT_EQ(settings_of("SET application_name = 'default'"),
            Settings{set("application_name", "'default'")});
}

TEST(StatementClassifier, TransactionScopedSetsAreNotSessionSettings) {
  EXPECT_TRUE(is_nothing(classify("SET LOCAL search_path = a")));
  EXPECT_TRUE(is_nothing(classify("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")));
  EXPECT_TRUE(is_nothing(classify("SET transaction_isolation = 'serializable'")));
  EXPECT_TRUE(is_nothing(classify("RESET transaction_read_only")));
  EXPECT_TRUE(is_nothing(classify("SET work_mem FROM CURRENT")));
  EXPECT_EQ(settings_of("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL "
                        "READ COMMITTED, READ ONLY, NOT DEFERRABLE"),
            (Settings{set("default_transaction_isolation", "'read committed'"),
                      set("default_transaction_read_only", "on"),
                      set("default_transaction_deferrable", "off")}));
}

TEST(StatementClassifier, RoleAndSessionAuthorization) {
  EXPECT_EQ(settings_of("SET ROLE bob"), Settings{set("role", "bob")});
  EXPECT_EQ(settings_of("SET ROLE 'Bob'"), Settings{set("role", "'Bob'")});
  EXPECT_EQ(settings_of("SET ROLE NONE"), Settings{set("role", "none")});
  EXPECT_EQ(settings_of("RESET ROLE"), Settings{reset("role")});
  // A new session user drops SET ROLE, as PostgreSQL does.
  EXPECT_EQ(settings_of("SET SESSION AUTHORIZATION alice"),
            (Settings{set("session_authorization", "alice"), reset("role")}));
  EXPECT_EQ(settings_of("SET SESSION AUTHORIZATION DEFAULT"),
            (Settings{reset("session_authorization"), reset("role")}));
  EXPECT_EQ(settings_of("RESET SESSION AUTHORIZATION"),
            (Settings{reset("session_authorization"), reset("role")}));
}

TEST(StatementClassifier, SettingsInsideOtherStatementsAreNotReported) {
  EXPECT_TRUE(is_nothing(classify("DO $$BEGIN SET search_path = x; END$$")));
  EXPECT_TRUE(is_nothing(classify("DO $$BEGIN PERFORM set_config('a.b', '1', false); END$$")));
  EXPECT_TRUE(is_nothing(classify("ALTER ROLE r SET search_path = x")));
  EXPECT_TRUE(is_nothing(classify("ALTER DATABASE d SET timezone = 'UTC'")));
  EXPECT_TRUE(is_nothing(
      classify("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = x AS 'SELECT 1'")));
  EXPECT_TRUE(is_nothing(classify("UPDATE t SET a = 1 WHERE b = 'SET x = 1'")));
}

TEST(StatementClassifier, ListenAndAdvisoryLocksPin) {
  EXPECT_EQ(pins_of("LISTEN jobs"), Pins{PinReason::kListen});
  EXPECT_EQ(pins_of("NOTIFY jobs"), Pins{});
  for (const char* sql :
       {"SELECT pg_advisory_lock(1)", "select PG_ADVISORY_LOCK(1, 2)",
        "SELECT pg_advisory_lock_shared(1)", "SELECT pg_try_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1)", "SELECT pg_catalog.pg_advisory_lock(42)",
        "SELECT * FROM t WHERE pg_try_advisory_lock(id)", "SELECT * FROM pg_advisory_lock(1)",
        "SELECT x FROM (SELECT pg_advisory_lock(1) AS x) s",
        "WITH l AS (SELECT pg_advisory_lock(hashtext('job'))) SELECT * FROM l",
        "SELECT CASE WHEN a THEN pg_advisory_lock(1) END FROM t",
        "EXPLAIN ANALYZE SELECT pg_advisory_lock(1)",
        "DECLARE c CURSOR FOR SELECT pg_advisory_lock(id) FROM t"}) {
    EXPECT_EQ(pins_of(sql), Pins{PinReason::kAdvisoryLock}) << sql;
  }
  for (const char* sql :
       {"SELECT pg_advisory_xact_lock(1)", "SELECT pg_try_advisory_xact_lock(1)",
        "SELECT pg_advisory_xact_lock_shared(1)", "SELECT myschema.pg_advisory_lock(1)",
        "SELECT \"PG_ADVISORY_LOCK\"(1)", "SELECT pg_advisory_lock FROM t",
        "SELECT 'pg_advisory_lock(1)'", "SELECT $$ pg_advisory_lock(1) $$",
        "SELECT 1 /* pg_advisory_lock(1) */", "SELECT pg_advisory_unlock(1)",
        "CREATE VIEW v AS SELECT pg_advisory_lock(1)"}) {
    EXPECT_EQ(pins_of(sql), Pins{}) << sql;
  }
}

TEST(StatementClassifier, TemporaryObjectsPin) {
  for (const char* sql :
       {"CREATE TEMP TABLE t (a int)", "CREATE TEMPORARY TABLE t (a int)",
        "CREATE LOCAL TEMP TABLE t (a int)", "CREATE TABLE pg_temp.t (a int)",
        "CREATE TEMP TABLE t (a int) ON COMMIT DELETE ROWS", "CREATE TEMP TABLE t AS SELECT 1",
        "SELECT 1 AS a INTO TEMP t", "SELECT 1 AS a INTO TEMPORARY TABLE t",
        "CREATE TEMP VIEW v AS SELECT 1", "CREATE TEMP SEQUENCE s", "CREATE SEQUENCE pg_temp.s",
        "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1"}) {
    EXPECT_EQ(pins_of(sql), Pins{PinReason::kTempTable}) << sql;
  }
  // Gone at the end of the transaction, so nothing outlives it.
  for (const char* sql :
       {"CREATE TEMP TABLE t (a int) ON COMMIT DROP",
        "CREATE TEMP TABLE t ON COMMIT DROP AS SELECT 1", "CREATE TABLE t (a int)",
        "CREATE UNLOGGED TABLE t (a int)", "SELECT * FROM pg_temp.t",
        "INSERT INTO pg_temp.t VALUES (1)", "CREATE TABLE temp (a int)", "SELECT 1 INTO t"}) {
    EXPECT_EQ(pins_of(sql), Pins{}) << sql;
  }
}

TEST(StatementClassifier, HoldCursorsAndSqlPreparePin) {
  EXPECT_EQ(pins_of("DECLARE c CURSOR WITH HOLD FOR SELECT 1"), Pins{PinReason::kHoldCursor});
  EXPECT_EQ(pins_of("DECLARE c BINARY SCROLL CURSOR WITH HOLD FOR SELECT 1"),
            Pins{PinReason::kHoldCursor});
  EXPECT_EQ(pins_of("DECLARE c CURSOR FOR SELECT 1"), Pins{});
  EXPECT_EQ(pins_of("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1"), Pins{});
  EXPECT_EQ(pins_of("PREPARE q (int) AS SELECT $1"), Pins{PinReason::kPreparedSql});
  // The prepared query is not run by PREPARE.
  EXPECT_EQ(pins_of("PREPARE q AS SELECT pg_advisory_lock(1)"), Pins{PinReason::kPreparedSql});
  EXPECT_EQ(pins_of("EXECUTE q(1)"), Pins{});
}

TEST(StatementClassifier, Unpins) {
  EXPECT_EQ(unpins_of("UNLISTEN *"), Unpins{UnpinAction::kUnlistenAll});
  EXPECT_EQ(unpins_of("UNLISTEN jobs"), Unpins{});
  EXPECT_EQ(unpins_of("SELECT pg_advisory_unlock_all()"), Unpins{UnpinAction::kAdvisoryUnlockAll});
  EXPECT_EQ(unpins_of("SELECT pg_catalog.pg_advisory_unlock_all()"),
            Unpins{UnpinAction::kAdvisoryUnlockAll});
  EXPECT_EQ(unpins_of("DISCARD TEMP"), Unpins{UnpinAction::kDiscardTemp});
  EXPECT_EQ(unpins_of("DISCARD TEMPORARY"), Unpins{UnpinAction::kDiscardTemp});
  EXPECT_EQ(unpins_of("CLOSE ALL"), Unpins{UnpinAction::kCloseAllCursors});
  EXPECT_EQ(unpins_of("CLOSE c"), Unpins{});
  EXPECT_EQ(unpins_of("DEALLOCATE ALL"), Unpins{UnpinAction::kDeallocateAll});
  EXPECT_EQ(unpins_of("DEALLOCATE PREPARE ALL"), Unpins{UnpinAction::kDeallocateAll});
  EXPECT_EQ(unpins_of("DEALLOCATE q"), Unpins{});
  EXPECT_TRUE(is_nothing(classify("DISCARD PLANS")));
  EXPECT_TRUE(is_nothing(classify("DISCARD SEQUENCES")));

  const Classification all = classify("DISCARD ALL");
  EXPECT_EQ(all.unpins, Unpins{UnpinAction::kDiscardAll});
  EXPECT_EQ(all.session_settings,
            (Settings{reset("session_authorization"), reset("role"), reset("all")}));
}

TEST(StatementClassifier, ReleasesMapsActionsToReasons) {
  const std::pair<UnpinAction, PinReason> pairs[] = {
      {UnpinAction::kUnlistenAll, PinReason::kListen},
      {UnpinAction::kAdvisoryUnlockAll, PinReason::kAdvisoryLock},
      {UnpinAction::kDiscardTemp, PinReason::kTempTable},
      {UnpinAction::kCloseAllCursors, PinReason::kHoldCursor},
      {UnpinAction::kDeallocateAll, PinReason::kPreparedSql}};
  for (const auto& [action, reason] : pairs) {
    for (const auto& [other_action, other_reason] : pairs) {
      EXPECT_EQ(releases(action, other_reason), reason == other_reason) << to_string(action);
    }
    EXPECT_TRUE(releases(UnpinAction::kDiscardAll, reason)) << to_string(reason);
  }
  EXPECT_EQ(to_string(PinReason::kAdvisoryLock), "advisory_lock");
  EXPECT_EQ(to_string(UnpinAction::kDiscardAll), "discard_all");
}

TEST(StatementClassifier, TransactionControl) {
  for (const char* sql :
       {"BEGIN", "begin isolation level serializable", "START TRANSACTION READ ONLY", "COMMIT",
        "END", "ROLLBACK", "ABORT", "SAVEPOINT s", "RELEASE SAVEPOINT s", "RELEASE s",
        "ROLLBACK TO SAVEPOINT s", "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'",
        "ROLLBACK PREPARED 'x'", "COMMIT AND CHAIN"}) {
    EXPECT_TRUE(classify(sql).transaction_control) << sql;
  }
  EXPECT_FALSE(classify("SELECT 1").transaction_control);
  EXPECT_FALSE(classify("SELECT 'BEGIN'").transaction_control);
}

TEST(StatementClassifier, MultipleStatementsInOrder) {
  const Classification c = classify(
      "SET search_path = a; SELECT 1; LISTEN x; BEGIN; SELECT pg_advisory_lock(1), "
      "pg_advisory_lock(2); RESET search_path; LISTEN y; COMMIT; UNLISTEN *;");
  EXPECT_TRUE(c.parse_ok);
  EXPECT_EQ(c.session_settings, (Settings{set("search_path", "a"), reset("search_path")}));
  EXPECT_EQ(c.pins, (Pins{PinReason::kListen, PinReason::kAdvisoryLock}));  // no duplicates
  EXPECT_EQ(c.unpins, Unpins{UnpinAction::kUnlistenAll});
  EXPECT_TRUE(c.transaction_control);
}

TEST(StatementClassifier, CommentsAndLiteralsAreNotStatements) {
  for (const char* sql : {"SELECT 'SET x = 1'", "SELECT 1 -- SET x = 1\n",
                          "/* LISTEN x */ SELECT 1", "SELECT $tag$ LISTEN x; SET y = 1 $tag$",
                          "SELECT \"set\" FROM t", "SELECT 'DISCARD ALL', E'UNLISTEN *'",
                          "INSERT INTO t VALUES ('BEGIN')", "", "  ", ";", "-- only a comment"}) {
    EXPECT_TRUE(is_nothing(classify(sql))) << sql;
  }
  EXPECT_EQ(settings_of("SELECT ';'; SET a.b = ';'"), Settings{set("a.b", "';'")});
}

TEST(StatementClassifier, ParseErrorsClassifyAsNothing) {
  for (const char* sql :
       {"SELEC 1", "SELECT 'unterminated", "SET search_path = a; SELEC 1", "LISTEN", "SET x ="}) {
    const Classification c = classify(sql);
    EXPECT_FALSE(c.parse_ok) << sql;
    EXPECT_TRUE(c.session_settings.empty() && c.pins.empty() && c.unpins.empty()) << sql;
  }
}

// Re-issuing `SET name TO <value>` must give the server the same arguments: compare
// libpg_query's trees of both statements' arguments, locations aside.
nlohmann::json set_arguments(const std::string& sql) {
  PgQueryParseResult r = pg_query_parse(sql.c_str());
  EXPECT_EQ(r.error, nullptr) << sql;
  nlohmann::json tree = r.error ? nlohmann::json() : nlohmann::json::parse(r.parse_tree);
  pg_query_free_parse_result(r);
  nlohmann::json args = tree["stmts"][0]["stmt"]["VariableSetStmt"]["args"];
  std::vector<nlohmann::json*> stack{&args};
  while (!stack.empty()) {
    nlohmann::json* node = stack.back();
    stack.pop_back();
    if (node->is_object()) node->erase("location");
    for (auto& child : *node) {
      if (child.is_structured()) stack.push_back(&child);
    }
  }
  return args;
}

TEST(StatementClassifier, ValuesRoundTrip) {
  const std::vector<std::string> cases = {
      "SET search_path = public, \"My Schema\", 'x''y', \"a\"\"b\"",
      "SET search_path TO \"$user\", public",
      "SET search_path = 'a, b'",
      "SET application_name = 'back\\slash'",
      "SET application_name = E'tab\\tquote\\''",
      "SET application_name = U&'d\\0061t\\+000061'",
      "SET application_name = $$dollar's$$",
      "SET application_name = \"Mixed Case\"",
      "SET application_name = MixedCase",
      "SET application_name = 'héllo wörld'",
      "SET application_name = héllo",
      "SET application_name = " + std::string(70, 'a'),  // truncated to 63 bytes
      "SET application_name = ''",
      "SET x.y = true",
      "SET x.y = on",
      "SET x.y = 0",
      "SET x.y = -0.5e3",
      "SET x.y = 99999999999999999999",
      "SET TIME ZONE -7",
      "SET TIME ZONE 'Europe/Paris'",
      "SET ROLE \"Admin\"",
      "SET SESSION AUTHORIZATION 'x'",
      "SET datestyle = ISO, DMY",
      "SET statement_timeout = '5s'",
      "SET xmloption = content",
      "SET x.y = 'value' -- trailing comment\n",
      "SET x.y = /* c */ 'v' /* d */"};
  for (const std::string& sql : cases) {
    const Settings got = settings_of(sql);
    ASSERT_FALSE(got.empty()) << sql;
    ASSERT_TRUE(got[0].value.has_value()) << sql;
    const std::string reissued = "SET " + got[0].name + " TO " + *got[0].value;
    EXPECT_EQ(set_arguments(reissued), set_arguments(sql)) << sql << " -> " << reissued;
    EXPECT_EQ(settings_of(reissued).front(), got[0]) << reissued;  // stable
  }
}

TEST(StatementClassifier, MightMatterFindsEveryKeyword) {
  for (const char* sql :
       {"SET x = 1", "reset all", "Listen x", "UNLISTEN *", "select pg_advisory_lock(1)",
        "SELECT PG_CATALOG.PG_TRY_ADVISORY_LOCK(1)", "create temp table t()",
        "CREATE TEMPORARY TABLE t()", "create table pg_temp.t()", "CREATE TABLE PG_TEMP_3.t()",
        "declare c cursor with hold for select 1", "PREPARE q AS SELECT 1", "DEALLOCATE q",
        "DISCARD ALL", "CLOSE c", "BEGIN", "start transaction", "COMMIT", "ROLLBACK", "end",
        "abort", "SAVEPOINT s", "RELEASE s", "/*x*/SET/*y*/x=1", "SELECT 1;SET x=1",
        "SELECT $$a$$;SET x = 1", "SELECT 1;\tLISTEN x", "SELECT U&\"pg\\005fadvisory_lock\"(1)",
        "SELECT u&\"f\"(1)",
        // The substrings anywhere in a word, in any case, up to its ends.
        "SELECT x_ADVISORY(1)", "SELECT advisory_x(1)", "SELECT xpg_temp", "SELECT * FROM Pg_Temp",
        "SELECT 1 FROM pg_temp_9.t"}) {
    EXPECT_TRUE(might_matter(sql)) << sql;
  }
  for (const char* sql :
       {"SELECT 1", "SELECT * FROM users WHERE id = $1", "INSERT INTO t (a, b) VALUES ($1, $2)",
        "DELETE FROM orders WHERE created < now() - interval '1 day'",
        "SELECT settings, offset_id, reset_at, listener, holder, starting FROM t",
        "SELECT a FROM t ORDER BY b LIMIT 10 OFFSET 20", "", "FETCH 10 FROM c",
        // Leading keywords elsewhere than at a statement's start (pgbench's TPC-B-like
        // script, CASE expressions) do not make every distinct text a parse.
        "UPDATE pgbench_accounts SET abalance = abalance + 4321 WHERE aid = 77;",
        "SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END FROM t",
        "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2",
        "SELECT pg_tem, advisor, pg_te_mp, ad_visory FROM v_pg_tmp"}) {
    EXPECT_FALSE(might_matter(sql)) << sql;
  }
  for (const char* sql : {"-- change the path\nSET search_path = a", "SELECT 1;\n  RESET ALL",
                          "/* x */\nBEGIN", "SELECT 'a' -- c\nSET x = 1"}) {
    EXPECT_TRUE(might_matter(sql)) << sql;
  }
  EXPECT_TRUE(might_matter("SELECT ';SET x'"));  // false positives are allowed
}

// Everything classify() finds in the cases above must get past the prefilter.
TEST(StatementClassifier, MightMatterHasNoFalseNegatives) {
  for (const char* sql :
       {"SET search_path = a", "SELECT * FROM t WHERE pg_try_advisory_lock(id)",
        "SELECT pg_advisory_unlock_all()", "CREATE TABLE pg_temp.t (a int)",
        "SELECT 1 AS a INTO TEMP t", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "PREPARE q AS SELECT 1", "DEALLOCATE ALL", "DISCARD TEMP", "CLOSE ALL", "RELEASE s", "END",
        "ABORT", "SELECT U&\"pg_advisory_lock\"(1)", "SET SESSION AUTHORIZATION DEFAULT"}) {
    const Classification c = classify(sql);
    ASSERT_FALSE(is_nothing(c)) << sql;
    EXPECT_TRUE(might_matter(sql)) << sql;
  }
}

// Random texts from SQL fragments: never crash, and whatever classify() finds, the
// prefilter lets through.
TEST(StatementClassifier, RandomFragmentsHaveNoPrefilterFalseNegatives) {
  const std::vector<std::string> fragments = {"SET ",
                                              "RESET ",
                                              "search_path",
                                              " = ",
                                              "'x'",
                                              "\"Y\"",
                                              "LISTEN a",
                                              "UNLISTEN *",
                                              "SELECT ",
                                              "pg_advisory_lock(1)",
                                              "pg_catalog.",
                                              "CREATE TEMP TABLE t(a int)",
                                              "; ",
                                              "--c\n",
                                              "/*c*/",
                                              "$$",
                                              "'",
                                              "BEGIN",
                                              "COMMIT",
                                              "DISCARD ALL",
                                              "DISCARD TEMP",
                                              "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
                                              "PREPARE p AS SELECT 1",
                                              "DEALLOCATE ALL",
                                              "CLOSE ALL",
                                              "E'\\''",
                                              "U&\"pg_advisory_lock\"(1)",
                                              "1",
                                              ",",
                                              "(",
                                              ")",
                                              " ",
                                              "\xe9",
                                              "SESSION AUTHORIZATION ",
                                              "ROLE ",
                                              "TO ",
                                              "DEFAULT",
                                              "END",
                                              "RELEASE s",
                                              "pg_temp.x",
                                              "CREATE TABLE ",
                                              "SELECT * FROM t WHERE ",
                                              "INTO TEMP x",
                                              "-",
                                              "7",
                                              "x.y",
                                              "TIME ZONE ",
                                              "; ",
                                              "-- c\n",
                                              "/* c */",
                                              "UPDATE t ",
                                              "END ",
                                              "\n",
                                              "BEGIN"};
  std::mt19937 rng(12345);
  int classified = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string sql;
    const int pieces = 1 + static_cast<int>(rng() % 8);
    for (int p = 0; p < pieces; ++p) sql += fragments[rng() % fragments.size()];
    const Classification c = classify(sql);
    if (!c.session_settings.empty() || !c.pins.empty() || !c.unpins.empty() ||
        c.transaction_control) {
      ++classified;
      EXPECT_TRUE(might_matter(sql)) << sql;
    }
  }
  EXPECT_GT(classified, 100);  // the generator does produce valid statements
}

TEST(StatementClassifier, OversizedTextsAreSplitAndStayBounded) {
  std::string in_list = "SELECT * FROM t WHERE id IN (0";
  for (int i = 1; i < 10000; ++i) in_list += "," + std::to_string(i);
  in_list += ")";
  ASSERT_GT(in_list.size(), kMaxParsedStatementBytes);
  const Classification c = classify("SET a.b = 1; " + in_list + "; LISTEN x; " + in_list);
  EXPECT_TRUE(c.parse_ok);
  EXPECT_EQ(c.session_settings, Settings{set("a.b", "1")});
  EXPECT_EQ(c.pins, Pins{PinReason::kListen});

  // Deep trees (one level per operator) would overflow libpg_query's recursion: an
  // oversized statement that might matter is reported as unclassified instead.
  std::string deep = "SELECT pg_advisory_lock(1";
  for (int i = 0; i < 100000; ++i) deep += "+1";
  deep += ")";
  EXPECT_FALSE(classify(deep).parse_ok);
  std::string below = "SELECT pg_advisory_lock(1";
  while (below.size() < kMaxParsedStatementBytes - 2) below += "+1";
  below += ")";
  EXPECT_EQ(pins_of(below), Pins{PinReason::kAdvisoryLock});
}

TEST(ClassifierCache, HitsReturnTheSameResult) {
  ClassifierCache cache(2);
  const Classification& first = cache.classify("SET search_path = a");
  const Classification* address = &first;
  const Classification copy = first;
  const Classification& again = cache.classify("SET search_path = a");
  EXPECT_EQ(&again, address);
  EXPECT_EQ(again, copy);
  EXPECT_EQ(again, classify("SET search_path = a"));
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(ClassifierCache, EvictsLeastRecentlyUsed) {
  ClassifierCache cache(2);
  cache.classify("LISTEN a");
  cache.classify("LISTEN b");
  cache.classify("LISTEN a");  // a is now the most recent
  cache.classify("LISTEN c");  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.misses(), 3u);
  cache.classify("LISTEN a");
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.classify("LISTEN b").pins, Pins{PinReason::kListen});
  EXPECT_EQ(cache.misses(), 4u);
}

TEST(ClassifierCache, LongTextsAndZeroCapacityAreClassifiedUncached) {
  ClassifierCache none(0);
  EXPECT_EQ(none.classify("LISTEN a").pins, Pins{PinReason::kListen});
  EXPECT_EQ(none.size(), 0u);

  ClassifierCache cache(4);
  std::string long_sql = "SET a.b = '" + std::string(kMaxCachedSqlBytes, 'x') + "'";
  EXPECT_EQ(cache.classify(long_sql).session_settings.size(), 1u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.classify("SELEC").parse_ok);  // errors are cached like anything else
  EXPECT_FALSE(cache.classify("SELEC").parse_ok);
  EXPECT_EQ(cache.hits(), 1u);
}

}  // namespace
}  // namespace sluice::router
