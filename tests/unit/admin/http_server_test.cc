#include "admin/http_server.h"

#include <gtest/gtest.h>

namespace sluice::admin {
namespace {

TEST(HttpHead, RequestLineQueryAndHeaders) {
  HttpRequest r;
  ASSERT_TRUE(parse_http_head(
      "POST /api/v1/pause?database=my%20db&x HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer t \r\n",
      r));
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v1/pause");
  EXPECT_EQ(r.query.at("database"), "my db");
  EXPECT_EQ(r.query.at("x"), "");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer t");
  EXPECT_EQ(r.headers.at("host"), "a");
}

TEST(HttpHead, MalformedRequestsAreRefused) {
  for (const char* head : {"", "GET", "GET /", "GET / FTP/1.0", "GET nopath HTTP/1.1",
                           "GET / HTTP/1.1\r\nno-colon", "GET / HTTP/1.1\r\n: empty-name"}) {
    HttpRequest r;
    EXPECT_FALSE(parse_http_head(head, r)) << head;
  }
}

TEST(HttpHead, BadPercentEscapesStayAsWritten) {
  HttpRequest r;
  ASSERT_TRUE(parse_http_head("GET /a%zz%4?q=%% HTTP/1.0", r));
  EXPECT_EQ(r.path, "/a%zz%4");
  EXPECT_EQ(r.query.at("q"), "%%");
}

}  // namespace
}  // namespace sluice::admin
