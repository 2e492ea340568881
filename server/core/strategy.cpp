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

// Orders `order`, which holds the children to choose from, and cuts it to `count`.
void order_pool(Strategy strategy, std::span<const SnapshotChild> children, const Endpoint& client,
                size_t count, StrategyState& state, std::vector<uint32_t>& order) {
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

bool listed_already(const std::vector<uint32_t>& order, uint32_t i) {
  return std::find(order.begin(), order.end(), i) != order.end();
}

// Uniform among the pool's children not in `order` yet, by rejection. The caller keeps the
// pool over four times larger than `order`, so a draw succeeds with probability over 3/4.
uint32_t draw_unlisted(std::span<const uint32_t> pool, const std::vector<uint32_t>& order,
                       StrategyState& state) {
  for (;;) {
    const uint32_t i = pool[state.random_below(pool.size())];
    if (!listed_already(order, i)) return i;
  }
}

uint64_t weight_of(const SnapshotChild& child) {
  return std::max<uint64_t>(child.weight, 1);
}

// A child not in `order` yet, with probability weight / weight not yet listed: drawn by
// weight among every listable child until one not listed comes up. When the listed ones
// hold most of the weight and 16 draws all hit them, one exact draw over the rest.
uint32_t draw_weighted(std::span<const SnapshotChild> children, const ListingIndex& index,
                       const std::vector<uint32_t>& order, StrategyState& state) {
  const std::vector<uint64_t>& sums = index.weight_sums;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const uint64_t r = state.random_below(sums.back());
    const auto at = std::upper_bound(sums.begin(), sums.end(), r) - sums.begin();
    const uint32_t i = index.listable[static_cast<size_t>(at)];
    if (!listed_already(order, i)) return i;
  }
  uint64_t remaining = sums.back();
  for (const uint32_t i : order)
    remaining -= weight_of(children[i]);
  uint64_t r = state.random_below(remaining);
  uint32_t last = 0;
  for (const uint32_t i : index.listable) {
    if (listed_already(order, i)) continue;
    last = i;
    if (r < weight_of(children[i])) return i;
    r -= weight_of(children[i]);
  }
  return last;  // Not reached: the weights not listed sum to `remaining`.
}

bool index_fits(const ListingIndex& index, Strategy strategy, size_t children,
                uint16_t overload_permille) {
  if (index.children != children || index.overload_permille != overload_permille) return false;
  if (strategy == Strategy::kLeastLoad) return index.by_load.size() == index.listable.size();
  if (strategy == Strategy::kWeighted) return index.weight_sums.size() == index.listable.size();
  return true;
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
  order_pool(strategy, children, client, count, state, order);
}

void order_children(Strategy strategy, std::span<const SnapshotChild> children,
                    const ListingIndex& index, uint16_t overload_permille, const Endpoint& client,
                    size_t max_count, StrategyState& state, std::vector<uint32_t>& order) {
  if (!index_fits(index, strategy, children.size(), overload_permille)) {
    return order_children(strategy, children, overload_permille, client, max_count, state, order);
  }
  const std::vector<uint32_t>& pool = index.listable;
  const size_t count = max_count == 0 ? pool.size() : std::min(max_count, pool.size());
  order.clear();
  switch (strategy) {
    case Strategy::kAll:
      order.assign(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(count));
      return;
    case Strategy::kRoundRobin:
      if (pool.empty()) return;
      for (size_t pos = 0; pos < count; ++pos)
        order.push_back(pool[(state.round_robin_cursor + pos) % pool.size()]);
      ++state.round_robin_cursor;
      return;
    case Strategy::kLeastLoad:
      order.assign(index.by_load.begin(),
                   index.by_load.begin() + static_cast<std::ptrdiff_t>(count));
      return;
    case Strategy::kIpHash:
      break;
    case Strategy::kRandom:
    case Strategy::kWeighted:
    case Strategy::kTwoChoice:
      if (pool.size() <= 4 * count) break;
      while (order.size() < count) {
        if (strategy == Strategy::kRandom) {
          order.push_back(draw_unlisted(pool, order, state));
        } else if (strategy == Strategy::kWeighted) {
          order.push_back(draw_weighted(children, index, order, state));
        } else {
          // Two distinct children not listed yet; on a tie the first drawn wins.
          const uint32_t a = draw_unlisted(pool, order, state);
          uint32_t b = a;
          while (b == a)
            b = draw_unlisted(pool, order, state);
          order.push_back(children[b].load_permille < children[a].load_permille ? b : a);
        }
      }
      return;
  }
  // A pool too small for rejection to pay, or ip-hash: the whole pool, as above.
  order.assign(pool.begin(), pool.end());
  order_pool(strategy, children, client, count, state, order);
}

ListingIndex index_listing(std::span<const SnapshotChild> children, Strategy strategy,
                           uint16_t overload_permille) {
  ListingIndex index;
  index.children = children.size();
  index.overload_permille = overload_permille;
  for (uint32_t i = 0; i < children.size(); ++i) {
    if (listable(children[i], overload_permille)) index.listable.push_back(i);
  }
  if (strategy == Strategy::kLeastLoad) {
    std::vector<uint64_t> keys;
    keys.reserve(index.listable.size());
    for (const uint32_t i : index.listable)
      keys.push_back((uint64_t{children[i].load_permille} << 32) | i);
    std::sort(keys.begin(), keys.end());
    for (const uint64_t key : keys)
      index.by_load.push_back(static_cast<uint32_t>(key));
  }
  if (strategy == Strategy::kWeighted) {
    uint64_t sum = 0;
    for (const uint32_t i : index.listable)
      index.weight_sums.push_back(sum += weight_of(children[i]));
  }
  return index;
}

}  // namespace turnscout::server
