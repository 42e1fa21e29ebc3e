// A string kept for the life of the process and shared by everything that holds the same
// value: one pointer where thousands of clients would each copy one of a few values (the
// address a client connected to, the host of its server). Only for values from a small
// set — what the configuration and the machine's own addresses allow — never for what a
// client chooses, since interned strings are never freed.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

class InternedString {
 public:
  InternedString();  // ""
  explicit InternedString(std::string_view value);

  const std::string& str() const { return *value_; }
  bool operator==(const InternedString& other) const { return value_ == other.value_; }

 private:
  const std::string* value_;
};

}  // namespace sluice
