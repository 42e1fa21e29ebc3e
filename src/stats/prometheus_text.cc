#include "stats/prometheus_text.h"

#include <fmt/format.h>

namespace sluice::stats {

std::string format_double(double v) { return fmt::format("{}", v); }

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void PrometheusText::begin_sample(std::string_view name, std::string_view suffix,
                                  std::initializer_list<Label> labels, std::string_view le) {
  out_ += name;
  out_ += suffix;
  if (labels.size() == 0 && le.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto label = [&](std::string_view key, std::string_view value) {
    if (!first) out_ += ',';
    first = false;
    out_ += key;
    out_ += "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"') {
        out_ += '\\';
        out_ += c;
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  };
  for (const auto& [k, v] : labels) label(k, v);
  if (!le.empty()) label("le", le);
  out_ += "} ";
}

void PrometheusText::sample(std::string_view name, std::initializer_list<Label> labels,
                            double value) {
  begin_sample(name, "", labels);
  out_ += format_double(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, std::initializer_list<Label> labels,
                            uint64_t value) {
  begin_sample(name, "", labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

}  // namespace sluice::stats
