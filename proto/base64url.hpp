// Base64url without padding (RFC 4648 §5), the text form of capacity tokens.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "proto/errors.hpp"

namespace turnscout::proto {

std::string base64url_encode(std::span<const uint8_t> bytes);

// Strict: rejects '=' padding, characters outside the url-safe alphabet, impossible
// lengths and non-zero leftover bits, so every byte string has exactly one text form.
Result<std::vector<uint8_t>, DecodeError> base64url_decode(std::string_view text);

}  // namespace turnscout::proto
