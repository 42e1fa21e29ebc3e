// Encoding of the messages the proxy itself produces (errors, auth, admin results, the
// startup it sends to servers). Forwarded traffic is relayed as raw bytes and never
// passes through here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::protocol {

// Appends one message to `out`: begin(type), fields, end() patches the length.
class MessageWriter {
 public:
  explicit MessageWriter(std::string& out) : out_(out) {}
  MessageWriter& begin(char type);  // type 0 = untyped (startup-phase packet)
  MessageWriter& i32(int32_t v);
  MessageWriter& i16(int16_t v);
  MessageWriter& byte(char v);
  MessageWriter& cstr(std::string_view s);  // with NUL terminator
  MessageWriter& raw(std::string_view s);
  void end();

 private:
  std::string& out_;
  size_t start_ = 0;
};

// PostgreSQL error/notice severities.
inline constexpr std::string_view kSeverityError = "ERROR";
inline constexpr std::string_view kSeverityFatal = "FATAL";

// SQLSTATE codes the proxy reports itself.
namespace sqlstate {
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kInvalidPassword = "28P01";
inline constexpr std::string_view kInvalidAuthorization = "28000";
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kCannotConnectNow = "57P03";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kInvalidCatalogName = "3D000";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kIdleInTransactionTimeout = "25P03";
inline constexpr std::string_view kIdleSessionTimeout = "57P05";
inline constexpr std::string_view kInternalError = "XX000";
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kInvalidParameterValue = "22023";
}  // namespace sqlstate

// Backend messages.
void append_error(std::string& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view detail = {});
void append_notice(std::string& out, std::string_view message);
void append_ready_for_query(std::string& out, char status);
void append_auth_ok(std::string& out);
void append_auth_cleartext(std::string& out);
void append_auth_md5(std::string& out, const uint8_t salt[4]);
void append_auth_sasl(std::string& out, std::string_view mechanism);
void append_auth_sasl_continue(std::string& out, std::string_view data);
void append_auth_sasl_final(std::string& out, std::string_view data);
void append_parameter_status(std::string& out, std::string_view name, std::string_view value);
void append_backend_key_data(std::string& out, int32_t pid, int32_t key);
void append_command_complete(std::string& out, std::string_view tag);
void append_empty_query_response(std::string& out);

// A result set in text format, for the admin console.
struct Column {
  std::string name;
  uint32_t type_oid;  // kText, kInt8, ...
};
inline constexpr uint32_t kOidText = 25;
inline constexpr uint32_t kOidInt8 = 20;
inline constexpr uint32_t kOidInt4 = 23;
void append_row_description(std::string& out, const std::vector<Column>& columns);
void append_data_row(std::string& out, const std::vector<std::optional<std::string>>& values);

// Frontend messages.
void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params);
void append_ssl_request(std::string& out);
void append_cancel_request(std::string& out, int32_t pid, int32_t key);
void append_password(std::string& out, std::string_view password);
void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data);
void append_sasl_response(std::string& out, std::string_view data);
void append_query(std::string& out, std::string_view sql);
void append_terminate(std::string& out);
void append_sync(std::string& out);

}  // namespace sluice::protocol
