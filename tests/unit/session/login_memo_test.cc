#include "session/login_memo.h"

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/reader.h"
#include "startup_packet.h"

namespace sluice::session {
namespace {

using test_support::startup;

std::shared_ptr<const FlatStringMap> defaults() {
  return std::make_shared<const FlatStringMap>(FlatStringMap{{"client_encoding", "UTF8"},
                                                             {"DateStyle", "ISO, MDY"},
                                                             {"TimeZone", "UTC"},
                                                             {"application_name", ""},
                                                             {"server_version", "15.18"}});
}

// The welcome's ParameterStatus messages, decoded.
FlatStringMap statuses(const std::string& bytes) {
  FlatStringMap out;
  protocol::Bytes rest(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  while (!rest.empty()) {
    const protocol::Frame f = protocol::peek_message(rest, 1 << 20);
    EXPECT_EQ(f.status, protocol::FrameStatus::kMessage);
    if (f.status != protocol::FrameStatus::kMessage) break;
    EXPECT_EQ(f.type, 'S');
    if (auto kv = protocol::parse_parameter_status(f.body)) out[kv->first] = kv->second;
    rest = rest.subspan(f.size);
  }
  return out;
}

TEST(LoginMemo, WorksOutParametersWelcomeAndClass) {
  const LoginOutcome o =
      work_out_login(*defaults(), startup({{"user", "u"},
                                           {"application_name", "app"},
                                           {"options", "-c sluice.class=batch -c work_mem=64MB"}}));
  ASSERT_EQ(o.error, "");
  EXPECT_EQ(o.requested_class, "batch");
  EXPECT_EQ(o.params->map.count("sluice.class"), 0u);  // the proxy's option, not the server's
  EXPECT_EQ(o.params->map.at("work_mem"), "64MB");
  EXPECT_EQ(o.params->fingerprint, params_fingerprint(o.params->map));
  EXPECT_EQ(o.extras, (FlatStringMap{{"work_mem", "64MB"}}));
  // Every parameter the server reported, with the client's own values where it set them.
  EXPECT_EQ(statuses(o.parameter_status), (FlatStringMap{{"client_encoding", "UTF8"},
                                                         {"DateStyle", "ISO, MDY"},
                                                         {"TimeZone", "UTC"},
                                                         {"application_name", "app"},
                                                         {"server_version", "15.18"}}));
}

TEST(LoginMemo, SameStartupToSamePoolIsWorkedOutOnce) {
  const auto pool = defaults();
  const auto first = login_outcome(pool, startup({{"user", "u"}, {"application_name", "a"}}));
  const auto again = login_outcome(pool, startup({{"user", "u"}, {"application_name", "a"}}));
  EXPECT_EQ(first.get(), again.get());
  const auto other_app = login_outcome(pool, startup({{"user", "u"}, {"application_name", "b"}}));
  EXPECT_NE(other_app.get(), first.get());
  EXPECT_EQ(other_app->params->map.at("application_name"), "b");
  // Another pool (equal values, another server) is worked out for itself.
  const auto other_pool =
      login_outcome(defaults(), startup({{"user", "u"}, {"application_name", "a"}}));
  EXPECT_NE(other_pool.get(), first.get());
  // Interned: clients with equal parameters share one map, memo or not.
  EXPECT_EQ(other_pool->params.get(), first->params.get());
}

TEST(LoginMemo, RefusalsAreNotKept) {
  const auto pool = defaults();
  const auto refused = login_outcome(pool, startup({{"user", "u"}, {"replication", "true"}}));
  EXPECT_NE(refused->error, "");
  EXPECT_EQ(refused->params, nullptr);
  const auto again = login_outcome(pool, startup({{"user", "u"}, {"replication", "true"}}));
  EXPECT_NE(again.get(), refused.get());
  EXPECT_NE(again->error, "");
}

TEST(LoginMemo, ManyStartupsEachGetTheirOwnOutcome) {
  const auto pool = defaults();
  // More distinct logins than the memo keeps: each still gets its own parameters.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 20; ++i) {
      const std::string app = "app" + std::to_string(i);
      const auto o = login_outcome(pool, startup({{"user", "u"}, {"application_name", app}}));
      EXPECT_EQ(o->params->map.at("application_name"), app);
      EXPECT_EQ(statuses(o->parameter_status).at("application_name"), app);
    }
  }
}

}  // namespace
}  // namespace sluice::session
