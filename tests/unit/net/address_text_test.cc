#include "net/address_text.h"

#include <gtest/gtest.h>

namespace sluice::net {
namespace {

TEST(AddressText, WritesWhatAsioWrites) {
  for (const char* text : {"0.0.0.0", "127.0.0.1", "10.0.12.7", "192.168.100.99", "255.255.255.255",
                           "::1", "fe80::1", "::ffff:127.0.0.1", "2001:db8::42"}) {
    const asio::ip::address address = asio::ip::make_address(text);
    EXPECT_EQ(address_text(address), address.to_string()) << text;
    EXPECT_EQ(address_text(address), text);
  }
}

}  // namespace
}  // namespace sluice::net
