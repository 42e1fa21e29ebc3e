// What a client's SQL text does to session state, for transaction pooling: which session
// settings it changes (to re-apply on the next server connection), what ties the client to
// its server connection (pins) and what releases such ties (unpins).
//
// Parsing uses libpg_query (PostgreSQL 15's own grammar), so keywords inside string
// literals, comments and identifiers are never mistaken for statements. Only what is
// visible in the text is seen: SET / LISTEN / pg_advisory_lock inside DO blocks, functions
// or procedures, and EXECUTE of a prepared statement, are not (see README.md).
//
// Threading: classify() and might_matter() are thread-safe (libpg_query keeps per-thread
// state). A ClassifierCache is not: one per worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::router {

// Texts longer than this are split into statements with libpg_query's scanner, and only
// statements up to this size are parsed: libpg_query's tree output recurses once per
// nesting level (`1+1+1+...`), so a bound on the text bounds the stack it needs
// (~2 MB at this size; worker threads have 8 MB).
inline constexpr size_t kMaxParsedStatementBytes = size_t{32} * 1024;
// Longer texts are classified on every call instead of cached, which bounds a cache's
// memory to about capacity * kMaxCachedSqlBytes.
inline constexpr size_t kMaxCachedSqlBytes = size_t{16} * 1024;

struct SessionSetting {
  // Lower-case parameter name; "all" for RESET ALL (which, as in PostgreSQL, leaves role
  // and session_authorization alone).
  std::string name;
  // SQL text to re-issue as `SET name TO <value>`; nullopt means RESET name (also for
  // `SET name TO DEFAULT`).
  std::optional<std::string> value;

  bool operator==(const SessionSetting&) const = default;
};

// Why a client must keep its server connection between transactions.
enum class PinReason : uint8_t {
  kListen,        // LISTEN channel
  kAdvisoryLock,  // session-level pg_[try_]advisory_lock[_shared]()
  kTempTable,     // temporary table, view, sequence or pg_temp function
  kHoldCursor,    // DECLARE ... CURSOR WITH HOLD
  kPreparedSql,   // SQL-level PREPARE name AS ...
};

// Statements that release pins of some reason.
enum class UnpinAction : uint8_t {
  kUnlistenAll,        // UNLISTEN *
  kAdvisoryUnlockAll,  // pg_advisory_unlock_all()
  kDiscardTemp,        // DISCARD TEMP
  kCloseAllCursors,    // CLOSE ALL
  kDeallocateAll,      // DEALLOCATE ALL
  kDiscardAll,         // DISCARD ALL: every one of the above
};

inline constexpr size_t kPinReasonCount = 5;  // number of PinReason values

std::string_view to_string(PinReason reason);
std::string_view to_string(UnpinAction action);
// Whether `action` releases every pin of `reason`.
bool releases(UnpinAction action, PinReason reason);

struct Classification {
  // False when libpg_query could not parse the text, or a statement of an oversized text
  // (kMaxParsedStatementBytes); the proxy relays the SQL unchanged. The other fields hold
  // what was found in the statements that could be classified (nothing on a syntax error).
  bool parse_ok = true;
  // SET / RESET / RESET ALL / DISCARD ALL effects in statement order. Not SET LOCAL, not
  // SET TRANSACTION. They last beyond the transaction only if it commits.
  std::vector<SessionSetting> session_settings;
  // Each reason at most once, in order of first appearance.
  std::vector<PinReason> pins;
  // Each action at most once. The order relative to `pins` is lost: apply unpins first,
  // then pins, which keeps every pin that may still hold (LISTEN a; UNLISTEN * keeps it).
  std::vector<UnpinAction> unpins;
  // BEGIN / START TRANSACTION / COMMIT / END / ROLLBACK / ABORT / SAVEPOINT / RELEASE /
  // PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED.
  bool transaction_control = false;

  bool operator==(const Classification&) const = default;
};

// Cheap case-insensitive keyword prefilter: false means classify() would find nothing, so
// the proxy can skip it. False positives (UPDATE ... SET, CASE ... END, words in string
// literals) only cost a classify() of that text.
bool might_matter(std::string_view sql);

// Classifies any number of ';'-separated statements. Never throws.
Classification classify(std::string_view sql);

// classify() memoized by exact query text, least recently used entries evicted first.
// Not thread-safe: one per worker thread.
class ClassifierCache {
 public:
  explicit ClassifierCache(size_t capacity);
  ClassifierCache(const ClassifierCache&) = delete;
  ClassifierCache& operator=(const ClassifierCache&) = delete;

  // The reference is valid until the next call on this cache.
  const Classification& classify(std::string_view sql);

  size_t size() const { return lru_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string sql;
    Classification result;
  };

  size_t capacity_;
  std::list<Entry> lru_;  // most recently used first; nodes never move
  // Keys view Entry::sql inside lru_'s nodes.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  Classification uncached_;  // result for texts that are not cached
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace sluice::router
