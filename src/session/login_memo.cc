#include "session/login_memo.h"

#include <array>

#include "config/priority_classes.h"
#include "protocol/builder.h"

namespace sluice::session {

namespace {

using StartupParams = decltype(protocol::StartupPacket::params);

// A few slots, replaced in turn: a worker serves the logins of a few applications at a
// time, each with its own startup packet (application_name above all).
class LoginMemo {
 public:
  std::shared_ptr<const LoginOutcome> find(const std::shared_ptr<const FlatStringMap>& defaults,
                                           const StartupParams& params) const {
    for (const Slot& slot : slots_) {
      // (Held, so an address cannot come back as another pool's defaults.)
      if (slot.defaults == defaults && slot.params == params) return slot.outcome;
    }
    return nullptr;
  }
  void remember(std::shared_ptr<const FlatStringMap> defaults, StartupParams params,
                std::shared_ptr<const LoginOutcome> outcome) {
    Slot& slot = slots_[next_];
    next_ = (next_ + 1) % kSlots;
    slot = Slot{std::move(defaults), std::move(params), std::move(outcome)};
  }

 private:
  static constexpr size_t kSlots = 8;
  struct Slot {
    std::shared_ptr<const FlatStringMap> defaults;
    StartupParams params;
    std::shared_ptr<const LoginOutcome> outcome;
  };
  std::array<Slot, kSlots> slots_;
  size_t next_ = 0;
};

}  // namespace

LoginOutcome work_out_login(const FlatStringMap& defaults, const protocol::StartupPacket& startup) {
  LoginOutcome outcome;
  ParamMap wanted;
  if (auto bad = initial_session_params(defaults, startup, wanted)) {
    outcome.error = std::move(*bad);
    return outcome;
  }
  // The option is the proxy's, never sent on to the server.
  if (auto it = wanted.find(config::kClassOption); it != wanted.end()) {
    outcome.requested_class = std::move(it->second);
    wanted.erase(config::kClassOption);
  }
  for (const auto& [name, value] : wanted) {
    if (!is_reported_param(name)) outcome.extras[name] = value;
  }
  for (const auto& [name, value] : defaults) {
    auto it = wanted.find(name);
    protocol::append_parameter_status(outcome.parameter_status, name,
                                      it != wanted.end() ? it->second : value);
  }
  SharedParams shared;
  shared.set(std::move(wanted));
  shared.intern();
  outcome.params = shared.entry();
  return outcome;
}

std::shared_ptr<const LoginOutcome> login_outcome(
    const std::shared_ptr<const FlatStringMap>& defaults, const protocol::StartupPacket& startup) {
  thread_local LoginMemo memo;
  if (auto known = memo.find(defaults, startup.params)) return known;
  auto outcome = std::make_shared<const LoginOutcome>(work_out_login(*defaults, startup));
  if (outcome->error.empty()) memo.remember(defaults, startup.params, outcome);
  return outcome;
}

}  // namespace sluice::session
