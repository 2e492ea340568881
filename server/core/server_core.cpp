#include "server/core/server_core.hpp"

#include <algorithm>
#include <optional>

#include "base/bytes.hpp"
#include "base/endpoint.hpp"
#include "base/random.hpp"
#include "common/format.hpp"
#include "proto/error_response.hpp"
#include "proto/heartbeat.hpp"
#include "proto/message_view.hpp"
#include "server/core/heartbeat_auth.hpp"
#include "server/core/snapshot_builder.hpp"
#include "server/core/strategy.hpp"

namespace turnscout::server {
namespace {

// Children a branch names in each heartbeat: with an entry per address family, at most
// proto::kMaxHeartbeatListing entries.
constexpr size_t kHeartbeatListing = proto::kMaxHeartbeatListing / 2;

// Room for any reply: the responder needs at least 1500 bytes.
constexpr size_t kBufferSize = 2048;
constexpr Duration kMinInterval = std::chrono::milliseconds{1};

// What parents give to clients: the advertise list, else the listen addresses that are not
// wildcards; at most the four a Heartbeat carries.
std::vector<Endpoint> advertised(const ServerConfig& config) {
  std::vector<Endpoint> out;
  for (const Endpoint& e : config.advertise.empty() ? config.listen : config.advertise) {
    if (e.valid() && !is_any(e) && out.size() < proto::kMaxAdvertisedAddresses) out.push_back(e);
  }
  return out;
}

std::optional<std::string> config_problem(const ServerConfig& config) {
  if (!proto::valid_node_name(config.name)) return "invalid node name \"" + config.name + "\"";
  if (config.listen.empty()) return std::string("no listen address");
  if (config.heartbeat.interval < kMinInterval) {
    return std::string("heartbeat interval must be at least 1ms");
  }
  if (config.heartbeat.missed == 0) return std::string("heartbeat missed-count must be at least 1");
  if (config.cluster.accept_dynamic_children && config.cluster.key.empty()) {
    return std::string("accept_dynamic_children needs a cluster key");
  }
  if (!config.parents.empty() && advertised(config).empty()) {
    return std::string("parents are configured but there is no address to advertise");
  }
  return std::nullopt;
}

RegistryPolicy registry_policy(const ServerConfig& config) {
  RegistryPolicy p;
  p.interval = std::max(config.heartbeat.interval, kMinInterval);
  p.missed = std::max<uint32_t>(config.heartbeat.missed, 1);
  p.authenticated = !config.cluster.key.empty();
  p.accept_dynamic = config.cluster.accept_dynamic_children;
  p.max_dynamic = config.cluster.max_dynamic_children;
  p.registrations_per_source = config.cluster.registrations_per_source;
  p.forget_after = std::max<Duration>(std::chrono::hours{1}, 2 * config.heartbeat.replay_window);
  return p;
}

ParentLinksConfig links_config(const ServerConfig& config) {
  ParentLinksConfig c;
  for (const ParentConfig& p : config.parents)
    c.parents.push_back(p.address);
  c.listen = config.listen;
  c.interval = std::max(config.heartbeat.interval, kMinInterval);
  c.missed = std::max<uint32_t>(config.heartbeat.missed, 1);
  c.key = config.cluster.key;
  c.accept_key = config.cluster.accept_key;
  return c;
}

Rejection rejection_for(Admit admit) {
  switch (admit) {
    case Admit::kAccepted:
      break;
    case Admit::kUnknown:
      return {proto::error_code::kForbidden, "unknown child"};
    case Admit::kNameTaken:
      return {proto::error_code::kForbidden, "name taken"};
    case Admit::kFull:
      return {proto::error_code::kForbidden, "too many children"};
    case Admit::kReplayed:
      return {proto::error_code::kStaleTimestamp, "replayed timestamp"};
    case Admit::kWrongName:
      return {proto::error_code::kForbidden, "wrong name for this address"};
  }
  return {proto::error_code::kServerError, "server error"};
}

void warn_unauthenticated(EventLog& events) {
  events.warn(
      "no cluster key: heartbeats are unauthenticated, children are accepted by source "
      "address only");
}

}  // namespace

struct ServerCore::Impl {
  Impl(ServerConfig c, TimePoint now, WallTime wall, uint64_t seed, EventLog& log)
      : config(std::move(c)),
        events(log),
        registry(registry_policy(config), config.children, events),
        parents(links_config(config), now, events),
        responder(config.admission, seed ^ 0x9e3779b97f4a7c15ull),
        random(seed),
        listing_state(seed ^ 0x5bd1e9955bd1e995ull),
        own_load(config.load.source == LoadSourceKind::kStatic ? config.load.static_permille : 0),
        anchor_now(now),
        anchor_wall(wall),
        buffer(kBufferSize) {}

  ServerConfig config;
  EventLog& events;
  ChildRegistry registry;
  ParentLinks parents;
  ProbeResponder responder;
  SeededRandom random;
  StrategyState listing_state;  // For the listing sent in heartbeats.
  std::vector<uint32_t> listing_order;
  WorkerCounters counters;
  SnapshotPtr snapshot;
  proto::Subtree subtree;
  uint64_t built_generation = 0;
  bool dirty = true;  // Own state changed since the last build.
  // Snapshot builds are paid from a credit of time that grows with the clock (see
  // refresh_snapshot): credit as of credit_at, never above kBuildBurst.
  Duration build_credit{};
  TimePoint credit_at{};
  bool build_due = false;  // The registry changed; the build waits for credit.
  uint16_t own_load;
  bool draining = false;
  TimePoint anchor_now;
  WallTime anchor_wall;
  std::vector<Datagram> outbox;
  std::vector<uint8_t> buffer;

  WallTime wall(TimePoint now) const {
    return anchor_wall + std::chrono::duration_cast<std::chrono::milliseconds>(now - anchor_now);
  }
  uint64_t wall_ms(TimePoint now) const {
    return static_cast<uint64_t>(std::max<int64_t>(wall(now).time_since_epoch().count(), 0));
  }

  // Rebuilds the snapshot when something it is built from changed, when the build credit
  // allows (so that a parent with many children rebuilds a few times a second, not once per
  // heartbeat or load reading); `at_once` (a reload, a drain) publishes now whatever the
  // credit, which is still charged.
  void refresh_snapshot(TimePoint now, bool at_once = false);
  void publish_snapshot(TimePoint now);
  Duration build_cost() const;
  TimePoint build_time() const;
  proto::HeartbeatRequest heartbeat_content();
  void send_due(TimePoint now);
  void handle_heartbeat(TimePoint now, const Endpoint& local, const Endpoint& remote,
                        const proto::MessageView& view);
  void handle_leave(TimePoint now, const Endpoint& local, const Endpoint& remote,
                    const proto::MessageView& view);
  void handle_response(TimePoint now, const Endpoint& remote, const proto::MessageView& view);
  void answer(const Endpoint& local, const Endpoint& remote,
              const Result<size_t, proto::EncodeError>& size);
  void reject(const Endpoint& local, const Endpoint& remote, const proto::MessageView& request,
              Rejection why, DropReason reason = DropReason::kAuth);
  void refuse_undecodable(const Endpoint& local, const Endpoint& remote,
                          const proto::MessageView& request, const proto::DecodeError& error);
};

// A build costs O(children log children). Charging each build 5 us per child against a
// credit that grows with the clock keeps builds under a tenth of a core as long as a child
// costs under 0.5 us to build, where one build per heartbeat would cost O(children^2) per
// heartbeat interval. The credit holds up to 20 ms: a small tree publishes a burst of
// changes at once (4,000 builds of one child, 20 of 200 children), then one per build's
// cost; a large one waits at most its cost for the next build (50 ms at 10,000 children,
// 0.5 s at 100,000), short against heartbeat intervals.
constexpr Duration kBuildPerChild = std::chrono::microseconds(5);
constexpr Duration kBuildBurst = std::chrono::milliseconds(20);

Duration ServerCore::Impl::build_cost() const {
  return kBuildPerChild * static_cast<int64_t>(std::max<size_t>(registry.size(), 1));
}

// When the credit covers the next build (a build dearer than the whole burst waits for a
// full credit and leaves it in debt).
TimePoint ServerCore::Impl::build_time() const {
  return credit_at + (std::min(build_cost(), kBuildBurst) - build_credit);
}

void ServerCore::Impl::refresh_snapshot(TimePoint now, bool at_once) {
  if (!dirty && snapshot && registry.generation() == built_generation) {
    build_due = false;
    return;
  }
  if (!at_once && snapshot && now < build_time()) {
    build_due = true;
    return;
  }
  publish_snapshot(now);
}

void ServerCore::Impl::publish_snapshot(TimePoint now) {
  if (now > credit_at) {
    build_credit = std::min(kBuildBurst, build_credit + (now - credit_at));
    credit_at = now;
  }
  // Builds made at once may leave the credit in debt, never by more than one build: the
  // builds that wait for credit then wait at most that long.
  build_credit = std::max(build_credit - build_cost(), -build_cost());
  dirty = false;
  build_due = false;
  built_generation = registry.generation();
  BuiltSnapshot built = build_snapshot(config, own_load, draining, registry);
  subtree = built.subtree;
  if (snapshot && same_content(*snapshot, built.snapshot)) return;
  built.snapshot.version = snapshot ? snapshot->version + 1 : 1;
  snapshot = std::make_shared<const Snapshot>(std::move(built.snapshot));
  responder.set_snapshot(snapshot);
}

proto::HeartbeatRequest ServerCore::Impl::heartbeat_content() {
  proto::HeartbeatRequest hb;
  hb.node_name = config.name;
  hb.advertised = advertised(config);
  hb.load = {own_load, config.listing.overload_permille};
  hb.capacity = config.load.capacity;
  hb.subtree = subtree;
  hb.state = draining ? proto::NodeState::kDraining : proto::NodeState::kActive;
  hb.weight = std::max<uint16_t>(config.weight, 1);
  // A branch tells its parents what it would list (its best kHeartbeatListing children by
  // its strategy, an entry per address family), so they can pass it on to clients that ask
  // for depth 2 and save them a round trip.
  if (config.listing.grandchildren && snapshot) {
    const Snapshot& s = *snapshot;
    const size_t most = s.listing.max_children == 0
                            ? kHeartbeatListing
                            : std::min<size_t>(kHeartbeatListing, s.listing.max_children);
    order_children(s.listing.strategy, s.children, s.index, s.listing.overload_permille, Endpoint{},
                   most, listing_state, listing_order);
    for (const uint32_t i : listing_order) {
      const SnapshotChild& child = s.children[i];
      for (const auto& address : {child.v4, child.v6}) {
        if (address)
          hb.listing.push_back({*address, child.leaf, child.load_permille, child.weight});
      }
    }
  }
  return hb;
}

void ServerCore::Impl::send_due(TimePoint now) {
  if (parents.next_timeout() > now) return;
  parents.on_timeout(now, wall(now), heartbeat_content(), random, outbox);
}

void ServerCore::Impl::answer(const Endpoint& local, const Endpoint& remote,
                              const Result<size_t, proto::EncodeError>& size) {
  if (!size) {
    events.error("cannot encode a response: {}", proto::to_string(size.error()));
    return;
  }
  outbox.push_back({local, remote, {buffer.begin(), buffer.begin() + *size}});
  counters.reply(*size);
}

void ServerCore::Impl::reject(const Endpoint& local, const Endpoint& remote,
                              const proto::MessageView& request, Rejection why, DropReason reason) {
  counters.drop(reason);
  events.debug("{} from {} rejected: {} {}",
               request.method() == proto::Method::kLeave ? "Leave" : "heartbeat", remote, why.code,
               why.reason);
  // Only a child's own address hears why (its operator needs to know); anyone else could
  // be a forged source, and an answer would make this node a reflector.
  if (!snapshot || !snapshot->knows_source(unmap_v4(remote))) return;
  // Never larger than the request: otherwise, silence.
  auto size = proto::make_error_response(request, why.code, why.reason, request.size(), buffer);
  if (size) answer(local, remote, size);
}

// PROTOCOL.md §7 step 6: an unknown comprehension-required attribute earns a 420 listing
// it (to a child's own address only, as every refusal); anything else that fails to decode
// gets no answer.
void ServerCore::Impl::refuse_undecodable(const Endpoint& local, const Endpoint& remote,
                                          const proto::MessageView& request,
                                          const proto::DecodeError& error) {
  if (error.code != proto::DecodeErrc::kUnknownRequiredAttribute) {
    counters.drop(DropReason::kMalformed);
    return;
  }
  reject(local, remote, request, {proto::error_code::kUnknownAttribute, "Unknown Attribute"},
         DropReason::kMalformed);
}

void ServerCore::Impl::handle_heartbeat(TimePoint now, const Endpoint& local,
                                        const Endpoint& remote, const proto::MessageView& view) {
  counters.request(RequestKind::kHeartbeat);
  auto hb = proto::decode_heartbeat_request(view);
  if (!hb) return refuse_undecodable(local, remote, view, hb.error());
  const AuthCheck auth = check_request_auth(view, ClusterKeys::of(config.cluster), hb->timestamp_ms,
                                            wall_ms(now), config.heartbeat.replay_window);
  if (auth != AuthCheck::kOk) return reject(local, remote, view, rejection_for(auth));
  // A dual-stack socket shows an IPv4 peer as ::ffff:a.b.c.d; configs name it in IPv4.
  if (Admit admit = registry.on_heartbeat(now, unmap_v4(remote), *hb); admit != Admit::kAccepted) {
    return reject(local, remote, view, rejection_for(admit));
  }
  // Accepted children only, so the answer may exceed a small request: it is not a vector
  // for amplification (a name, a timestamp, integrity; under 200 bytes).
  proto::HeartbeatResponse response;
  response.transaction_id = hb->transaction_id;
  response.node_name = config.name;
  response.timestamp_ms = hb->timestamp_ms;
  answer(local, remote,
         proto::encode_heartbeat_response(response, bytes_of(config.cluster.key), buffer));
}

void ServerCore::Impl::handle_leave(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                    const proto::MessageView& view) {
  counters.request(RequestKind::kLeave);
  auto leave = proto::decode_leave_request(view);
  if (!leave) return refuse_undecodable(local, remote, view, leave.error());
  const AuthCheck auth =
      check_request_auth(view, ClusterKeys::of(config.cluster), leave->timestamp_ms, wall_ms(now),
                         config.heartbeat.replay_window);
  if (auth != AuthCheck::kOk) return reject(local, remote, view, rejection_for(auth));
  if (Admit admit = registry.on_leave(now, unmap_v4(remote), *leave); admit != Admit::kAccepted) {
    return reject(local, remote, view, rejection_for(admit));
  }
  proto::LeaveResponse response;
  response.transaction_id = leave->transaction_id;
  response.node_name = config.name;
  response.timestamp_ms = leave->timestamp_ms;
  answer(local, remote,
         proto::encode_leave_response(response, bytes_of(config.cluster.key), buffer));
}

void ServerCore::Impl::handle_response(TimePoint now, const Endpoint& remote,
                                       const proto::MessageView& view) {
  switch (parents.on_response(now, unmap_v4(remote), view)) {
    case ResponseMatch::kMatched:
      break;
    case ResponseMatch::kUnmatched:
      counters.drop(DropReason::kUnexpected);
      break;
    case ResponseMatch::kBadIntegrity:
      counters.drop(DropReason::kAuth);
      break;
    case ResponseMatch::kMalformed:
      counters.drop(DropReason::kMalformed);
      break;
  }
}

ServerCore::ServerCore(ServerConfig config, TimePoint now, WallTime wall_at_now, uint64_t seed,
                       EventLog& events)
    : impl_(std::make_unique<Impl>(std::move(config), now, wall_at_now, seed, events)) {
  if (impl_->config.cluster.key.empty()) warn_unauthenticated(impl_->events);
  impl_->build_credit = kBuildBurst;
  impl_->credit_at = now;
  impl_->publish_snapshot(now);
}

ServerCore::~ServerCore() = default;

void ServerCore::on_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                             std::span<const uint8_t> bytes) {
  Impl& d = *impl_;
  const auto wall_s = d.wall_ms(now) / 1000;
  const Outcome outcome = d.responder.handle(now, wall_s, remote, bytes, d.buffer);
  switch (outcome.what) {
    case Disposition::kReply:
      d.outbox.push_back({local, remote, {d.buffer.begin(), d.buffer.begin() + outcome.size}});
      break;
    case Disposition::kForward:
      on_control_datagram(now, local, remote, bytes);
      break;
    case Disposition::kDrop:
      break;
  }
}

void ServerCore::on_control_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                     std::span<const uint8_t> bytes) {
  Impl& d = *impl_;
  auto view = proto::parse_message(bytes);
  if (!view) {
    d.counters.drop(DropReason::kMalformed);
    return;
  }
  const proto::Method method = view->method();
  const proto::MessageClass cls = view->message_class();
  const bool ours = method == proto::Method::kHeartbeat || method == proto::Method::kLeave;
  if (ours && cls == proto::MessageClass::kRequest) {
    if (method == proto::Method::kHeartbeat) {
      d.handle_heartbeat(now, local, remote, *view);
    } else {
      d.handle_leave(now, local, remote, *view);
    }
  } else if (ours && (cls == proto::MessageClass::kSuccess || cls == proto::MessageClass::kError)) {
    d.handle_response(now, remote, *view);
  } else {
    d.counters.drop(DropReason::kUnexpected);
  }
  d.refresh_snapshot(now);
}

void ServerCore::on_timeout(TimePoint now) {
  Impl& d = *impl_;
  d.registry.on_timeout(now);
  d.refresh_snapshot(now);
  d.send_due(now);
}

TimePoint ServerCore::next_timeout() const {
  const Impl& d = *impl_;
  const TimePoint build = d.build_due ? d.build_time() : kNever;
  return std::min({d.registry.next_timeout(), d.parents.next_timeout(), build});
}

void ServerCore::poll_transmit(std::vector<Datagram>& out) {
  move_datagrams(impl_->outbox, out);
}

void ServerCore::set_own_load(TimePoint now, uint16_t permille) {
  if (impl_->own_load == permille) return;
  impl_->own_load = permille;
  impl_->dirty = true;
  impl_->refresh_snapshot(now);
}

void ServerCore::set_wall_time(TimePoint now, WallTime wall) {
  impl_->anchor_now = now;
  impl_->anchor_wall = wall;
}

Result<void, std::string> ServerCore::reload(TimePoint now, ServerConfig config) {
  Impl& d = *impl_;
  if (auto problem = config_problem(config)) {
    d.events.error("reload rejected, keeping the current config: {}", *problem);
    return unexpected(*problem);
  }
  const bool had_key = !d.config.cluster.key.empty();
  d.registry.reconfigure(now, registry_policy(config), config.children);
  d.parents.reconfigure(now, links_config(config));
  d.responder.reconfigure(config.admission, now);
  if (config.load.source == LoadSourceKind::kStatic) d.own_load = config.load.static_permille;
  d.config = std::move(config);
  if (had_key && d.config.cluster.key.empty()) warn_unauthenticated(d.events);
  d.dirty = true;
  d.refresh_snapshot(now, /*at_once=*/true);
  d.events.info("config reloaded: {} static children, {} parents", d.config.children.size(),
                d.config.parents.size());
  d.send_due(now);
  return {};
}

void ServerCore::start_drain(TimePoint now) {
  Impl& d = *impl_;
  if (d.draining) return;
  d.draining = true;
  d.dirty = true;
  d.refresh_snapshot(now, /*at_once=*/true);
  d.events.info("draining: probes answered with the draining flag, Leave to {} parents",
                d.config.parents.size());
  d.parents.start_leave(now);
  d.send_due(now);
}

bool ServerCore::drained() const {
  return impl_->draining && impl_->parents.leave_done();
}

const SnapshotPtr& ServerCore::snapshot() const {
  return impl_->snapshot;
}
ProbeResponder& ServerCore::responder() {
  return impl_->responder;
}
const ProbeResponder& ServerCore::responder() const {
  return impl_->responder;
}
const ServerConfig& ServerCore::config() const {
  return impl_->config;
}
std::vector<ChildStatus> ServerCore::children() const {
  return impl_->registry.status();
}
std::vector<ParentStatus> ServerCore::parents() const {
  return impl_->parents.status();
}
const WorkerCounters& ServerCore::control_counters() const {
  return impl_->counters;
}
uint16_t ServerCore::own_load() const {
  return impl_->own_load;
}
proto::Subtree ServerCore::subtree() const {
  return impl_->subtree;
}
uint64_t ServerCore::dynamic_children_rejected() const {
  return impl_->registry.rejected_full();
}
WallTime ServerCore::wall_time(TimePoint now) const {
  return impl_->wall(now);
}

}  // namespace turnscout::server
