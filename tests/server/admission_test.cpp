#include "server/core/admission.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/capacity_token.hpp"

namespace turnscout::server {
namespace {

constexpr uint64_t kWall = 1'800'000'000;  // Unix seconds, fixed so tokens are exact.
const TimePoint kStart = TimePoint{} + 1h;
const std::string kKey = "cluster secret";

AdmissionConfig free_only() {
  AdmissionConfig c;
  c.tiers = {TierConfig{"free", 0, 20, 5}};
  return c;
}

AdmissionConfig with_gold() {
  AdmissionConfig c = free_only();
  c.tiers.push_back(TierConfig{"gold", 1, 200, 50});
  return c;
}

// `c` with capacity tokens verified by kKey.
AdmissionConfig keyed(AdmissionConfig c) {
  c.token_key = kKey;
  return c;
}

Endpoint client(uint32_t n, uint16_t port = 40000) {
  return Endpoint::v4(198, static_cast<uint8_t>(51 + (n >> 16)), static_cast<uint8_t>(n >> 8),
                      static_cast<uint8_t>(n), port);
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> token(uint8_t tier, uint64_t expiry, std::string client_id,
                           const std::string& key = kKey) {
  std::vector<uint8_t> out(proto::kMaxCapacityTokenSize);
  const proto::CapacityToken t{tier, expiry, std::move(client_id)};
  const auto size = proto::issue_capacity_token(t, bytes(key), kWall - 10, out);
  REQUIRE(size.ok());
  out.resize(*size);
  return out;
}

// How many requests of `cost` pass at `now` before the first refusal (at most `limit`).
int admitted_in_a_row(AdmissionControl& ac, TimePoint now, const Endpoint& from,
                      std::span<const uint8_t> tok = {}, uint16_t cost = 1, uint64_t wall = kWall,
                      int limit = 10000) {
  int n = 0;
  while (n < limit && ac.admit(now, wall, from, tok, cost).admitted)
    ++n;
  return n;
}

}  // namespace

TEST_CASE("free tier: a burst of 20, then the 21st is dropped") {
  AdmissionControl ac(free_only());
  for (int i = 0; i < 20; ++i)
    CHECK(ac.admit(kStart, kWall, client(1), {}, 1).admitted);
  const Admission refused = ac.admit(kStart, kWall, client(1), {}, 1);
  CHECK_FALSE(refused.admitted);
  // The announced parameters are the free tier's, refused or not.
  CHECK(refused.flow == proto::FlowControl{20, 5000, 1, 1, 0});
  // Another client has its own bucket.
  CHECK(admitted_in_a_row(ac, kStart, client(2)) == 20);
  // Another port of the same host is the same client: buckets are per IP address.
  CHECK(admitted_in_a_row(ac, kStart, client(1, 40001)) == 0);
}

TEST_CASE("refill: 5 tokens/s give one token after exactly 200 ms") {
  AdmissionControl ac(free_only());
  CHECK(admitted_in_a_row(ac, kStart, client(1)) == 20);
  CHECK_FALSE(ac.admit(kStart + 199'999us, kWall, client(1), {}, 1).admitted);
  CHECK(ac.admit(kStart + 200ms, kWall, client(1), {}, 1).admitted);
  CHECK_FALSE(ac.admit(kStart + 200ms, kWall, client(1), {}, 1).admitted);
  // Two seconds later: 10 tokens, not more.
  CHECK(admitted_in_a_row(ac, kStart + 2200ms, client(1)) == 10);
  // A long silence refills to the burst and no further.
  CHECK(admitted_in_a_row(ac, kStart + 1h, client(1)) == 20);
}

TEST_CASE("per-request costs are charged, and announced") {
  AdmissionConfig c = free_only();
  c.probe_cost = 3;
  c.binding_cost = 2;
  AdmissionControl ac(c);
  CHECK(admitted_in_a_row(ac, kStart, client(1), {}, 3) == 6);  // 18 of 20 taken.
  CHECK(ac.admit(kStart, kWall, client(1), {}, 2).admitted);    // The last 2.
  const Admission a = ac.admit(kStart, kWall, client(1), {}, 1);
  CHECK_FALSE(a.admitted);
  CHECK(a.flow.probe_cost == 3);
  CHECK(a.flow.binding_cost == 2);
}

TEST_CASE("a config without tier 0 gets the default free tier") {
  AdmissionControl ac(AdmissionConfig{});
  CHECK(admitted_in_a_row(ac, kStart, client(1)) == 20);
  CHECK(ac.admit(kStart, kWall, client(1), {}, 1).flow == proto::FlowControl{20, 5000, 1, 1, 0});
  REQUIRE(ac.config().tiers.size() == 1);
  CHECK(ac.config().tiers[0].name == "free");
}

TEST_CASE("a gold capacity token gives the gold burst and refill") {
  AdmissionControl ac(keyed(with_gold()));
  SUBCASE("bound to the client's address") {
    const auto tok = token(1, kWall + 3600, "198.51.0.1");
    const Admission first = ac.admit(kStart, kWall, client(1), tok, 1);
    CHECK(first.admitted);
    CHECK(first.flow == proto::FlowControl{200, 50000, 1, 1, 1});
    CHECK(admitted_in_a_row(ac, kStart, client(1), tok) == 199);
    // 50 tokens/s: one every 20 ms.
    CHECK_FALSE(ac.admit(kStart + 19ms, kWall, client(1), tok, 1).admitted);
    CHECK(ac.admit(kStart + 20ms, kWall, client(1), tok, 1).admitted);
  }
  SUBCASE("for any client") {
    const auto tok = token(1, kWall + 3600, "");
    CHECK(admitted_in_a_row(ac, kStart, client(7), tok) == 200);
  }
  SUBCASE("until it expires") {
    const auto tok = token(1, kWall + 60, "");
    CHECK(ac.admit(kStart, kWall + 59, client(1), tok, 1).flow.tier == 1);
    const Admission expired = ac.admit(kStart, kWall + 60, client(1), tok, 1);
    CHECK(expired.flow.tier == 0);
    // Back on the free tier, the bucket holds at most the free burst.
    CHECK(admitted_in_a_row(ac, kStart, client(1), tok, 1, kWall + 60) == 19);
  }
}

TEST_CASE("expired, forged, mangled or other-client tokens get the free tier") {
  AdmissionControl ac(keyed(with_gold()));
  std::vector<uint8_t> tok;
  SUBCASE("expired") {
    tok = token(1, kWall, "");
  }
  SUBCASE("signed with another key") {
    tok = token(1, kWall + 3600, "", "another key");
  }
  SUBCASE("for another client") {
    tok = token(1, kWall + 3600, "198.51.100.99");
  }
  SUBCASE("one byte changed") {
    tok = token(1, kWall + 3600, "");
    tok[1] = 2;  // The tier.
  }
  SUBCASE("a tier this node does not have") {
    tok = token(7, kWall + 3600, "");
  }
  SUBCASE("garbage") {
    tok.assign(60, 0xAB);
  }
  const Admission a = ac.admit(kStart, kWall, client(1), tok, 1);
  CHECK(a.admitted);
  CHECK(a.flow == proto::FlowControl{20, 5000, 1, 1, 0});
  CHECK(admitted_in_a_row(ac, kStart, client(1), tok) == 19);
}

// Found in review of the attack run's fixes: a client with an empty bucket that showed a new
// token each time cost an HMAC per datagram, though every one was refused anyway.
TEST_CASE("a client that cannot pay gets no token verified") {
  AdmissionControl ac(keyed(with_gold()));
  CHECK(admitted_in_a_row(ac, kStart, client(1)) == 20);
  // Its first token is checked (it may just have been given one); the next are not.
  for (uint32_t i = 0; i < 1000; ++i) {
    std::vector<uint8_t> forged(60, static_cast<uint8_t>(i));
    forged[0] = static_cast<uint8_t>(i >> 8);
    CHECK_FALSE(ac.admit(kStart, kWall, client(1), forged, 1).admitted);
  }
  CHECK(ac.token_checks() == 1);
  // Once it can pay again, a real token is checked and raises its tier at once.
  const auto gold = token(1, kWall + 3600, "");
  const Admission a = ac.admit(kStart + 200ms, kWall, client(1), gold, 1);
  CHECK(a.admitted);
  CHECK(a.flow.tier == 1);
  CHECK(ac.token_checks() == 2);
  // A repeated token is remembered: no second check.
  CHECK(ac.admit(kStart + 400ms, kWall, client(1), gold, 1).admitted);
  CHECK(ac.token_checks() == 2);
}

TEST_CASE("without a token key every token is ignored") {
  AdmissionControl ac(with_gold());
  const auto tok = token(1, kWall + 3600, "");
  CHECK(admitted_in_a_row(ac, kStart, client(1), tok) == 20);
}

TEST_CASE("during a rotation tokens of the old and the new token key are honoured") {
  AdmissionConfig c = keyed(with_gold());
  c.accept_token_key = "the next token key";
  AdmissionControl ac(c);
  CHECK(ac.admit(kStart, kWall, client(1), token(1, kWall + 3600, ""), 1).flow.tier == 1);
  CHECK(ac.admit(kStart, kWall, client(2), token(1, kWall + 3600, "", "the next token key"), 1)
            .flow.tier == 1);
  CHECK(
      ac.admit(kStart, kWall, client(3), token(1, kWall + 3600, "", "a third key"), 1).flow.tier ==
      0);
  // Once the rotation is over, the old key's tokens are forged.
  c.token_key = "the next token key";
  c.accept_token_key.clear();
  ac.reconfigure(c, kStart);
  CHECK(ac.admit(kStart, kWall, client(1), token(1, kWall + 3600, ""), 1).flow.tier == 0);
  CHECK(ac.admit(kStart, kWall, client(2), token(1, kWall + 3600, "", "the next token key"), 1)
            .flow.tier == 1);
}

TEST_CASE("a client's tier follows the token it shows") {
  AdmissionControl ac(keyed(with_gold()));
  const auto tok = token(1, kWall + 3600, "");
  CHECK(admitted_in_a_row(ac, kStart, client(1)) == 20);
  // Upgrading keeps the (empty) bucket: a token grants a rate, not free tokens at once.
  CHECK_FALSE(ac.admit(kStart, kWall, client(1), tok, 1).admitted);
  CHECK(admitted_in_a_row(ac, kStart + 1s, client(1), tok) == 50);
  // Without the token the client is free again, at most the free burst.
  CHECK(admitted_in_a_row(ac, kStart + 10s, client(1)) == 20);
  // And a forged token after a good one does not keep the good one's tier.
  auto forged = tok;
  forged.back() ^= 1;
  CHECK(ac.admit(kStart + 1h, kWall, client(1), forged, 1).flow.tier == 0);
  CHECK(ac.admit(kStart + 1h, kWall, client(1), tok, 1).flow.tier == 1);
}

TEST_CASE("an IPv4 client counts once on IPv4 and dual-stack sockets") {
  AdmissionControl ac(free_only());
  std::array<uint8_t, 16> mapped{};
  mapped[10] = mapped[11] = 0xff;
  mapped[12] = 198;
  mapped[13] = 51;
  mapped[14] = 0;
  mapped[15] = 1;
  CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(mapped, 40000)) == 20);
  CHECK_FALSE(ac.admit(kStart, kWall, client(1), {}, 1).admitted);
  CHECK(ac.tracked_clients() == 1);
}

TEST_CASE("when disabled, everything is admitted and no limit announced") {
  AdmissionConfig c = free_only();
  c.enabled = false;
  AdmissionControl ac(c);
  CHECK(admitted_in_a_row(ac, kStart, client(1)) == 10000);
  // All zeros: "no limit", so clients keep no mirror and do not throttle themselves.
  CHECK(ac.admit(kStart, kWall, client(1), {}, 1).flow == proto::FlowControl{});
  CHECK(ac.tracked_clients() == 0);
}

TEST_CASE("a flood of 10x distinct sources keeps the table at its bound, without fresh credit") {
  AdmissionConfig c = free_only();
  c.max_clients = 1000;
  AdmissionControl ac(c, 42);
  int admitted = 0;
  for (uint32_t i = 0; i < 10000; ++i) {
    admitted += ac.admit(kStart, kWall, client(i), {}, 1).admitted ? 1 : 0;
    REQUIRE(ac.tracked_clients() == std::min<size_t>(i + 1, 1000));
  }
  // The first 1000 have a bucket each; the other 9000 share the overflow bucket (8 free
  // clients' worth: 160 tokens), as nobody's bucket has refilled yet.
  CHECK(admitted == 1000 + 160);
  CHECK(ac.evictions() == 0);
  CHECK(ac.overflow_charges() == 9000);
  CHECK(admitted_in_a_row(ac, kStart, client(1)) == 19);
  CHECK(admitted_in_a_row(ac, kStart, client(999)) == 19);
}

TEST_CASE("a client takes the longest-idle entry's place only once that bucket is full again") {
  AdmissionConfig c = free_only();
  c.max_clients = 3;
  AdmissionControl ac(c);
  for (uint32_t i = 1; i <= 3; ++i)
    CHECK(admitted_in_a_row(ac, kStart, client(i)) == 20);
  CHECK_FALSE(ac.admit(kStart, kWall, client(1), {}, 1).admitted);  // 1 is now the newest.
  // Everyone is still paying back: client 4 is charged to the overflow bucket.
  CHECK(ac.admit(kStart, kWall, client(4), {}, 1).admitted);
  CHECK(ac.evictions() == 0);
  CHECK(ac.overflow_charges() == 1);
  // 4 s later every bucket has refilled (20 tokens at 5/s): client 2, idle the longest,
  // gives way, and client 4 gets a bucket of its own.
  const TimePoint later = kStart + 4s;
  CHECK(admitted_in_a_row(ac, later, client(4)) == 20);
  CHECK(ac.evictions() == 1);
  CHECK(ac.tracked_clients() == 3);
  CHECK(admitted_in_a_row(ac, later, client(1)) == 20);  // Kept.
}

TEST_CASE("one IP address rotating its source port is one client") {
  AdmissionControl ac(free_only());
  int admitted = 0;
  for (int round = 0; round < 25; ++round) {
    for (uint16_t port = 1; port <= 200; ++port)
      admitted += ac.admit(kStart, kWall, client(7, port), {}, 1).admitted ? 1 : 0;
  }
  CHECK(admitted == 20);
  CHECK(ac.tracked_clients() == 1);
}

TEST_CASE("a full table of clients rotating addresses earns them no fresh buckets") {
  AdmissionConfig c = free_only();
  c.max_clients = 64;
  AdmissionControl ac(c);
  // 100 sources, 60 requests each, spread over one second.
  int admitted = 0;
  for (int round = 0; round < 60; ++round) {
    const TimePoint now = kStart + round * (1000ms / 60);
    for (uint32_t i = 0; i < 100; ++i)
      admitted += ac.admit(now, kWall, client(i), {}, 1).admitted ? 1 : 0;
  }
  // At most 64 buckets of 20 + 5/s, and the overflow bucket's 160 + 40/s.
  MESSAGE("admitted ", admitted, " of 6000");
  CHECK(admitted <= 64 * 25 + 200);
  CHECK(ac.tracked_clients() == 64);
}

TEST_CASE("IPv6 clients are charged per /64 unless configured otherwise") {
  std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  std::array<uint8_t, 16> b = a;
  b[15] = 0x99;  // Same /64.
  std::array<uint8_t, 16> other = a;
  other[7] = 2;  // Another /64.
  SUBCASE("default /64") {
    AdmissionControl ac(free_only());
    CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(a, 1000)) == 20);
    CHECK_FALSE(ac.admit(kStart, kWall, Endpoint::v6(b, 2000), {}, 1).admitted);
    CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(other, 1000)) == 20);
  }
  SUBCASE("/128: every address on its own") {
    AdmissionConfig c = free_only();
    c.ipv6_prefix = 128;
    AdmissionControl ac(c);
    CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(a, 1000)) == 20);
    CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(b, 1000)) == 20);
  }
  SUBCASE("/60: a prefix that ends inside a byte") {
    AdmissionConfig c = free_only();
    c.ipv6_prefix = 60;
    AdmissionControl ac(c);
    std::array<uint8_t, 16> same = a;  // Differs in bits 60-63 and below: same /60.
    same[7] = 0x0e;
    same[8] = 0xff;
    std::array<uint8_t, 16> next = a;  // Differs in bit 59: the next /60.
    next[7] = 0x11;
    CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(a, 1000)) == 20);
    CHECK_FALSE(ac.admit(kStart, kWall, Endpoint::v6(same, 1000), {}, 1).admitted);
    CHECK(admitted_in_a_row(ac, kStart, Endpoint::v6(next, 1000)) == 20);
  }
}

TEST_CASE("a capacity token names the client's own IPv6 address, not its /64") {
  AdmissionControl ac(keyed(with_gold()));
  std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  a[15] = 5;
  const auto tok = token(1, kWall + 3600, "2001:db8:0:1::5");
  CHECK(ac.admit(kStart, kWall, Endpoint::v6(a, 1000), tok, 1).flow.tier == 1);
}

TEST_CASE("reconfigure keeps buckets, applies new tiers and bounds") {
  AdmissionConfig c = keyed(with_gold());
  AdmissionControl ac(c);
  const auto tok = token(1, kWall + 3600, "");
  for (uint32_t i = 1; i <= 5; ++i)
    CHECK(admitted_in_a_row(ac, kStart, client(i)) == 20);
  CHECK(admitted_in_a_row(ac, kStart, client(6), tok) == 200);

  SUBCASE("same config: nothing changes") {
    ac.reconfigure(c, kStart);
    CHECK(ac.tracked_clients() == 6);
    CHECK_FALSE(ac.admit(kStart, kWall, client(1), {}, 1).admitted);
    CHECK_FALSE(ac.admit(kStart, kWall, client(6), tok, 1).admitted);
    CHECK(admitted_in_a_row(ac, kStart + 100ms, client(6), tok) == 5);
  }
  SUBCASE("a faster free tier refills faster from now on") {
    c.tiers[0].refill_per_second = 100;
    ac.reconfigure(c, kStart);
    CHECK(admitted_in_a_row(ac, kStart + 100ms, client(1)) == 10);
    CHECK(ac.admit(kStart, kWall, client(2), {}, 1).flow.refill_millitokens_per_s == 100000);
  }
  SUBCASE("a smaller bound keeps the most recently used") {
    c.max_clients = 2;
    ac.reconfigure(c, kStart);
    CHECK(ac.tracked_clients() == 2);
    CHECK(ac.evictions() == 4);
    CHECK_FALSE(ac.admit(kStart, kWall, client(5), {}, 1).admitted);
    CHECK_FALSE(ac.admit(kStart, kWall, client(6), tok, 1).admitted);
  }
  SUBCASE("a new key forgets verdicts: the old token is now forged") {
    c.token_key = "new key";
    ac.reconfigure(c, kStart);
    CHECK(ac.admit(kStart + 1h, kWall, client(6), tok, 1).flow.tier == 0);
  }
  SUBCASE("a removed tier falls back to free") {
    c.tiers.pop_back();
    ac.reconfigure(c, kStart);
    CHECK(ac.admit(kStart + 1h, kWall, client(6), tok, 1).flow.tier == 0);
  }
}

}  // namespace turnscout::server
