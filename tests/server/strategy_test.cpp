#include "server/core/strategy.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace turnscout::server {
namespace {

constexpr std::array kAllStrategies = {
    Strategy::kAll,    Strategy::kRoundRobin, Strategy::kWeighted, Strategy::kLeastLoad,
    Strategy::kRandom, Strategy::kTwoChoice,  Strategy::kIpHash};

SnapshotChild child(int n, uint16_t load, uint16_t weight = 1) {
  SnapshotChild c;
  c.name = "child-" + std::to_string(n);
  c.v4 = Endpoint::v4(10, 0, 0, static_cast<uint8_t>(n), 3479);
  c.load_permille = load;
  c.weight = weight;
  c.id_hash = child_id_hash(c.name);
  return c;
}

std::vector<SnapshotChild> children_with_loads(std::initializer_list<uint16_t> loads) {
  std::vector<SnapshotChild> out;
  for (const uint16_t load : loads)
    out.push_back(child(static_cast<int>(out.size()), load));
  return out;
}

Endpoint client(uint32_t n, uint16_t port = 50000) {
  return Endpoint::v4(203, 0, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n), port);
}

// Lists as a responder does: with the snapshot's index when `indexed`, else the slow way.
struct Lister {
  explicit Lister(uint64_t seed = 1, bool with_index = false) : state(seed), indexed(with_index) {}
  std::vector<uint32_t> operator()(Strategy s, const std::vector<SnapshotChild>& children,
                                   size_t max_count = 0, const Endpoint& from = client(1),
                                   uint16_t overload = 0) {
    if (indexed) {
      const ListingIndex index = index_listing(children, s, overload);
      order_children(s, children, index, overload, from, max_count, state, order);
    } else {
      order_children(s, children, overload, from, max_count, state, order);
    }
    return order;
  }
  StrategyState state;
  bool indexed;
  std::vector<uint32_t> order;
};

constexpr std::array kBothWays = {false, true};

bool is_permutation_of_all(std::vector<uint32_t> order, size_t n) {
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] != i) return false;
  }
  return order.size() == n;
}

using Order = std::vector<uint32_t>;

}  // namespace

TEST_CASE("all: snapshot order, cut at the maximum") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    Lister list(1, indexed);
    const auto kids = children_with_loads({500, 100, 300, 200});
    CHECK(list(Strategy::kAll, kids) == Order{0, 1, 2, 3});
    CHECK(list(Strategy::kAll, kids, 2) == Order{0, 1});
    CHECK(list(Strategy::kAll, kids, 9) == Order{0, 1, 2, 3});
    CHECK(list(Strategy::kAll, {}).empty());
  }
}

TEST_CASE("round-robin rotates by one per reply") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    Lister list(1, indexed);
    const auto kids = children_with_loads({0, 0, 0, 0});
    CHECK(list(Strategy::kRoundRobin, kids) == Order{0, 1, 2, 3});
    CHECK(list(Strategy::kRoundRobin, kids) == Order{1, 2, 3, 0});
    CHECK(list(Strategy::kRoundRobin, kids, 2) == Order{2, 3});
    CHECK(list(Strategy::kRoundRobin, kids, 2) == Order{3, 0});
    CHECK(list(Strategy::kRoundRobin, kids, 2) == Order{0, 1});
    // Over many replies every child leads equally often.
    std::array<int, 4> first{};
    for (int i = 0; i < 400; ++i)
      ++first[list(Strategy::kRoundRobin, kids, 1)[0]];
    CHECK(first == std::array<int, 4>{100, 100, 100, 100});
  }
}

TEST_CASE("least-load: sorted by load, ties in snapshot order") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    Lister list(1, indexed);
    const auto kids = children_with_loads({500, 100, 300, 100, 0});
    CHECK(list(Strategy::kLeastLoad, kids) == Order{4, 1, 3, 2, 0});
    CHECK(list(Strategy::kLeastLoad, kids, 3) == Order{4, 1, 3});
    CHECK(list(Strategy::kLeastLoad, kids, 1) == Order{4});
  }
}

TEST_CASE("weighted: each child leads in proportion to its weight") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    Lister list(7, indexed);
    std::vector<SnapshotChild> kids = {child(0, 0, 1), child(1, 0, 2), child(2, 0, 3),
                                       child(3, 0, 4)};
    constexpr int kDraws = 100000;
    std::array<int, 4> first{};
    std::array<int, 4> last{};
    for (int i = 0; i < kDraws; ++i) {
      const auto order = list(Strategy::kWeighted, kids);
      REQUIRE(is_permutation_of_all(order, 4));
      ++first[order[0]];
      ++last[order[3]];
    }
    // Expected 10%, 20%, 30%, 40%; the bounds are more than 5 standard deviations wide.
    for (size_t i = 0; i < 4; ++i) {
      const double share = static_cast<double>(first[i]) / kDraws;
      CHECK(share == doctest::Approx(0.1 * static_cast<double>(i + 1)).epsilon(0.05));
    }
    // Without replacement, the lightest child is the most often last.
    CHECK(last[0] > last[1]);
    CHECK(last[1] > last[2]);
    CHECK(last[2] > last[3]);
    // A weight of 0 counts as 1: that child leads 1 time in 7 (1429 of 10000, sd 35).
    kids[3].weight = 0;
    std::array<int, 4> light{};
    for (int i = 0; i < 10000; ++i)
      ++light[list(Strategy::kWeighted, kids, 1)[0]];
    CHECK(light[3] > 1250);
    CHECK(light[3] < 1610);
  }
}

TEST_CASE("random: a uniform permutation") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    Lister list(3, indexed);
    const auto kids = children_with_loads({0, 0, 0, 0, 0});
    std::array<int, 5> first{};
    for (int i = 0; i < 50000; ++i) {
      const auto order = list(Strategy::kRandom, kids);
      REQUIRE(is_permutation_of_all(order, 5));
      ++first[order[0]];
    }
    for (const int n : first)
      CHECK(n == doctest::Approx(10000).epsilon(0.05));
    CHECK(list(Strategy::kRandom, kids, 2).size() == 2);
  }
}

TEST_CASE("two-choice: the less loaded of two random children goes first") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    Lister list(11, indexed);
    const auto kids = children_with_loads({100, 200, 300, 400});
    constexpr int kDraws = 60000;
    std::array<int, 4> first{};
    for (int i = 0; i < kDraws; ++i) {
      const auto order = list(Strategy::kTwoChoice, kids);
      REQUIRE(is_permutation_of_all(order, 4));
      ++first[order[0]];
    }
    // Child k leads when it is drawn with one of the more loaded: (3-k) of the 6 pairs.
    CHECK(first[0] == doctest::Approx(kDraws / 2).epsilon(0.03));
    CHECK(first[1] == doctest::Approx(kDraws / 3).epsilon(0.03));
    CHECK(first[2] == doctest::Approx(kDraws / 6).epsilon(0.05));
    CHECK(first[3] == 0);  // The most loaded never wins a pair.
    // Unlike least-load, it spreads clients: the best child leads only half the time.
    CHECK(first[1] + first[2] > kDraws / 3);
  }
}

TEST_CASE("ip-hash: the same order for a client whatever its port") {
  Lister list;
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(child(i, 0));
  const auto order = list(Strategy::kIpHash, kids, 0, client(5, 1000));
  CHECK(is_permutation_of_all(order, 8));
  CHECK(list(Strategy::kIpHash, kids, 0, client(5, 1000)) == order);
  CHECK(list(Strategy::kIpHash, kids, 0, client(5, 2000)) == order);
  CHECK(list(Strategy::kIpHash, kids, 3, client(5, 2000)) ==
        Order(order.begin(), order.begin() + 3));
  // The order does not depend on where a child sits in the snapshot.
  std::vector<SnapshotChild> reversed(kids.rbegin(), kids.rend());
  const auto order_reversed = list(Strategy::kIpHash, reversed, 0, client(5, 1000));
  for (size_t i = 0; i < 8; ++i)
    CHECK(reversed[order_reversed[i]].name == kids[order[i]].name);
}

TEST_CASE("ip-hash: removing a child moves only the clients that had it first") {
  Lister list;
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(child(i, 0));
  std::vector<SnapshotChild> without = kids;
  without.erase(without.begin() + 3);
  const std::string removed = kids[3].name;

  constexpr uint32_t kClients = 8000;
  std::map<std::string, int> leads;
  int had_removed_first = 0;
  int moved = 0;
  for (uint32_t c = 0; c < kClients; ++c) {
    const auto before = list(Strategy::kIpHash, kids, 0, client(c));
    const auto after = list(Strategy::kIpHash, without, 0, client(c));
    const std::string first_before = kids[before[0]].name;
    ++leads[first_before];
    if (first_before == removed) ++had_removed_first;
    if (without[after[0]].name != first_before) ++moved;
    // Everyone's order is the old one with the removed child taken out.
    std::vector<std::string> expected;
    for (const uint32_t i : before) {
      if (kids[i].name != removed) expected.push_back(kids[i].name);
    }
    std::vector<std::string> got;
    for (const uint32_t i : after)
      got.push_back(without[i].name);
    REQUIRE(got == expected);
  }
  CHECK(moved == had_removed_first);
  CHECK(had_removed_first > 0);
  // Clients spread evenly: each child leads for about 1/8 of them.
  REQUIRE(leads.size() == 8);
  for (const auto& [name, n] : leads)
    CHECK(n == doctest::Approx(kClients / 8).epsilon(0.15));
}

TEST_CASE("ip-hash: IPv6 clients and v4-mapped clients") {
  Lister list;
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(child(i, 0));
  std::array<uint8_t, 16> mapped{};
  mapped[10] = mapped[11] = 0xff;
  mapped[12] = 203;
  mapped[15] = 9;
  CHECK(list(Strategy::kIpHash, kids, 0, Endpoint::v6(mapped, 7)) ==
        list(Strategy::kIpHash, kids, 0, client(9)));
  CHECK(client_ip_hash(Endpoint::v6(mapped, 7)) == client_ip_hash(client(9, 1)));
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  CHECK(client_ip_hash(Endpoint::v6(v6, 1)) != client_ip_hash(client(0)));
}

TEST_CASE("overloaded children and children without an address are never listed") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    auto kids = children_with_loads({100, 900, 950, 899, 0});
    kids[4].v4.reset();
    for (const Strategy s : kAllStrategies) {
      CAPTURE(static_cast<int>(s));
      Lister list(1, indexed);
      for (int i = 0; i < 200; ++i) {
        auto order = list(s, kids, 0, client(static_cast<uint32_t>(i)), 900);
        std::sort(order.begin(), order.end());
        REQUIRE(order == Order{0, 3});
      }
      // Limit 0 is no limit: only the address-less child is left out.
      auto order = list(s, kids, 0, client(1), 0);
      std::sort(order.begin(), order.end());
      CHECK(order == Order{0, 1, 2, 3});
    }
  }
}

TEST_CASE("every strategy honours the maximum and lists each child at most once") {
  for (const bool indexed : kBothWays) {
    CAPTURE(indexed);
    std::vector<SnapshotChild> kids;
    for (int i = 0; i < 32; ++i)
      kids.push_back(child(i, static_cast<uint16_t>(i * 7 % 50), 2));
    for (const Strategy s : kAllStrategies) {
      CAPTURE(static_cast<int>(s));
      Lister list(1, indexed);
      for (const size_t max :
           {size_t{0}, size_t{1}, size_t{5}, size_t{31}, size_t{32}, size_t{40}}) {
        CAPTURE(max);
        auto order = list(s, kids, max);
        CHECK(order.size() == (max == 0 ? 32 : std::min<size_t>(max, 32)));
        std::sort(order.begin(), order.end());
        CHECK(std::adjacent_find(order.begin(), order.end()) == order.end());
        CHECK(order.back() < 32);
      }
    }
  }
}

TEST_CASE("the same seed gives the same choices") {
  const auto kids = children_with_loads({10, 20, 30, 40, 50, 60});
  for (const Strategy s : kAllStrategies) {
    Lister a(99);
    Lister b(99);
    for (int i = 0; i < 20; ++i)
      CHECK(a(s, kids) == b(s, kids));
  }
}

// A pool over four times the count: the indexed strategies draw by rejection, O(count).
TEST_CASE("indexed: the same order as the slow way where the order is fixed") {
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 500; ++i)
    kids.push_back(child(i, static_cast<uint16_t>(i * 7919 % 1000)));
  kids[17].v4.reset();  // Not listable: never listed either way.
  for (const Strategy s :
       {Strategy::kAll, Strategy::kRoundRobin, Strategy::kLeastLoad, Strategy::kIpHash}) {
    CAPTURE(static_cast<int>(s));
    Lister slow(5, false);
    Lister fast(5, true);
    for (uint32_t i = 0; i < 300; ++i) {
      const size_t max = i % 9;
      const uint16_t overload = i % 3 == 0 ? 0 : 700;
      REQUIRE(fast(s, kids, max, client(i), overload) == slow(s, kids, max, client(i), overload));
    }
  }
}

TEST_CASE("indexed: an index built for other children or another limit is not used") {
  const auto kids = children_with_loads({300, 100, 200, 900});
  const auto fewer = children_with_loads({300, 100, 200});
  StrategyState state(1);
  std::vector<uint32_t> order;
  const ListingIndex stale = index_listing(fewer, Strategy::kLeastLoad, 0);
  order_children(Strategy::kLeastLoad, kids, stale, 0, client(1), 0, state, order);
  CHECK(order == Order{1, 2, 0, 3});
  const ListingIndex other_limit = index_listing(kids, Strategy::kLeastLoad, 0);
  order_children(Strategy::kLeastLoad, kids, other_limit, 800, client(1), 0, state, order);
  CHECK(order == Order{1, 2, 0});
  const ListingIndex other_strategy = index_listing(kids, Strategy::kAll, 0);
  order_children(Strategy::kLeastLoad, kids, other_strategy, 0, client(1), 2, state, order);
  CHECK(order == Order{1, 2});
}

TEST_CASE("indexed random: each position uniform among the children not listed yet") {
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 50; ++i)
    kids.push_back(child(i, 0));
  Lister list(21, true);
  constexpr int kDraws = 100000;
  std::array<int, 50> first{};
  std::array<int, 50> third{};
  for (int i = 0; i < kDraws; ++i) {
    const auto order = list(Strategy::kRandom, kids, 3);
    REQUIRE(order.size() == 3);
    REQUIRE(order[0] != order[1]);
    REQUIRE(order[0] != order[2]);
    REQUIRE(order[1] != order[2]);
    ++first[order[0]];
    ++third[order[2]];
  }
  // 2000 expected each, sd 44: 15 % is over 6 sd.
  for (size_t i = 0; i < 50; ++i) {
    CHECK(first[i] == doctest::Approx(kDraws / 50).epsilon(0.15));
    CHECK(third[i] == doctest::Approx(kDraws / 50).epsilon(0.15));
  }
}

TEST_CASE("indexed weighted: without replacement, in proportion to the weight left") {
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 40; ++i)
    kids.push_back(child(i, 0, 1));
  kids[0].weight = 100;  // Total 139: child 0 leads 100 times in 139.
  Lister list(8, true);
  constexpr int kDraws = 50000;
  int lead = 0;
  int absent = 0;
  for (int i = 0; i < kDraws; ++i) {
    auto order = list(Strategy::kWeighted, kids, 4);
    REQUIRE(order.size() == 4);
    lead += order[0] == 0;
    absent += std::find(order.begin(), order.end(), 0u) == order.end();
    std::sort(order.begin(), order.end());
    REQUIRE(std::adjacent_find(order.begin(), order.end()) == order.end());
  }
  CHECK(static_cast<double>(lead) / kDraws == doctest::Approx(100.0 / 139).epsilon(0.02));
  // Left out of four draws: 39/139 * 38/138 * 37/137 * 36/136 = 0.55 % (276 of 50000).
  CHECK(absent > 180);
  CHECK(absent < 380);

  // A weight that wins nearly every draw: once it is listed, rejection gives up and the
  // next child comes from one exact draw among the rest, uniform here.
  kids[0].weight = 65535;
  std::array<int, 40> second{};
  for (int i = 0; i < 39000; ++i) {
    const auto order = list(Strategy::kWeighted, kids, 2);
    REQUIRE(order.size() == 2);
    if (order[0] == 0) ++second[order[1]];
  }
  CHECK(second[0] == 0);
  for (size_t i = 1; i < 40; ++i)
    CHECK(second[i] == doctest::Approx(1000).epsilon(0.25));  // sd 31: 8 sd.
}

TEST_CASE("indexed two-choice: the less loaded of two distinct random children") {
  std::vector<SnapshotChild> kids;
  for (int i = 0; i < 40; ++i)
    kids.push_back(child(i, static_cast<uint16_t>(10 * i)));
  Lister list(13, true);
  constexpr int kDraws = 156000;
  std::array<int, 40> first{};
  for (int i = 0; i < kDraws; ++i) {
    const auto order = list(Strategy::kTwoChoice, kids, 2);
    REQUIRE(order.size() == 2);
    REQUIRE(order[0] != order[1]);
    ++first[order[0]];
  }
  // Child k leads when drawn with a more loaded one: 2 (39 - k) of the 40 x 39 ordered pairs.
  CHECK(first[0] == doctest::Approx(7800).epsilon(0.06));
  CHECK(first[20] == doctest::Approx(3800).epsilon(0.08));
  CHECK(first[38] == doctest::Approx(200).epsilon(0.35));
  CHECK(first[39] == 0);
}

}  // namespace turnscout::server
