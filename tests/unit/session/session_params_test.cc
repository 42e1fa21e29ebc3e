#include "session/session_params.h"

#include <gtest/gtest.h>

#include "startup_packet.h"

namespace sluice::session {
namespace {

using test_support::startup;

const ParamMap kDefaults = {{"client_encoding", "UTF8"}, {"DateStyle", "ISO, MDY"},
                            {"TimeZone", "UTC"},         {"IntervalStyle", "postgres"},
                            {"application_name", ""},    {"standard_conforming_strings", "on"},
                            {"server_version", "15.18"}};

TEST(SessionParams, StartupValuesOverrideDefaultsWithCanonicalNames) {
  ParamMap wanted;
  ASSERT_FALSE(initial_session_params(
      kDefaults, startup({{"user", "u"}, {"datestyle", "German"}, {"application_name", "psql"}}),
      wanted));
  EXPECT_EQ(wanted.at("DateStyle"), "German");
  EXPECT_EQ(wanted.at("application_name"), "psql");
  EXPECT_EQ(wanted.at("TimeZone"), "UTC");
  EXPECT_EQ(wanted.count("user"), 0u);
  EXPECT_EQ(wanted.count("server_version"), 0u);
}

TEST(SessionParams, OptionsAndExtraParametersBecomeSettings) {
  ParamMap wanted;
  ASSERT_FALSE(initial_session_params(
      kDefaults,
      startup({{"user", "u"},
               {"extra_float_digits", "3"},
               {"options", "-c search_path=a\\ b --statement-timeout=5s -cwork_mem=64MB"}}),
      wanted));
  EXPECT_EQ(wanted.at("extra_float_digits"), "3");
  EXPECT_EQ(wanted.at("search_path"), "a b");
  EXPECT_EQ(wanted.at("statement_timeout"), "5s");
  EXPECT_EQ(wanted.at("work_mem"), "64MB");
}

TEST(SessionParams, RefusesWhatItCannotHonour) {
  ParamMap wanted;
  EXPECT_TRUE(initial_session_params(kDefaults, startup({{"replication", "true"}}), wanted));
  EXPECT_TRUE(initial_session_params(kDefaults, startup({{"options", "-x"}}), wanted));
  EXPECT_TRUE(initial_session_params(kDefaults, startup({{"options", "-c a;drop=1"}}), wanted));
  EXPECT_TRUE(initial_session_params(kDefaults, startup({{"bad name", "1"}}), wanted));
}

TEST(SessionParams, SyncSetsDifferencesAndResetsOtherClientsExtras) {
  ParamMap server = kDefaults;
  std::set<std::string> extras;
  ParamMap a;
  ASSERT_FALSE(initial_session_params(
      kDefaults, startup({{"application_name", "it's"}, {"extra_float_digits", "3"}}), a));
  EXPECT_EQ(parameter_sync_sql(a, server, extras),
            "SELECT pg_catalog.set_config('application_name', 'it''s', false); "
            "SELECT pg_catalog.set_config('extra_float_digits', '3', false)");
  server["application_name"] = "it's";  // what the server reports after the SET
  record_synced_params(a, {server, extras});
  EXPECT_EQ(parameter_sync_sql(a, server, extras), "");

  ParamMap b;
  ASSERT_FALSE(initial_session_params(kDefaults, startup({}), b));
  EXPECT_EQ(parameter_sync_sql(b, server, extras),
            "SELECT pg_catalog.set_config('application_name', '', false); "
            "RESET extra_float_digits");
  server["application_name"] = "";
  record_synced_params(b, {server, extras});
  EXPECT_TRUE(extras.empty());
  EXPECT_EQ(server.count("extra_float_digits"), 0u);
}

TEST(SessionParams, ServerSpellingIsAdoptedAndClientSetsAreTracked) {
  ParamMap server = kDefaults;
  std::set<std::string> extras;
  ParamMap wanted;
  ASSERT_FALSE(
      initial_session_params(kDefaults, startup({{"client_encoding", "unicode"}}), wanted));
  EXPECT_EQ(parameter_sync_sql(wanted, server, extras),
            "SELECT pg_catalog.set_config('client_encoding', 'unicode', false)");
  record_synced_params(wanted, {server, extras});  // server still reports UTF8
  EXPECT_EQ(wanted.at("client_encoding"), "UTF8");
  track_reported_param(wanted, "TimeZone", "Asia/Tokyo");
  track_reported_param(wanted, "server_version", "16");
  EXPECT_EQ(wanted.at("TimeZone"), "Asia/Tokyo");
  EXPECT_EQ(wanted.count("server_version"), 0u);
}

TEST(SessionParams, FingerprintTellsParameterSetsApart) {
  ParamMap a = {{"TimeZone", "UTC"}, {"application_name", "x"}};
  ParamMap b = a;
  EXPECT_EQ(params_fingerprint(a), params_fingerprint(b));
  EXPECT_TRUE(track_reported_param(b, "timezone", "Asia/Tokyo"));
  EXPECT_FALSE(track_reported_param(b, "TimeZone", "Asia/Tokyo"));
  EXPECT_NE(params_fingerprint(a), params_fingerprint(b));
  // Name/value boundaries are part of the identity.
  EXPECT_NE(params_fingerprint({{"ab", "c"}}), params_fingerprint({{"a", "bc"}}));
}

TEST(SessionParams, ClientSetsOfOtherParametersAreReissuedAsWritten) {
  ParamMap server = kDefaults;
  std::set<std::string> extras;
  ParamMap wanted;
  ASSERT_FALSE(initial_session_params(kDefaults, startup({{"work_mem", "4MB"}}), wanted));
  const ParamMap startup_values = {{"work_mem", "4MB"}};
  apply_client_setting("search_path", "public, \"My Schema\"", startup_values, wanted,
                       {server, extras});
  EXPECT_EQ(extras.count("search_path"), 1u);
  ParamMap fresh = kDefaults;
  std::set<std::string> none;
  EXPECT_EQ(parameter_sync_sql(wanted, fresh, none),
            "SET search_path TO public, \"My Schema\"; "
            "SELECT pg_catalog.set_config('work_mem', '4MB', false)");
  // RESET ALL brings back what the client started with, and nothing else.
  apply_client_setting("all", std::nullopt, startup_values, wanted, {server, extras});
  EXPECT_EQ(wanted.count("search_path"), 0u);
  EXPECT_EQ(wanted.at("work_mem"), "4MB");
  // Reported parameters are left to ParameterStatus tracking.
  apply_client_setting("timezone", "'UTC'", startup_values, wanted, {server, extras});
  EXPECT_EQ(wanted.at("TimeZone"), "UTC");
}

}  // namespace
}  // namespace sluice::session
