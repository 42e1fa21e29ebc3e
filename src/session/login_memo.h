// What a login's startup parameters come to: the client's session parameters, the
// startup extras RESET ALL restores, and the ParameterStatus part of its welcome. The
// clients of one application send the same startup packet at every login (a connection
// per request, pgbench -C), and working this out anew cost each login about 20,000
// instructions and a dozen allocations: a parameter map built string by string, its
// SHA-256 fingerprint, a welcome of fifteen ParameterStatus messages. Kept per worker
// (thread), for the last few (server defaults, startup parameters) pairs.
#pragma once

#include <memory>
#include <string>

#include "protocol/startup.h"
#include "session/shared_params.h"

namespace sluice::session {

struct LoginOutcome {
  std::string error;  // a startup parameter the proxy cannot honour: the rest is empty
  std::shared_ptr<const SharedParams::Entry> params;  // interned on this worker
  std::string requested_class;                        // the sluice.class startup option
  ParamMap extras;               // non-reported startup settings (for RESET ALL)
  std::string parameter_status;  // the welcome's ParameterStatus messages
};

// The outcome of a login with `startup` to a pool whose server reported `defaults`.
std::shared_ptr<const LoginOutcome> login_outcome(
    const std::shared_ptr<const FlatStringMap>& defaults, const protocol::StartupPacket& startup);

// What login_outcome() works out when the memo has no answer (for tests).
LoginOutcome work_out_login(const FlatStringMap& defaults, const protocol::StartupPacket& startup);

}  // namespace sluice::session
