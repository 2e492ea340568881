#include "client/core/prober.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "client/core/descent.hpp"
#include "common/format.hpp"
#include "proto/base64url.hpp"
#include "proto/errors.hpp"
#include "proto/message_view.hpp"

namespace turnscout::client {
namespace {

constexpr size_t kMaxPadTo = 4096;
constexpr uint32_t kMaxDepthLimit = 64;

Result<void, std::string> check(const DiscoverOptions& o) {
  auto fail = [](std::string message) -> Result<void, std::string> {
    return unexpected(std::move(message));
  };
  const Duration timeout = o.timeout;
  if (timeout <= Duration::zero() || timeout > Duration{1h}) {
    return fail(
        fmt::format("timeout must be above 0 and at most 1h, got {}", format_duration(timeout)));
  }
  if (o.survey < std::chrono::milliseconds::zero() || o.survey >= o.timeout) {
    return fail(fmt::format("survey must be from 0 to less than the timeout ({}), got {}",
                            format_duration(timeout), format_duration(Duration{o.survey})));
  }
  // A fallback past the timeout is allowed: then TCP never joins.
  if (o.transport_fallback < std::chrono::milliseconds{1} || o.transport_fallback > Duration{1h}) {
    return fail(fmt::format("transport_fallback must be from 1ms to 1h, got {}",
                            format_duration(Duration{o.transport_fallback})));
  }
  if (o.transport != TransportMode::kAuto && o.transport != TransportMode::kUdp &&
      o.transport != TransportMode::kTcp && o.transport != TransportMode::kTls) {
    return fail(fmt::format("transport must be auto, udp, tcp or tls, got {}",
                            static_cast<int>(o.transport)));
  }
  if (o.grace < Duration::zero() || o.grace > timeout) {
    return fail(
        fmt::format("grace must be from 0 to the timeout, got {}", format_duration(o.grace)));
  }
  if (o.max_attempts < 1 || o.max_attempts > kMaxAttemptsLimit || o.verify_attempts < 1 ||
      o.verify_attempts > kMaxAttemptsLimit) {
    return fail(fmt::format("max_attempts and verify_attempts must be from 1 to {}, got {} and {}",
                            kMaxAttemptsLimit, o.max_attempts, o.verify_attempts));
  }
  if (o.pad_to > kMaxPadTo) {
    return fail(fmt::format("pad_to must be at most {} bytes, got {}", kMaxPadTo, o.pad_to));
  }
  auto token = proto::base64url_decode(o.capacity_token);
  if (!token) {
    return fail(fmt::format("capacity token: not base64url ({})", proto::to_string(token.error())));
  }
  if (token->size() > proto::kMaxCapacityTokenSize) {
    return fail(fmt::format("capacity token must be at most {} bytes, got {}",
                            proto::kMaxCapacityTokenSize, token->size()));
  }
  if (o.max_probes < 1 || o.max_probes > kMaxPeersPerDescent * kMaxAttemptsLimit) {
    return fail(fmt::format("max_probes must be from 1 to {}, got {}",
                            kMaxPeersPerDescent * kMaxAttemptsLimit, o.max_probes));
  }
  if (o.max_probe_bytes < o.pad_to + 4) {
    return fail(fmt::format("max_probe_bytes must hold one probe ({} bytes), got {}", o.pad_to + 4,
                            o.max_probe_bytes));
  }
  if (o.max_bindings < 1 || o.max_bindings > kMaxBindingsLimit) {
    return fail(fmt::format("max_bindings must be from 1 to {}, got {}", kMaxBindingsLimit,
                            o.max_bindings));
  }
  if (o.max_children_per_level < 1 || o.max_children_per_level > kMaxPeersPerDescent) {
    return fail(fmt::format("max_children_per_level must be from 1 to {}, got {}",
                            kMaxPeersPerDescent, o.max_children_per_level));
  }
  if (o.max_speculative < 1 || o.max_speculative > kMaxPeersPerDescent) {
    return fail(fmt::format("max_speculative must be from 1 to {}, got {}", kMaxPeersPerDescent,
                            o.max_speculative));
  }
  if (o.max_depth < 1 || o.max_depth > kMaxDepthLimit) {
    return fail(fmt::format("max_depth must be from 1 to {}, got {}", kMaxDepthLimit, o.max_depth));
  }
  return {};
}

}  // namespace

Prober::Prober(ProberConfig config, Random& random, TimePoint now)
    : config_(std::move(config)), shared_(config_, random, now) {}

Prober::~Prober() = default;

Result<DiscoveryId, StartError> Prober::start(TimePoint now, DiscoverOptions options) {
  auto refuse = [](StartErrc code, std::string message) -> Result<DiscoveryId, StartError> {
    return unexpected(StartError{code, std::move(message)});
  };
  if (options.roots.empty()) {
    return refuse(StartErrc::kNoRoots, "no roots: give at least one bootstrap server");
  }
  auto roots = RootResolution::parse(options.roots, options.default_port);
  if (!roots) return refuse(StartErrc::kBadRoot, roots.error());
  if (auto ok = check(options); !ok) return refuse(StartErrc::kBadOption, ok.error());
  auto blacklist = Blacklist::parse(options.blacklist, roots->given());
  if (!blacklist) return refuse(StartErrc::kBadBlacklist, blacklist.error());
  const size_t busy = active() + results_.size();
  if (busy >= std::max<size_t>(config_.max_discoveries, 1)) {
    return refuse(StartErrc::kTooManyAtOnce,
                  fmt::format("too many discoveries at once: {} running or not yet polled", busy));
  }
  Resolving r{next_id_++, now, std::move(options), std::move(*blacklist), std::move(*roots)};
  const DiscoveryId id = r.id;
  if (r.roots.done()) {
    launch(now, std::move(r));
  } else {
    resolving_.push_back(std::move(r));
  }
  collect();
  return id;
}

// Starts the descent of a discovery whose roots are all answered.
void Prober::launch(TimePoint now, Resolving r) {
  std::vector<Root> roots = r.roots.roots();
  if (roots.empty()) return fail_early(now, r, r.roots.first_failure());
  if (now >= r.started + r.options.timeout) {
    return fail_early(now, r,
                      fmt::format("the timeout ({}) passed while resolving root names",
                                  format_duration(Duration{r.options.timeout})));
  }
  std::optional<LastPath> last;
  if (r.options.use_last_path) last = usable_last_path(roots, r.blacklist);
  discoveries_.push_back(std::make_unique<Discovery>(r.id, r.started, std::move(r.options),
                                                     std::move(roots), std::move(r.blacklist),
                                                     std::move(last), r.roots.errors(), shared_));
  discoveries_.back()->start(now);
}

// A discovery that ends before its descent began: no root resolved, or the deadline came.
void Prober::fail_early(TimePoint now, const Resolving& r, std::string failure) {
  DiscoveryResult result;
  result.status = Status::kNotFound;
  result.failure = std::move(failure);
  result.total_time = now - r.started;
  result.errors = r.roots.errors();
  if (result.errors.size() > config_.max_errors) {
    result.errors_dropped = result.errors.size() - config_.max_errors;
    result.errors.resize(config_.max_errors);
  }
  results_.push_back({r.id, std::move(result)});
}

std::optional<LastPath> Prober::usable_last_path(const std::vector<Root>& roots,
                                                 const Blacklist& blacklist) const {
  if (!last_path_) return std::nullopt;
  std::vector<Endpoint> addresses;
  for (const Root& root : roots)
    addresses.push_back(root.address);
  if (sorted_roots(std::move(addresses)) != last_path_->roots) return std::nullopt;
  for (size_t i = 0; i < last_path_->hops.size(); ++i) {
    if (blacklist.blocks_address(last_path_->addresses[i]) ||
        blacklist.blocks_name(last_path_->hops[i].name)) {
      return std::nullopt;
    }
  }
  return last_path_;
}

bool Prober::cancel(DiscoveryId id) {
  const size_t before = active() + results_.size();
  std::erase_if(resolving_, [id](const Resolving& r) { return r.id == id; });
  std::erase_if(discoveries_, [id](const auto& d) { return d->id() == id; });
  std::erase_if(results_, [id](const Finished& r) { return r.id == id; });
  std::erase_if(hops_, [id](const HopEvent& h) { return h.id == id; });
  return active() + results_.size() < before;
}

bool Prober::stop(TimePoint now, DiscoveryId id) {
  auto r = std::find_if(resolving_.begin(), resolving_.end(),
                        [id](const Resolving& e) { return e.id == id; });
  if (r != resolving_.end()) {
    fail_early(now, *r, "stopped by the caller");
    results_.back().result.status = Status::kCancelled;
    resolving_.erase(r);
    return true;
  }
  Discovery* d = find(id);
  if (d == nullptr || d->delivered()) return false;
  d->stop(now);
  collect();
  return true;
}

std::optional<HopEvent> Prober::poll_hop() {
  if (hops_.empty()) return std::nullopt;
  HopEvent event = std::move(hops_.front());
  hops_.pop_front();
  return event;
}

std::optional<Finished> Prober::poll_result() {
  if (results_.empty()) return std::nullopt;
  Finished result = std::move(results_.front());
  results_.pop_front();
  return result;
}

std::optional<ResolveRequest> Prober::poll_resolve() {
  for (Resolving& r : resolving_) {
    if (auto host = r.roots.take_request()) return ResolveRequest{r.id, std::move(*host)};
  }
  for (const auto& d : discoveries_) {
    if (auto host = d->take_resolve_request()) return ResolveRequest{d->id(), std::move(*host)};
  }
  return std::nullopt;
}

void Prober::on_resolved(TimePoint now, DiscoveryId id, std::string_view host,
                         std::span<const Endpoint> addresses, std::string_view failure) {
  auto r = std::find_if(resolving_.begin(), resolving_.end(),
                        [id](const Resolving& e) { return e.id == id; });
  if (r != resolving_.end()) {
    r->roots.on_resolved(host, addresses, failure);
    if (r->roots.done()) {
      Resolving done = std::move(*r);
      resolving_.erase(r);
      launch(now, std::move(done));
    }
  } else if (Discovery* d = find(id)) {
    d->on_resolved(now, host, addresses);
  }
  collect();
}

void Prober::on_unreachable(TimePoint now, const Endpoint& remote, Transport via,
                            std::string_view why) {
  for (const auto& d : discoveries_)
    d->on_unreachable(now, remote, via, why);
  collect();
}

void Prober::on_datagram(TimePoint now, const Endpoint& /*local*/, const Endpoint& remote,
                         std::span<const uint8_t> bytes) {
  on_message(now, Transport::kUdp, remote, bytes);
}

void Prober::on_stream_message(TimePoint now, Transport via, const Endpoint& /*local*/,
                               const Endpoint& remote, std::span<const uint8_t> bytes) {
  on_message(now, via, remote, bytes);
}

void Prober::on_message(TimePoint now, Transport via, const Endpoint& remote,
                        std::span<const uint8_t> bytes) {
  ++shared_.counters.datagrams_in;
  auto view = proto::parse_message(bytes);
  if (!view) {
    ++shared_.counters.not_stun;
    return;
  }
  const proto::MessageClass cls = view->message_class();
  if (cls != proto::MessageClass::kSuccess && cls != proto::MessageClass::kError) {
    ++shared_.counters.not_response;
    return;
  }
  for (const auto& d : discoveries_) {
    if (d->on_message(now, remote, *view, via)) {
      collect();
      return;
    }
  }
  ++shared_.counters.unmatched;
}

void Prober::on_timeout(TimePoint now) {
  for (auto r = resolving_.begin(); r != resolving_.end();) {
    if (now < r->started + r->options.timeout) {
      ++r;
      continue;
    }
    fail_early(now, *r,
               fmt::format("the timeout ({}) passed while resolving root names",
                           format_duration(Duration{r->options.timeout})));
    r = resolving_.erase(r);
  }
  for (const auto& d : discoveries_) {
    if (d->next_timeout() <= now) d->on_timeout(now);
  }
  collect();
}

TimePoint Prober::next_timeout() const {
  TimePoint next = kNever;
  for (const Resolving& r : resolving_)
    next = std::min(next, r.started + r.options.timeout);
  for (const auto& d : discoveries_)
    next = std::min(next, d->next_timeout());
  return next;
}

void Prober::poll_transmit(std::vector<Datagram>& out) {
  move_datagrams(shared_.outbox, out);
}

std::optional<PeerInfo> Prober::peer(const Endpoint& address, TimePoint now) const {
  const PeerRecord* record = shared_.peers.find(address);
  if (record == nullptr) return std::nullopt;
  PeerInfo info;
  info.health = record->health.state(now);
  info.retry_at = record->health.retry_at();
  info.srtt = record->rtt.srtt();
  info.rto = record->rtt.rto();
  info.name = record->name;
  if (record->mirror) {
    TokenBucket copy = record->mirror->bucket;
    info.has_mirror = true;
    info.mirror_tokens = copy.available(now);
  }
  return info;
}

void Prober::collect() {
  for (const auto& d : discoveries_) {
    for (Hop& hop : d->take_hops()) {
      if (hops_.size() >= kMaxHopEvents) hops_.pop_front();
      hops_.push_back({d->id(), std::move(hop)});
    }
    if (auto result = d->take_result()) results_.push_back({d->id(), std::move(*result)});
    if (auto update = d->take_path_update()) apply(std::move(*update));
  }
  std::erase_if(discoveries_, [](const auto& d) { return d->finished(); });
}

// A cold discovery's path replaces the cached one; a refresh behind a warm answer replaces
// it only when its leaf is clearly better, so two similar leaves do not alternate.
void Prober::apply(PathUpdate update) {
  const bool same_leaf =
      last_path_ && unmap_v4(last_path_->leaf_address()) == unmap_v4(update.path.leaf_address());
  if (update.refresh && last_path_ && !same_leaf && last_path_->roots == update.path.roots) {
    auto rtt_of = [&](const LastPath& path) {
      const PeerRecord* record = shared_.peers.find(path.leaf_address());
      return record != nullptr && record->rtt.has_sample() ? record->rtt.srtt()
                                                           : Duration{path.leaf().rtt};
    };
    if (!clearly_better(rtt_of(*last_path_), rtt_of(update.path))) return;
  }
  if (last_path_ && !same_leaf) ++path_switches_;
  last_path_ = std::move(update.path);
}

Discovery* Prober::find(DiscoveryId id) {
  for (const auto& d : discoveries_) {
    if (d->id() == id) return d.get();
  }
  return nullptr;
}

}  // namespace turnscout::client
