#include "server/cli.h"

#include <CLI/CLI.hpp>

#include "server/serve_command.h"
#include "toolkit/up/up_command.h"

namespace sluice::server {

int run_cli(int argc, char** argv) {
  CLI::App app{"Sluice: a PostgreSQL performance and reliability layer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  add_serve_command(app);
  toolkit::add_up_command(app);
  toolkit::add_down_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code();
}

}  // namespace sluice::server
