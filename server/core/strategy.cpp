#include "server/core/strategy.hpp"

#include <algorithm>
#include <functional>

#include "base/endpoint.hpp"
#include "base/hash.hpp"

namespace turnscout::server {
namespace {

// The first `count` positions of `order` hold the `count` best by `before`, sorted.
template <typename T, typename Before = std::less<T>>
void sort_prefix(std::vector<T>& order, size_t count, Before before = {}) {
  if (count < order.size()) {
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count),
                      order.end(), before);
  } else {
    std::sort(order.begin(), order.end(), before);
  }
}

void rotate(std::vector<uint32_t>& order, StrategyState& state) {
  if (order.empty()) return;
  const auto start = static_cast<std::ptrdiff_t>(state.round_robin_cursor % order.size());
  std::rotate(order.begin(), order.begin() + start, order.end());
  ++state.round_robin_cursor;
}

// The weights sit in `keys`, position by position with `order`, so the O(n * count) scan
// reads one contiguous array.
void weighted(std::span<const SnapshotChild> children, size_t count, StrategyState& state,
              std::vector<uint32_t>& order) {
  std::vector<uint64_t>& weights = state.keys;
  weights.clear();
  uint64_t remaining = 0;
  for (const uint32_t i : order) {
    weights.push_back(std::max<uint64_t>(children[i].weight, 1));
    remaining += weights.back();
  }
  for (size_t pos = 0; pos < count; ++pos) {
    uint64_t r = state.random_below(remaining);
    size_t pick = pos;
    while (r >= weights[pick])
      r -= weights[pick++];
    remaining -= weights[pick];
    std::swap(order[pos], order[pick]);
    std::swap(weights[pos], weights[pick]);
  }
}

// Sorts (load, index) packed in one integer: no indirection while sorting.
void least_load(std::span<const SnapshotChild> children, size_t count, StrategyState& state,
                std::vector<uint32_t>& order) {
  std::vector<uint64_t>& keys = state.keys;
  keys.clear();
  for (const uint32_t i : order)
    keys.push_back((uint64_t{children[i].load_permille} << 32) | i);
  sort_prefix(keys, count);
  for (size_t pos = 0; pos < count; ++pos)
    order[pos] = static_cast<uint32_t>(keys[pos]);
}

void shuffle(size_t count, StrategyState& state, std::vector<uint32_t>& order) {
  for (size_t pos = 0; pos < count; ++pos) {
    const size_t pick = pos + state.random_below(order.size() - pos);
    std::swap(order[pos], order[pick]);
  }
}

void two_choice(std::span<const SnapshotChild> children, size_t count, StrategyState& state,
                std::vector<uint32_t>& order) {
  for (size_t pos = 0; pos + 1 < order.size() && pos < count; ++pos) {
    const size_t pool = order.size() - pos;
    const size_t a = pos + state.random_below(pool);
    size_t b = pos + state.random_below(pool - 1);
    if (b >= a) ++b;
    // On a tie the first drawn wins, which keeps the choice uniform among equals.
    const bool b_better = children[order[b]].load_permille < children[order[a]].load_permille;
    std::swap(order[pos], order[b_better ? b : a]);
  }
}

void ip_hash(std::span<const SnapshotChild> children, const Endpoint& client, size_t count,
             StrategyState& state, std::vector<uint32_t>& order) {
  const uint64_t h = client_ip_hash(client);
  state.keys.resize(children.size());
  for (const uint32_t i : order)
    state.keys[i] = rendezvous_score(h, children[i].id_hash);
  const auto& keys = state.keys;
  sort_prefix(order, count, [&keys](uint32_t a, uint32_t b) {
    return keys[a] != keys[b] ? keys[a] > keys[b] : a < b;
  });
}

}  // namespace

uint64_t StrategyState::next_random() {
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Lemire's multiply-shift: the high half of random * bound, redrawing the few values that
// would make some results more likely than others. Divides only when a redraw is possible,
// which keeps per-probe strategies cheap.
uint64_t StrategyState::random_below(uint64_t bound) {
  if (bound == 0) return 0;
  __extension__ using U128 = unsigned __int128;
  U128 m = static_cast<U128>(next_random()) * bound;
  if (static_cast<uint64_t>(m) < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (static_cast<uint64_t>(m) < threshold)
      m = static_cast<U128>(next_random()) * bound;
  }
  return static_cast<uint64_t>(m >> 64);
}

bool listable(const SnapshotChild& child, uint16_t overload_permille) {
  if (!child.v4 && !child.v6) return false;
  return overload_permille == 0 || child.load_permille < overload_permille;
}

uint64_t client_ip_hash(const Endpoint& client) {
  const Endpoint plain = unmap_v4(client);
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the family and the address bytes.
  auto mix = [&h](uint8_t byte) {
    h ^= byte;
    h *= 1099511628211ull;
  };
  mix(static_cast<uint8_t>(plain.family));
  for (size_t i = 0; i < plain.ip_size(); ++i)
    mix(plain.ip[i]);
  return fmix64(h);
}

uint64_t rendezvous_score(uint64_t client_ip_hash, uint64_t child_id_hash) {
  return fmix64(client_ip_hash ^ fmix64(child_id_hash + 0x9e3779b97f4a7c15ull));
}

void order_children(Strategy strategy, std::span<const SnapshotChild> children,
                    uint16_t overload_permille, const Endpoint& client, size_t max_count,
                    StrategyState& state, std::vector<uint32_t>& order) {
  order.clear();
  order.reserve(children.size());
  for (uint32_t i = 0; i < children.size(); ++i) {
    if (listable(children[i], overload_permille)) order.push_back(i);
  }
  const size_t count = max_count == 0 ? order.size() : std::min(max_count, order.size());
  switch (strategy) {
    case Strategy::kAll:
      break;
    case Strategy::kRoundRobin:
      rotate(order, state);
      break;
    case Strategy::kWeighted:
      weighted(children, count, state, order);
      break;
    case Strategy::kLeastLoad:
      least_load(children, count, state, order);
      break;
    case Strategy::kRandom:
      shuffle(count, state, order);
      break;
    case Strategy::kTwoChoice:
      two_choice(children, count, state, order);
      break;
    case Strategy::kIpHash:
      ip_hash(children, client, count, state, order);
      break;
  }
  order.resize(count);
}

}  // namespace turnscout::server
