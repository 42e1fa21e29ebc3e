#include "stats/process_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::stats {

ProcessStats read_process_stats() {
  ProcessStats s;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const size_t close = line.rfind(')');
    std::istringstream rest(close == std::string::npos ? "" : line.substr(close + 2));
    std::string field;
    // Fields 3..: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime(14) stime(15) cutime cstime priority nice num_threads(20) ... vsize(23)
    // rss(24) in pages.
    uint64_t utime = 0, stime = 0, threads = 0, vsize = 0, rss = 0;
    for (int i = 3; rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
      if (i == 20) threads = std::stoull(field);
      if (i == 23) vsize = std::stoull(field);
      if (i == 24) {
        rss = std::stoull(field);
        break;
      }
    }
    const long ticks = ::sysconf(_SC_CLK_TCK);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (ticks > 0) s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks);
    if (page > 0) s.resident_bytes = rss * static_cast<uint64_t>(page);
    s.virtual_bytes = vsize;
    s.threads = threads;
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.open_fds;
  }
  return s;
}

}  // namespace sluice::stats
