#include "stats/query_fingerprint.h"

#include <pg_query.h>

#include <functional>
#include <string>

#include "router/statement_classifier.h"

namespace sluice::stats {

namespace {

// Marks hashes of raw text so they never equal a libpg_query fingerprint of other text.
constexpr uint64_t kRawTextTag = 0x8000000000000000ULL;

std::string shortened(std::string_view s) {
  if (s.size() <= kMaxNormalizedBytes) return std::string(s);
  return std::string(s.substr(0, kMaxNormalizedBytes - 3)) + "...";
}

QueryIdentity raw_identity(std::string_view sql) {
  return {std::hash<std::string_view>{}(sql) | kRawTextTag, shortened(sql)};
}

}  // namespace

QueryIdentity identify_query(std::string_view sql) {
  if (sql.size() > router::kMaxParsedStatementBytes) return raw_identity(sql);
  const std::string text(sql);  // libpg_query wants a NUL-terminated string
  PgQueryFingerprintResult fp = pg_query_fingerprint(text.c_str());
  if (fp.error != nullptr) {
    pg_query_free_fingerprint_result(fp);
    return raw_identity(sql);
  }
  QueryIdentity id{fp.fingerprint & ~kRawTextTag, {}};
  pg_query_free_fingerprint_result(fp);
  PgQueryNormalizeResult norm = pg_query_normalize(text.c_str());
  id.normalized = shortened(norm.error == nullptr && norm.normalized_query != nullptr
                                ? std::string_view(norm.normalized_query)
                                : sql);
  pg_query_free_normalize_result(norm);
  return id;
}

}  // namespace sluice::stats
