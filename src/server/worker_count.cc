#include "server/worker_count.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace sluice::server {

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1U, std::thread::hardware_concurrency());
}

int default_workers(int cores) { return std::max(1, cores - 1); }

}  // namespace sluice::server
