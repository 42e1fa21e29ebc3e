// Entry point: builds the command line and hands off to a subcommand.
// The only code the tests do not link; every subcommand lives in the library.
#include <CLI/CLI.hpp>

#include "server/serve_command.h"
#include "toolkit/up/up_command.h"

int main(int argc, char** argv) {
  CLI::App app{"Sluice: a PostgreSQL performance and reliability layer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  sluice::server::add_serve_command(app);
  sluice::toolkit::add_up_command(app);
  sluice::toolkit::add_down_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return sluice::server::exit_code();
}
