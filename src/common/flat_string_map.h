// A small string -> string map kept as one sorted vector. Session parameters are held per
// client and per server connection (a handful each, thousands of clients): a std::map
// spends one allocation and ~50 bytes of bookkeeping per entry, this one allocation for
// all of them. Iterates in key order, like std::map. Inserting or erasing invalidates
// iterators and references.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

namespace flat_map_detail {
// Over a sorted vector of pairs, const or not.
template <typename Items>
auto first_not_below(Items& items, std::string_view key) {
  return std::lower_bound(items.begin(), items.end(), key,
                          [](const auto& item, std::string_view k) { return item.first < k; });
}
template <typename Items>
auto found(Items& items, std::string_view key) {
  auto it = first_not_below(items, key);
  return it != items.end() && it->first == key ? it : items.end();
}
}  // namespace flat_map_detail

class FlatStringMap {
 public:
  using value_type = std::pair<std::string, std::string>;
  using iterator = std::vector<value_type>::iterator;
  using const_iterator = std::vector<value_type>::const_iterator;

  FlatStringMap() = default;
  FlatStringMap(std::initializer_list<value_type> init) {
    for (const auto& [key, value] : init) (*this)[key] = value;
  }

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void clear() { items_.clear(); }

  iterator find(std::string_view key) { return flat_map_detail::found(items_, key); }
  const_iterator find(std::string_view key) const { return flat_map_detail::found(items_, key); }
  size_t count(std::string_view key) const { return find(key) != end() ? 1 : 0; }
  // Throws std::out_of_range when missing, like std::map::at (not for the data plane).
  const std::string& at(std::string_view key) const {
    auto it = find(key);
    if (it == end()) throw std::out_of_range("no such key: " + std::string(key));
    return it->second;
  }

  // The value for `key`, inserted empty if missing.
  std::string& operator[](std::string_view key) {
    auto it = lower_bound(key);
    if (it != items_.end() && it->first == key) return it->second;
    if (items_.size() == items_.capacity()) {
      // Grow one entry at a time while small: most maps stay at a few entries.
      const size_t index = static_cast<size_t>(it - items_.begin());
      items_.reserve(items_.size() + (items_.size() < kGrowOneByOne ? 1 : items_.size()));
      it = items_.begin() + static_cast<std::ptrdiff_t>(index);
    }
    return items_.emplace(it, std::string(key), std::string())->second;
  }
  size_t erase(std::string_view key) {
    auto it = find(key);
    if (it == items_.end()) return 0;
    items_.erase(it);
    return 1;
  }

  bool operator==(const FlatStringMap&) const = default;

 private:
  static constexpr size_t kGrowOneByOne = 16;

  iterator lower_bound(std::string_view key) {
    return flat_map_detail::first_not_below(items_, key);
  }
  std::vector<value_type> items_;
};

}  // namespace sluice
