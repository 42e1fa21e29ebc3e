// `sluice up` / `sluice down`: a local PostgreSQL 15 under ./.sluice/ with the proxy in front.
#pragma once

namespace CLI {
class App;
}

namespace sluice::toolkit {

// Registers `up` and `down`; their callbacks run the command and set the exit code
// through server::set_exit_code().
void add_up_command(CLI::App& app);
void add_down_command(CLI::App& app);

}  // namespace sluice::toolkit
