// /metrics: the proxy's counters and gauges in Prometheus text format. Every metric is
// listed in docs/observability.md. Reads shared state only through thread-safe accessors.
#pragma once

#include <string>

#include "server/context.h"

namespace sluice::admin {

std::string render_metrics(server::ProxyContext& ctx);

}  // namespace sluice::admin
