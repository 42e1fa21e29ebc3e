// PostgreSQL's MD5 password scheme: the stored form is "md5" + hex(md5(password + user)),
// the wire response is "md5" + hex(md5(hex_part_of_stored + 4-byte salt)).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::protocol {

using Md5Salt = std::array<uint8_t, 4>;

// "md5..." stored secret for a user's plain password.
std::string md5_stored_secret(std::string_view user, std::string_view password);
// The PasswordMessage a client sends for a salt, from the stored secret.
std::string md5_response_from_secret(std::string_view stored_secret, const Md5Salt& salt);
// Constant-time check of a client's md5 response against a stored md5 secret.
bool md5_verify(std::string_view stored_secret, const Md5Salt& salt, std::string_view response);
Md5Salt random_md5_salt();

}  // namespace sluice::protocol
