#include "stats/slow_query_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "stats/proxy_counters.h"

namespace sluice::stats {

namespace {

std::string iso_time(int64_t unix_us) {
  const std::time_t secs = static_cast<std::time_t>(unix_us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06}Z", std::string_view(buf, n), unix_us % 1000000);
}

double millis(uint64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

nlohmann::json to_json(const SlowQuery& q, int64_t unix_time_us) {
  nlohmann::json j = {{"time", iso_time(unix_time_us)},
                      {"duration_ms", millis(q.duration_us)},
                      {"wait_ms", millis(q.wait_us)},
                      {"query", q.query},
                      {"fingerprint", fmt::format("{:016x}", q.fingerprint)},
                      {"rows", q.rows},
                      {"error", q.error},
                      {"database", q.database},
                      {"user", q.user},
                      {"application_name", q.application_name},
                      {"client_addr", q.client_addr},
                      {"client_port", q.client_port}};
  if (q.parameters) {
    nlohmann::json params = nlohmann::json::array();
    for (const auto& p : *q.parameters) params.push_back(p ? nlohmann::json(*p) : nullptr);
    j["parameters"] = std::move(params);
  }
  return j;
}

void SlowQueryLog::add(const SlowQuery& q, const std::string& path) {
  counters().add_slow_query();
  const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  nlohmann::json j = to_json(q, now);
  // Invalid UTF-8 in a query or parameter is replaced rather than refused.
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mutex_);
  recent_.push_back(std::move(j));
  if (recent_.size() > kRecentSlowQueries) recent_.pop_front();
  if (path != path_) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    path_ = path;
    warned_ = false;
  }
  if (path_.empty()) return;
  if (file_ == nullptr) file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) {
    if (!warned_) spdlog::error("cannot open slow_query_log {}: {}", path_, std::strerror(errno));
    warned_ = true;
    return;
  }
  // One write per line and a flush, so readers (tail -f, log shippers) see whole lines.
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

std::vector<nlohmann::json> SlowQueryLog::recent(size_t limit) const {
  std::lock_guard lock(mutex_);
  const size_t n = std::min(limit, recent_.size());
  return {recent_.end() - static_cast<std::ptrdiff_t>(n), recent_.end()};
}

SlowQueryLog& slow_query_log() {
  static SlowQueryLog* log = new SlowQueryLog;  // never destroyed: workers may outlive statics
  return *log;
}

}  // namespace sluice::stats
