#include "net/address_text.h"

namespace sluice::net {

std::string address_text(const asio::ip::address& address) {
  if (!address.is_v4()) return address.to_string();
  const asio::ip::address_v4::bytes_type bytes = address.to_v4().to_bytes();
  char text[16];  // "255.255.255.255"
  char* p = text;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) *p++ = '.';
    const unsigned value = bytes[i];
    if (value >= 100) *p++ = static_cast<char>('0' + value / 100);
    if (value >= 10) *p++ = static_cast<char>('0' + value / 10 % 10);
    *p++ = static_cast<char>('0' + value % 10);
  }
  return std::string(text, p);
}

}  // namespace sluice::net
