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

// What each byte does to the text's shape: most bytes (letters, operators, whitespace)
// are kept as written and only looked up; the others may start a constant or a token
// read to its end.
enum ByteClass : uint8_t { kKept, kDigit, kDot, kQuote, kVerbatim };
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> table{};  // kKept
  for (int c = '0'; c <= '9'; ++c) table[c] = kDigit;
  table['.'] = kDot;
  table['\''] = kQuote;
  for (const char c : {'"', '-', '/', '$'}) table[static_cast<unsigned char>(c)] = kVerbatim;
  return table;
}();
constexpr std::array<bool, 256> kWordByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = is_ident(static_cast<char>(c));
  return table;
}();

// Hashes a stream of bytes given in pieces, eight bytes at a time: a multiply per eight
// bytes rather than per byte (as FNV does), and the same value however the stream is cut.
class StreamHasher {
 public:
  void add(const char* p, size_t n) {
    length_ += n;
    if (pending_bytes_ > 0) {
      for (; n > 0 && pending_bytes_ < 8; ++p, --n) take(*p);
      if (pending_bytes_ < 8) return;
      mix(pending_);
      pending_ = 0;
      pending_bytes_ = 0;
    }
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t word = 0;
      std::memcpy(&word, p, 8);
      mix(word);
    }
    for (; n > 0; ++p, --n) take(*p);
  }
  void add(char c) { add(&c, 1); }
  uint64_t value() const {
    uint64_t h = h_;
    if (pending_bytes_ > 0) h = mixed(h, pending_);
    h = mixed(h, length_);  // (a partial last word is padded with zeros)
    h ^= h >> 33;           // MurmurHash3's finaliser
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
  }

 private:
  static constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;
  static uint64_t mixed(uint64_t h, uint64_t word) {
    h = (h ^ word) * kMultiplier;
    return h ^ (h >> 29);
  }
  void mix(uint64_t word) { h_ = mixed(h_, word); }
  void take(char c) {
    pending_ |= uint64_t{static_cast<unsigned char>(c)} << (8 * pending_bytes_);
    ++pending_bytes_;
  }
  uint64_t h_ = 0x2545f4914f6cdd1dULL;
  uint64_t pending_ = 0;
  unsigned pending_bytes_ = 0;
  uint64_t length_ = 0;
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
  // The shape is the text with each constant replaced by kConstant. It is hashed in
  // pieces: the bytes kept as written since the last replacement, then the replacement.
  StreamHasher h;
  const char* const text = s.data();
  size_t kept_from = 0;
  auto replace = [&](size_t from, char with) {
    h.add(text + kept_from, from - kept_from);
    h.add(with);
  };
  const size_t size = s.size();
  size_t i = 0;
  while (true) {
    // Most bytes are kept: looked at four at a time, then one by one.
    while (i + 4 <= size && (kByteClass[static_cast<unsigned char>(text[i])] |
                             kByteClass[static_cast<unsigned char>(text[i + 1])] |
                             kByteClass[static_cast<unsigned char>(text[i + 2])] |
                             kByteClass[static_cast<unsigned char>(text[i + 3])]) == kKept) {
      i += 4;
    }
    while (i < size && kByteClass[static_cast<unsigned char>(text[i])] == kKept) ++i;
    if (i == size) break;
    const auto c = static_cast<unsigned char>(text[i]);
    switch (kByteClass[c]) {
      case kDigit:
      case kDot: {
        // A digit in a word (t1, $1) is the word's; a number starts after no word byte.
        const bool starts_number =
            (i == 0 || !kWordByte[static_cast<unsigned char>(text[i - 1])]) &&
            (c != '.' || (i + 1 < s.size() && is_digit(text[i + 1])));
        if (!starts_number) {
          ++i;
          break;
        }
        replace(i, kConstant);
        i = kept_from = number_end(s, i);
        break;
      }
      case kQuote: {
        // A prefix letter (E, B, X, N, U&) is kept as written; E'...' has escapes.
        const bool escapes = i > 0 && (text[i - 1] == 'e' || text[i - 1] == 'E') &&
                             (i < 2 || !is_ident(text[i - 2]));
        replace(i, kConstant);
        i = kept_from = string_end(s, i, escapes);
        break;
      }
      default: {  // kVerbatim: kept as written, to its end
        const size_t end = verbatim_end(s, i);
        i = end == i ? i + 1 : end;
        break;
      }
    }
  }
  h.add(text + kept_from, s.size() - kept_from);
  return h.value();
}

}  // namespace sluice::stats
