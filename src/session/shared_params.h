// A client's wanted session parameters, shared between the clients of one worker that
// logged in asking for the same ones (most clients of one application do) and replaced,
// not edited, when they change. An idle client then holds a pointer instead of its own
// copy of the map (about half a KiB with its strings), and changes stay rare and cheap:
// a SET, a server's ParameterStatus or a parameter sync, never a plain transaction.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "session/session_params.h"

namespace sluice::session {

class SharedParams {
 public:
  SharedParams() : map_(empty_map()) {}

  const ParamMap& get() const { return *map_; }
  ParamMap::const_iterator find(std::string_view key) const { return map_->find(key); }
  ParamMap::const_iterator end() const { return map_->end(); }

  // Replaces the map (the one given is this client's alone until intern()).
  void set(ParamMap map) { map_ = std::make_shared<const ParamMap>(std::move(map)); }
  // Runs `change` on a copy; keeps the copy only when it differs, so an update that
  // changes nothing keeps the map shared. Returns whether it changed.
  template <typename Change>
  bool update(Change&& change) {
    ParamMap next = *map_;
    change(next);
    if (next == *map_) return false;
    set(std::move(next));
    return true;
  }
  // Shares an equal map another client of this thread holds, if any, else offers this
  // one for sharing. `fingerprint` is params_fingerprint(get()).
  void intern(const std::string& fingerprint);

 private:
  static const std::shared_ptr<const ParamMap>& empty_map();
  std::shared_ptr<const ParamMap> map_;
};

}  // namespace sluice::session
