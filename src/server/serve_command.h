// `sluice serve`: registers the command-line interface of the proxy.
#pragma once

namespace CLI {
class App;
}

namespace sluice::server {

void add_serve_command(CLI::App& app);

// Subcommand callbacks record their exit code here; main() returns it.
void set_exit_code(int code);
int exit_code();

}  // namespace sluice::server
