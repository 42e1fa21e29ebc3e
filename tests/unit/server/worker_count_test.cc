// What `workers = 0` starts: all usable cores but one, counted from the affinity mask.
#include "server/worker_count.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace sluice::server {
namespace {

TEST(DefaultWorkers, LeavesOneCoreFreeButKeepsOneWorker) {
  EXPECT_EQ(default_workers(1), 1);
  EXPECT_EQ(default_workers(2), 1);
  EXPECT_EQ(default_workers(4), 3);
  EXPECT_EQ(default_workers(64), 63);
}

TEST(UsableCores, FollowsTheAffinityMaskNotTheMachine) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(usable_cores(), CPU_COUNT(&all));

  // A thread pinned to one core (as `taskset -c N sluice serve` pins the process) sees one.
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  int seen = 0;
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof(one), &one) == 0) seen = usable_cores();
  });
  pinned.join();
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace sluice::server
