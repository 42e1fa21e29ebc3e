// Session parameters a client expects to keep when its transactions run on different
// server connections (transaction mode): the ones PostgreSQL reports with ParameterStatus
// and clients set at startup. The proxy remembers what each client wants and issues SET
// on a server connection whose values differ before relaying the client's traffic.
#pragma once

#include <map>
#include <string>

#include "protocol/startup.h"

namespace sluice::session {

using ParamMap = std::map<std::string, std::string>;

// Whether the proxy tracks this parameter (case-insensitive; canonical names).
bool is_tracked_param(const std::string& name);

// What a client starts with: the pool's server defaults, overridden by its startup packet.
ParamMap initial_session_params(const ParamMap& server_defaults,
                                const protocol::StartupPacket& startup);

// "SET a TO 'x'; SET b TO 'y'" for every tracked parameter whose wanted value differs
// from the server connection's; "" when nothing differs.
std::string parameter_sync_sql(const ParamMap& wanted, const ParamMap& server);

// After a sync, take the server's spelling of each value (UTF8 for "unicode").
void adopt_reported_params(ParamMap& wanted, const ParamMap& server);

// A ParameterStatus seen while relaying means the client changed it (SET): remember it.
void track_reported_param(ParamMap& wanted, const std::string& name, const std::string& value);

}  // namespace sluice::session
