// The local PostgreSQL of `sluice up`: initdb on first use, start/stop with pg_ctl, status,
// and psql as the superuser `postgres` (trust auth on 127.0.0.1, TCP only, no Unix socket).
// As root, initdb/pg_ctl run as the OS user `postgres`, which owns the data directory.
#pragma once

#include <filesystem>
#include <string>

namespace sluice::toolkit::up {

inline constexpr const char* kDefaultPgBin = "/usr/lib/postgresql/15/bin";
inline constexpr const char* kPgSuperuser = "postgres";

class LocalPostgres {
 public:
  LocalPostgres(std::filesystem::path data_dir, std::filesystem::path log_file,
                std::filesystem::path bin_dir);

  // Throws UpError naming the missing program and the fix.
  void check_installed() const;
  bool initialized() const;  // data_dir holds a cluster
  void initdb();             // creates the cluster (trust auth, superuser postgres)
  bool running() const;
  int running_port() const;  // from postmaster.pid; 0 when unknown
  void start(int port);      // writes sluice.conf (port, listen address) and pg_ctl start
  bool stop();               // pg_ctl stop -m fast; false when it was not running

  // psql -tA -c SQL as `postgres`; returns stdout. Throws UpError with psql's message.
  std::string psql(int port, const std::string& dbname, const std::string& sql) const;
  void ensure_database(int port, const std::string& name);

  const std::filesystem::path& bin_dir() const { return bin_dir_; }
  const std::filesystem::path& log_file() const { return log_file_; }

 private:
  std::string pg_ctl() const;
  void give_to_postgres_user(const std::filesystem::path& path) const;
  void check_reachable_by_postgres_user() const;

  std::filesystem::path data_dir_;
  std::filesystem::path log_file_;
  std::filesystem::path bin_dir_;
};

}  // namespace sluice::toolkit::up
