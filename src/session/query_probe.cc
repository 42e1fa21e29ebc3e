#include "session/query_probe.h"

#include <fmt/format.h>

#include <chrono>

#include "protocol/reader.h"
#include "stats/proxy_counters.h"
#include "stats/slow_query_log.h"

namespace sluice::session {

namespace {

uint64_t micros(pool::Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// "SELECT 5", "INSERT 0 3", "UPDATE 2": the row count is the tag's last number, if any.
uint64_t tag_rows(std::span<const uint8_t> body) {
  size_t end = body.size();
  while (end > 0 && body[end - 1] == 0) --end;
  size_t start = end;
  while (start > 0 && body[start - 1] >= '0' && body[start - 1] <= '9') --start;
  if (start == end || start == 0 || body[start - 1] != ' ') return 0;
  uint64_t n = 0;
  for (size_t i = start; i < end && i < start + 19; ++i) n = n * 10 + (body[i] - '0');
  return n;
}

std::string parameter_text(std::string_view value, bool binary) {
  const std::string_view cut = value.substr(0, stats::kMaxLoggedParameterBytes);
  if (!binary) return std::string(cut);
  std::string hex = "\\x";
  for (unsigned char c : cut) hex += fmt::format("{:02x}", c);
  return hex;
}

// Bind's parameter values after the portal and statement names.
std::optional<std::vector<std::optional<std::string>>> bind_parameters(protocol::BodyReader& r) {
  const int16_t nformats = r.i16();
  std::vector<int16_t> formats;
  for (int16_t i = 0; r.ok() && i < nformats; ++i) formats.push_back(r.i16());
  const int16_t nparams = r.i16();
  std::vector<std::optional<std::string>> out;
  for (int16_t i = 0; r.ok() && i < nparams; ++i) {
    const int32_t len = r.i32();
    if (len < 0) {
      out.emplace_back(std::nullopt);
      continue;
    }
    const std::string_view value = r.take(static_cast<size_t>(len));
    // One format code applies to all; otherwise one per parameter (a missing one: text).
    const size_t f = formats.size() == 1 ? 0 : static_cast<size_t>(i);
    const int16_t format = f < formats.size() ? formats[f] : 0;
    if (r.ok()) out.emplace_back(parameter_text(value, format == 1));
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

}  // namespace

QueryProbe::QueryProbe(const ClientInfo& client, const config::Config& cfg)
    : client_(client),
      labels_{client.database, client.user, client.application_name, 0},
      record_(cfg.query_stats),
      slow_us_(static_cast<uint64_t>(cfg.slow_query_threshold.count()) * 1000),
      log_params_(cfg.log_parameters && slow_us_ > 0),
      slow_log_path_(cfg.slow_query_log),
      reads_text_(record_ || slow_us_ > 0) {
  labels_.key = stats::labels_key(labels_);
}

void QueryProbe::set_current(std::string_view sql, bool repeats) {
  if (!reads_text_) return;
  if (!repeats) {
    current_ = stats::QueryStats::for_this_thread().lookup(sql);
    return;
  }
  if (last_ref_ && sql == last_text_) {
    current_ = last_ref_;
    return;
  }
  current_ = stats::QueryStats::for_this_thread().lookup(sql);
  if (sql.size() <= kMaxRememberedText) {
    last_text_.assign(sql);
    last_ref_ = current_;
  }
}

void QueryProbe::on_client_message(char type, std::span<const uint8_t> body,
                                   const PreparedStatements* prepared,
                                   pool::Clock::time_point now) {
  switch (type) {
    case 'Q': {
      protocol::BodyReader r(body);
      const std::string_view sql = r.cstr();
      if (r.ok()) set_current(sql, false);  // (simple-protocol texts inline their values)
      query_shape_ = r.ok() && reads_text_ ? current_.shape : 0;
      current_params_.reset();
      push(r.ok(), now);
      break;
    }
    case 'P': {
      protocol::BodyReader r(body);
      const std::string_view name = r.cstr();
      const std::string_view sql = r.cstr();
      if (!r.ok()) break;
      set_current(sql, true);
      if (prepared == nullptr && !name.empty() && current_ &&
          (named_.size() < kMaxNamedStatements || named_.count(std::string(name)))) {
        named_[std::string(name)] = current_;
      }
      break;
    }
    case 'B':
      on_bind(body, prepared);
      break;
    case 'S':
      push(true, now);
      break;
    case 'F':
      push(false, now);
      break;
    default:
      break;
  }
}

void QueryProbe::on_bind(std::span<const uint8_t> body, const PreparedStatements* prepared) {
  protocol::BodyReader r(body);
  r.cstr();  // portal
  const std::string_view name = r.cstr();
  if (!r.ok()) return;
  if (!name.empty()) {
    if (prepared != nullptr) {
      if (const std::string* sql = prepared->query_of(name)) set_current(*sql, true);
    } else if (auto it = named_.find(std::string(name)); it != named_.end()) {
      current_ = it->second;
    }
  }
  if (log_params_) current_params_ = bind_parameters(r);
}

void QueryProbe::push(bool with_text, pool::Clock::time_point now) {
  if (count_ == kMaxInFlight || skipped_ > 0) {
    ++skipped_;  // keeps the order: nothing enters the ring until these are answered
    return;
  }
  Request& r = ring_[(head_ + count_++) % kMaxInFlight];
  r.query = with_text ? current_ : stats::QueryRef{};
  r.start = now;
  r.rows = 0;
  r.error = false;
  r.params = std::move(current_params_);
  current_params_.reset();
}

void QueryProbe::on_server_message(char type, std::span<const uint8_t> body,
                                   pool::Clock::time_point now) {
  if (type == 'E') {
    const auto fields = protocol::parse_error_fields(body);
    const auto code = fields.find('C');
    stats::counters().add_error(code == fields.end() ? std::string_view() : code->second);
  }
  if (count_ == 0) {
    if (type == 'Z' && skipped_ > 0) --skipped_;
    return;
  }
  Request& front = ring_[head_];
  if (type == 'C') {
    front.rows += tag_rows(body);
  } else if (type == 'E') {
    front.error = true;
  } else if (type == 'Z') {
    finish(front, now);
    front.query = {};
    head_ = (head_ + 1) % kMaxInFlight;
    --count_;
  }
}

void QueryProbe::finish(Request& r, pool::Clock::time_point now) {
  const uint64_t wait = pending_wait_us_;
  pending_wait_us_ = 0;
  if (!r.query) return;
  const uint64_t duration = micros(now - r.start);
  const uint64_t exec = duration > wait ? duration - wait : 0;
  if (record_) {
    stats::QueryStats::for_this_thread().record(r.query, labels_, {exec, wait, r.rows, r.error});
  }
  if (slow_us_ > 0 && duration >= slow_us_) {
    stats::SlowQuery q{*r.query.normalized,
                       r.query.fingerprint,
                       duration,
                       wait,
                       r.rows,
                       r.error,
                       labels_.database,
                       labels_.user,
                       labels_.application_name,
                       client_.addr,
                       client_.port,
                       std::move(r.params)};
    stats::slow_query_log().add(q, slow_log_path_);
  }
}

}  // namespace sluice::session
