// PgBouncer's userlist.txt (auth.file): one user per line,
//
//   "user" "secret"
//
// both fields in double quotes, a doubled "" inside a field being a literal quote.
// Blank lines and lines starting with ';' are ignored. Secrets are kept as written:
// a plain-text password, "md5" + 32 hex digits, or "SCRAM-SHA-256$...".
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

class UserList {
 public:
  // Throw ConfigError naming `file:line` for a malformed or duplicate entry, or the
  // file when it cannot be read.
  static UserList load_file(const std::string& path);
  static UserList parse(std::string_view text, const std::string& source_name);

  std::optional<std::string> secret_for(std::string_view user) const;
  size_t size() const { return secrets_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> secrets_;
};

}  // namespace sluice::config
