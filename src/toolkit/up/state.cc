// ./.sluice/state.json read and written with nlohmann-json (see state.h).
#include "toolkit/up/state.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "toolkit/up/process.h"

namespace sluice::toolkit::up {

UpState load_state(const std::filesystem::path& file) {
  UpState state;
  std::ifstream in(file);
  if (!in) return state;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return state;
  state.pg_port = j.value("pg_port", 0);
  state.proxy_port = j.value("proxy_port", 0);
  state.proxy_pid = j.value("proxy_pid", 0);
  state.proxy_pg_port = j.value("proxy_pg_port", 0);
  return state;
}

void save_state(const std::filesystem::path& file, const UpState& state) {
  nlohmann::json j = {{"pg_port", state.pg_port},
                      {"proxy_port", state.proxy_port},
                      {"proxy_pid", state.proxy_pid},
                      {"proxy_pg_port", state.proxy_pg_port}};
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << '\n';
    if (!out) throw UpError("cannot write " + tmp.string() + ": check free space and permissions");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) throw UpError("cannot write " + file.string() + ": " + ec.message());
}

}  // namespace sluice::toolkit::up
