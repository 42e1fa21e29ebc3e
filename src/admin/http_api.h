// The admin HTTP endpoints: /metrics, /health, /ready and the JSON API under /api/v1/
// (docs/observability.md documents each answer). Actions reuse the admin console's
// commands (run_trusted_command), so both behave the same.
//
// Access: when admin.admin_token is set, every request but /health and /ready must carry
// "Authorization: Bearer TOKEN"; without a token the endpoint may only listen on loopback
// (validate_config refuses anything else).
#pragma once

#include "admin/http_server.h"
#include "server/context.h"

namespace sluice::admin {

asio::awaitable<HttpResponse> handle_http(server::ProxyContext& ctx, const HttpRequest& request);

}  // namespace sluice::admin
