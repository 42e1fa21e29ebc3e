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
  SharedParams() : entry_(empty_entry()) {}

  const ParamMap& get() const { return entry_->map; }
  ParamMap::const_iterator find(std::string_view key) const { return entry_->map.find(key); }
  ParamMap::const_iterator end() const { return entry_->map.end(); }
  // params_fingerprint(get()), kept with the map so sharing clients share it too.
  const std::string& fingerprint() const { return entry_->fingerprint; }

  // Replaces the map (the one given is this client's alone until intern()).
  void set(ParamMap map);
  // Runs `change` on a copy; keeps the copy only when it differs, so an update that
  // changes nothing keeps the map shared. Returns whether it changed.
  template <typename Change>
  bool update(Change&& change) {
    ParamMap next = entry_->map;
    change(next);
    if (next == entry_->map) return false;
    set(std::move(next));
    return true;
  }
  // Shares an equal map another client of this thread holds, if any, else offers this
  // one for sharing.
  void intern();

  struct Entry {  // what sharing clients share (read through the accessors above)
    ParamMap map;
    std::string fingerprint;
  };
  const std::shared_ptr<const Entry>& entry() const { return entry_; }
  // Shares `entry` (one another client of this thread got from entry()).
  void share(std::shared_ptr<const Entry> entry) { entry_ = std::move(entry); }

 private:
  static const std::shared_ptr<const Entry>& empty_entry();
  std::shared_ptr<const Entry> entry_;
};

}  // namespace sluice::session
