#include "common/flat_string_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace sluice {
namespace {

TEST(FlatStringMap, BehavesLikeStdMapUnderRandomEdits) {
  FlatStringMap flat;
  std::map<std::string, std::string> reference;
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 40);
    switch (rng() % 3) {
      case 0:
        flat[key] = reference[key] = std::to_string(i);
        break;
      case 1:
        ASSERT_EQ(flat.erase(key), reference.erase(key)) << key;
        break;
      default:
        ASSERT_EQ(flat.count(key), reference.count(key)) << key;
        if (reference.count(key)) EXPECT_EQ(flat.at(key), reference.at(key));
    }
    ASSERT_EQ(flat.size(), reference.size());
  }
  auto it = reference.begin();
  for (const auto& [key, value] : flat) {  // same entries, same (key) order
    ASSERT_NE(it, reference.end());
    EXPECT_EQ(key, it->first);
    EXPECT_EQ(value, it->second);
    ++it;
  }
}

TEST(FlatStringMap, MissingKeys) {
  const FlatStringMap m = {{"b", "2"}, {"a", "1"}};
  EXPECT_EQ(m.begin()->first, "a");
  EXPECT_EQ(m.find("c"), m.end());
  EXPECT_THROW((void)m.at("c"), std::out_of_range);
  EXPECT_EQ(m, (FlatStringMap{{"a", "1"}, {"b", "2"}}));
}

}  // namespace
}  // namespace sluice
