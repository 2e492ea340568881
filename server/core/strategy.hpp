// Listing strategies: which of a snapshot's children a Probe reply lists, and in what order.
// Pure functions over the children, the client and a small per-responder state; the result
// is a list of indices written into a scratch vector that is reused between replies, so a
// warm responder allocates nothing here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/address.hpp"
#include "server/core/config.hpp"
#include "server/core/snapshot.hpp"

namespace turnscout::server {

// Per-responder state of the strategies. Not thread-safe: one per worker.
class StrategyState {
 public:
  explicit StrategyState(uint64_t seed) : rng_(seed) {}

  // splitmix64: fast, seedable, and good enough to spread clients; never used for secrets.
  uint64_t next_random();
  // Uniform in [0, bound); bound 0 gives 0.
  uint64_t random_below(uint64_t bound);

  uint64_t round_robin_cursor = 0;  // Advances by one per round-robin reply.
  std::vector<uint64_t> keys;       // Scratch: sort keys or weights, one per child.

 private:
  uint64_t rng_;
};

// A child may be listed when it has an address and its load is under the overload limit
// (0 = no limit). The snapshot should hold only such children; this is checked again here
// so a stale or hand-built snapshot can never list an overloaded child.
bool listable(const SnapshotChild& child, uint16_t overload_permille);

// Fills `order` (cleared first) with indices into `children` of the children to list, best
// first, at most `max_count` of them (0 = no limit). Orders by `strategy`:
//   kAll         snapshot order;
//   kRoundRobin  snapshot order rotated by one more position on every call;
//   kWeighted    weighted random order without replacement: each position is drawn among
//                the children not yet listed with probability weight / remaining weight, so
//                a child comes first with probability weight / total (weight 0 counts as 1);
//   kLeastLoad   by load, lowest first (ties in snapshot order);
//   kRandom      uniform random order;
//   kTwoChoice   power of two random choices: draw two of the children not yet listed,
//                list the less loaded (the other stays in the pool), repeat;
//   kIpHash      rendezvous (highest random weight) hashing of the client's IP address
//                (not its port) with each child's id_hash: a client always gets the same
//                order, and removing a child moves only the clients that had it first.
// Allocation-free once `order` and `state.keys` have grown to the number of children.
void order_children(Strategy strategy, std::span<const SnapshotChild> children,
                    uint16_t overload_permille, const Endpoint& client, size_t max_count,
                    StrategyState& state, std::vector<uint32_t>& order);

// The same choices from an index built for these children and this overload limit (else
// the call above is made): O(max_count) per call, not O(children), for every strategy but
// kIpHash, whose rendezvous scores depend on the client (O(children)). kRandom, kTwoChoice
// and kWeighted draw by rejection among the children not yet listed, which keeps each draw's
// distribution exactly as above (not its random sequence).
void order_children(Strategy strategy, std::span<const SnapshotChild> children,
                    const ListingIndex& index, uint16_t overload_permille, const Endpoint& client,
                    size_t max_count, StrategyState& state, std::vector<uint32_t>& order);

// Builds the index order_children() needs for `strategy` over `children`.
ListingIndex index_listing(std::span<const SnapshotChild> children, Strategy strategy,
                           uint16_t overload_permille);

// The rendezvous score behind kIpHash; exposed for tests and tools.
uint64_t client_ip_hash(const Endpoint& client);
uint64_t rendezvous_score(uint64_t client_ip_hash, uint64_t child_id_hash);

}  // namespace turnscout::server
