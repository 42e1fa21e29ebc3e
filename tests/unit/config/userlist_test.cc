// PgBouncer userlist.txt parsing.
#include "config/userlist.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "config/load.h"

namespace sluice::config {
namespace {

TEST(UserListTest, ParsesSecretsAsGiven) {
  UserList list = UserList::parse(
      "; comment line\n"
      "\n"
      "\"alice\" \"plain text pw\"\n"
      "  \"bob\"\t\"md5d41d8cd98f00b204e9800998ecf8427e\"  \r\n"
      "\"carol\" \"SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy\"\n"
      "   ; indented comment\n"
      "\"dave\" \"\"",
      "userlist.txt");
  EXPECT_EQ(list.size(), 4u);
  EXPECT_EQ(list.secret_for("alice"), "plain text pw");
  EXPECT_EQ(list.secret_for("bob"), "md5d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(list.secret_for("carol"), "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy");
  EXPECT_EQ(list.secret_for("dave"), "");
  EXPECT_FALSE(list.secret_for("eve"));
  EXPECT_FALSE(list.secret_for("Alice"));
}

TEST(UserListTest, DoubledQuotesAreLiteralQuotes) {
  UserList list = UserList::parse(R"("we""ird" "pa""ss""")", "u.txt");
  EXPECT_EQ(list.secret_for("we\"ird"), "pa\"ss\"");
}

TEST(UserListTest, EmptyInput) {
  EXPECT_EQ(UserList::parse("", "u.txt").size(), 0u);
  EXPECT_EQ(UserList::parse("\xEF\xBB\xBF\"a\" \"b\"\n", "u.txt").secret_for("a"), "b");
}

std::string error_for(std::string_view text) {
  try {
    UserList::parse(text, "userlist.txt");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << text;
  return "";
}

TEST(UserListTest, MalformedLinesNameFileAndLine) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"\"a\" \"b\"\nalice secret\n",
            "userlist.txt:2: malformed line (missing the user name in double quotes); "
            "expected \"user\" \"secret\""},
           {"\"alice\" secret", "userlist.txt:1: malformed line (missing the secret in double"},
           {"\"alice", "userlist.txt:1: malformed line (unterminated quote in the user name)"},
           {"\n\n\"alice\" \"sec",
            "userlist.txt:3: malformed line (unterminated quote in the "
            "secret)"},
           {"\"alice\"", "userlist.txt:1: malformed line (missing the secret"},
           {"\"alice\" \"x\" extra", "userlist.txt:1: malformed line (unexpected text after"},
           {"\"alice\"x \"y\"", "userlist.txt:1: malformed line (no space between"},
           {"\"\" \"x\"", "userlist.txt:1: malformed line (empty user name)"},
           {"\"a\" \"1\"\n\"a\" \"2\"", "userlist.txt:2: duplicate user \"a\" (first on line 1)"},
       }) {
    std::string msg = error_for(c.text);
    EXPECT_EQ(msg.rfind(c.expected, 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(UserListTest, ErrorsDoNotLeakSecrets) {
  std::string msg = error_for("\"alice\" \"hunter2\" trailing");
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
}

TEST(UserListTest, LoadFile) {
  std::string path = testing::TempDir() + "/sluice_userlist_test.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("\"u\" \"p\"\nbroken\n", f);
  std::fclose(f);
  try {
    UserList::load_file(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":2: malformed line", 0), 0u) << e.what();
  }
  std::remove(path.c_str());
  EXPECT_THROW(UserList::load_file(path), ConfigError);
}

}  // namespace
}  // namespace sluice::config
