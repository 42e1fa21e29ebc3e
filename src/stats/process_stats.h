// The process's own CPU time and memory, read from /proc/self at scrape time.
#pragma once

#include <cstdint>

namespace sluice::stats {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t threads = 0;
};

// Zeros where /proc cannot be read.
ProcessStats read_process_stats();

}  // namespace sluice::stats
