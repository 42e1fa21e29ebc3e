#include "stats/query_shape.h"

#include <array>
#include <cstring>

namespace sluice::stats {

namespace {

constexpr char kConstant = '\x01';  // stands for any constant; cannot occur in SQL text

constexpr bool is_ident(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Bytes that start a word hashed as written (a keyword or an identifier), and bytes that
// go on one: table lookups, as the hash runs on every query a client sends.
constexpr std::array<bool, 256> kWordStart = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
  }
  return table;
}();
constexpr std::array<bool, 256> kWordByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = is_ident(static_cast<char>(c));
  return table;
}();

// Hashes token by token, eight bytes at a time: a multiply per eight bytes rather than per
// byte (as FNV does). Each token's length goes in after its last bytes, so "ab" "c" and
// "a" "bc" differ; texts of one shape split into the same tokens, constants aside.
class Hasher {
 public:
  // A one-byte token (a space, an operator, a constant's marker) in one step: most tokens
  // of a query are one byte. The bit above the byte keeps it apart from the tails below.
  void add(char c) { mix(static_cast<unsigned char>(c) | 0x100u); }
  void add(std::string_view token) {
    const char* p = token.data();
    size_t n = token.size();
    for (; n >= 8; p += 8, n -= 8) mix(load(p, 8));
    uint64_t tail = 0;
    if (n >= 4) {
      tail = load(p, 4) | (load(p + n - 4, 4) << 32);  // (the two may overlap)
    } else if (n > 0) {
      tail = load(p, 1) | (load(p + n / 2, 1) << 8) | (load(p + n - 1, 1) << 16);
    }
    mix(tail);
    h_ += n;  // (the tail may fill all 64 bits)
  }
  uint64_t value() const {
    uint64_t h = h_;  // MurmurHash3's finaliser
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
  }

 private:
  static constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;
  static uint64_t load(const char* p, size_t n) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);  // (n is 1, 4 or 8 at each call: no library call)
    return v;
  }
  void mix(uint64_t word) {
    h_ = (h_ ^ word) * kMultiplier;
    h_ ^= h_ >> 29;
  }
  uint64_t h_ = 0x2545f4914f6cdd1dULL;
};

// End of the '...' string starting at `i` (the quote); `escapes` for E'...' strings.
size_t string_end(std::string_view s, size_t i, bool escapes) {
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (escapes && s[j] == '\\') {
      ++j;
    } else if (s[j] == '\'') {
      if (j + 1 < s.size() && s[j + 1] == '\'') {
        ++j;
      } else {
        return j + 1;
      }
    }
  }
  return s.size();
}

// End of the numeric literal starting at `i`: digits, a fraction, an exponent.
size_t number_end(std::string_view s, size_t i) {
  while (i < s.size() && (is_digit(s[i]) || s[i] == '.')) ++i;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && is_digit(s[j])) {
      while (j < s.size() && is_digit(s[j])) ++j;
      return j;
    }
  }
  return i;
}

// End of the token at `i` that is copied as written: a quoted identifier, a comment, a
// dollar-quoted string; `i` itself when there is none there.
size_t verbatim_end(std::string_view s, size_t i) {
  const char c = s[i];
  if (c == '"') {
    for (size_t j = i + 1; j < s.size(); ++j) {
      if (s[j] == '"') {
        if (j + 1 < s.size() && s[j + 1] == '"') {
          ++j;
        } else {
          return j + 1;
        }
      }
    }
    return s.size();
  }
  if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
    const size_t eol = s.find('\n', i);
    return eol == std::string_view::npos ? s.size() : eol;
  }
  if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
    int depth = 0;  // PostgreSQL's block comments nest
    for (size_t j = i; j + 1 < s.size(); ++j) {
      if (s[j] == '/' && s[j + 1] == '*') {
        ++depth;
        ++j;
      } else if (s[j] == '*' && s[j + 1] == '/') {
        ++j;
        if (--depth == 0) return j + 1;
      }
    }
    return s.size();
  }
  if (c == '$' && (i == 0 || !is_ident(s[i - 1]))) {
    size_t j = i + 1;
    if (j < s.size() && is_digit(s[j])) return i;  // $1: a parameter, hashed as is
    while (j < s.size() && is_ident(s[j]) && s[j] != '$') ++j;
    if (j >= s.size() || s[j] != '$') return i;
    const std::string_view tag = s.substr(i, j - i + 1);
    const size_t close = s.find(tag, j + 1);
    return close == std::string_view::npos ? s.size() : close + tag.size();
  }
  return i;
}

}  // namespace

uint64_t query_shape_hash(std::string_view s) {
  Hasher h;
  size_t i = 0;
  bool space = false;
  while (i < s.size()) {
    const char c = s[i];
    if (is_space(c)) {
      space = true;
      ++i;
      continue;
    }
    if (space) h.add(' ');
    space = false;
    if (kWordStart[static_cast<unsigned char>(c)]) {
      // A whole word at once. What follows it is no word byte, so the checks below, which
      // look back for a word before a digit or a '$', see what they would byte by byte.
      size_t end = i + 1;
      while (end < s.size() && kWordByte[static_cast<unsigned char>(s[end])]) ++end;
      h.add(s.substr(i, end - i));
      i = end;
      continue;
    }
    const bool after_ident = i > 0 && is_ident(s[i - 1]);
    if (const size_t end = verbatim_end(s, i); end != i) {
      h.add(s.substr(i, end - i));
      i = end;
    } else if (c == '\'') {
      // A prefix letter (E, B, X, N, U&) was hashed as written; E'...' has escapes.
      const bool escapes =
          i > 0 && (s[i - 1] == 'e' || s[i - 1] == 'E') && (i < 2 || !is_ident(s[i - 2]));
      h.add(kConstant);
      i = string_end(s, i, escapes);
    } else if (!after_ident &&
               (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1])))) {
      h.add(kConstant);
      i = number_end(s, i);
    } else {
      h.add(c);
      ++i;
    }
  }
  return h.value();
}

}  // namespace sluice::stats
