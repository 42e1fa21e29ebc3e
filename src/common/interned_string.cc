#include "common/interned_string.h"

#include <mutex>
#include <unordered_set>

namespace sluice {

namespace {

struct Table {
  std::mutex mutex;
  std::unordered_set<std::string> values;  // nodes do not move: pointers to them stay valid
};

Table& table() {
  static auto* t = new Table;  // never destroyed: values may be read during exit
  return *t;
}

const std::string* intern(std::string_view value) {
  // Most logins of a thread intern what its previous one did: no lock then.
  thread_local const std::string* last = nullptr;
  if (last != nullptr && *last == value) return last;
  Table& t = table();
  const std::lock_guard lock(t.mutex);
  last = &*t.values.emplace(value).first;
  return last;
}

}  // namespace

InternedString::InternedString() {
  static const std::string* const empty = intern({});
  value_ = empty;
}

InternedString::InternedString(std::string_view value) : value_(intern(value)) {}

}  // namespace sluice
