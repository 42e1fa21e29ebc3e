// Entry point: the only code the tests do not link. The library is linked twice, as the
// epoll copy (namespace sluice) and the io_uring copy (namespace sluice_uring, renamed by
// CMakeLists.txt); the epoll copy parses the command line and hands `serve` to the io_uring
// copy when the configuration asks for it (server/io_backend.h).
#include "server/cli.h"
#include "server/io_backend.h"

namespace sluice_uring::server {
int run_cli(int argc, char** argv);
}  // namespace sluice_uring::server

int main(int argc, char** argv) {
  sluice::server::offer_io_uring(&sluice_uring::server::run_cli, argc, argv);
  return sluice::server::run_cli(argc, argv);
}
