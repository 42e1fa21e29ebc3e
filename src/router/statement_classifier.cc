#include "router/statement_classifier.h"

#include <pg_query.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>

#include "common/ascii.h"

namespace sluice::router {
namespace {

using nlohmann::json;

// PostgreSQL's CURSOR_OPT_HOLD (parsenodes.h).
constexpr int64_t kCursorOptHold = 0x0020;

// Session-level advisory lock functions; the _xact_ variants end with the transaction.
constexpr std::array<std::string_view, 4> kAdvisoryLockFunctions = {
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared"};

// Parameters that only exist for the current transaction (SET transaction_isolation = ...
// is SET TRANSACTION in disguise).
constexpr std::array<std::string_view, 3> kTransactionScoped = {
    "transaction_isolation", "transaction_read_only", "transaction_deferrable"};

// Keywords of might_matter(), matched as whole words.
constexpr std::array<std::string_view, 19> kKeywords = {
    "set",      "reset",      "listen",  "unlisten",  "temp",   "temporary", "hold",
    "prepare",  "deallocate", "discard", "close",     "begin",  "start",     "commit",
    "rollback", "end",        "abort",   "savepoint", "release"};
// Of those, the ones that only matter as a statement's first word, and are common
// elsewhere (UPDATE ... SET, CASE ... END): matched only where a statement may start.
constexpr std::array<std::string_view, 16> kLeadingKeywords = {
    "set",   "reset", "listen", "unlisten", "prepare", "deallocate", "discard",   "close",
    "begin", "start", "commit", "rollback", "end",     "abort",      "savepoint", "release"};
constexpr size_t kShortestKeyword = 3;
constexpr size_t kLongestKeyword = 10;
// kKeywords by length, so that a word is compared with a few at most.
constexpr size_t kMostKeywordsOfOneLength = 5;
constexpr auto kKeywordsByLength = [] {
  std::array<std::array<std::string_view, kMostKeywordsOfOneLength>, kLongestKeyword + 1> table{};
  for (std::string_view keyword : kKeywords) {
    auto& row = table[keyword.size()];
    size_t k = 0;
    while (!row[k].empty()) ++k;  // (a row too short fails to compile: out of bounds)
    row[k] = keyword;
  }
  return table;
}();
// Bit (c - 'a') is set for each keyword's first letter c: most words are rejected by it.
constexpr uint32_t kKeywordInitials = [] {
  uint32_t mask = 0;
  for (std::string_view keyword : kKeywords) mask |= 1u << (keyword[0] - 'a');
  return mask;
}();

// Indexed by the enums' values.
constexpr std::array<std::string_view, 5> kPinNames = {"listen", "advisory_lock", "temp_table",
                                                       "hold_cursor", "prepared_sql"};
constexpr std::array<std::string_view, 6> kUnpinNames = {"unlisten_all",   "advisory_unlock_all",
                                                         "discard_temp",   "close_all",
                                                         "deallocate_all", "discard_all"};
// What each UnpinAction before kDiscardAll releases.
constexpr std::array<PinReason, 5> kReleasedBy = {PinReason::kListen, PinReason::kAdvisoryLock,
                                                  PinReason::kTempTable, PinReason::kHoldCursor,
                                                  PinReason::kPreparedSql};

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Bytes of an unquoted identifier or keyword ('$' excluded on purpose, see might_matter);
// a table because might_matter() looks at every byte of every query.
constexpr std::array<bool, 256> kWordBytes = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c >= 0x80;
  }
  return table;
}();

bool is_word_byte(char c) { return kWordBytes[static_cast<unsigned char>(c)]; }

// Index of the first byte at or after `i` that is neither whitespace nor in a comment.
size_t skip_space_and_comments(std::string_view sql, size_t i) {
  while (i < sql.size()) {
    if (std::string_view(" \t\n\r\f\v").find(sql[i]) != std::string_view::npos) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (sql.substr(i, 2) == "/*") {  // block comments nest in PostgreSQL
      int depth = 0;
      do {
        if (sql.substr(i, 2) == "/*") {
          ++depth;
          i += 2;
        } else if (sql.substr(i, 2) == "*/") {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < sql.size());
    } else {
      break;
    }
  }
  return i;
}

// libpg_query copies string bytes into its JSON unchanged, and a JSON parser rejects bytes
// that are not UTF-8 (a LATIN1 client's 'café'). Such texts are parsed "widened": each byte
// >= 0x80 read as the code point U+0080..U+00FF, which is reversible (narrow_bytes).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte (RFC 3629)
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      extra = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      extra = 2;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      extra = 3;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? low : 0x80) || c > (k == 1 ? high : 0xBF)) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string widen_bytes(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xC0 | (b >> 6));
      out += static_cast<char>(0x80 | (b & 0x3F));
    }
  }
  return out;
}

// Inverse of widen_bytes; nullopt for a code point above U+00FF (from a U&'' escape).
std::optional<std::string> narrow_bytes(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += s[i];
    } else if ((b == 0xC2 || b == 0xC3) && i + 1 < s.size()) {
      out += static_cast<char>(((b & 0x03) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// Checked accessors: the tree comes from a library, but never throw on the data plane.
const json* field(const json& node, const char* key) {
  if (!node.is_object()) return nullptr;
  auto it = node.find(key);
  return it == node.end() ? nullptr : &*it;
}

std::string_view string_field(const json& node, const char* key) {
  const json* v = field(node, key);
  return v && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : "";
}

int64_t int_field(const json& node, const char* key) {
  const json* v = field(node, key);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;  // 0 is omitted in the tree
}

// {"String": {"sval": "x"}} list items of names such as FuncCall.funcname.
std::vector<std::string_view> name_list(const json* list) {
  std::vector<std::string_view> out;
  if (!list || !list->is_array()) return out;
  for (const json& item : *list) {
    const json* s = field(item, "String");
    out.push_back(s ? string_field(*s, "sval") : "");
  }
  return out;
}

std::string quote_literal(std::string_view s) {
  // E'' keeps backslashes literal whatever standard_conforming_strings says.
  const bool escape = s.find('\\') != std::string_view::npos;
  std::string out = escape ? "E'" : "'";
  for (char c : s) {
    if (c == '\'' || (escape && c == '\\')) out += c;
    out += c;
  }
  return out + "'";
}

std::string quote_ident(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += c;
    out += c;
  }
  return out + "\"";
}

// Already-downcased identifier text that can be written back unquoted.
bool is_plain_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
  });
}

// Walks one parse tree (the text it was parsed from is `sql`) into a Classification.
class Collector {
 public:
  // `widened`: `sql` went through widen_bytes(), so names and values are narrowed back.
  Collector(std::string_view sql, bool widened, Classification& out)
      : sql_(sql), widened_(widened), out_(out) {}

  void statement(const json& wrapper);

 private:
  void variable_set(const json& node);
  void session_characteristics(const json& args);
  void discard(const json& node);
  void walk(const json& root);
  void function_call(const json& node);
  void temp_relation(const json* rel, std::string_view on_commit);
  std::optional<std::string> render_args(const json& args) const;
  std::optional<std::string> render_value(const json& wrapper) const;
  std::string render_string(std::string_view s, int64_t location) const;
  std::optional<std::string> render_interval(const json& cast) const;
  std::optional<std::string> render_small_integer(int64_t location) const;

  void setting(std::string name, std::optional<std::string> value);
  void pin(PinReason reason) { add_once(out_.pins, reason); }
  void unpin(UnpinAction action) { add_once(out_.unpins, action); }
  template <typename T>
  static void add_once(std::vector<T>& list, T value) {
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
  }

  std::string_view sql_;
  bool widened_;
  Classification& out_;
};

void Collector::statement(const json& wrapper) {
  if (!wrapper.is_object() || wrapper.size() != 1) return;
  const std::string& type = wrapper.begin().key();
  const json& node = wrapper.begin().value();
  // Only top-level statements count: ALTER ROLE ... SET and CREATE FUNCTION ... SET hold
  // VariableSetStmt nodes that change nothing in this session.
  if (type == "VariableSetStmt") {
    variable_set(node);
  } else if (type == "TransactionStmt") {
    out_.transaction_control = true;
  } else if (type == "ListenStmt") {
    pin(PinReason::kListen);
  } else if (type == "UnlistenStmt") {
    if (!field(node, "conditionname")) unpin(UnpinAction::kUnlistenAll);
  } else if (type == "DeclareCursorStmt") {
    if (int_field(node, "options") & kCursorOptHold) pin(PinReason::kHoldCursor);
  } else if (type == "PrepareStmt") {
    pin(PinReason::kPreparedSql);
  } else if (type == "DeallocateStmt") {
    if (!field(node, "name")) unpin(UnpinAction::kDeallocateAll);
  } else if (type == "ClosePortalStmt") {
    if (!field(node, "portalname")) unpin(UnpinAction::kCloseAllCursors);
  } else if (type == "DiscardStmt") {
    discard(node);
  }
  // Function calls and temporary objects can sit anywhere (EXPLAIN, CTAS, cursors).
  walk(wrapper);
}

void Collector::variable_set(const json& node) {
  if (const json* local = field(node, "is_local"); local && local->is_boolean() && *local) {
    return;  // SET LOCAL ends with the transaction
  }
  const std::string_view kind = string_field(node, "kind");
  std::string name = lower(string_field(node, "name"));
  if (kind == "VAR_RESET_ALL") {
    setting("all", std::nullopt);
  } else if (kind == "VAR_SET_MULTI") {
    // SET TRANSACTION is per transaction; SESSION CHARACTERISTICS sets the defaults.
    const json* args = field(node, "args");
    if (name == "session characteristics" && args) session_characteristics(*args);
  } else if (contains(kTransactionScoped, name)) {
    return;
  } else if (kind == "VAR_SET_VALUE") {
    const json* args = field(node, "args");
    std::optional<std::string> value = args ? render_args(*args) : std::nullopt;
    if (!value) {
      out_.parse_ok = false;  // a value form this code cannot render back: be loud
      return;
    }
    setting(std::move(name), std::move(value));
  } else if (kind == "VAR_SET_DEFAULT" || kind == "VAR_RESET") {
    setting(std::move(name), std::nullopt);
  }
  // VAR_SET_CURRENT (SET x FROM CURRENT) keeps the current value: nothing changes.
}

void Collector::session_characteristics(const json& args) {
  if (!args.is_array()) return;
  for (const json& item : args) {
    const json* def = field(item, "DefElem");
    const json* arg = def ? field(*def, "arg") : nullptr;
    if (!arg) continue;
    const std::string_view option = string_field(*def, "defname");
    if (option == "transaction_isolation") {
      if (auto value = render_value(*arg)) setting("default_transaction_isolation", value);
    } else if (option == "transaction_read_only" || option == "transaction_deferrable") {
      const json* c = field(*arg, "A_Const");
      const json* ival = c ? field(*c, "ival") : nullptr;
      const bool on = ival && int_field(*ival, "ival") != 0;
      setting("default_" + std::string(option), on ? "on" : "off");
    }
  }
}

void Collector::discard(const json& node) {
  const std::string_view target = string_field(node, "target");
  if (target == "DISCARD_TEMP") {
    unpin(UnpinAction::kDiscardTemp);
  } else if (target == "DISCARD_ALL") {
    // = SET SESSION AUTHORIZATION DEFAULT; RESET ALL; plus every unpin.
    unpin(UnpinAction::kDiscardAll);
    setting("session_authorization", std::nullopt);
    setting("all", std::nullopt);
  }
}

void Collector::setting(std::string name, std::optional<std::string> value) {
  if (widened_) {
    std::optional<std::string> narrow_name = narrow_bytes(name);
    std::optional<std::string> narrow_value = value ? narrow_bytes(*value) : std::nullopt;
    if (!narrow_name || (value && !narrow_value)) {
      out_.parse_ok = false;
      return;
    }
    name = std::move(*narrow_name);
    value = std::move(narrow_value);
  }
  const bool authorization = name == "session_authorization";
  out_.session_settings.push_back({std::move(name), std::move(value)});
  // Changing the session user also drops any SET ROLE (SetSessionUserId in PostgreSQL).
  if (authorization) out_.session_settings.push_back({"role", std::nullopt});
}

// Iterative: trees can be thousands of levels deep.
void Collector::walk(const json& root) {
  std::vector<const json*> stack{&root};
  while (!stack.empty()) {
    const json* node = stack.back();
    stack.pop_back();
    if (node->is_array()) {
      for (const json& child : *node) {
        if (child.is_structured()) stack.push_back(&child);
      }
      continue;
    }
    if (!node->is_object()) continue;
    for (auto it = node->begin(); it != node->end(); ++it) {
      const std::string& key = it.key();
      const json& child = it.value();
      if (!child.is_structured()) continue;
      if (key == "FuncCall") {
        function_call(child);
      } else if (key == "CreateStmt") {
        temp_relation(field(child, "relation"), string_field(child, "oncommit"));
      } else if (key == "intoClause" || key == "into") {  // SELECT INTO, CREATE TABLE AS
        temp_relation(field(child, "rel"), string_field(child, "onCommit"));
      } else if (key == "CreateSeqStmt") {
        temp_relation(field(child, "sequence"), "");
      } else if (key == "ViewStmt") {
        temp_relation(field(child, "view"), "");
        continue;  // the query is stored, not run
      } else if (key == "CreateFunctionStmt") {
        const auto names = name_list(field(child, "funcname"));
        if (names.size() == 2 && names[0].starts_with("pg_temp")) pin(PinReason::kTempTable);
        continue;  // the body is stored, not run
      } else if (key == "PrepareStmt" || key == "RuleStmt" || key == "CreateTrigStmt" ||
                 key == "CreatePolicyStmt") {
        continue;  // stored, not run
      }
      stack.push_back(&child);
    }
  }
}

void Collector::function_call(const json& node) {
  const auto names = name_list(field(node, "funcname"));
  // Unqualified or pg_catalog-qualified: another schema's function is not the built-in.
  if (names.empty() || names.size() > 2 || (names.size() == 2 && names[0] != "pg_catalog")) {
    return;
  }
  const std::string_view name = names.back();
  if (contains(kAdvisoryLockFunctions, name)) {
    pin(PinReason::kAdvisoryLock);
  } else if (name == "pg_advisory_unlock_all") {
    unpin(UnpinAction::kAdvisoryUnlockAll);
  }
}

void Collector::temp_relation(const json* rel, std::string_view on_commit) {
  if (!rel || on_commit == "ONCOMMIT_DROP") return;  // gone when its transaction ends
  if (string_field(*rel, "relpersistence") == "t" ||
      string_field(*rel, "schemaname").starts_with("pg_temp")) {
    pin(PinReason::kTempTable);
  }
}

std::optional<std::string> Collector::render_args(const json& args) const {
  if (!args.is_array() || args.empty()) return std::nullopt;
  std::string out;
  for (const json& arg : args) {
    std::optional<std::string> value = render_value(arg);
    if (!value) return std::nullopt;
    if (!out.empty()) out += ", ";
    out += *value;
  }
  return out;
}

std::optional<std::string> Collector::render_value(const json& wrapper) const {
  if (const json* cast = field(wrapper, "TypeCast")) return render_interval(*cast);
  const json* c = field(wrapper, "A_Const");
  if (!c) return std::nullopt;
  if (const json* v = field(*c, "ival")) {
    if (field(*v, "ival")) return std::to_string(int_field(*v, "ival"));
    return render_small_integer(int_field(*c, "location"));
  }
  if (const json* v = field(*c, "fval")) {
    const std::string_view f = string_field(*v, "fval");
    return f.empty() ? std::nullopt : std::optional<std::string>(f);
  }
  if (const json* v = field(*c, "boolval")) {
    const json* b = field(*v, "boolval");
    return (b && b->is_boolean() && *b) ? "true" : "false";
  }
  if (const json* v = field(*c, "sval")) {
    return render_string(string_field(*v, "sval"), int_field(*c, "location"));
  }
  return std::nullopt;
}

// The parser turns `a`, "A b" and 'x' alike into string constants. Write each back the way
// the client did where that is safe, so `SET search_path = public, "My Schema"` reads the
// same when re-issued; any form gives the same setting.
std::string Collector::render_string(std::string_view s, int64_t location) const {
  const bool located = location >= 0 && static_cast<size_t>(location) < sql_.size();
  if (located && is_plain_identifier(s)) {
    // Written unquoted in this very value position, so it parses there again.
    const size_t end = static_cast<size_t>(location) + s.size();
    if (end <= sql_.size() && iequals(sql_.substr(static_cast<size_t>(location), s.size()), s) &&
        (end == sql_.size() || (!is_word_byte(sql_[end]) && sql_[end] != '$'))) {
      return std::string(s);
    }
  }
  if (located && sql_[static_cast<size_t>(location)] == '"') return quote_ident(s);
  return quote_literal(s);
}

// SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE, the one cast SET's grammar allows, is
// not valid after `SET timezone TO`; the string 'INTERVAL ''+05:30''' is, and sets the same
// offset (the field qualifier is dropped: it only truncates lower fields such as seconds).
std::optional<std::string> Collector::render_interval(const json& cast) const {
  const json* arg = field(cast, "arg");
  const json* c = arg ? field(*arg, "A_Const") : nullptr;
  const json* sval = c ? field(*c, "sval") : nullptr;
  const json* type = field(cast, "typeName");
  const auto type_names = type ? name_list(field(*type, "names")) : std::vector<std::string_view>();
  if (!sval || type_names.empty() || type_names.back() != "interval") return std::nullopt;
  return quote_literal("INTERVAL " + quote_literal(string_field(*sval, "sval")));
}

// libpg_query 15-4.0 leaves negative integers out of its JSON (fixed upstream by pull
// #249), so an empty ival is 0 or negative: read it back from the text (`0`, `-7`,
// `- /* c */ 7`).
std::optional<std::string> Collector::render_small_integer(int64_t location) const {
  if (location < 0 || static_cast<size_t>(location) >= sql_.size()) return std::nullopt;
  size_t i = static_cast<size_t>(location);
  if (sql_[i] >= '0' && sql_[i] <= '9') return "0";
  if (sql_[i] != '-') return std::nullopt;
  i = skip_space_and_comments(sql_, i + 1);
  const size_t digits = i;
  while (i < sql_.size() && sql_[i] >= '0' && sql_[i] <= '9') ++i;
  if (i == digits) return std::nullopt;
  return "-" + std::string(sql_.substr(digits, i - digits));
}

// Parses `text` (NUL-free, at most kMaxParsedStatementBytes) and adds what it finds.
void classify_parsed(std::string_view text, Classification& out) {
  const bool widened = !valid_utf8(text);
  const std::string query = widened ? widen_bytes(text) : std::string(text);
  PgQueryParseResult parsed = pg_query_parse(query.c_str());
  if (parsed.error) {
    out.parse_ok = false;
    pg_query_free_parse_result(parsed);
    return;
  }
  const json tree = json::parse(parsed.parse_tree, nullptr, /*allow_exceptions=*/false);
  pg_query_free_parse_result(parsed);
  if (tree.is_discarded()) {
    out.parse_ok = false;
    return;
  }
  const json* stmts = field(tree, "stmts");
  if (!stmts || !stmts->is_array()) return;  // only comments or empty statements
  Collector collector(query, widened, out);
  for (const json& raw : *stmts) {
    if (const json* stmt = field(raw, "stmt")) collector.statement(*stmt);
  }
}

// Texts too long to parse in one piece: split with the scanner (no recursion) and parse
// the statements that might matter, as long as each is small enough.
void classify_oversized(std::string_view text, Classification& out) {
  const std::string query(text);
  PgQuerySplitResult split = pg_query_split_with_scanner(query.c_str());
  if (split.error) {
    out.parse_ok = false;
  } else {
    for (int i = 0; i < split.n_stmts; ++i) {
      const PgQuerySplitStmt* s = split.stmts[i];
      if (s->stmt_location < 0 || static_cast<size_t>(s->stmt_location) > text.size()) break;
      const std::string_view stmt = text.substr(static_cast<size_t>(s->stmt_location),
                                                static_cast<size_t>(std::max(s->stmt_len, 0)));
      if (!might_matter(stmt)) continue;
      if (stmt.size() > kMaxParsedStatementBytes) {
        out.parse_ok = false;
        continue;
      }
      classify_parsed(stmt, out);
    }
  }
  pg_query_free_split_result(split);
}

}  // namespace

std::string_view to_string(PinReason reason) {
  const auto i = static_cast<size_t>(reason);
  return i < kPinNames.size() ? kPinNames[i] : "unknown";
}

std::string_view to_string(UnpinAction action) {
  const auto i = static_cast<size_t>(action);
  return i < kUnpinNames.size() ? kUnpinNames[i] : "unknown";
}

bool releases(UnpinAction action, PinReason reason) {
  if (action == UnpinAction::kDiscardAll) return true;
  const auto i = static_cast<size_t>(action);
  return i < kReleasedBy.size() && kReleasedBy[i] == reason;
}

// Splits the text into words and looks for keywords. '$' separates words here although
// identifiers may contain it, so `$$...$$;SET` and `$1SET` still show SET; splitting more
// only adds candidate words.
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Whether a word holds "advisory" or "pg_temp" (any case). Both are parts of names with an
// underscore (pg_advisory_lock, pg_temp_3); only those are searched, from the letters of
// the two that are rarer in SQL ('v', '_'), as every word of every query comes here.
bool has_pin_substring(std::string_view word) {
  constexpr std::string_view kAdvisory = "advisory";  // 'v' at 2
  constexpr std::string_view kPgTemp = "pg_temp";     // '_' at 2
  if (word.size() < kPgTemp.size() || std::memchr(word.data(), '_', word.size()) == nullptr) {
    return false;
  }
  for (size_t j = 2; j < word.size(); ++j) {
    const char c = word[j];
    if (c == '_' && j + kPgTemp.size() - 2 <= word.size() &&
        iequals(word.substr(j - 2, kPgTemp.size()), kPgTemp)) {
      return true;
    }
    if ((c == 'v' || c == 'V') && j + kAdvisory.size() - 2 <= word.size() &&
        iequals(word.substr(j - 2, kAdvisory.size()), kAdvisory)) {
      return true;
    }
  }
  return false;
}

// Whether a statement may start at `at`: nothing but whitespace before it since the text's
// start or a ';', or a comment just before it. Errs towards yes (a string literal that
// ends in ';' or holds "--" passes), never towards no: a statement that starts there
// always passes.
bool may_start_statement(std::string_view sql, size_t at) {
  size_t j = at;
  bool crossed_line = false;
  while (j > 0 && is_space(sql[j - 1])) crossed_line |= sql[--j] == '\n';
  if (j == 0 || sql[j - 1] == ';') return true;
  if (j >= 2 && sql[j - 2] == '*' && sql[j - 1] == '/') return true;  // after a /* comment */
  if (crossed_line) {
    // After a line that may end in a -- comment.
    const size_t line_start = sql.rfind('\n', j - 1);
    const size_t from = line_start == std::string_view::npos ? 0 : line_start + 1;
    if (sql.substr(from, j - from).find("--") != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

bool might_matter(std::string_view sql) {
  const size_t n = sql.size();
  size_t i = 0;
  for (;;) {
    while (i < n && !is_word_byte(sql[i])) ++i;
    if (i == n) return false;
    const size_t start = i;
    while (i < n && is_word_byte(sql[i])) ++i;
    std::string_view word = sql.substr(start, i - start);
    // U&"..." can spell any identifier (a function or schema name) with escapes.
    if (word.size() == 1) {
      if (lower(word[0]) == 'u' && i < n && sql[i] == '&') return true;
      continue;
    }
    // Substrings: pg_advisory_*(), pg_temp / pg_temp_3 schemas.
    if (has_pin_substring(word)) return true;
    // A number glued to a keyword (`1SET`) lexes as two tokens in older servers.
    while (!word.empty() && word[0] >= '0' && word[0] <= '9') word.remove_prefix(1);
    if (word.size() < kShortestKeyword || word.size() > kLongestKeyword) continue;
    const char first = lower(word[0]);
    if (first < 'a' || first > 'z' || !(kKeywordInitials & (1u << (first - 'a')))) continue;
    for (std::string_view keyword : kKeywordsByLength[word.size()]) {
      if (keyword.empty()) break;
      if (!iequals(word, keyword)) continue;
      if (!contains(kLeadingKeywords, keyword)) return true;
      if (may_start_statement(sql, i - word.size())) return true;
      break;
    }
  }
}

Classification classify(std::string_view sql) {
  Classification out;
  try {
    if (sql.size() <= kMaxParsedStatementBytes) {
      classify_parsed(sql, out);
    } else {
      classify_oversized(sql, out);
    }
  } catch (const std::exception&) {  // out of memory: classify as unknown, don't unwind
    out = Classification{};
    out.parse_ok = false;
  }
  return out;
}

ClassifierCache::ClassifierCache(size_t capacity) : capacity_(capacity) {}

const Classification& ClassifierCache::classify(std::string_view sql) {
  if (auto it = index_.find(sql); it != index_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->result;
  }
  ++misses_;
  if (capacity_ == 0 || sql.size() > kMaxCachedSqlBytes) {
    uncached_ = router::classify(sql);
    return uncached_;
  }
  if (lru_.size() >= capacity_) {
    index_.erase(lru_.back().sql);
    lru_.pop_back();
  }
  lru_.push_front(Entry{std::string(sql), router::classify(sql)});
  index_.emplace(lru_.front().sql, lru_.begin());
  return lru_.front().result;
}

}  // namespace sluice::router
