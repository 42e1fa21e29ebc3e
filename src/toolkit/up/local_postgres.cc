// The local PostgreSQL of `sluice up` (see local_postgres.h).
#include "toolkit/up/local_postgres.h"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "toolkit/up/process.h"

namespace sluice::toolkit::up {
namespace {

constexpr const char* kIncludeLine = "include_if_exists = 'sluice.conf'";
constexpr const char* kStartTimeoutSeconds = "60";
constexpr int kMaxConnections = 200;
constexpr int kPostmasterPidPortLine = 4;  // 1-based line of the port in postmaster.pid
constexpr int kPgCtlNotRunning = 3;

RunOptions as_postgres_user_in(const std::filesystem::path& cwd) {
  RunOptions options;
  options.as_postgres_user = true;
  options.cwd = cwd;
  return options;
}

RunOptions psql_options() {
  RunOptions options;
  options.env = {{"PGCONNECT_TIMEOUT", "10"}};
  return options;
}

}  // namespace

LocalPostgres::LocalPostgres(std::filesystem::path data_dir, std::filesystem::path log_file,
                             std::filesystem::path bin_dir)
    : data_dir_(std::move(data_dir)),
      log_file_(std::move(log_file)),
      bin_dir_(std::move(bin_dir)) {}

void LocalPostgres::check_installed() const {
  for (const char* program : {"initdb", "pg_ctl", "postgres", "psql", "pgbench"}) {
    if (access((bin_dir_ / program).c_str(), X_OK) != 0) {
      throw UpError(std::string(program) + " not found at " + bin_dir_.string() +
                    ": run scripts/install-deps.sh (or pass --pg-bin DIR)");
    }
  }
  if (running_as_root() && getpwnam(kPostgresOsUser) == nullptr) {
    throw UpError(
        "running as root but there is no OS user postgres to run PostgreSQL as: run "
        "scripts/install-deps.sh (the postgresql package creates it)");
  }
}

bool LocalPostgres::initialized() const {
  return std::filesystem::exists(data_dir_ / "PG_VERSION");
}

std::string LocalPostgres::pg_ctl() const { return (bin_dir_ / "pg_ctl").string(); }

void LocalPostgres::give_to_postgres_user(const std::filesystem::path& path) const {
  if (!running_as_root()) return;
  const passwd* pw = getpwnam(kPostgresOsUser);
  if (pw == nullptr || chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw UpError("cannot give " + path.string() +
                  " to user postgres: check that the user "
                  "exists and the directory is on a local file system");
  }
}

void LocalPostgres::check_reachable_by_postgres_user() const {
  if (!running_as_root()) return;
  RunResult r = run_command({"test", "-w", data_dir_.string()}, as_postgres_user_in("/"));
  if (r.exit_code != 0) {
    throw UpError("user postgres cannot reach " + data_dir_.string() +
                  ": make its parent directories searchable (chmod o+x) or use --dir "
                  "under /tmp");
  }
}

void LocalPostgres::initdb() {
  std::error_code ec;
  std::filesystem::create_directories(data_dir_, ec);
  if (ec) throw UpError("cannot create " + data_dir_.string() + ": " + ec.message());
  std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  give_to_postgres_user(data_dir_);
  check_reachable_by_postgres_user();

  RunResult r =
      run_command({(bin_dir_ / "initdb").string(), "-D", data_dir_.string(), "-U", kPgSuperuser,
                   "--auth=trust", "-E", "UTF8", "--no-locale", "--no-instructions"},
                  as_postgres_user_in(data_dir_.parent_path()));
  if (r.exit_code != 0) {
    throw UpError("initdb failed: " + last_line(r.output) + " (remove " + data_dir_.string() +
                  " and run sluice up again)");
  }
  std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
  conf << "\n# sluice up: port and listen address live in sluice.conf\n" << kIncludeLine << '\n';
  if (!conf) throw UpError("cannot append to " + (data_dir_ / "postgresql.conf").string());
}

bool LocalPostgres::running() const {
  if (!initialized()) return false;
  RunResult r =
      run_command({pg_ctl(), "status", "-D", data_dir_.string()}, as_postgres_user_in(data_dir_));
  return r.exit_code == 0;
}

int LocalPostgres::running_port() const {
  std::ifstream in(data_dir_ / "postmaster.pid");
  std::string line;
  for (int i = 0; i < kPostmasterPidPortLine && std::getline(in, line); ++i) {
  }
  try {
    return in ? std::stoi(line) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

void LocalPostgres::start(int port) {
  check_reachable_by_postgres_user();
  auto conf_path = data_dir_ / "sluice.conf";
  {
    std::ofstream conf(conf_path, std::ios::trunc);
    conf << "# Written by sluice up on every start.\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port << '\n'
         << "unix_socket_directories = ''\n"
         << "max_connections = " << kMaxConnections << '\n';
    if (!conf) throw UpError("cannot write " + conf_path.string());
  }
  give_to_postgres_user(conf_path);
  if (!std::filesystem::exists(log_file_)) std::ofstream(log_file_).flush();
  give_to_postgres_user(log_file_);

  RunResult r = run_command({pg_ctl(), "start", "-D", data_dir_.string(), "-l", log_file_.string(),
                             "-w", "-t", kStartTimeoutSeconds},
                            as_postgres_user_in(data_dir_));
  if (r.exit_code != 0) {
    throw UpError("PostgreSQL did not start (" + last_line(r.output) + "): see " +
                  log_file_.string());
  }
}

bool LocalPostgres::stop() {
  if (!running()) return false;
  RunResult r = run_command({pg_ctl(), "stop", "-D", data_dir_.string(), "-m", "fast", "-w"},
                            as_postgres_user_in(data_dir_));
  if (r.exit_code != 0 && r.exit_code != kPgCtlNotRunning) {
    throw UpError("pg_ctl stop failed (" + last_line(r.output) + "): see " + log_file_.string());
  }
  return true;
}

std::string LocalPostgres::psql(int port, const std::string& dbname, const std::string& sql) const {
  RunResult r = run_command(
      {(bin_dir_ / "psql").string(), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h",
       "127.0.0.1", "-p", std::to_string(port), "-U", kPgSuperuser, "-d", dbname, "-c", sql},
      psql_options());
  if (r.exit_code != 0) {
    throw UpError("psql on port " + std::to_string(port) + " failed: " + last_line(r.output));
  }
  return r.output;
}

void LocalPostgres::ensure_database(int port, const std::string& name) {
  std::string exists =
      psql(port, "postgres", "SELECT 1 FROM pg_database WHERE datname = '" + name + "'");
  if (exists.find('1') == std::string::npos) psql(port, "postgres", "CREATE DATABASE " + name);
}

}  // namespace sluice::toolkit::up
