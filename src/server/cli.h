// The command line: every subcommand, parsed and run. Built into both copies of the proxy
// (epoll and io_uring, see io_backend.h); main() starts the epoll copy's.
#pragma once

namespace sluice::server {

// Parses argv, runs the chosen subcommand and returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace sluice::server
