// postgresql:// URL parsing.
#include "config/postgres_url.h"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

TEST(PostgresUrlTest, FullUrl) {
  DatabaseConfig db = parse_postgres_url("postgresql://alice:s3cret@db.example.com:6543/shop");
  EXPECT_EQ(db.user, "alice");
  EXPECT_EQ(db.password, "s3cret");
  EXPECT_EQ(db.host, "db.example.com");
  EXPECT_EQ(db.port, 6543);
  EXPECT_EQ(db.dbname, "shop");
  EXPECT_FALSE(db.sslmode);
  EXPECT_TRUE(db.name.empty());
}

TEST(PostgresUrlTest, MinimalUrlAndDefaults) {
  DatabaseConfig db = parse_postgres_url("postgres://localhost");
  EXPECT_EQ(db.host, "localhost");
  EXPECT_EQ(db.port, 5432);
  EXPECT_TRUE(db.user.empty());
  EXPECT_TRUE(db.password.empty());
  EXPECT_TRUE(db.dbname.empty());
  EXPECT_EQ(parse_postgres_url("postgresql://bob@h/").dbname, "");
  EXPECT_EQ(parse_postgres_url("postgresql://bob@h/").user, "bob");
}

TEST(PostgresUrlTest, PercentDecoding) {
  DatabaseConfig db =
      parse_postgres_url("postgresql://us%65r%3Aname:p%40ss%2Fw%25rd@h:5432/my%20db");
  EXPECT_EQ(db.user, "user:name");
  EXPECT_EQ(db.password, "p@ss/w%rd");
  EXPECT_EQ(db.dbname, "my db");
  // An unencoded '@' in the password still works: the last '@' ends the user info.
  EXPECT_EQ(parse_postgres_url("postgresql://u:a@b@h/d").password, "a@b");
  // '+' is not a space in libpq URLs.
  EXPECT_EQ(parse_postgres_url("postgresql://u:a+b@h/d").password, "a+b");
}

TEST(PostgresUrlTest, Ipv6) {
  DatabaseConfig db = parse_postgres_url("postgresql://u@[::1]:5433/d");
  EXPECT_EQ(db.host, "::1");
  EXPECT_EQ(db.port, 5433);
  EXPECT_EQ(parse_postgres_url("postgresql://[2001:db8::5]/d").host, "2001:db8::5");
  EXPECT_EQ(parse_postgres_url("postgresql://[2001:db8::5]/d").port, 5432);
}

TEST(PostgresUrlTest, UnixSocketDirectory) {
  DatabaseConfig db = parse_postgres_url("postgresql://u@%2Fvar%2Frun%2Fpostgresql:5433/d");
  EXPECT_EQ(db.host, "/var/run/postgresql");
  EXPECT_EQ(db.port, 5433);
  EXPECT_EQ(parse_postgres_url("postgresql:///d?host=/tmp").host, "/tmp");
}

TEST(PostgresUrlTest, QueryParameters) {
  DatabaseConfig db = parse_postgres_url("postgresql://h/d?sslmode=verify-full");
  EXPECT_EQ(db.sslmode, ServerSslMode::kVerifyFull);
  db = parse_postgres_url("postgresql://h/d?sslmode=disable&user=x%20y&password=pw&port=7000");
  EXPECT_EQ(db.sslmode, ServerSslMode::kDisable);
  EXPECT_EQ(db.user, "x y");
  EXPECT_EQ(db.password, "pw");
  EXPECT_EQ(db.port, 7000);
  db = parse_postgres_url("postgresql:///d?host=backend&dbname=other");
  EXPECT_EQ(db.host, "backend");
  EXPECT_EQ(db.dbname, "other");
}

std::string error_for(std::string_view url) {
  try {
    parse_postgres_url(url);
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    return msg;
  }
  ADD_FAILURE() << "no error for " << url;
  return "";
}

TEST(PostgresUrlTest, MalformedUrls) {
  struct Case {
    std::string_view url;
    std::string_view reason;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"mysql://h/d", "must start with postgresql:// or postgres://"},
           {"postgresql://h:abc/d", "bad port \"abc\""},
           {"postgresql://h:0/d", "bad port \"0\""},
           {"postgresql://h:65536/d", "bad port \"65536\""},
           {"postgresql://h:/d", "bad port \"\""},
           {"postgresql:///d", "missing host"},
           {"postgresql://u:p@/d", "missing host"},
           {"postgresql://::1/d", "IPv6 addresses must be in brackets"},
           {"postgresql://[::1/d", "missing ']'"},
           {"postgresql://[::1]x/d", "expected ':PORT' after ']'"},
           {"postgresql://h1,h2/d", "multiple hosts are not supported"},
           {"postgresql://h/d%zz", "bad percent-encoding in dbname"},
           {"postgresql://h/d%4", "bad percent-encoding in dbname"},
           {"postgresql://h/d?sslmode=allow", "sslmode=allow is not valid; allowed: disable"},
           {"postgresql://h/d?application_name=x", "unsupported parameter \"application_name\""},
           {"postgresql://h/d?sslmode", "parameter \"sslmode\" has no '=VALUE'"},
           {"postgresql://h/d#frag", "fragments are not allowed"},
       }) {
    std::string msg = error_for(c.url);
    EXPECT_NE(msg.find(c.reason), std::string::npos) << c.url << " -> " << msg;
    EXPECT_NE(msg.find("expected postgresql://[USER[:PASSWORD]@]HOST"), std::string::npos) << msg;
  }
}

TEST(PostgresUrlTest, ErrorsAndRedactionHidePasswords) {
  std::string msg = error_for("postgresql://u:hunter2@h:x/d");
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("postgresql://u:***@h:x/d"), std::string::npos) << msg;
  EXPECT_EQ(redact_postgres_url("postgresql://u:pw@h/d?sslmode=require&password=x&a=b"),
            "postgresql://u:***@h/d?sslmode=require&password=***&a=b");
  EXPECT_EQ(redact_postgres_url("postgresql://u@h/d"), "postgresql://u@h/d");
  EXPECT_EQ(redact_postgres_url("postgresql://h:5432/d"), "postgresql://h:5432/d");
}

TEST(PostgresUrlTest, TryParseReportsReason) {
  std::string reason;
  EXPECT_FALSE(try_parse_postgres_url("postgresql://h:x", &reason));
  EXPECT_EQ(reason, "bad port \"x\": must be 1..65535");
  EXPECT_TRUE(try_parse_postgres_url("postgresql://h:1", &reason));
}

}  // namespace
}  // namespace sluice::config
