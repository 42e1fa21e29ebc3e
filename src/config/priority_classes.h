// Priority classes: the built-in ones, which class a client belongs to, and the budget
// the classes of a database share. The queueing itself is pool/priority_gate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace sluice::config {

// The class of clients no rule matches.
inline constexpr std::string_view kDefaultClass = "normal";
// The startup option a client names its class with: options='-c sluice.class=low'.
inline constexpr std::string_view kClassOption = "sluice.class";

// Letters, digits and underscores.
bool is_valid_class_name(std::string_view name);

// The defaults of a built-in class (admin, high, normal, low), or nullopt.
std::optional<ClassConfig> builtin_class(std::string_view name);

// When cfg.classes is not empty, adds admin (priority 4, one reserved connection), high
// (3), normal (2) and low (1) where the config does not define them.
void add_builtin_classes(Config& cfg);

// The class for a client: the one it asked for (`requested`, "" = none), else the
// highest-priority class whose rules match, else "normal".
std::string classify_client(const Config& cfg, std::string_view user, std::string_view database,
                            std::string_view application_name, std::string_view requested);

// Server connections the classes of `db` share: max_db_connections, or pool_size when
// that is unset.
int class_budget(const Config& cfg, const DatabaseConfig& db);

}  // namespace sluice::config
