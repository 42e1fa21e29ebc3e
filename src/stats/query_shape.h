// A cheap key for the query-text memo that ignores literal values: numbers and quoted
// strings hash as one placeholder, so `... WHERE aid = 17` and `... WHERE aid = 42` share
// one memo entry and libpg_query parses the shape once. Simple-protocol clients inline
// their parameters, so an exact-text memo would parse nearly every query.
//
// Safe by construction: only what PostgreSQL's lexer calls constants (numeric literals,
// '...' / E'...' / B'...' / X'...' / N'...' strings) is replaced; identifiers, quoted
// identifiers, $n parameters, dollar-quoted bodies, comments, operators and whitespace
// are hashed as written. Two texts with one shape differ only in constant values, which
// libpg_query's fingerprint ignores too, so they have one fingerprint. (Texts that differ
// in whitespace only have one fingerprint but two shapes: two memo entries. A client
// sends one query from one place in its code, with the same whitespace each time, and
// most bytes are then looked up once and hashed eight at a time.) One pass, no allocation.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::stats {

uint64_t query_shape_hash(std::string_view sql);

}  // namespace sluice::stats
