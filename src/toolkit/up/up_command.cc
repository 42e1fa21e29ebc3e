// `sluice up` / `sluice down`: command-line wiring and the order of steps. PostgreSQL,
// the proxy, the demo workload and state.json each live in their own file here.
#include "toolkit/up/up_command.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "server/serve_command.h"
#include "toolkit/up/demo.h"
#include "toolkit/up/local_postgres.h"
#include "toolkit/up/local_proxy.h"
#include "toolkit/up/process.h"
#include "toolkit/up/state.h"

namespace sluice::toolkit {
namespace {

namespace fs = std::filesystem;
using up::LocalPostgres;
using up::LocalProxy;
using up::UpError;
using up::UpState;

constexpr const char* kDefaultDir = ".sluice";
constexpr const char* kDemoDatabase = "demo";
constexpr int kDefaultBenchSeconds = 5;
constexpr int kMaxBenchSeconds = 3600;

struct UpOptions {
  std::string dir = kDefaultDir;
  std::string pg_bin = up::kDefaultPgBin;
  int bench_seconds = kDefaultBenchSeconds;
  bool skip_bench = false;
  bool purge = false;  // down only
};

// Everything `up` keeps under its directory.
struct Layout {
  fs::path root;
  fs::path data_dir() const { return root / "pgdata"; }
  fs::path pg_log() const { return root / "postgres.log"; }
  fs::path proxy_log() const { return root / "sluice.log"; }
  fs::path pid_file() const { return root / "sluice.pid"; }
  fs::path state_file() const { return root / "state.json"; }
};

Layout layout_for(const std::string& dir) { return Layout{fs::absolute(dir).lexically_normal()}; }

// A port from a previous run if nothing else took it, else a fresh one.
int pick_port(int previous) {
  return previous > 0 && !up::port_in_use(previous) ? previous : up::free_tcp_port();
}

int start_or_reuse_postgres(LocalPostgres& pg, const Layout& layout, UpState& state) {
  if (!pg.initialized()) {
    std::cout << "Creating a PostgreSQL cluster in " << layout.data_dir().string() << "...\n";
    std::cout.flush();
    pg.initdb();
  }
  if (pg.running()) {
    int port = pg.running_port();
    if (port == 0) port = state.pg_port;
    std::cout << "PostgreSQL already running on 127.0.0.1:" << port << " (reused)\n";
    return port;
  }
  int port = pick_port(state.pg_port);
  pg.start(port);
  std::cout << "Started PostgreSQL on 127.0.0.1:" << port << " (log: " << layout.pg_log().string()
            << ")\n";
  return port;
}

int start_or_reuse_proxy(LocalProxy& proxy, UpState& state, int pg_port) {
  pid_t pid = proxy.running_pid();
  if (pid != 0 && state.proxy_pg_port == pg_port && up::port_in_use(state.proxy_port)) {
    std::cout << "Proxy already running on 127.0.0.1:" << state.proxy_port << " (pid " << pid
              << ", reused)\n";
    return state.proxy_port;
  }
  if (pid != 0) {
    std::cout << "Restarting the proxy (pid " << pid << "): its PostgreSQL port changed\n";
    proxy.stop();
  }
  int port = pick_port(state.proxy_port);
  pid = proxy.start(port, pg_port);
  state.proxy_pid = pid;
  state.proxy_pg_port = pg_port;
  std::cout << "Started the proxy on 127.0.0.1:" << port << " (pid " << pid
            << ", transaction pooling, log: " << proxy.log_file().string() << ")\n";
  return port;
}

void print_how_to_connect(const Layout& layout, int proxy_port, int pg_port) {
  const std::string proxy = "host=127.0.0.1 port=" + std::to_string(proxy_port) + " user=postgres";
  std::cout << "Sluice is up. Everything keeps running in the background.\n"
            << "  connect through the proxy: psql \"" << proxy << " dbname=demo\"\n"
            << "  admin console:             psql \"" << proxy
            << " dbname=sluice\" -c 'SHOW POOLS'\n"
            << "  PostgreSQL directly:       psql \"host=127.0.0.1 port=" << pg_port
            << " user=postgres dbname=demo\"\n"
            << "  logs:                      " << layout.proxy_log().string() << ", "
            << layout.pg_log().string() << '\n'
            << "  stop everything:           sluice down\n";
}

int run_up(const UpOptions& options) {
  Layout layout = layout_for(options.dir);
  std::error_code ec;
  fs::create_directories(layout.root, ec);
  if (ec) {
    throw UpError("cannot create " + layout.root.string() + ": " + ec.message() +
                  " (use --dir to put it elsewhere)");
  }
  fs::permissions(layout.root,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  fs::perm_options::replace, ec);  // PostgreSQL's user must reach pgdata

  LocalPostgres pg(layout.data_dir(), layout.pg_log(), options.pg_bin);
  pg.check_installed();
  UpState state = up::load_state(layout.state_file());

  int pg_port = start_or_reuse_postgres(pg, layout, state);
  state.pg_port = pg_port;
  up::save_state(layout.state_file(), state);
  pg.ensure_database(pg_port, kDemoDatabase);

  LocalProxy proxy(layout.pid_file(), layout.proxy_log());
  int proxy_port = start_or_reuse_proxy(proxy, state, pg_port);
  state.proxy_port = proxy_port;
  up::save_state(layout.state_file(), state);
  std::cout << '\n';

  up::DemoOptions demo{pg.bin_dir(), proxy_port, options.bench_seconds};
  if (!options.skip_bench) up::run_demo_workload(demo, std::cout);
  up::print_pools(demo, std::cout);
  print_how_to_connect(layout, proxy_port, pg_port);
  return 0;
}

int run_down(const UpOptions& options) {
  Layout layout = layout_for(options.dir);
  if (!fs::exists(layout.root)) {
    std::cout << "Nothing to stop: " << layout.root.string() << " does not exist.\n";
    return 0;
  }
  LocalProxy proxy(layout.pid_file(), layout.proxy_log());
  if (pid_t pid = proxy.stop(); pid != 0) {
    std::cout << "Stopped the proxy (pid " << pid << ").\n";
  } else {
    std::cout << "The proxy was not running.\n";
  }

  LocalPostgres pg(layout.data_dir(), layout.pg_log(), options.pg_bin);
  if (pg.initialized()) {
    pg.check_installed();
    int port = pg.running_port();
    if (pg.stop()) {
      std::cout << "Stopped PostgreSQL (port " << port << ").\n";
    } else {
      std::cout << "PostgreSQL was not running.\n";
    }
  } else {
    std::cout << "No PostgreSQL cluster in " << layout.data_dir().string() << ".\n";
  }
  if (options.purge) {
    fs::remove_all(layout.root);
    std::cout << "Removed " << layout.root.string() << " (data and logs).\n";
  } else {
    std::cout << "Data and logs are kept in " << layout.root.string()
              << "; `sluice down --purge` deletes them.\n";
  }
  return 0;
}

// Runs a command body; turns failures into one line on stderr and exit code 1.
void run_guarded(const char* name, const std::function<int()>& body) {
  int code = 1;
  try {
    code = body();
  } catch (const UpError& e) {
    std::cerr << "sluice " << name << ": " << e.what() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "sluice " << name << ": unexpected error: " << e.what() << " (please report it)\n";
  }
  std::cout.flush();
  server::set_exit_code(code);
}

void add_common_options(CLI::App& cmd, UpOptions& options) {
  cmd.add_option("--dir", options.dir, "Directory for the cluster, logs and state")
      ->capture_default_str();
  cmd.add_option("--pg-bin", options.pg_bin, "Directory of initdb, pg_ctl, psql and pgbench")
      ->capture_default_str();
}

}  // namespace

void add_up_command(CLI::App& app) {
  auto options = std::make_shared<UpOptions>();
  CLI::App* cmd = app.add_subcommand(
      "up",
      "Start a local PostgreSQL 15 with the proxy in front (under ./.sluice) and run a "
      "short pgbench demo through it");
  add_common_options(*cmd, *options);
  cmd->add_option("--bench-seconds", options->bench_seconds,
                  "Length of the select-only pgbench run")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxBenchSeconds));
  cmd->add_flag("--no-bench", options->skip_bench, "Start everything but skip pgbench");
  cmd->callback([options] { run_guarded("up", [&] { return run_up(*options); }); });
}

void add_down_command(CLI::App& app) {
  auto options = std::make_shared<UpOptions>();
  CLI::App* cmd =
      app.add_subcommand("down", "Stop the proxy and PostgreSQL started by `sluice up`");
  add_common_options(*cmd, *options);
  cmd->add_flag("--purge", options->purge, "Also delete the directory (data and logs)");
  cmd->callback([options] { run_guarded("down", [&] { return run_down(*options); }); });
}

}  // namespace sluice::toolkit
