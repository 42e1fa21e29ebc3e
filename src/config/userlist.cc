// userlist.txt parser. Error messages never echo a line: it holds a secret.
#include "config/userlist.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/load.h"

namespace sluice::config {
namespace {

constexpr std::string_view kExpected = R"(expected "user" "secret")";

bool is_space(char c) { return c == ' ' || c == '\t'; }

size_t skip_spaces(std::string_view s, size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

// Reads a "..." field starting at `pos` (which must be '"'); advances `pos` past it.
// Returns nullopt with *why set when the field is missing or unterminated.
std::optional<std::string> read_quoted(std::string_view line, size_t& pos, std::string_view what,
                                       std::string* why) {
  if (pos >= line.size() || line[pos] != '"') {
    *why = fmt::format("missing {} in double quotes", what);
    return std::nullopt;
  }
  std::string out;
  for (size_t i = pos + 1; i < line.size(); ++i) {
    if (line[i] != '"') {
      out += line[i];
    } else if (i + 1 < line.size() && line[i + 1] == '"') {
      out += '"';  // "" is a literal quote
      ++i;
    } else {
      pos = i + 1;
      return out;
    }
  }
  *why = fmt::format("unterminated quote in {}", what);
  return std::nullopt;
}

}  // namespace

UserList UserList::parse(std::string_view text, const std::string& source_name) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM from some editors
  UserList list;
  std::map<std::string, size_t, std::less<>> first_line;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);

    size_t pos = skip_spaces(line, 0);
    if (pos == line.size() || line[pos] == ';') continue;
    auto fail = [&](std::string_view why) {
      throw ConfigError(
          fmt::format("{}:{}: malformed line ({}); {}", source_name, line_no, why, kExpected));
    };
    std::string why;
    std::optional<std::string> user = read_quoted(line, pos, "the user name", &why);
    if (!user) fail(why);
    if (user->empty()) fail("empty user name");
    size_t after_user = pos;
    pos = skip_spaces(line, pos);
    if (pos == after_user && pos < line.size()) fail("no space between user name and secret");
    std::optional<std::string> secret = read_quoted(line, pos, "the secret", &why);
    if (!secret) fail(why);
    pos = skip_spaces(line, pos);
    if (pos != line.size()) fail("unexpected text after the secret");

    if (auto it = first_line.find(*user); it != first_line.end()) {
      throw ConfigError(fmt::format("{}:{}: duplicate user {} (first on line {})", source_name,
                                    line_no, quote(*user), it->second));
    }
    first_line.emplace(*user, line_no);
    list.secrets_.emplace(std::move(*user), std::move(*secret));
  }
  return list;
}

UserList UserList::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(fmt::format("{}: cannot read auth file: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::optional<std::string> UserList::secret_for(std::string_view user) const {
  auto it = secrets_.find(user);
  if (it == secrets_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sluice::config
