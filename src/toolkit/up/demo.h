// The demo part of `sluice up`: pgbench through the proxy and a readable summary
// (throughput, latency, failures), then the pool state from the admin console.
#pragma once

#include <filesystem>
#include <iosfwd>

namespace sluice::toolkit::up {

struct DemoOptions {
  std::filesystem::path bin_dir;  // holds pgbench and psql
  int proxy_port = 0;
  int seconds = 5;  // of the select-only run; the read/write run takes about half
};

// pgbench -i -s 1, a select-only run and a short read/write run on database `demo` through
// the proxy; prints a summary to `out`. Throws UpError when pgbench fails.
void run_demo_workload(const DemoOptions& options, std::ostream& out);

// Prints `SHOW POOLS` from the admin console (database `sluice`); a failure is reported in
// the output, not thrown, since everything else is already running.
void print_pools(const DemoOptions& options, std::ostream& out);

}  // namespace sluice::toolkit::up
