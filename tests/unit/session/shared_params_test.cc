// Clients asking for the same session parameters share one map; a change gives the
// changing client its own, and leaves the others' alone.
#include "session/shared_params.h"

#include <gtest/gtest.h>

#include <thread>

namespace sluice::session {
namespace {

ParamMap pgbench_like(const std::string& app) {
  return ParamMap{{"DateStyle", "ISO, MDY"},
                  {"application_name", app},
                  {"client_encoding", "UTF8"},
                  {"standard_conforming_strings", "on"}};
}

SharedParams logged_in(const ParamMap& map) {
  SharedParams p;
  p.set(map);
  p.intern();
  return p;
}

TEST(SharedParams, EqualLoginsShareOneMap) {
  SharedParams a = logged_in(pgbench_like("pgbench"));
  SharedParams b = logged_in(pgbench_like("pgbench"));
  SharedParams c = logged_in(pgbench_like("psql"));
  EXPECT_EQ(&a.get(), &b.get());
  EXPECT_NE(&a.get(), &c.get());
  EXPECT_EQ(c.get(), pgbench_like("psql"));
}

TEST(SharedParams, AChangeCopiesAndLeavesTheOthersAlone) {
  SharedParams a = logged_in(pgbench_like("pgbench"));
  SharedParams b = logged_in(pgbench_like("pgbench"));
  EXPECT_TRUE(a.update([](ParamMap& m) { m["DateStyle"] = "German"; }));
  EXPECT_EQ(a.find("DateStyle")->second, "German");
  EXPECT_EQ(b.get(), pgbench_like("pgbench"));
  EXPECT_NE(&a.get(), &b.get());
  // A third client logging in with the original settings still shares b's map.
  SharedParams c = logged_in(pgbench_like("pgbench"));
  EXPECT_EQ(&b.get(), &c.get());
}

TEST(SharedParams, TheFingerprintFollowsTheMap) {
  SharedParams a = logged_in(pgbench_like("pgbench"));
  EXPECT_EQ(a.fingerprint(), params_fingerprint(pgbench_like("pgbench")));
  a.update([](ParamMap& m) { m["DateStyle"] = "German"; });
  EXPECT_EQ(a.fingerprint(), params_fingerprint(a.get()));
  EXPECT_NE(a.fingerprint(), params_fingerprint(pgbench_like("pgbench")));
  EXPECT_EQ(SharedParams().fingerprint(), params_fingerprint({}));
}

TEST(SharedParams, AnUpdateThatChangesNothingKeepsSharing) {
  SharedParams a = logged_in(pgbench_like("pgbench"));
  SharedParams b = logged_in(pgbench_like("pgbench"));
  EXPECT_FALSE(a.update([](ParamMap& m) { m["DateStyle"] = "ISO, MDY"; }));
  EXPECT_EQ(&a.get(), &b.get());
}

TEST(SharedParams, ALoginAfterTheLastHolderLeftGetsItsOwnMap) {
  { SharedParams gone = logged_in(pgbench_like("gone")); }  // leaves an expired entry
  SharedParams b = logged_in(pgbench_like("gone"));
  SharedParams c = logged_in(pgbench_like("gone"));
  EXPECT_EQ(b.get(), pgbench_like("gone"));
  EXPECT_EQ(&b.get(), &c.get());  // ... and offers it for sharing again
}

TEST(SharedParams, ThreadsDoNotShare) {
  SharedParams a = logged_in(pgbench_like("threads"));
  const ParamMap* other = nullptr;
  SharedParams b;
  std::thread([&] {
    b = logged_in(pgbench_like("threads"));
    other = &b.get();
  }).join();
  EXPECT_NE(&a.get(), other);
  EXPECT_EQ(b.get(), a.get());
}

}  // namespace
}  // namespace sluice::session
