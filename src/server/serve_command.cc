#include "server/serve_command.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "config/cli_overrides.h"
#include "config/load.h"
#include "config/userlist.h"
#include "server/io_backend.h"
#include "server/runtime.h"
#include "server/takeover.h"

namespace sluice::server {

namespace {

int g_exit_code = 0;

// `--takeover`: the sockets of the sluice running on this configuration's takeover socket.
std::unique_ptr<Handoff> receive_handoff(const config::Config& cfg) {
  const std::string path = cfg.takeover_socket_path();
  if (path.empty()) {
    throw TakeoverError(
        "--takeover: server.takeover_socket is \"\" (none) in this configuration: set it to "
        "the running sluice's, or start without --takeover");
  }
  return Handoff::receive(path);
}

}  // namespace

void set_exit_code(int code) { g_exit_code = code; }
int exit_code() { return g_exit_code; }

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Run the proxy: a PostgreSQL wire-protocol pooler");
  auto overrides = std::make_shared<config::CliOverrides>();
  config::add_serve_options(*cmd, *overrides);
  auto takeover = std::make_shared<bool>(false);
  cmd->add_flag("--takeover", *takeover,
                "Take the listening sockets over from the sluice running on this "
                "configuration's takeover socket, which then drains and exits (binary upgrade "
                "or restart without refusing a connection; docs/operations.md)");
  cmd->callback([overrides, takeover] {
    std::shared_ptr<const config::Config> cfg;
    std::shared_ptr<const config::UserList> users;
    try {
      cfg = std::make_shared<const config::Config>(config::build_config(*overrides));
      if (!cfg->auth.auth_file.empty()) {
        users = std::make_shared<const config::UserList>(
            config::UserList::load_file(cfg->auth.auth_file));
      }
    } catch (const std::exception& e) {
      std::cerr << "sluice: " << e.what() << "\n";
      set_exit_code(2);
      return;
    }
    try {
      // The io_uring copy of the proxy runs the command line again and serves (main.cc).
      if (const std::optional<int> code = serve_on_io_uring(*cfg)) {
        set_exit_code(*code);
        return;
      }
    } catch (const std::exception& e) {
      std::cerr << "sluice: " << e.what() << "\n";
      set_exit_code(2);
      return;
    }
    auto logger = spdlog::stderr_color_mt("sluice");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    spdlog::set_level(spdlog::level::from_str(cfg->log_level));
    try {
      std::unique_ptr<Handoff> handoff = *takeover ? receive_handoff(*cfg) : nullptr;
      Runtime runtime(*overrides, cfg, users, std::move(handoff));
      set_exit_code(runtime.run());
    } catch (const TakeoverError& e) {
      std::cerr << "sluice: " << e.what() << "\n";
      set_exit_code(2);
    } catch (const std::exception& e) {
      std::cerr << "sluice: " << e.what() << "\n";
      set_exit_code(1);
    }
  });
}

}  // namespace sluice::server
