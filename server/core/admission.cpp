#include "server/core/admission.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "base/bytes.hpp"
#include "base/endpoint.hpp"
#include "base/hash.hpp"
#include "base/token_bucket.hpp"
#include "proto/capacity_token.hpp"

namespace turnscout::server {
namespace {

constexpr uint32_t kNil = ~uint32_t{0};
constexpr size_t kMinChains = 64;
// The clients that do not fit a full table share one bucket worth this many free clients:
// new clients still get answers during a flood of fresh sources, and the flood gets no
// more than this in total.
constexpr double kOverflowShare = 8;

uint32_t saturate_u32(double v) {
  if (!(v > 0)) return 0;
  if (v >= 4294967295.0) return ~uint32_t{0};
  return static_cast<uint32_t>(std::llround(v));
}

// The verdict on the last capacity token a client showed, so that a client repeating its
// token is not verified (an HMAC) on every request. Tokens are compared by a hash keyed
// with the table's seed: a sender cannot make a different token look like a known one.
struct TokenMemo {
  enum class Verdict : uint8_t { kNone, kValid, kInvalid };
  uint64_t token_hash = 0;
  uint64_t expiry_unix_s = 0;
  uint8_t tier_id = 0;
  Verdict verdict = Verdict::kNone;
};

struct Entry {
  Endpoint client;
  uint32_t chain_next = kNil;  // Next entry in the same hash chain.
  uint32_t newer = kNil;       // Neighbours in the recency list.
  uint32_t older = kNil;
  uint8_t tier = 0;  // Index into Impl::tiers.
  TokenMemo memo;
  TokenBucket bucket;
};

struct Tier {
  uint8_t id = 0;
  double burst = 0;
  double refill_per_second = 0;
  proto::FlowControl flow;
};

}  // namespace

// Entries live in one vector that grows to the bound and is then recycled: a hash index of
// chains finds a client, a doubly linked recency list finds the longest-idle one to evict.
struct AdmissionControl::Impl {
  AdmissionConfig config;  // Its token_key and accept_token_key verify capacity tokens.
  uint64_t seed = 0;
  std::vector<Tier> tiers;  // tiers[0] is the free tier.
  std::vector<Entry> entries;
  std::vector<uint32_t> chains;  // Power-of-two many chain heads.
  uint32_t newest = kNil;
  uint32_t oldest = kNil;
  uint64_t evictions = 0;
  // Charged for every client that does not fit the full table (see admit()).
  TokenBucket overflow{0, 0, TimePoint{}};
  uint64_t overflow_charges = 0;
  mutable uint64_t token_checks = 0;  // Tokens verified (an HMAC, or two in a rotation).

  void set_config(const AdmissionConfig& c);
  void add_tier(const TierConfig& t);
  size_t bound() const { return std::max<size_t>(config.max_clients, 1); }
  uint8_t tier_index(uint8_t id) const;

  uint64_t hash(const Endpoint& e) const;
  uint64_t token_hash(std::span<const uint8_t> token) const;
  uint32_t& chain_head(const Endpoint& e) { return chains[hash(e) & (chains.size() - 1)]; }
  uint32_t find(const Endpoint& e);
  void link(uint32_t i);
  void unlink(uint32_t i);
  void make_newest(uint32_t i);  // `i` is in the recency list.
  void push_newest(uint32_t i);  // `i` is not.
  void forget_recency(uint32_t i);
  void grow_index(size_t entries_needed);
  uint32_t insert(const Endpoint& client, uint8_t tier, const TokenMemo& memo, TimePoint now);
  // Room for a new entry: below the bound, or the longest-idle entry's bucket is full again
  // (then dropping it changes nobody's admission).
  bool has_room(TimePoint now);
  Endpoint key_of(const Endpoint& client) const;

  uint8_t resolve_tier(TokenMemo& memo, std::span<const uint8_t> token, uint64_t wall_unix_s,
                       const Endpoint& client) const;
  void verify(TokenMemo& memo, std::span<const uint8_t> token, uint64_t wall_unix_s,
              const Endpoint& client) const;
  void rebuild(const std::vector<uint8_t>& old_tier_ids, bool forget_tokens, TimePoint now);
};

void AdmissionControl::Impl::set_config(const AdmissionConfig& c) {
  config = c;
  const auto is_free = [](const TierConfig& t) { return t.id == 0; };
  if (std::none_of(config.tiers.begin(), config.tiers.end(), is_free)) {
    config.tiers.insert(config.tiers.begin(), TierConfig{"free", 0, 20, 5});
  }
  // The free tier first (index 0), then the others; the first of a duplicate id wins.
  tiers.clear();
  const TierConfig& free = *std::find_if(config.tiers.begin(), config.tiers.end(), is_free);
  add_tier(free);
  overflow = TokenBucket(free.burst * kOverflowShare, free.refill_per_second * kOverflowShare,
                         TimePoint{});
  for (const TierConfig& t : config.tiers) {
    const auto same = [&t](const Tier& known) { return known.id == t.id; };
    if (std::none_of(tiers.begin(), tiers.end(), same)) add_tier(t);
  }
}

Endpoint client_network(const Endpoint& client, uint8_t ipv6_prefix) {
  Endpoint out = unmap_v4(client);
  out.port = 0;
  if (out.family == Family::kV6) {
    // Per request on the hot path: whole bytes at once, then the partial one.
    const unsigned prefix = std::min<unsigned>(ipv6_prefix, 128);
    const unsigned whole = prefix / 8;
    if (whole < 16) {
      out.ip[whole] &= static_cast<uint8_t>(0xFF00u >> (prefix % 8));
      std::fill(out.ip.begin() + whole + 1, out.ip.end(), uint8_t{0});
    }
  }
  return out;
}

Endpoint AdmissionControl::Impl::key_of(const Endpoint& client) const {
  return client_network(client, config.ipv6_prefix);
}

bool AdmissionControl::Impl::has_room(TimePoint now) {
  return entries.size() < bound() || entries[oldest].bucket.is_full(now);
}

void AdmissionControl::Impl::add_tier(const TierConfig& t) {
  const proto::FlowControl flow{saturate_u32(t.burst), saturate_u32(t.refill_per_second * 1000),
                                config.probe_cost, config.binding_cost, t.id};
  tiers.push_back(Tier{t.id, t.burst, t.refill_per_second, flow});
}

uint8_t AdmissionControl::Impl::tier_index(uint8_t id) const {
  for (size_t i = 0; i < tiers.size(); ++i) {
    if (tiers[i].id == id) return static_cast<uint8_t>(i);
  }
  return 0;
}

uint64_t AdmissionControl::Impl::hash(const Endpoint& e) const {
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::memcpy(&hi, e.ip.data(), 8);
  std::memcpy(&lo, e.ip.data() + 8, 8);
  uint64_t h = fmix64(seed ^ hi);
  h = fmix64(h ^ lo);
  return fmix64(h ^ ((uint64_t{static_cast<uint8_t>(e.family)} << 16) | e.port));
}

uint64_t AdmissionControl::Impl::token_hash(std::span<const uint8_t> token) const {
  uint64_t h = fmix64(seed ^ 0x746f6b656e000000ull ^ token.size());
  for (size_t i = 0; i < token.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, token.data() + i, std::min<size_t>(8, token.size() - i));
    h = fmix64(h ^ word) + 0x9e3779b97f4a7c15ull;
  }
  return h;
}

uint32_t AdmissionControl::Impl::find(const Endpoint& e) {
  if (chains.empty()) return kNil;
  uint32_t i = chain_head(e);
  while (i != kNil && entries[i].client != e)
    i = entries[i].chain_next;
  return i;
}

void AdmissionControl::Impl::link(uint32_t i) {
  uint32_t& head = chain_head(entries[i].client);
  entries[i].chain_next = head;
  head = i;
}

void AdmissionControl::Impl::unlink(uint32_t i) {
  uint32_t* p = &chain_head(entries[i].client);
  while (*p != i)
    p = &entries[*p].chain_next;
  *p = entries[i].chain_next;
}

void AdmissionControl::Impl::forget_recency(uint32_t i) {
  Entry& e = entries[i];
  (e.newer != kNil ? entries[e.newer].older : newest) = e.older;
  (e.older != kNil ? entries[e.older].newer : oldest) = e.newer;
}

void AdmissionControl::Impl::make_newest(uint32_t i) {
  if (i == newest) return;
  forget_recency(i);
  push_newest(i);
}

void AdmissionControl::Impl::push_newest(uint32_t i) {
  entries[i].newer = kNil;
  entries[i].older = newest;
  if (newest != kNil) entries[newest].newer = i;
  newest = i;
  if (oldest == kNil) oldest = i;
}

// Keeps at most one entry per chain on average; rehashing happens only while growing.
void AdmissionControl::Impl::grow_index(size_t entries_needed) {
  size_t size = std::max(chains.size(), kMinChains);
  while (size < entries_needed)
    size *= 2;
  if (size == chains.size()) return;
  chains.assign(size, kNil);
  for (uint32_t i = 0; i < entries.size(); ++i)
    link(i);
}

uint32_t AdmissionControl::Impl::insert(const Endpoint& client, uint8_t tier, const TokenMemo& memo,
                                        TimePoint now) {
  const Tier& t = tiers[tier];
  Entry fresh{client, kNil, kNil, kNil, tier, memo, TokenBucket(t.burst, t.refill_per_second, now)};
  uint32_t i = 0;
  if (entries.size() < bound()) {
    grow_index(entries.size() + 1);
    if (entries.size() == entries.capacity()) {
      entries.reserve(std::min(bound(), std::max<size_t>(kMinChains, 2 * entries.capacity())));
    }
    i = static_cast<uint32_t>(entries.size());
    entries.push_back(fresh);
  } else {
    i = oldest;
    forget_recency(i);
    unlink(i);
    ++evictions;
    entries[i] = fresh;
  }
  link(i);
  push_newest(i);
  return i;
}

uint8_t AdmissionControl::Impl::resolve_tier(TokenMemo& memo, std::span<const uint8_t> token,
                                             uint64_t wall_unix_s, const Endpoint& client) const {
  if (token.empty() || config.token_key.empty()) return 0;
  const uint64_t h = token_hash(token);
  if (memo.verdict == TokenMemo::Verdict::kNone || memo.token_hash != h) {
    verify(memo, token, wall_unix_s, client);
    memo.token_hash = h;
  }
  if (memo.verdict != TokenMemo::Verdict::kValid || wall_unix_s >= memo.expiry_unix_s) return 0;
  return tier_index(memo.tier_id);
}

void AdmissionControl::Impl::verify(TokenMemo& memo, std::span<const uint8_t> token,
                                    uint64_t wall_unix_s, const Endpoint& client) const {
  // Tokens name their client by IP address in canonical text form (inet_ntop's). Verdicts
  // are memoised, so this text is built once per token, not per request.
  ++token_checks;
  const std::string ip = ip_to_string(client);
  auto verified = proto::verify_capacity_token(token, bytes_of(config.token_key), wall_unix_s, ip);
  if (!verified && verified.error() == proto::TokenErrc::kBadSignature &&
      !config.accept_token_key.empty()) {
    verified =
        proto::verify_capacity_token(token, bytes_of(config.accept_token_key), wall_unix_s, ip);
  }
  memo = TokenMemo{};
  if (!verified) {
    memo.verdict = TokenMemo::Verdict::kInvalid;
    return;
  }
  memo.verdict = TokenMemo::Verdict::kValid;
  memo.tier_id = verified->tier;
  memo.expiry_unix_s = verified->expiry_unix_s;
}

// Re-inserts the most recent entries, up to the bound, with the tiers of the new config.
void AdmissionControl::Impl::rebuild(const std::vector<uint8_t>& old_tier_ids, bool forget_tokens,
                                     TimePoint now) {
  std::vector<Entry> kept;
  kept.reserve(std::min(entries.size(), bound()));
  // Keys follow the new ipv6_prefix; of entries that now share a key, the newest stays.
  std::unordered_set<Endpoint> keys;
  for (uint32_t i = newest; i != kNil && kept.size() < bound(); i = entries[i].older) {
    Entry e = entries[i];
    e.client = key_of(e.client);
    if (keys.insert(e.client).second) kept.push_back(e);
  }
  evictions += entries.size() - kept.size();
  entries.clear();
  chains.clear();
  newest = oldest = kNil;
  entries.reserve(kept.size());
  grow_index(kept.size());
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    Entry e = *it;
    e.tier = tier_index(old_tier_ids[e.tier]);
    e.bucket.reconfigure(tiers[e.tier].burst, tiers[e.tier].refill_per_second, now);
    if (forget_tokens) e.memo = TokenMemo{};
    e.newer = e.older = e.chain_next = kNil;
    entries.push_back(e);
    const auto i = static_cast<uint32_t>(entries.size() - 1);
    link(i);
    push_newest(i);
  }
}

AdmissionControl::AdmissionControl(const AdmissionConfig& config, uint64_t seed) : impl_(new Impl) {
  impl_->seed = fmix64(seed ^ 0x61646d697373696full);
  impl_->set_config(config);
}

AdmissionControl::~AdmissionControl() {
  delete impl_;
}

Admission AdmissionControl::admit(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                                  std::span<const uint8_t> capacity_token, uint16_t cost) {
  Impl& m = *impl_;
  // No limit: an all-zero FLOW-CONTROL tells clients not to mirror a bucket (PROTOCOL.md).
  if (!m.config.enabled) return Admission{true, proto::FlowControl{}};
  // A client counts once whether it reached an IPv4 or a dual-stack socket, whatever its
  // port (and for IPv6, anywhere in its /64).
  const Endpoint key = m.key_of(client);
  const Endpoint address = unmap_v4(client);  // What a capacity token names.
  uint32_t i = m.find(key);
  if (i == kNil) {
    // A full table of clients still paying back their bursts: evicting one would hand the
    // newcomer (perhaps the same sender under a new address) a full bucket. Instead, every
    // client that does not fit shares the overflow bucket, at the free tier, unverified.
    if (!m.has_room(now)) {
      ++m.overflow_charges;
      return Admission{m.overflow.try_take(now, cost), m.tiers[0].flow};
    }
    TokenMemo memo;
    const uint8_t tier = m.resolve_tier(memo, capacity_token, wall_unix_s, address);
    i = m.insert(key, tier, memo, now);
  } else {
    m.make_newest(i);
    Entry& e = m.entries[i];
    // A token not seen before costs an HMAC. A client earns one by paying for this request
    // at its current tier, or by showing its first token: a drained sender that shows a new
    // forgery each time costs a hash lookup, while a client that was given a token after it
    // ran dry gets its tier (and the tier's refill) at once.
    if (e.memo.verdict == TokenMemo::Verdict::kNone || e.bucket.can_take(now, cost)) {
      const uint8_t tier = m.resolve_tier(e.memo, capacity_token, wall_unix_s, address);
      if (tier != e.tier) {
        e.bucket.reconfigure(m.tiers[tier].burst, m.tiers[tier].refill_per_second, now);
        e.tier = tier;
      }
    }
  }
  Entry& e = m.entries[i];
  return Admission{e.bucket.try_take(now, cost), m.tiers[e.tier].flow};
}

void AdmissionControl::reconfigure(const AdmissionConfig& config, TimePoint now) {
  std::vector<uint8_t> old_tier_ids;
  for (const Tier& t : impl_->tiers)
    old_tier_ids.push_back(t.id);
  const bool key_changed = config.token_key != impl_->config.token_key ||
                           config.accept_token_key != impl_->config.accept_token_key;
  impl_->set_config(config);
  impl_->rebuild(old_tier_ids, key_changed, now);
}

const AdmissionConfig& AdmissionControl::config() const {
  return impl_->config;
}
size_t AdmissionControl::tracked_clients() const {
  return impl_->entries.size();
}
uint64_t AdmissionControl::evictions() const {
  return impl_->evictions;
}
uint64_t AdmissionControl::overflow_charges() const {
  return impl_->overflow_charges;
}

uint64_t AdmissionControl::token_checks() const {
  return impl_->token_checks;
}

}  // namespace turnscout::server
