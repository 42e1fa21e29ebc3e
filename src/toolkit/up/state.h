// ./.sluice/state.json: the ports and pids `sluice up` chose, so a second `up` reuses the
// running instances and `down` knows what to stop.
#pragma once

#include <filesystem>

namespace sluice::toolkit::up {

struct UpState {
  int pg_port = 0;        // PostgreSQL's TCP port on 127.0.0.1
  int proxy_port = 0;     // the proxy's listen port on 127.0.0.1
  int proxy_pid = 0;      // also in sluice.pid
  int proxy_pg_port = 0;  // the PostgreSQL port the running proxy was started against
};

// Missing or unreadable file = default state (a fresh start).
UpState load_state(const std::filesystem::path& file);
// Writes atomically (temp file + rename). Throws UpError.
void save_state(const std::filesystem::path& file, const UpState& state);

}  // namespace sluice::toolkit::up
