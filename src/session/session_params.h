// Session parameters a client expects to keep when its transactions run on different
// server connections (transaction mode). Two kinds:
//  - reported ones (client_encoding, DateStyle, TimeZone, IntervalStyle,
//    standard_conforming_strings, application_name): PostgreSQL announces their values
//    with ParameterStatus, so a client's SET of them is seen and remembered;
//  - extra ones from the startup packet (extra_float_digits, "options=-c k=v", ...),
//    which the proxy SETs itself and RESETs for clients that did not ask for them.
// Before relaying a client's traffic on a server connection, the proxy issues one
// SET/RESET batch for whatever differs.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/flat_string_map.h"
#include "protocol/startup.h"

namespace sluice::session {

using ParamMap = FlatStringMap;

// Values a server connection currently has, as far as the proxy knows.
struct ServerParamState {
  ParamMap& values;               // reported values plus extras the proxy set
  std::set<std::string>& extras;  // extra (non-reported) parameters the proxy set
};

// Whether PostgreSQL reports this parameter (case-insensitive).
bool is_reported_param(const std::string& name);

// A value that is SQL text to re-issue as is (from a client's SET, e.g. `public, "My
// Schema"`) rather than a plain value to quote (from a startup packet) starts with this.
inline constexpr char kSqlValueMarker = '\x01';

// Applies a client's successful SET/RESET of a non-reported parameter to what it wants
// and to what the server connection it ran on now holds. `value` nullopt = RESET; name
// "all" = RESET ALL, which restores `startup` values. Reported parameters are left to
// ParameterStatus tracking.
void apply_client_setting(const std::string& name, const std::optional<std::string>& value,
                          const ParamMap& startup, ParamMap& wanted, ServerParamState server);

// What a client starts with: the pool's server defaults for the reported parameters,
// overridden by its startup packet; other startup parameters become extras. Returns an
// error message for startup parameters the proxy cannot honour (e.g. replication).
std::optional<std::string> initial_session_params(const ParamMap& server_defaults,
                                                  const protocol::StartupPacket& startup,
                                                  ParamMap& wanted);

// "SET a TO 'x'; RESET b" for what differs between `wanted` and the server; "" if nothing.
std::string parameter_sync_sql(const ParamMap& wanted, const ParamMap& server_values,
                               const std::set<std::string>& server_extras);

// After the sync succeeded: records the extras on the server, and takes the server's
// spelling of reported values (UTF8 for "unicode") into `wanted`.
void record_synced_params(ParamMap& wanted, ServerParamState server);

// A ParameterStatus seen while relaying means the client changed it (SET): remember it.
// Returns whether `wanted` changed.
bool track_reported_param(ParamMap& wanted, const std::string& name, const std::string& value);
// Whether track_reported_param() would change `wanted` (checked first: a change copies it).
bool reported_param_differs(const ParamMap& wanted, const std::string& name,
                            const std::string& value);

// A compact identity of a parameter map: a server connection synced to a client's
// parameters remembers it, so the next lease by a client with the same parameters skips
// the comparison (the common case: every client of a pool alike).
std::string params_fingerprint(const ParamMap& params);
inline constexpr size_t kFingerprintBytes = 15;  // params_fingerprint()'s length

}  // namespace sluice::session
