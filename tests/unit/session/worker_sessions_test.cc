#include "session/worker_sessions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::session {
namespace {

// Registrations only store the pointer: any distinct addresses stand for sessions.
ClientSession* fake(int& slot) { return reinterpret_cast<ClientSession*>(&slot); }

std::vector<ClientSession*> sorted(std::vector<ClientSession*> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(WorkerSessions, ListsTheSessionsRegisteredNow) {
  int a = 0;
  int b = 0;
  int c = 0;
  const size_t before = WorkerSessions::count();
  std::optional<WorkerSessions::Registration> ra(fake(a));
  std::optional<WorkerSessions::Registration> rb(fake(b));
  std::optional<WorkerSessions::Registration> rc(fake(c));
  EXPECT_EQ(WorkerSessions::count(), before + 3);
  EXPECT_EQ(sorted(WorkerSessions::all()), sorted({fake(a), fake(b), fake(c)}));

  rb.reset();  // from the middle
  EXPECT_EQ(sorted(WorkerSessions::all()), sorted({fake(a), fake(c)}));
  rc.reset();  // the newest
  EXPECT_EQ(WorkerSessions::all(), std::vector<ClientSession*>{fake(a)});
  ra.reset();  // the last one
  EXPECT_TRUE(WorkerSessions::all().empty());
  EXPECT_EQ(WorkerSessions::count(), before);
}

TEST(WorkerSessions, EachThreadHasItsOwn) {
  int here = 0;
  const WorkerSessions::Registration mine(fake(here));
  std::vector<ClientSession*> seen_there;
  size_t count_there = 0;
  std::thread([&] {
    int there = 0;
    const WorkerSessions::Registration theirs(fake(there));
    seen_there = WorkerSessions::all();
    count_there = WorkerSessions::count();
  }).join();
  EXPECT_EQ(count_there, 1U);
  EXPECT_EQ(seen_there.size(), 1U);
  EXPECT_NE(seen_there[0], fake(here));
  EXPECT_EQ(WorkerSessions::all(), std::vector<ClientSession*>{fake(here)});
}

TEST(WorkerSessions, CountsParksUntilTheyAreTaken) {
  WorkerSessions::take_park_count();
  WorkerSessions::count_park();
  WorkerSessions::count_park();
  EXPECT_EQ(WorkerSessions::take_park_count(), 2U);
  EXPECT_EQ(WorkerSessions::take_park_count(), 0U);
}

TEST(WorkerSessions, FreshLoginsPastTheLimitGiveUpTheOldest) {
  constexpr size_t kLimit = WorkerSessions::kMaxFreshLogins;
  std::vector<int> slots(kLimit + 2);
  for (size_t i = 0; i < kLimit; ++i) {
    EXPECT_EQ(WorkerSessions::add_fresh_login(fake(slots[i])), nullptr) << i;
  }
  // One more: the oldest is handed back (to park) and is no longer on the list.
  EXPECT_EQ(WorkerSessions::add_fresh_login(fake(slots[kLimit])), fake(slots[0]));
  // One that spoke leaves the list: the next login then gives nobody up...
  WorkerSessions::remove_fresh_login(fake(slots[5]));
  EXPECT_EQ(WorkerSessions::add_fresh_login(fake(slots[kLimit + 1])), nullptr);
  // ...and after it the oldest remaining goes first, in login order.
  int later = 0;
  EXPECT_EQ(WorkerSessions::add_fresh_login(fake(later)), fake(slots[1]));
  // Removing one that is not on the list (handed back, or never fresh) changes nothing.
  WorkerSessions::remove_fresh_login(fake(slots[0]));
  for (size_t i = 2; i <= kLimit + 1; ++i) WorkerSessions::remove_fresh_login(fake(slots[i]));
  WorkerSessions::remove_fresh_login(fake(later));
  for (size_t i = 0; i < kLimit; ++i) {
    EXPECT_EQ(WorkerSessions::add_fresh_login(fake(slots[i])), nullptr) << "emptied: " << i;
  }
  for (size_t i = 0; i < kLimit; ++i) WorkerSessions::remove_fresh_login(fake(slots[i]));
}

}  // namespace
}  // namespace sluice::session
