// Codec hot paths: finding message boundaries in relayed traffic (protocol::peek_message and
// session::MessageScanner, which every relayed byte goes through), decoding the few message
// bodies the proxy reads, and encoding what the proxy says itself.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "micro/wire_bytes.h"
#include "protocol/builder.h"
#include "protocol/frame.h"
#include "protocol/reader.h"
#include "session/message_scanner.h"

namespace sluice::bench {
namespace {

constexpr size_t kMaxMessageSize = 256 * 1024 * 1024;

// Reports bytes and messages per second for a loop over `data` containing `messages`.
void set_counters(benchmark::State& state, const std::string& data, int64_t messages) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(data.size()));
  state.SetItemsProcessed(state.iterations() * messages);
}

// peek_message over a buffer of N pgbench -S responses, one message at a time.
void BM_PeekMessage(benchmark::State& state) {
  const std::string data = repeat(select_one_response(), static_cast<int>(state.range(0)));
  const auto bytes = as_bytes(data);
  int64_t messages = 0;
  for (auto _ : state) {
    size_t pos = 0;
    messages = 0;
    while (pos < bytes.size()) {
      const protocol::Frame f = protocol::peek_message(bytes.subspan(pos), kMaxMessageSize);
      if (f.status != protocol::FrameStatus::kMessage) break;
      benchmark::DoNotOptimize(f.type);
      pos += f.size;
      ++messages;
    }
  }
  set_counters(state, data, messages);
}
BENCHMARK(BM_PeekMessage)->Arg(1)->Arg(64);

// The server-to-client relay in transaction mode: the scanner waits for whole
// ReadyForQuery, ParameterStatus, ErrorResponse and CommandComplete messages (as
// client_relay.cc asks) and reads the transaction status from ReadyForQuery.
template <bool kExtended>
void BM_ScanServerStream(benchmark::State& state) {
  const std::string one = kExtended ? select_one_extended_response() : select_one_response();
  const std::string data = repeat(one, static_cast<int>(state.range(0)));
  const auto bytes = as_bytes(data);
  session::MessageScanner scanner(kMaxMessageSize);
  int64_t messages = 0;
  char tx_status = 0;
  for (auto _ : state) {
    messages = 0;
    const session::ScanResult r = scanner.scan(
        bytes, [](char type) { return type == 'Z' || type == 'S' || type == 'E' || type == 'C'; },
        [&](char type, std::span<const uint8_t> body, bool, size_t) {
          ++messages;
          if (type == 'Z' && !body.empty()) tx_status = static_cast<char>(body[0]);
          return session::ScanAction::kForward;
        });
    benchmark::DoNotOptimize(r.forward);
    benchmark::DoNotOptimize(tx_status);
  }
  set_counters(state, data, messages);
}
BENCHMARK_TEMPLATE(BM_ScanServerStream, false)->Name("BM_ScanServerStream/simple")->Arg(1)->Arg(64);
BENCHMARK_TEMPLATE(BM_ScanServerStream, true)
    ->Name("BM_ScanServerStream/extended")
    ->Arg(1)
    ->Arg(64);

// The client-to-server relay in transaction mode: Parse (and Query) must be complete so the
// proxy can read the SQL text and classify it; everything else streams through.
void BM_ScanClientExtended(benchmark::State& state) {
  const std::string data = repeat(select_one_extended_request(), static_cast<int>(state.range(0)));
  const auto bytes = as_bytes(data);
  session::MessageScanner scanner(kMaxMessageSize);
  int64_t messages = 0;
  size_t sql_bytes = 0;
  for (auto _ : state) {
    messages = 0;
    const session::ScanResult r = scanner.scan(
        bytes, [](char type) { return type == 'Q' || type == 'P'; },
        [&](char type, std::span<const uint8_t> body, bool complete, size_t) {
          ++messages;
          if (complete && (type == 'Q' || type == 'P')) {
            protocol::BodyReader reader(body);
            if (type == 'P') reader.cstr();  // statement name
            sql_bytes += reader.cstr().size();
          }
          return session::ScanAction::kForward;
        });
    benchmark::DoNotOptimize(r.forward);
    benchmark::DoNotOptimize(sql_bytes);
  }
  set_counters(state, data, messages);
}
BENCHMARK(BM_ScanClientExtended)->Arg(1)->Arg(64);

// A 1 MiB DataRow arriving in 16 KiB reads: the scanner reports it at its header and lets
// the body stream through without buffering or reading it, so the cost is per read, not
// per byte (items = reads).
void BM_ScanLargeRowInChunks(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  const std::string payload(1 << 20, 'x');
  const std::string data =
      Msg('D').i16(1).i32(static_cast<uint32_t>(payload.size())).raw(payload).str() +
      Msg('C').cstr("SELECT 1").str() + Msg('Z').byte('I').str();
  const auto bytes = as_bytes(data);
  for (auto _ : state) {
    session::MessageScanner scanner(kMaxMessageSize);
    size_t forwarded = 0;
    for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
      const auto piece = bytes.subspan(pos, std::min(chunk, bytes.size() - pos));
      const session::ScanResult r = scanner.scan(
          piece, [](char type) { return type == 'Z' || type == 'C'; },
          [](char, std::span<const uint8_t>, bool, size_t) {
            return session::ScanAction::kForward;
          });
      forwarded += r.forward;
    }
    benchmark::DoNotOptimize(forwarded);
  }
  const auto reads = static_cast<int64_t>((data.size() + chunk - 1) / chunk);
  state.SetItemsProcessed(state.iterations() * reads);
}
BENCHMARK(BM_ScanLargeRowInChunks)->Arg(16 * 1024);

// Decoding an ErrorResponse (what the proxy does with every server error it relays in
// transaction mode, and for its own checks).
void BM_ParseErrorFields(benchmark::State& state) {
  const std::string msg = Msg('E')
                              .byte('S')
                              .cstr("ERROR")
                              .byte('V')
                              .cstr("ERROR")
                              .byte('C')
                              .cstr("42P01")
                              .byte('M')
                              .cstr("relation \"pgbench_accountz\" does not exist")
                              .byte('P')
                              .cstr("21")
                              .byte('F')
                              .cstr("parse_relation.c")
                              .byte('L')
                              .cstr("1392")
                              .byte('R')
                              .cstr("parserOpenTable")
                              .byte(0)
                              .str();
  const auto body = as_bytes(msg).subspan(protocol::kHeaderSize);
  for (auto _ : state) {
    auto fields = protocol::parse_error_fields(body);
    benchmark::DoNotOptimize(fields);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseErrorFields);

// Decoding a ParameterStatus body (server logins, and SETs the proxy tracks per client).
void BM_ParseParameterStatus(benchmark::State& state) {
  const std::string msg = Msg('S').cstr("application_name").cstr("pgbench").str();
  const auto body = as_bytes(msg).subspan(protocol::kHeaderSize);
  for (auto _ : state) {
    auto p = protocol::parse_parameter_status(body);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseParameterStatus);

// Encoding what the proxy sends itself: an ErrorResponse + ReadyForQuery (a refused or
// timed-out query) into a reused buffer.
void BM_AppendErrorAndReady(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    protocol::append_error(out, protocol::kSeverityError, protocol::sqlstate::kQueryCanceled,
                           "canceling statement due to statement timeout");
    protocol::append_ready_for_query(out, 'I');
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendErrorAndReady);

// Encoding an admin-console result (SHOW POOLS-like: 12 columns, N rows).
void BM_AppendResultSet(benchmark::State& state) {
  std::vector<protocol::Column> columns;
  std::vector<std::optional<std::string>> row;
  for (int i = 0; i < 12; ++i) {
    columns.push_back({"column_" + std::to_string(i), protocol::kOidText});
    row.emplace_back(std::to_string(i * 1000));
  }
  const int rows = static_cast<int>(state.range(0));
  std::string out;
  for (auto _ : state) {
    out.clear();
    protocol::append_row_description(out, columns);
    for (int i = 0; i < rows; ++i) protocol::append_data_row(out, row);
    protocol::append_command_complete(out, "SHOW");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_AppendResultSet)->Arg(10);

}  // namespace
}  // namespace sluice::bench
