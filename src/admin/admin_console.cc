#include "admin/admin_console.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <cctype>
#include <set>

#include "admin/show_commands.h"
#include "admin/show_util.h"
#include "net/message_io.h"
#include "protocol/builder.h"
#include "protocol/reader.h"

namespace sluice::admin {

namespace {

namespace sqlstate = protocol::sqlstate;
using protocol::kSeverityError;

// PostgreSQL's config_file_error, for a RELOAD that found a bad configuration.
constexpr std::string_view kConfigFileError = "F0000";
// How often PAUSE re-checks whether the paused databases' servers are all released.
constexpr std::chrono::milliseconds kPausePollInterval{20};
// asio 1.22 still has as_tuple in experimental; errors come back as values, not throws.
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

enum class Access { kStats, kAdmin };  // kStats: stats_users may run it too
enum class Outcome { kOk, kError, kShutdown };

struct Request {
  server::ProxyContext& ctx;
  const session::ClientInfo& self;
  std::string_view arg;  // the optional argument, unquoted; empty when absent
  std::string& out;
};
using Handler = asio::awaitable<Outcome> (*)(Request);

struct Command {
  std::string_view name;  // upper case, single spaces
  std::string_view arg;   // usage of the optional argument; empty: takes none
  Access access;
  Handler run;
};

template <void (*Show)(server::ProxyContext&, std::string&)>
asio::awaitable<Outcome> show(Request r) {
  Show(r.ctx, r.out);
  co_return Outcome::kOk;
}

asio::awaitable<Outcome> show_help(Request r);
asio::awaitable<Outcome> reload_command(Request r);
asio::awaitable<Outcome> pause_command(Request r);
asio::awaitable<Outcome> resume_command(Request r);
asio::awaitable<Outcome> reconnect_command(Request r);
asio::awaitable<Outcome> shutdown_command(Request r);

// The dispatch table; SHOW HELP and the unknown-command error are generated from it.
constexpr Command kCommands[] = {
    {"SHOW HELP", "", Access::kStats, show_help},
    {"SHOW POOLS", "", Access::kStats, show<show_pools>},
    {"SHOW CLIENTS", "", Access::kStats, show<show_clients>},
    {"SHOW SERVERS", "", Access::kStats, show<show_servers>},
    {"SHOW DATABASES", "", Access::kStats, show<show_databases>},
    {"SHOW STATS", "", Access::kStats, show<show_stats>},
    {"SHOW CONFIG", "", Access::kStats, show<show_config>},
    {"SHOW LISTS", "", Access::kStats, show<show_lists>},
    {"SHOW VERSION", "", Access::kStats, show<show_version>},
    {"SHOW PINS", "", Access::kStats, show<show_pins>},
    {"SHOW HOSTS", "", Access::kStats, show<show_hosts>},
    {"SHOW CLASSES", "", Access::kStats, show<show_classes>},
    {"SHOW QUERIES", "", Access::kStats, show<show_queries>},
    {"RELOAD", "", Access::kAdmin, reload_command},
    {"PAUSE", "[<db>]", Access::kAdmin, pause_command},
    {"RESUME", "[<db>]", Access::kAdmin, resume_command},
    {"RECONNECT", "[<db>]", Access::kAdmin, reconnect_command},
    {"SHUTDOWN", "", Access::kAdmin, shutdown_command},
};

// "SHOW HELP|POOLS|...", then one line per other command, joined by `sep`.
std::string command_list(std::string_view sep) {
  constexpr std::string_view kShow = "SHOW ";
  std::string show_line = "SHOW ";
  std::string out;
  for (const Command& c : kCommands) {
    if (c.name.starts_with(kShow)) {
      if (show_line.size() > kShow.size()) show_line += '|';
      show_line += c.name.substr(kShow.size());
      continue;
    }
    out += sep;
    out += c.name;
    if (!c.arg.empty()) out += fmt::format(" {}", c.arg);
  }
  return show_line + out;
}

void append_failure(std::string& out, std::string_view code, std::string_view message) {
  protocol::append_error(out, kSeverityError, code, message);
}

asio::awaitable<Outcome> show_help(Request r) {
  protocol::append_notice(r.out, "Console usage\n\t" + command_list("\n\t"));
  protocol::append_command_complete(r.out, "SHOW");
  co_return Outcome::kOk;
}

asio::awaitable<Outcome> reload_command(Request r) {
  if (!r.ctx.reload) {
    append_failure(r.out, sqlstate::kFeatureNotSupported, "RELOAD is not available");
    co_return Outcome::kError;
  }
  spdlog::info("admin console: RELOAD by {}", r.self.user);
  const std::string error = r.ctx.reload();
  if (!error.empty()) {
    append_failure(r.out, kConfigFileError, error);
    co_return Outcome::kError;
  }
  protocol::append_command_complete(r.out, "RELOAD");
  co_return Outcome::kOk;
}

// The databases PAUSE/RESUME act on: the named one, or every one when no name is given.
// Appends an error and returns nothing when the name is unknown.
std::optional<std::vector<std::shared_ptr<pool::DatabaseState>>> targets(Request r) {
  const auto cfg = r.ctx.config();
  if (r.arg.empty()) {
    // Configured databases get their state now, so PAUSE also holds their first client.
    for (const auto& [name, db] : cfg->databases) r.ctx.pools.database(*cfg, db);
    return r.ctx.pools.databases();
  }
  const std::string name(r.arg);
  if (is_admin_database(name)) {
    append_failure(r.out, sqlstate::kFeatureNotSupported, "cannot pause the admin database");
    return std::nullopt;
  }
  for (auto& d : r.ctx.pools.databases()) {
    if (d->name == name) return std::vector{d};
  }
  // Like PgBouncer, names only reachable through the default server ("*") exist once a
  // client has used them.
  if (auto it = cfg->databases.find(name); it != cfg->databases.end()) {
    return std::vector{r.ctx.pools.database(*cfg, it->second)};
  }
  append_failure(r.out, sqlstate::kInvalidCatalogName, fmt::format("no such database: {}", name));
  return std::nullopt;
}

std::set<std::string> names_of(const std::vector<std::shared_ptr<pool::DatabaseState>>& dbs) {
  std::set<std::string> out;
  for (const auto& d : dbs) out.insert(d->name);
  return out;
}

asio::awaitable<Outcome> pause_command(Request r) {
  auto dbs = targets(r);
  if (!dbs) co_return Outcome::kError;
  spdlog::info("admin console: PAUSE {} by {}", r.arg.empty() ? "(all)" : r.arg, r.self.user);
  for (auto& d : *dbs) d->paused = true;
  const std::set<std::string> names = names_of(*dbs);

  // New leases are refused from here on; wait for the ones in flight to come back.
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    const bool busy = std::ranges::any_of(r.ctx.pools.all(), [&](const auto& p) {
      return names.count(p->database()) && p->snapshot().active > 0;
    });
    if (!busy) break;
    if (std::ranges::any_of(*dbs, [](const auto& d) { return !d->paused.load(); })) {
      append_failure(r.out, sqlstate::kQueryCanceled, "PAUSE interrupted by RESUME");
      co_return Outcome::kError;
    }
    timer.expires_after(kPausePollInterval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) {
      append_failure(r.out, sqlstate::kQueryCanceled, "PAUSE canceled");
      co_return Outcome::kError;
    }
  }
  protocol::append_command_complete(r.out, "PAUSE");
  co_return Outcome::kOk;
}

asio::awaitable<Outcome> resume_command(Request r) {
  auto dbs = targets(r);
  if (!dbs) co_return Outcome::kError;
  spdlog::info("admin console: RESUME {} by {}", r.arg.empty() ? "(all)" : r.arg, r.self.user);
  for (auto& d : *dbs) d->paused = false;
  const std::set<std::string> names = names_of(*dbs);
  // Clients queued while paused are only woken by a release or a kick.
  for (const auto& p : r.ctx.pools.all()) {
    if (names.count(p->database())) p->kick();
  }
  protocol::append_command_complete(r.out, "RESUME");
  co_return Outcome::kOk;
}

asio::awaitable<Outcome> reconnect_command(Request r) {
  auto dbs = targets(r);
  if (!dbs) co_return Outcome::kError;
  spdlog::info("admin console: RECONNECT {} by {}", r.arg.empty() ? "(all)" : r.arg, r.self.user);
  const std::set<std::string> names = names_of(*dbs);
  for (const auto& p : r.ctx.pools.all()) {
    if (names.count(p->database())) p->reconnect();
  }
  protocol::append_command_complete(r.out, "RECONNECT");
  co_return Outcome::kOk;
}

asio::awaitable<Outcome> shutdown_command(Request r) {
  if (!r.ctx.request_shutdown) {
    append_failure(r.out, sqlstate::kFeatureNotSupported, "SHUTDOWN is not available");
    co_return Outcome::kError;
  }
  spdlog::info("admin console: SHUTDOWN by {}", r.self.user);
  // The caller answers first and then requests the shutdown.
  protocol::append_command_complete(r.out, "SHUTDOWN");
  co_return Outcome::kShutdown;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "db" -> db, with "" inside standing for one quote, as for SQL identifiers.
std::string unquote(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    out += s[i];
    if (s[i] == '"' && s[i + 1] == '"') ++i;
  }
  return out;
}

// The longest command whose words start `words`; sets *used to their count.
const Command* find_command(const std::vector<std::string_view>& words, size_t* used) {
  const Command* best = nullptr;
  for (const Command& c : kCommands) {
    const size_t n = static_cast<size_t>(std::ranges::count(c.name, ' ')) + 1;
    if (n > words.size() || (best && n <= *used)) continue;
    std::string joined;
    for (size_t i = 0; i < n; ++i) joined += (i ? " " : "") + upper(words[i]);
    if (joined == c.name) {
      best = &c;
      *used = n;
    }
  }
  return best;
}

bool listed(const std::vector<std::string>& users, const std::string& user) {
  return std::ranges::find(users, user) != users.end();
}

struct Parsed {
  const Command* cmd = nullptr;  // null: the error is in `out`
  std::string arg;
};

// Finds the command and its argument; appends the error for an unknown command or
// wrong arguments.
Parsed parse_command(std::string_view text, std::string& out) {
  const std::vector<std::string_view> words = split_words(text);
  size_t used = 0;
  const Command* cmd = find_command(words, &used);
  if (cmd == nullptr) {
    append_failure(out, sqlstate::kSyntaxError,
                   fmt::format("invalid command '{}', use SHOW HELP; valid commands: {}", text,
                               command_list("; ")));
    return {};
  }
  const size_t extra = words.size() - used;
  if (extra > (cmd->arg.empty() ? 0u : 1u)) {
    const std::string usage =
        cmd->arg.empty() ? std::string(cmd->name) : fmt::format("{} {}", cmd->name, cmd->arg);
    append_failure(out, sqlstate::kSyntaxError,
                   fmt::format("invalid command '{}', usage: {}", text, usage));
    return {};
  }
  return {cmd, extra ? unquote(words.back()) : std::string()};
}

// One command of a Query message: parse, check the caller's rights, run.
asio::awaitable<Outcome> run_command(server::ProxyContext& ctx, const session::ClientInfo& self,
                                     std::string_view text, std::string& out) {
  const Parsed parsed = parse_command(text, out);
  if (parsed.cmd == nullptr) co_return Outcome::kError;
  const Command* cmd = parsed.cmd;
  // Rights are checked per command against the current config, so RELOAD can revoke them.
  const auto cfg = ctx.config();
  const bool admin = listed(cfg->admin_users, self.user);
  const bool stats = listed(cfg->stats_users, self.user);
  if (!admin && (cmd->access == Access::kAdmin || !stats)) {
    append_failure(out, sqlstate::kInsufficientPrivilege,
                   fmt::format("permission denied: {} needs a user listed in admin_users{}",
                               cmd->name, cmd->access == Access::kStats ? " or stats_users" : ""));
    co_return Outcome::kError;
  }
  co_return co_await cmd->run(Request{ctx, self, parsed.arg, out});
}

// A simple Query: commands separated by ';' run in order until one fails, like a
// multi-statement query in PostgreSQL (admin commands contain no quoted ';').
asio::awaitable<Outcome> run_query(server::ProxyContext& ctx, const session::ClientInfo& self,
                                   std::string_view sql, std::string& out) {
  bool any = false;
  size_t start = 0;
  while (start <= sql.size()) {
    size_t end = sql.find(';', start);
    if (end == std::string_view::npos) end = sql.size();
    std::string_view text = sql.substr(start, end - start);
    start = end + 1;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
      text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    if (text.empty()) continue;
    any = true;
    const Outcome outcome = co_await run_command(ctx, self, text, out);
    if (outcome != Outcome::kOk) co_return outcome;
  }
  if (!any) protocol::append_empty_query_response(out);
  co_return Outcome::kOk;
}

// Messages of the extended query protocol, answered with one error until the next Sync.
bool is_extended(char type) {
  return type == 'P' || type == 'B' || type == 'D' || type == 'E' || type == 'C';
}

}  // namespace

asio::awaitable<std::string> run_trusted_command(server::ProxyContext& ctx, std::string_view text,
                                                 std::string_view caller) {
  std::string out;
  const Parsed parsed = parse_command(text, out);
  Outcome outcome = Outcome::kError;
  if (parsed.cmd != nullptr && parsed.cmd->name != "SHUTDOWN") {
    session::ClientInfo self;
    self.user = std::string(caller);
    outcome = co_await parsed.cmd->run(Request{ctx, self, parsed.arg, out});
  }
  if (outcome == Outcome::kOk) co_return std::string();
  // The reply is an ErrorResponse: its message is the error.
  if (out.size() > protocol::kHeaderSize && out[0] == 'E') {
    const auto* body = reinterpret_cast<const uint8_t*>(out.data()) + protocol::kHeaderSize;
    const auto fields = protocol::parse_error_fields({body, out.size() - protocol::kHeaderSize});
    if (auto it = fields.find('M'); it != fields.end()) co_return it->second;
  }
  co_return fmt::format("{} failed", text);
}

asio::awaitable<void> run_admin_console(server::ProxyContext& ctx, net::Stream& client,
                                        net::ReadBuffer& in, const session::ClientInfo& self) {
  std::string out;
  bool discard_until_sync = false;  // after an extended-protocol error, as PostgreSQL does
  for (;;) {
    const size_t max_size = ctx.config()->max_message_size;
    protocol::Frame frame = co_await net::read_message(client, in, max_size);
    out.clear();
    if (frame.status != protocol::FrameStatus::kMessage) {
      if (!frame.io_error) {
        protocol::append_error(out, protocol::kSeverityFatal, sqlstate::kProtocolViolation,
                               frame.error);
        co_await client.write_all(asio::buffer(out));
      }
      co_return;
    }
    const char type = frame.type;
    std::optional<std::string> sql;
    if (type == 'Q') sql = protocol::parse_query(frame.body);
    in.consume(frame.size);  // frame.body is invalid from here on

    if (type == 'X') co_return;
    if (discard_until_sync && type != 'S') continue;
    Outcome outcome = Outcome::kOk;
    if (type == 'Q') {
      if (!sql) {
        protocol::append_error(out, protocol::kSeverityFatal, sqlstate::kProtocolViolation,
                               "malformed Query message");
        co_await client.write_all(asio::buffer(out));
        co_return;
      }
      outcome = co_await run_query(ctx, self, *sql, out);
      protocol::append_ready_for_query(out, 'I');
    } else if (type == 'S') {
      discard_until_sync = false;
      protocol::append_ready_for_query(out, 'I');
    } else if (is_extended(type)) {
      append_failure(out, sqlstate::kFeatureNotSupported,
                     "extended query protocol not supported by the admin console");
      discard_until_sync = true;
    } else if (type == 'F') {
      append_failure(out, sqlstate::kFeatureNotSupported,
                     "function calls are not supported by the admin console");
      protocol::append_ready_for_query(out, 'I');
    } else if (type == 'H' || type == 'd' || type == 'c' || type == 'f') {
      // Flush has nothing to flush; stray COPY messages are ignored, as PostgreSQL does.
      continue;
    } else {
      protocol::append_error(
          out, protocol::kSeverityFatal, sqlstate::kProtocolViolation,
          fmt::format("unexpected message type 0x{:02x}", static_cast<unsigned char>(type)));
      co_await client.write_all(asio::buffer(out));
      co_return;
    }
    if (co_await client.write_all(asio::buffer(out))) co_return;
    if (outcome == Outcome::kShutdown) {
      ctx.request_shutdown();
      co_return;
    }
  }
}

}  // namespace sluice::admin
