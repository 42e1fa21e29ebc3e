// ASCII case folding for SQL keywords and parameter names, which PostgreSQL compares
// case-insensitively in ASCII only (whatever the locale).
#pragma once

#include <algorithm>
#include <string_view>

namespace sluice {

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

}  // namespace sluice
