#include "proto/base64url.hpp"

namespace turnscout::proto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

Unexpected<DecodeError> bad(size_t offset, const char* where) {
  return unexpected(DecodeError{DecodeErrc::kBadValue, static_cast<uint32_t>(offset), where});
}

}  // namespace

std::string base64url_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t bits = 0;
  int count = 0;
  for (uint8_t b : bytes) {
    bits = (bits << 8) | b;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3F];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3F];
  return out;
}

Result<std::vector<uint8_t>, DecodeError> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return bad(text.size(), "base64url.length");
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int v = sextet(text[i]);
    if (v < 0) return bad(i, "base64url.character");
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> count));
    }
  }
  if ((bits & ((1u << count) - 1)) != 0) return bad(text.size() - 1, "base64url.trailing-bits");
  return out;
}

}  // namespace turnscout::proto
