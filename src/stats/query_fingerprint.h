// A query's identity for statistics: libpg_query's fingerprint (literals, parameter
// numbers and whitespace do not matter: `WHERE id = 1` and `WHERE id = 2` are one query)
// and its normalised text (literals replaced by $1, $2, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::stats {

// Normalised texts are cut to this many bytes (statistics keep one per fingerprint).
inline constexpr size_t kMaxNormalizedBytes = 2048;

struct QueryIdentity {
  uint64_t fingerprint = 0;
  std::string normalized;
};

// Never throws. Texts libpg_query cannot parse (syntax errors, or longer than
// router::kMaxParsedStatementBytes, whose parse could exhaust the stack) are identified
// by a hash of their text and keep their text, shortened, as the normalised one.
QueryIdentity identify_query(std::string_view sql);

}  // namespace sluice::stats
