// Capacity tokens (issue, verify, every failure) and their base64url text form.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "proto/proto.hpp"
#include "tests/proto/golden_messages.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

using golden::cluster_key;
using golden::kExpiry;
using golden::kIssuedAt;
using test::as_bytes;

constexpr std::string_view kClient = "198.51.100.23";

// The example token of PROTOCOL.md in its text form.
constexpr std::string_view kGoldenText =
    "AQIAAAAAAABpVbkADTE5OC41MS4xMDAuMjMNIH2i0WzmVoEWyiRHtbZPkIFBn_8g3sdTJRym_mBzLw";

std::vector<uint8_t> issue(const CapacityToken& t) {
  std::array<uint8_t, 256> out{};
  const auto n = issue_capacity_token(t, cluster_key(), kIssuedAt, out);
  REQUIRE_MESSAGE(n.ok(), to_string(n.error()));
  return {out.begin(), out.begin() + *n};
}

TEST_CASE("capacity token: golden example") {
  const auto token = golden::token_bytes();
  REQUIRE(token.size() == 58);
  CHECK(token.size() == capacity_token_size(golden::token_fields()));
  CHECK(test::to_hex(std::span(token).first(13)) == "01 02 00 00 00 00 00 00 69 55 b9 00 0d");
  CHECK(base64url_encode(token) == kGoldenText);
  const auto parsed = base64url_decode(kGoldenText);
  REQUIRE(parsed.ok());
  CHECK(*parsed == token);
  const auto t = verify_capacity_token(token, cluster_key(), kIssuedAt, kClient);
  REQUIRE(t.ok());
  CHECK(t->tier == 2);
  CHECK(t->expiry_unix_s == kExpiry);
  CHECK(t->client_id == kClient);
}

TEST_CASE("capacity token: expiry") {
  const auto token = golden::token_bytes();
  CHECK(verify_capacity_token(token, cluster_key(), kExpiry - 1, kClient).ok());
  CHECK(verify_capacity_token(token, cluster_key(), kExpiry, kClient).error() ==
        TokenErrc::kExpired);
  CHECK(verify_capacity_token(token, cluster_key(), kExpiry + 86400, kClient).error() ==
        TokenErrc::kExpired);
}

TEST_CASE("capacity token: key and client binding") {
  const auto token = golden::token_bytes();
  CHECK(verify_capacity_token(token, as_bytes("turnscout-example-cluster-kez"), kIssuedAt, kClient)
            .error() == TokenErrc::kBadSignature);
  CHECK(verify_capacity_token(token, {}, kIssuedAt, kClient).error() == TokenErrc::kBadSignature);
  CHECK(verify_capacity_token(token, cluster_key(), kIssuedAt, "198.51.100.24").error() ==
        TokenErrc::kWrongClient);
  CHECK(verify_capacity_token(token, cluster_key(), kIssuedAt, "").error() ==
        TokenErrc::kWrongClient);

  // An empty client id is valid for any client.
  const auto any = issue(CapacityToken{255, kExpiry, ""});
  CHECK(any.size() == 45);
  const auto t = verify_capacity_token(any, cluster_key(), kIssuedAt, "2001:db8::17");
  REQUIRE(t.ok());
  CHECK(*t == CapacityToken{255, kExpiry, ""});
  // The longest client id.
  const CapacityToken longest{1, kExpiry, std::string(64, 'c')};
  CHECK(*verify_capacity_token(issue(longest), cluster_key(), kIssuedAt, longest.client_id) ==
        longest);
}

TEST_CASE("capacity token: any tampering is rejected") {
  const auto token = golden::token_bytes();
  for (size_t bit = 0; bit < token.size() * 8; ++bit) {
    auto t = token;
    t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CAPTURE(bit);
    const auto r = verify_capacity_token(t, cluster_key(), kIssuedAt, kClient);
    REQUIRE_FALSE(r.ok());
    if (bit >= 8) {  // Past the version byte, only size or signature can fail first.
      CHECK((r.error() == TokenErrc::kBadSignature || r.error() == TokenErrc::kMalformed));
    }
  }
  for (size_t n = 0; n < token.size(); ++n) {
    CHECK(verify_capacity_token(std::span(token).first(n), cluster_key(), kIssuedAt, kClient)
              .error() != TokenErrc::kExpired);
  }
  CHECK(verify_capacity_token(std::span(token).first(57), cluster_key(), kIssuedAt, kClient)
            .error() == TokenErrc::kMalformed);
  auto version = token;
  version[0] = 2;
  CHECK(verify_capacity_token(version, cluster_key(), kIssuedAt, kClient).error() ==
        TokenErrc::kUnsupportedVersion);
  auto longer = token;
  longer.push_back(0);
  CHECK(verify_capacity_token(longer, cluster_key(), kIssuedAt, kClient).error() ==
        TokenErrc::kMalformed);
}

TEST_CASE("capacity token: issuing refuses bad input") {
  std::array<uint8_t, 256> out{};
  const auto fail = [&](const CapacityToken& t, std::span<const uint8_t> key, size_t room) {
    const auto r = issue_capacity_token(t, key, kIssuedAt, std::span(out).first(room));
    REQUIRE_FALSE(r.ok());
    return r.error().code;
  };
  const auto good = golden::token_fields();
  CHECK(fail({0, kExpiry, ""}, cluster_key(), 256) == EncodeErrc::kValueOutOfRange);
  CHECK(fail({1, kExpiry, std::string(65, 'c')}, cluster_key(), 256) ==
        EncodeErrc::kValueOutOfRange);
  CHECK(fail({1, kIssuedAt, ""}, cluster_key(), 256) == EncodeErrc::kValueOutOfRange);
  CHECK(fail(good, {}, 256) == EncodeErrc::kValueOutOfRange);
  CHECK(fail(good, cluster_key(), 57) == EncodeErrc::kBufferTooSmall);
  CHECK(std::string_view(to_string(TokenErrc::kWrongClient)) == "wrong-client");
}

TEST_CASE("base64url: RFC 4648 vectors in the url-safe alphabet, no padding") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, text] : vectors) {
    CHECK(base64url_encode(as_bytes(plain)) == text);
    const auto back = base64url_decode(text);
    REQUIRE(back.ok());
    CHECK(std::string(back->begin(), back->end()) == plain);
  }
  const std::vector<uint8_t> high{0xfb, 0xff, 0xbf};
  CHECK(base64url_encode(high) == "-_-_");
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i)
    all[i] = static_cast<uint8_t>(i);
  CHECK(*base64url_decode(base64url_encode(all)) == all);
}

TEST_CASE("base64url: rejects non-canonical text") {
  for (std::string_view bad : {"Zg==", "Zm9v+", "Zm9v/", "Z", "Zm9vY", "Zh", "Zm9=", "Zm 9v"}) {
    CAPTURE(bad);
    const auto r = base64url_decode(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == DecodeErrc::kBadValue);
  }
}

}  // namespace
}  // namespace turnscout::proto
