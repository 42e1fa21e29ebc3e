// Loading sluice.toml into a Config, and the checks every Config must pass.
// The file layout is documented key by key in docs/configuration.md.
//
// Every error is a ConfigError with a one-line message that names the key (as
// section.key), the bad value and what is allowed, prefixed with the source:
//   sluice.toml: pool.pool_mode = "sesion" is not valid; allowed: session, transaction
//   sluice.toml: unknown key server.listne (did you mean server.listen?)
//   sluice.toml:3:7: <TOML syntax error from toml++>
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.h"

namespace sluice::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and parses a TOML file; the result's source_path is `path`.
Config load_config_file(const std::string& path);
// Parses TOML text; `source_name` prefixes error messages ("" = no prefix).
// The result's source_path is left empty (nothing to re-read on RELOAD).
Config load_config_string(std::string_view toml_text, const std::string& source_name);

// Range and cross-field checks (min_pool_size <= pool_size, tls.client_cert needs
// tls.client_key, md5/scram need auth.file or auth.query, ...). Throws ConfigError.
// Messages are prefixed with `source_name`, or with cfg.source_path by the first overload.
void validate_config(const Config& cfg);
void validate_config(const Config& cfg, std::string_view source_name);

// --- Limits and message helpers, shared by the loader, validate_config (config.cc)
// and the command-line overrides so that all three word errors the same way. ---

struct IntRange {
  int64_t lo;
  int64_t hi;
};
inline constexpr IntRange kWorkersRange{0, 1024};
inline constexpr IntRange kMaxClientConnRange{1, 1000000};
inline constexpr IntRange kMaxMessageSizeRange{8192, 1 << 30};
inline constexpr IntRange kPoolSizeRange{1, 10000};
inline constexpr IntRange kMinPoolSizeRange{0, 10000};
inline constexpr IntRange kReservePoolSizeRange{0, 10000};
inline constexpr IntRange kMaxPreparedStatementsRange{0, 100000};
inline constexpr IntRange kMaxDbConnectionsRange{0, 1000000};
inline constexpr IntRange kPortRange{1, 65535};
inline constexpr IntRange kBreakerFailuresRange{0, 1000000};
inline constexpr IntRange kQueryStatsMaxRange{16, 10000000};
inline constexpr IntRange kClassPriorityRange{0, 1000};
inline constexpr IntRange kClassMinConnectionsRange{0, 10000};
inline constexpr IntRange kMaxWaitingClientsRange{0, 1000000};
// Unix socket paths hold at most 107 bytes; the rest is for the temporary name.
inline constexpr size_t kMaxTakeoverSocketPath = 90;
inline constexpr IntRange kUnixSocketModeRange{0, 0777};
inline constexpr std::string_view kUnixSocketModeForm =
    "an octal file mode from \"0000\" to \"0777\" (a string, or an integer such as 0o770)";
inline constexpr int64_t kMaxDurationMs = int64_t{8760} * 3600 * 1000;  // 8760h = 365 days

inline constexpr std::string_view kPoolModeChoices = "session, transaction";
inline constexpr std::string_view kIoBackendChoices = "auto, io_uring, epoll";
inline constexpr std::string_view kAuthTypeChoices = "trust, md5, scram-sha-256";
inline constexpr std::string_view kSslModeChoices =
    "disable, prefer, require, verify-ca, verify-full";
inline constexpr std::string_view kLogLevelChoices = "trace, debug, info, warn, error";
inline constexpr std::string_view kListenForm = "HOST:PORT (IPv6 as [::1]:6432)";

// Parses "HOST:PORT" or "[IPv6]:PORT"; on failure returns nullopt and sets *reason.
std::optional<HostPort> parse_listen_address(std::string_view s, std::string* reason);

// 127.0.0.0/8, ::1 or localhost.
bool is_loopback_host(std::string_view host);

// "250ms", "30s", "5m", "1h" -> milliseconds; -1 if malformed or above kMaxDurationMs.
int64_t parse_duration_ms(std::string_view s);
// The "allowed" text for a duration key; zero_ok when 0 is meaningful for that key.
std::string duration_allowed(bool zero_ok);

// `KEY = VALUE is not valid (REASON); allowed: ALLOWED` (the reason part only if non-empty).
std::string invalid_value_message(std::string_view key, std::string_view value_repr,
                                  std::string_view allowed, std::string_view reason = {});
// "LO..HI".
std::string range_text(IntRange r);
// A double-quoted, escaped, single-line rendering of `s` for error messages.
std::string quote(std::string_view s);
// "databases.NAME.FIELD" ("databases.NAME" if field is empty), with NAME quoted when
// it is not a bare TOML key.
std::string database_key(std::string_view name, std::string_view field);

}  // namespace sluice::config
