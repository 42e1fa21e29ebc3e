// Prometheus text exposition format 0.0.4: one `# HELP` / `# TYPE` per metric family,
// then its samples. Just what /metrics needs; label values are escaped as the format
// requires (backslash, double quote, newline).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::stats {

using Label = std::pair<std::string_view, std::string_view>;

// Shortest text that reads back as the same double ("0.0001", "2.5", "1e+06").
std::string format_double(double v);

class PrometheusText {
 public:
  // Starts a family; type is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  // One histogram's _bucket/_sum/_count lines from non-cumulative counts per bucket;
  // `bounds[i] / divisor` are the upper bounds in the unit of `sum` (the last is +Inf).
  template <typename Counts, typename Bounds>
  void histogram(std::string_view name, std::initializer_list<Label> labels, const Counts& counts,
                 const Bounds& bounds, double divisor, double sum);

  std::string take() { return std::move(out_); }

 private:
  void begin_sample(std::string_view name, std::string_view suffix,
                    std::initializer_list<Label> labels, std::string_view le = {});
  std::string out_;
};

template <typename Counts, typename Bounds>
void PrometheusText::histogram(std::string_view name, std::initializer_list<Label> labels,
                               const Counts& counts, const Bounds& bounds, double divisor,
                               double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le = i < bounds.size() ? format_double(static_cast<double>(bounds[i]) / divisor)
                                       : std::string("+Inf");
    begin_sample(name, "_bucket", labels, le);
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  begin_sample(name, "_sum", labels);
  out_ += format_double(sum);
  out_ += '\n';
  begin_sample(name, "_count", labels);
  out_ += std::to_string(cumulative);
  out_ += '\n';
}

}  // namespace sluice::stats
