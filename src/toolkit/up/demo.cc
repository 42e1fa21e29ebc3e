// pgbench through the proxy and the admin console's pool view (see demo.h).
#include "toolkit/up/demo.h"

#include <algorithm>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "toolkit/up/local_postgres.h"
#include "toolkit/up/process.h"

namespace sluice::toolkit::up {
namespace {

constexpr const char* kDemoDatabase = "demo";
constexpr const char* kAdminDatabase = "sluice";
constexpr const char* kClients = "8";
constexpr const char* kThreads = "2";
// pgbench lines worth showing, by prefix.
constexpr const char* kSummaryPrefixes[] = {"number of failed transactions", "latency average",
                                            "initial connection time", "tps ="};

RunOptions client_options() {
  RunOptions options;
  options.env = {{"PGCONNECT_TIMEOUT", "10"}};
  return options;
}

std::vector<std::string> connection_args(const DemoOptions& o) {
  return {"-h", "127.0.0.1", "-p", std::to_string(o.proxy_port), "-U", kPgSuperuser};
}

RunResult pgbench(const DemoOptions& o, std::vector<std::string> args) {
  std::vector<std::string> argv = {(o.bin_dir / "pgbench").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto conn = connection_args(o);
  argv.insert(argv.end(), conn.begin(), conn.end());
  argv.push_back(kDemoDatabase);
  RunResult r = run_command(argv, client_options());
  if (r.exit_code != 0) {
    throw UpError("pgbench through the proxy failed (" + last_line(r.output) +
                  "): see .sluice/sluice.log");
  }
  return r;
}

void print_summary(const std::string& title, const std::string& pgbench_output, std::ostream& out) {
  out << title << '\n';
  std::istringstream in(pgbench_output);
  std::string line;
  while (std::getline(in, line)) {
    bool wanted = std::any_of(std::begin(kSummaryPrefixes), std::end(kSummaryPrefixes),
                              [&](const char* prefix) { return line.rfind(prefix, 0) == 0; });
    if (wanted) out << "  " << line << '\n';
  }
  out.flush();
}

}  // namespace

void run_demo_workload(const DemoOptions& o, std::ostream& out) {
  const std::string seconds = std::to_string(o.seconds);
  const std::string rw_seconds = std::to_string(std::max(1, o.seconds / 2));
  out << "Loading pgbench tables (scale 1) into database demo through the proxy...\n";
  out.flush();
  pgbench(o, {"-i", "-s", "1", "-q"});

  out << "Running pgbench through the proxy (" << kClients << " clients)...\n\n";
  out.flush();
  RunResult select_only = pgbench(o, {"-S", "-c", kClients, "-j", kThreads, "-T", seconds});
  print_summary("select-only (pgbench -S -c 8 -j 2 -T " + seconds + "):", select_only.output, out);
  RunResult read_write = pgbench(o, {"-c", kClients, "-j", kThreads, "-T", rw_seconds});
  print_summary(
      "read/write TPC-B-like (pgbench -c 8 -j 2 -T " + rw_seconds + "):", read_write.output, out);
  out << '\n';
}

void print_pools(const DemoOptions& o, std::ostream& out) {
  std::vector<std::string> argv = {(o.bin_dir / "psql").string(), "-X"};
  auto conn = connection_args(o);
  argv.insert(argv.end(), conn.begin(), conn.end());
  argv.insert(argv.end(), {"-d", kAdminDatabase, "-c", "SHOW POOLS"});
  RunResult r = run_command(argv, client_options());
  out << "Pool state (psql -d sluice -c 'SHOW POOLS'):\n";
  if (r.exit_code == 0) {
    out << r.output << '\n';
  } else {
    out << "  (admin console unavailable: " << last_line(r.output) << ")\n\n";
  }
  out.flush();
}

}  // namespace sluice::toolkit::up
