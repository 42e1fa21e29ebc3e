#include "stats/query_shape.h"

namespace sluice::stats {

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr char kConstant = '\x01';  // stands for any constant; cannot occur in SQL text

bool is_ident(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

class Hasher {
 public:
  void add(char c) {
    h_ ^= static_cast<unsigned char>(c);
    h_ *= kFnvPrime;
  }
  void add(std::string_view s) {
    for (char c : s) add(c);
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = kFnvOffset;
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
