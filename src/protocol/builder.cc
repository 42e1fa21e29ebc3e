#include "protocol/builder.h"

#include "common/bytes.h"
#include "protocol/startup.h"

namespace sluice::protocol {

MessageWriter& MessageWriter::begin(char type) {
  if (type != 0) out_.push_back(type);
  start_ = out_.size();
  out_.append(4, '\0');
  return *this;
}

MessageWriter& MessageWriter::i32(int32_t v) {
  uint8_t b[4];
  write_u32(b, static_cast<uint32_t>(v));
  out_.append(reinterpret_cast<const char*>(b), 4);
  return *this;
}

MessageWriter& MessageWriter::i16(int16_t v) {
  out_.push_back(static_cast<char>((static_cast<uint16_t>(v) >> 8) & 0xFF));
  out_.push_back(static_cast<char>(static_cast<uint16_t>(v) & 0xFF));
  return *this;
}

MessageWriter& MessageWriter::byte(char v) {
  out_.push_back(v);
  return *this;
}

MessageWriter& MessageWriter::cstr(std::string_view s) {
  out_.append(s);
  out_.push_back('\0');
  return *this;
}

MessageWriter& MessageWriter::raw(std::string_view s) {
  out_.append(s);
  return *this;
}

void MessageWriter::end() {
  write_u32(reinterpret_cast<uint8_t*>(out_.data() + start_),
            static_cast<uint32_t>(out_.size() - start_));
}

namespace {

void append_fields(std::string& out, char type, std::string_view severity,
                   std::string_view sqlstate, std::string_view message, std::string_view detail) {
  MessageWriter w(out);
  w.begin(type).byte('S').cstr(severity).byte('V').cstr(severity);
  if (!sqlstate.empty()) w.byte('C').cstr(sqlstate);
  w.byte('M').cstr(message);
  if (!detail.empty()) w.byte('D').cstr(detail);
  w.byte('\0').end();
}

void append_auth(std::string& out, int32_t code, std::string_view data = {}) {
  MessageWriter(out).begin('R').i32(code).raw(data).end();
}

}  // namespace

void append_error(std::string& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view detail) {
  append_fields(out, 'E', severity, sqlstate, message, detail);
}

void append_notice(std::string& out, std::string_view message) {
  append_fields(out, 'N', "NOTICE", "00000", message, {});
}

void append_ready_for_query(std::string& out, char status) {
  MessageWriter(out).begin('Z').byte(status).end();
}

void append_auth_ok(std::string& out) { append_auth(out, 0); }
void append_auth_cleartext(std::string& out) { append_auth(out, 3); }
void append_auth_md5(std::string& out, const uint8_t salt[4]) {
  append_auth(out, 5, std::string_view(reinterpret_cast<const char*>(salt), 4));
}
void append_auth_sasl(std::string& out, std::string_view mechanism) {
  MessageWriter(out).begin('R').i32(10).cstr(mechanism).byte('\0').end();
}
void append_auth_sasl_continue(std::string& out, std::string_view data) {
  append_auth(out, 11, data);
}
void append_auth_sasl_final(std::string& out, std::string_view data) { append_auth(out, 12, data); }

void append_parameter_status(std::string& out, std::string_view name, std::string_view value) {
  MessageWriter(out).begin('S').cstr(name).cstr(value).end();
}

void append_backend_key_data(std::string& out, int32_t pid, int32_t key) {
  MessageWriter(out).begin('K').i32(pid).i32(key).end();
}

void append_command_complete(std::string& out, std::string_view tag) {
  MessageWriter(out).begin('C').cstr(tag).end();
}

void append_empty_query_response(std::string& out) { MessageWriter(out).begin('I').end(); }

void append_row_description(std::string& out, const std::vector<Column>& columns) {
  MessageWriter w(out);
  w.begin('T').i16(static_cast<int16_t>(columns.size()));
  for (const Column& c : columns) {
    const int16_t size = c.type_oid == kOidInt8 ? 8 : (c.type_oid == kOidInt4 ? 4 : -1);
    w.cstr(c.name).i32(0).i16(0).i32(static_cast<int32_t>(c.type_oid)).i16(size).i32(-1).i16(0);
  }
  w.end();
}

void append_data_row(std::string& out, const std::vector<std::optional<std::string>>& values) {
  MessageWriter w(out);
  w.begin('D').i16(static_cast<int16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      w.i32(-1);
    } else {
      w.i32(static_cast<int32_t>(v->size())).raw(*v);
    }
  }
  w.end();
}

void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params) {
  MessageWriter w(out);
  w.begin(0).i32(static_cast<int32_t>(kProtocolV3));
  for (const auto& [k, v] : params) w.cstr(k).cstr(v);
  w.byte('\0').end();
}

void append_ssl_request(std::string& out) {
  MessageWriter(out).begin(0).i32(static_cast<int32_t>(kSslRequestCode)).end();
}

void append_cancel_request(std::string& out, int32_t pid, int32_t key) {
  MessageWriter(out).begin(0).i32(static_cast<int32_t>(kCancelRequestCode)).i32(pid).i32(key).end();
}

void append_password(std::string& out, std::string_view password) {
  MessageWriter(out).begin('p').cstr(password).end();
}

void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data) {
  MessageWriter(out)
      .begin('p')
      .cstr(mechanism)
      .i32(static_cast<int32_t>(data.size()))
      .raw(data)
      .end();
}

void append_sasl_response(std::string& out, std::string_view data) {
  MessageWriter(out).begin('p').raw(data).end();
}

void append_query(std::string& out, std::string_view sql) {
  MessageWriter(out).begin('Q').cstr(sql).end();
}

void append_terminate(std::string& out) { MessageWriter(out).begin('X').end(); }
void append_sync(std::string& out) { MessageWriter(out).begin('S').end(); }

}  // namespace sluice::protocol
