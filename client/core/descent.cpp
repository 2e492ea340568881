#include "client/core/descent.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "client/core/address_policy.hpp"
#include "common/format.hpp"
#include "proto/base64url.hpp"
#include "proto/error_response.hpp"
#include "proto/turn_uri.hpp"

namespace turnscout::client {
namespace {

bool is_overloaded(const proto::ProbeResponse& response) {
  const proto::Load& load = response.load;
  return (load.overload_limit_permille != 0 &&
          load.load_permille >= load.overload_limit_permille) ||
         (response.reply_flags & proto::reply_flag::kDraining) != 0;
}

bool same_server(const Endpoint& a, const Endpoint& b) {
  return unmap_v4(a) == unmap_v4(b);
}

// For errors, by Descent::slot().
constexpr std::array<const char*, 3> kTransportNames{"UDP", "TCP", "TLS"};

}  // namespace

Descent::Descent(const DiscoverOptions& options, const std::vector<Root>& roots,
                 const Blacklist& blacklist, TimePoint deadline, Shared& shared, ErrorLog& errors)
    : options_(options),
      roots_(roots),
      blacklist_(blacklist),
      deadline_(deadline),
      shared_(shared),
      errors_(errors) {
  if (auto token = proto::base64url_decode(options.capacity_token)) capacity_token_ = *token;
  switch (options.transport) {
    case TransportMode::kAuto:
      break;
    case TransportMode::kUdp:
      carrier_fixed_ = true;
      break;
    case TransportMode::kTcp:
      carrier_ = Transport::kTcp;
      carrier_fixed_ = true;
      break;
    case TransportMode::kTls:
      carrier_ = Transport::kTls;
      carrier_fixed_ = true;
      break;
  }
}

void Descent::start(TimePoint now, const std::optional<Candidate>& shortcut,
                    uint32_t shortcut_depth) {
  std::vector<Candidate> roots;
  for (const Root& root : roots_) {
    Candidate candidate{root.address, root.name, root.name};
    if (blacklist_.blocks_root(root.position)) {
      report(candidate, 0, PeerErrorKind::kBlacklisted, fmt::format("index:{}", root.position));
      continue;
    }
    roots.push_back(std::move(candidate));
  }
  // A cached leaf that is also a root needs no probe of its own.
  const bool is_root = shortcut && std::any_of(roots.begin(), roots.end(), [&](const Candidate& c) {
                         return same_server(c.address, shortcut->address);
                       });
  if (shortcut && !is_root && !blacklist_.blocks_address(shortcut->address) &&
      !blacklist_.blocks_name(shortcut->name)) {
    const PeerRecord* record = shared_.peers.find(shortcut->address);
    if (record == nullptr || record->health.may_probe(now)) {
      shortcut_ = add_peer(now, *shortcut, shortcut_depth, kShortcutLevel);
    }
  }
  root_candidates_ = roots;
  if (!carrier_fixed_) {
    // RFC 8305's spirit: UDP first, TCP once UDP has had a fair chance. Cold, the option's
    // delay; with a root's RTT known, twice the best of them and 50 ms, if that is sooner.
    Duration delay = options_.transport_fallback;
    for (const Candidate& c : roots) {
      const PeerRecord* record = shared_.peers.find(c.address);
      if (record != nullptr && record->rtt.has_sample()) {
        delay = std::min(
            delay, std::max<Duration>(std::chrono::milliseconds{100},
                                      2 * record->rtt.srtt() + std::chrono::milliseconds{50}));
      }
    }
    race_step_ = delay;
    race_at_ = now + delay;
  }
  open_level(now, 0, std::move(roots));
  check_failed();
  pump(now);
}

// Before the race, UDP; once a transport has answered, that one. In between, while they
// race, a retransmission (or a send the gate deferred) takes the next transport in the
// race after the last attempt's (UDP, TCP, then TLS once it has joined), skipping those
// the server refused: neither a TCP connection the server refused or dropped nor a UDP
// datagram held back or lost ends the race, and it costs no more Probes than UDP alone
// would, but for the one each transport sends as it joins. A server the kernel refused
// UDP for gets TCP at once.
Transport Descent::next_transport(const Peer& peer) const {
  if (carrier_fixed_) return carrier_;
  size_t joined = 1 + raced_;
  if (peer.refused[slot(Transport::kUdp)]) joined = std::max<size_t>(joined, 2);
  const size_t last = slot(peer.last_via);
  for (size_t step = 1; step <= joined; ++step) {
    const size_t next = (last + step) % joined;
    if (!peer.refused[next]) return kRace[next];
  }
  return peer.last_via;  // All refused: on_unreachable has failed it already.
}

// Joins the next transport to the race (TCP, then TLS): every root still waiting gets a
// Probe over it now.
void Descent::race(TimePoint now) {
  if (raced_ >= kRace.size() - 1) return;
  const Transport joining = kRace[++raced_];
  race_at_ = raced_ + 1 < kRace.size() ? now + race_step_ : kNever;
  std::vector<size_t> pending;
  if (!levels_.empty() && levels_.front().winner == SIZE_MAX) pending = levels_.front().peers;
  if (shortcut_pending()) pending.push_back(shortcut_);
  for (size_t index : pending) {
    Peer& peer = peers_[index];
    if (peer.phase != Phase::kPending || peer.sent[slot(joining)] || peer.refused[slot(joining)]) {
      continue;
    }
    // The joining transport brings an attempt of its own: it spends none of the others'
    // retransmissions, and a root that spent every attempt before still gets its try. Only
    // a Probe that went out counts.
    const bool exhausted = peer.exchange.exhausted();
    if (exhausted && !peer.exchange.extend()) continue;
    const uint32_t before = peer.exchange.attempts();
    transmit(index, now, joining);
    const bool went = peer.exchange.attempts() > before;
    if (went && !exhausted) peer.exchange.extend();
    if (!went && exhausted) peer.exchange.retract();
  }
}

// Everything failed and the deadline is still far (a caller who gave a long timeout wants
// it used): the walk starts over from the roots with fresh exchanges, within the budget.
bool Descent::start_another_round(TimePoint now) {
  // Only when nothing answered at all in this round and someone stayed silent: an answer
  // (an error, an empty list, a subtree that failed) would only be repeated.
  const Duration left = deadline_ - now;
  const bool silent =
      replies_.size() == round_replies_ && round_answers_ == 0 && round_timeouts_ > 0;
  if (!silent || rounds_ + 1 >= kMaxRounds || left < 2 * shared_.config.rto.max ||
      root_candidates_.empty() || probes_sent_ >= options_.max_probes) {
    return false;
  }
  ++rounds_;
  round_replies_ = replies_.size();
  round_timeouts_ = 0;
  round_answers_ = 0;
  failed_.clear();
  return open_level(now, 0, root_candidates_);
}

// Drops what must not be probed, reporting why. Dead servers are left out only while
// someone else at the level may still answer.
std::vector<Candidate> Descent::admissible(TimePoint now, std::vector<Candidate> candidates,
                                           uint32_t depth) {
  std::vector<Candidate> out;
  const uint32_t level_depth = depth;
  for (Candidate& c : candidates) {
    depth = c.speculative ? level_depth + 1 : level_depth;
    const PeerRecord* record = shared_.peers.find(c.address);
    if (c.name.empty() && record != nullptr) c.name = record->name;
    if (blacklist_.blocks_address(c.address)) {
      report(c, depth, PeerErrorKind::kBlacklisted, "addr:" + to_string(c.address));
    } else if (blacklist_.blocks_name(c.name) ||
               (record != nullptr && blacklist_.blocks_name(record->name))) {
      report(c, depth, PeerErrorKind::kBlacklisted,
             "name:" + (blacklist_.blocks_name(c.name) ? c.name : record->name));
    } else if (on_path(c.address)) {
      report(c, depth, PeerErrorKind::kSkipped, "already on the path: the tree has a loop");
    } else if (!failed_before(c.address) &&
               std::none_of(out.begin(), out.end(), [&](const Candidate& o) {
                 return same_server(o.address, c.address);
               })) {
      out.push_back(std::move(c));
    }
  }
  auto alive = [&](const Candidate& c) {
    const PeerRecord* record = shared_.peers.find(c.address);
    return record == nullptr || record->health.may_probe(now);
  };
  if (std::any_of(out.begin(), out.end(), alive)) {
    std::erase_if(out, [&](const Candidate& c) {
      if (alive(c)) return false;
      const Duration wait = shared_.peers.find(c.address)->health.retry_at() - now;
      report(c, c.speculative ? level_depth + 1 : level_depth, PeerErrorKind::kSkipped,
             fmt::format("dead: probed again in {}", format_duration(wait)));
      return true;
    });
  }
  return out;
}

bool Descent::open_level(TimePoint now, uint32_t depth, std::vector<Candidate> candidates) {
  candidates = admissible(now, std::move(candidates), depth);
  // A grandchild goes with its parent: not probed when the parent may not be (blacklisted,
  // on the path, over a bound).
  std::erase_if(candidates, [&](const Candidate& g) {
    return g.speculative &&
           std::none_of(candidates.begin(), candidates.end(), [&](const Candidate& c) {
             return !c.speculative && same_server(c.address, g.parent);
           });
  });
  Level level{next_level_id_++, depth, {}, {}, SIZE_MAX, kNever, false, false, kNever};
  for (Candidate& c : candidates) {
    const uint32_t own_depth = c.speculative ? depth + 1 : depth;
    level.speculative |= c.speculative;
    if (peers_.size() >= kMaxPeersPerDescent) {
      report(c, depth, PeerErrorKind::kSkipped,
             fmt::format("over {} servers in one discovery", kMaxPeersPerDescent));
      continue;
    }
    if (shortcut_pending() && peers_[shortcut_].level_id == kShortcutLevel &&
        same_server(peers_[shortcut_].candidate.address, c.address)) {
      // The walk met the cached leaf it is still waiting for: one exchange serves both.
      peers_[shortcut_].level_id = level.id;
      peers_[shortcut_].depth = own_depth;
      peers_[shortcut_].candidate.speculative = c.speculative;
      peers_[shortcut_].candidate.parent = c.parent;
      level.peers.push_back(shortcut_);
      continue;
    }
    if (const size_t early = in_flight_above(c.address, own_depth); early != SIZE_MAX) {
      // Probed with the round above (a grandchild that joined or was listed) and still
      // waited for: the same exchange goes on in this level rather than a second probe.
      Peer& peer = peers_[early];
      peer.level_id = level.id;
      peer.candidate.speculative = c.speculative;
      peer.candidate.parent = c.parent;
      peer.exchange.resume();
      level.peers.push_back(early);
      continue;
    }
    level.peers.push_back(add_peer(now, std::move(c), own_depth, level.id));
  }
  if (level.peers.empty()) return false;
  levels_.push_back(std::move(level));
  ++levels_opened_;
  return true;
}

size_t Descent::add_peer(TimePoint now, Candidate candidate, uint32_t depth, uint64_t level_id) {
  const Duration rto = shared_.peers.touch(candidate.address, now).rtt.rto();
  peers_.push_back(Peer{std::move(candidate), depth, level_id, Phase::kPending,
                        Exchange(options_.max_attempts, rto, shared_.config.rto)});
  return peers_.size() - 1;
}

// Does everything due at `now`: sends, retransmissions, give-ups, a closing grace window.
void Descent::pump(TimePoint now) {
  while (state_ == State::kRunning) {
    // A window that closed decides the level when a reply waits to win; with none (every
    // reply tried, others still pending) there is nothing to decide until one comes.
    if (!levels_.empty() && levels_.back().winner == SIZE_MAX &&
        decision_time(levels_.back()) <= now && best_untried(levels_.back()) != SIZE_MAX) {
      settle(now);
      continue;
    }
    const size_t index = next_due_peer(now);
    if (index == SIZE_MAX) return;
    Peer& peer = peers_[index];
    if (peer.exchange.exhausted()) {
      fail_peer(index, now, PeerErrorKind::kTimeout,
                counted(peer.exchange.attempts(), "attempt") + ", no reply");
    } else {
      transmit(index, now);
    }
  }
}

size_t Descent::next_due_peer(TimePoint now) const {
  size_t best = SIZE_MAX;
  TimePoint best_due = now;
  auto consider = [&](size_t index) {
    const Peer& peer = peers_[index];
    if (peer.phase != Phase::kPending) return;
    const TimePoint due = peer.exchange.due();
    if (due <= best_due && (best == SIZE_MAX || due < best_due)) {
      best = index;
      best_due = due;
    }
  };
  if (!levels_.empty() && levels_.back().winner == SIZE_MAX) {
    for (size_t index : levels_.back().peers)
      consider(index);
  }
  if (shortcut_ != SIZE_MAX) consider(shortcut_);
  return best;
}

TimePoint Descent::next_timeout() const {
  if (state_ != State::kRunning) return kNever;
  TimePoint next = kNever;
  if (!levels_.empty() && levels_.back().winner == SIZE_MAX) {
    next = decision_time(levels_.back());
    for (size_t index : levels_.back().peers) {
      if (peers_[index].phase == Phase::kPending)
        next = std::min(next, peers_[index].exchange.due());
    }
  }
  if (shortcut_pending()) next = std::min(next, peers_[shortcut_].exchange.due());
  return std::min(next, race_at_);
}

void Descent::transmit(size_t index, TimePoint now, std::optional<Transport> via) {
  const Transport transport = via.value_or(next_transport(peers_[index]));
  Peer& peer = peers_[index];
  // An extra send (the race, or TCP after a refused datagram) is skipped, not a failure,
  // when the gate or the budget says no: the peer's own schedule goes on.
  const bool extra = via.has_value();
  if (!extra && carrier_fixed_ && peer.refused[slot(transport)]) {
    // It refused the transport that now carries the walk: nothing more can reach it.
    fail_peer(index, now, PeerErrorKind::kUnreachable,
              fmt::format("destination unreachable over {}", kTransportNames[slot(transport)]));
    return;
  }
  PeerRecord& record = shared_.peers.touch(peer.candidate.address, now);
  const TimePoint allowed = shared_.gate.when_allowed(now, record, RequestKind::kProbe);
  if (allowed > now) {
    if (extra) return;
    if (allowed >= deadline_) {
      fail_peer(index, now, PeerErrorKind::kRateLimited,
                allowed == kNever ? "held back: its bucket will never admit a probe"
                                  : "held back: its bucket admits no probe before the deadline");
    } else {
      peer.exchange.defer(allowed);
      ++shared_.counters.deferred;
    }
    return;
  }
  proto::ProbeRequest request;
  shared_.random.fill(request.transaction_id);
  request.children_wanted = options_.children_wanted;
  request.depth = options_.speculate ? 2 : 1;
  request.capacity_token = capacity_token_;
  request.pad_to = options_.pad_to;
  std::vector<uint8_t> bytes(std::max<size_t>(options_.pad_to + 4, 512));
  auto size = proto::encode_probe_request(request, bytes);
  if (!size) {
    fail_peer(index, now, PeerErrorKind::kMalformed,
              "cannot encode the probe: " + proto::to_string(size.error()));
    return;
  }
  bytes.resize(*size);
  if (probes_sent_ >= options_.max_probes || bytes_sent_ + *size > options_.max_probe_bytes) {
    if (extra) return;
    fail_peer(index, now, PeerErrorKind::kSkipped,
              fmt::format("over the discovery's budget ({} probes, {} bytes sent)", probes_sent_,
                          bytes_sent_));
    return;
  }
  bytes_sent_ += *size;
  shared_.gate.charge(now, record, RequestKind::kProbe);
  Datagram& out = shared_.outbox.emplace_back();
  out.remote = peer.candidate.address;
  out.bytes = std::move(bytes);
  out.transport = transport;
  if (transport == Transport::kTls) {
    out.tls_name = peer.candidate.host;
    out.tls_ca_file = options_.tls_ca_file;
    out.tls_verify = !options_.tls_insecure;
  }
  const uint32_t attempt = peer.exchange.sent(now, shared_.random);
  tids_[request.transaction_id] = SentProbe{index, attempt, transport};
  peer.sent[slot(transport)] = true;
  peer.last_via = transport;
  ++probes_sent_;
  ++shared_.counters.probes_sent;
}

bool Descent::on_message(TimePoint now, const Endpoint& remote, const proto::MessageView& view,
                         Transport via) {
  const auto it = tids_.find(view.transaction_id());
  if (it == tids_.end()) return false;
  const SentProbe sent = it->second;
  const size_t index = sent.peer;
  const uint32_t attempt = sent.attempt;
  // A reply comes back the way its request went: a "TCP" answer to a UDP probe is not one.
  if (via != sent.via) {
    ++shared_.counters.wrong_source;
    return true;
  }
  if (via == Transport::kUdp && same_server(remote, peers_[index].candidate.address)) {
    udp_heard_ = true;
  }
  Peer& peer = peers_[index];
  if (!same_server(remote, peer.candidate.address)) {
    ++shared_.counters.wrong_source;
    return true;
  }
  if (peer.phase != Phase::kPending) {
    ++shared_.counters.late;
    return true;
  }
  if (!carrier_fixed_) {
    // The first transport that got an answer (any, an error too) carries the rest of the walk.
    carrier_ = via;
    carrier_fixed_ = true;
    race_at_ = kNever;
  }
  const Duration rtt = now - peer.exchange.sent_at(attempt);
  PeerRecord& record = shared_.peers.touch(peer.candidate.address, now);
  if (view.message_class() == proto::MessageClass::kError) {
    auto error = proto::decode_error_response(view);
    if (!error) {
      fail_peer(index, now, PeerErrorKind::kMalformed, proto::to_string(error.error()));
    } else {
      if (via == Transport::kUdp) record.rtt.add_sample(rtt);
      record.health.on_success();
      fail_peer(index, now, PeerErrorKind::kErrorResponse,
                fmt::format("error {} {}", error->code, quoted(error->reason)), error->code);
    }
    pump(now);
    return true;
  }
  auto response = proto::decode_probe_response(view);
  if (!response) {
    fail_peer(index, now, PeerErrorKind::kMalformed, proto::to_string(response.error()));
    pump(now);
    return true;
  }
  // A TCP reply took a connection's handshake too: it would skew the UDP RTO estimate.
  if (via == Transport::kUdp) record.rtt.add_sample(rtt);
  record.health.on_success();
  record.name = response->node_name;
  shared_.gate.on_flow_control(now, record, response->flow_control);
  accept(index, now, rtt, std::move(*response), via);
  pump(now);
  return true;
}

void Descent::accept(size_t index, TimePoint now, Duration rtt, proto::ProbeResponse response,
                     Transport via) {
  Peer& peer = peers_[index];
  if (blacklist_.blocks_name(response.node_name)) {
    fail_peer(index, now, PeerErrorKind::kBlacklisted, "name:" + response.node_name);
    return;
  }
  size_t usable = 0;
  for (const std::string& service : response.services) {
    auto uri = proto::parse_turn_uri(service);
    if (uri) {
      ++usable;
    } else {
      report(peer.candidate, peer.depth, PeerErrorKind::kMalformed,
             fmt::format("service {}: {}", quoted(service), proto::to_string(uri.error())));
    }
  }
  if (response.children.empty() && usable == 0) {
    if (response.services.empty()) ++empty_replies_;
    fail_peer(index, now,
              response.services.empty() ? PeerErrorKind::kEmpty : PeerErrorKind::kMalformed,
              response.services.empty() ? "neither children nor services" : "no usable service");
    return;
  }
  const bool overloaded = is_overloaded(response);
  replies_.push_back(
      AcceptedReply{index, peer.depth, now, rtt, std::move(response), overloaded, false, via});

  const size_t reply = replies_.size() - 1;
  peer.phase = Phase::kAnswered;
  peer.exchange.stop();
  if (index == shortcut_) {
    const AcceptedReply& r = replies_[reply];
    if (!r.response.children.empty()) {
      report(peer.candidate, peer.depth, PeerErrorKind::kSkipped,
             "the last good leaf now has children: no shortcut");
    } else if (options_.selection == Selection::kLoadAware && r.overloaded) {
      report(peer.candidate, peer.depth, PeerErrorKind::kSkipped,
             "the last good leaf is overloaded: no shortcut");
    } else {
      shortcut_answer_ = reply;
    }
    check_failed();
  }
  Level* level = find_level(peer.level_id);
  if (level == nullptr) return;
  level->replies.push_back(reply);
  if (level != &levels_.back()) return;
  if (level->speculative && level->winner == SIZE_MAX) join_children(*level, reply, now);
  settle(now);
}

// The first branch child to answer during a speculative round: those of its children that
// are not in the round yet join it now (the listing may have left them out, or be older
// than they are). So the round covers every child of the branch a level-by-level walk would
// have taken, and its choice is never worse than that walk's.
void Descent::join_children(Level& level, size_t reply, TimePoint now) {
  const AcceptedReply& branch = replies_[reply];
  if (level.joined || branch.depth != level.depth || branch.response.children.empty()) return;
  // An overloaded branch is not the one a walk would take (load-aware): the next may be.
  if (options_.selection == Selection::kLoadAware && branch.overloaded) return;
  level.joined = true;
  const Endpoint& lister = peers_[branch.peer].candidate.address;
  const size_t most = size_t{options_.max_children_per_level} + options_.max_speculative;
  std::vector<Candidate> joining;
  for (const proto::ChildEntry& child : branch.response.children) {
    const bool known = std::any_of(level.peers.begin(), level.peers.end(), [&](size_t i) {
      return same_server(peers_[i].candidate.address, child.address);
    });
    if (known || refuse_named(lister, child.address, options_.allow_any_scope)) continue;
    if (level.peers.size() + joining.size() >= most) break;
    Candidate candidate{child.address, {}};
    candidate.speculative = true;
    candidate.parent = lister;
    joining.push_back(std::move(candidate));
  }
  for (Candidate& c : admissible(now, std::move(joining), level.depth)) {
    if (shortcut_pending() && peers_[shortcut_].level_id == kShortcutLevel &&
        same_server(peers_[shortcut_].candidate.address, c.address)) {
      // The cached leaf, still waited for: its exchange serves the round too.
      Peer& cached = peers_[shortcut_];
      cached.level_id = level.id;
      cached.depth = level.depth + 1;
      cached.candidate.speculative = true;
      cached.candidate.parent = lister;
      level.peers.push_back(shortcut_);
      continue;
    }
    if (peers_.size() >= kMaxPeersPerDescent) break;
    level.peers.push_back(add_peer(now, std::move(c), level.depth + 1, level.id));
  }
}

// A server that joined the round after it began (join_children) has not had as long as
// `reply` took: a leaf under it as near as `reply` may still answer. Until it has had that
// long, `reply` does not win. The wait is at most the joining branch's own round trip.
TimePoint Descent::hold_until(const Level& level, size_t reply) const {
  TimePoint until{};
  const AcceptedReply& r = replies_[reply];
  if (!level.speculative || (r.depth == level.depth && !r.response.children.empty())) {
    return until;
  }
  for (size_t i : level.peers) {
    const Peer& peer = peers_[i];
    if (peer.phase != Phase::kPending || peer.depth <= level.depth ||
        peer.exchange.attempts() == 0) {
      continue;
    }
    until = std::max(until, peer.exchange.first_sent() + r.rtt);
  }
  return until;
}

void Descent::fail_peer(size_t index, TimePoint now, PeerErrorKind kind, std::string detail,
                        uint16_t code) {
  Peer& peer = peers_[index];
  if (peer.phase != Phase::kPending) return;
  peer.phase = Phase::kFailed;
  peer.exchange.stop();
  if (kind == PeerErrorKind::kTimeout || kind == PeerErrorKind::kMalformed ||
      kind == PeerErrorKind::kUnreachable) {
    shared_.peers.touch(peer.candidate.address, now).health.on_failure(now, shared_.random);
  }
  if (kind == PeerErrorKind::kRateLimited) ++rate_limited_;
  if (kind == PeerErrorKind::kTimeout && index != shortcut_) ++round_timeouts_;
  // Something came back from it: an error response, a malformed or empty answer.
  if (kind == PeerErrorKind::kErrorResponse || kind == PeerErrorKind::kMalformed ||
      kind == PeerErrorKind::kEmpty) {
    ++round_answers_;
  }
  failed_.push_back(peer.candidate.address);
  report(peer.candidate, peer.depth, kind, std::move(detail), code);
  if (index == shortcut_) check_failed();
  if (!levels_.empty() && peer.level_id == levels_.back().id) settle(now);
}

// Decides the current level: a winner, more waiting, or (everyone failed) back up.
void Descent::settle(TimePoint now) {
  while (state_ == State::kRunning) {
    if (levels_.empty()) {
      check_failed();
      return;
    }
    Level& top = levels_.back();
    if (top.winner != SIZE_MAX) return;
    const size_t best = best_untried(top);
    const bool pending = has_pending(top);
    if (best == SIZE_MAX) {
      if (pending) return;
      levels_.pop_back();
      if (!levels_.empty()) {
        abandon_winner(levels_.back());
      } else if (start_another_round(now)) {
        return;  // The new round's probes are due now; the caller's pump sends them.
      }
      continue;
    }
    // A survey waits for every server of the level (or its window), whatever the first said.
    const bool surveying = options_.survey > Duration::zero();
    top.hold_until = kNever;
    if (const TimePoint hold = hold_until(top, best); !surveying && hold > now && pending) {
      top.hold_until = hold;
      return;
    }
    const bool deeper = wait_for_deeper(top, best);
    const bool wins = (!surveying && !deeper &&
                       (options_.selection == Selection::kFirst || !replies_[best].overloaded)) ||
                      !pending || now >= top.grace_until;
    if (!wins) {
      if (top.grace_until == kNever) {
        // A branch child waits for the leaves and grandchildren of the round, and for its
        // own children (which join the round as it answers) about as long as it took itself
        // to answer, and the grace window more: they are usually as near.
        const Duration window = surveying ? Duration{options_.survey}
                                : deeper  ? options_.grace + replies_[best].rtt
                                          : options_.grace;
        top.grace_until = now + window;
      }
      return;
    }
    if (descend(best, now)) return;
    abandon_winner(levels_.back());
  }
}

// Makes `reply` the winner of the current level and opens the level of its children.
// False when that leads nowhere (no child may be probed, or too deep).
bool Descent::descend(size_t reply, TimePoint now) {
  Level& top = levels_.back();
  top.winner = reply;
  replies_[reply].tried = true;
  for (size_t index : top.peers)
    peers_[index].exchange.pause();
  const AcceptedReply& winner = replies_[reply];
  if (winner.response.children.empty()) {
    state_ = State::kLeafFound;
    leaf_ = reply;
    if (shortcut_ != SIZE_MAX) peers_[shortcut_].exchange.pause();
    return true;
  }
  const uint32_t depth = winner.depth + 1;
  if (depth >= options_.max_depth) {
    report(peers_[winner.peer].candidate, winner.depth, PeerErrorKind::kSkipped,
           fmt::format("its children are deeper than max_depth {}", options_.max_depth));
    return false;
  }
  // The listing is the server's word only: children it may not send us to are skipped, and
  // at most max_children_per_level of the rest are probed.
  const Candidate& lister = peers_[winner.peer].candidate;
  std::vector<Candidate> children;
  size_t beyond = 0;
  for (const proto::ChildEntry& child : winner.response.children) {
    Candidate candidate{child.address, {}};
    if (auto why = refuse_named(lister.address, child.address, options_.allow_any_scope)) {
      report(candidate, depth, PeerErrorKind::kSkipped,
             "listed by " + to_string(lister.address) + ": " + *why);
    } else if (children.size() >= options_.max_children_per_level) {
      ++beyond;
    } else {
      children.push_back(std::move(candidate));
    }
  }
  if (beyond > 0) {
    report(lister, winner.depth, PeerErrorKind::kSkipped,
           fmt::format("listed {} more children than max_children_per_level {}: not probed", beyond,
                       options_.max_children_per_level));
  }
  if (options_.speculate && depth + 1 < options_.max_depth) {
    for (Candidate& c : speculative_candidates(winner, children.size()))
      children.push_back(std::move(c));
  }
  return open_level(now, depth, std::move(children));
}

std::vector<Candidate> Descent::speculative_candidates(const AcceptedReply& winner,
                                                       size_t children) {
  std::vector<Candidate> out;
  const size_t room = options_.max_speculative > children ? options_.max_speculative - children : 0;
  if (winner.response.grandchildren.empty() || room == 0) return out;
  const Endpoint& lister = peers_[winner.peer].candidate.address;
  std::vector<const proto::Grandchild*> listed;
  for (const proto::Grandchild& g : winner.response.grandchildren) {
    // Named by the winner about its child: the rules for the child itself, as named by the
    // winner and as the child would name it.
    auto why = refuse_named(lister, g.entry.address, options_.allow_any_scope);
    if (!why) {
      why = refuse_named(winner.response.children[g.parent].address, g.entry.address,
                         options_.allow_any_scope);
    }
    if (why) {
      report(Candidate{g.entry.address, {}}, winner.depth + 2, PeerErrorKind::kSkipped,
             "listed by " + to_string(lister) + ": " + *why);
    } else {
      listed.push_back(&g);
    }
  }
  if (listed.size() > room) {
    report(Candidate{lister, winner.response.node_name}, winner.depth, PeerErrorKind::kSkipped,
           fmt::format("listed {} grandchildren, over max_speculative {} with {} children: the "
                       "{} least loaded probed",
                       listed.size(), options_.max_speculative, children, room));
    std::stable_sort(listed.begin(), listed.end(),
                     [](const proto::Grandchild* a, const proto::Grandchild* b) {
                       return std::tie(a->entry.load_permille, b->entry.weight) <
                              std::tie(b->entry.load_permille, a->entry.weight);
                     });
    listed.resize(room);
  }
  for (const proto::Grandchild* g : listed) {
    Candidate candidate{g->entry.address, {}};
    candidate.speculative = true;
    candidate.parent = winner.response.children[g->parent].address;
    out.push_back(std::move(candidate));
  }
  return out;
}

bool Descent::wait_for_deeper(const Level& level, size_t reply) const {
  if (!level.speculative || replies_[reply].depth != level.depth ||
      replies_[reply].response.children.empty()) {
    return false;
  }
  return std::any_of(level.peers.begin(), level.peers.end(), [&](size_t i) {
    return peers_[i].phase == Phase::kPending && peers_[i].depth > level.depth;
  });
}

// The subtree under the level's winner failed: the level is open again, and its silent
// candidates resume their schedules.
void Descent::abandon_winner(Level& level) {
  level.winner = SIZE_MAX;
  // A survey's window closes once per level: back here, the next best reply wins at once.
  if (options_.survey == Duration::zero()) level.grace_until = kNever;
  for (size_t index : level.peers)
    peers_[index].exchange.resume();
}

void Descent::check_failed() {
  if (state_ != State::kRunning || !levels_.empty() || shortcut_pending()) return;
  state_ = State::kFailed;
  failure_ = failure_text();
}

// The driver reports a datagram the kernel refused and a TCP connection that was refused or
// failed. Where the other transport may still carry the walk, that is no reason to give up
// on the server: a host firewall that rejects UDP is one of the networks TCP is for.
void Descent::on_unreachable(TimePoint now, const Endpoint& remote, Transport via,
                             std::string_view why) {
  for (size_t i = 0; i < peers_.size(); ++i) {
    Peer& peer = peers_[i];
    if (peer.phase != Phase::kPending || peer.exchange.attempts() == 0 ||
        !same_server(peer.candidate.address, remote)) {
      continue;
    }
    peer.refused[slot(via)] = true;
    peer.reported[slot(via)] = true;
    // TLS runs on the TCP port: a refused connection refuses both.
    if (via == Transport::kTcp) peer.refused[slot(Transport::kTls)] = true;
    // Which transports may still carry the walk to the server.
    bool left = false;
    for (size_t t = 0; t < kRace.size(); ++t)
      left |= (!carrier_fixed_ || kRace[t] == carrier_) && !peer.refused[t];
    if (!left) {
      // "over UDP and TCP", "over UDP, TCP and TLS": what the driver reported.
      std::string over;
      size_t named = 0;
      const auto count =
          static_cast<size_t>(std::count(peer.reported.begin(), peer.reported.end(), true));
      for (size_t t = 0; t < kRace.size(); ++t) {
        if (!peer.reported[t]) continue;
        over += named == 0 ? "" : (named + 1 == count ? " and " : ", ");
        over += kTransportNames[t];
        ++named;
      }
      std::string text = carrier_fixed_ ? fmt::format("destination unreachable over {}",
                                                      kTransportNames[slot(via)])
                                        : "destination unreachable over " + over;
      if (!why.empty()) text += fmt::format(" ({})", why);
      fail_peer(i, now, PeerErrorKind::kUnreachable, text);
    } else if (via == Transport::kUdp && !peer.sent[slot(Transport::kTcp)] &&
               !peer.refused[slot(Transport::kTcp)] && !peer.exchange.exhausted()) {
      transmit(i, now, Transport::kTcp);  // TCP now, for this server alone.
    }
    // Otherwise the transport left carries its retransmissions (next_transport).
  }
  pump(now);
}

void Descent::on_timeout(TimePoint now) {
  if (state_ == State::kRunning && race_at_ <= now) race(now);
  pump(now);
}

void Descent::expire() {
  if (state_ != State::kRunning) return;
  std::vector<size_t> silent;
  if (!levels_.empty() && levels_.back().winner == SIZE_MAX) silent = levels_.back().peers;
  if (shortcut_ != SIZE_MAX) silent.push_back(shortcut_);
  for (size_t index : silent) {
    Peer& peer = peers_[index];
    if (peer.phase != Phase::kPending) continue;
    peer.phase = Phase::kFailed;
    peer.exchange.stop();
    report(peer.candidate, peer.depth, PeerErrorKind::kTimeout,
           fmt::format("no reply before the deadline ({})",
                       counted(peer.exchange.attempts(), "attempt")));
  }
  state_ = State::kFailed;
  failure_ = fmt::format("deadline of {} passed while probing depth {}",
                         format_duration(Duration{options_.timeout}),
                         levels_.empty() ? 0 : levels_.back().depth);
}

void Descent::report_silent_roots(TimePoint now) {
  for (size_t i = 0; i < peers_.size(); ++i) {
    Peer& peer = peers_[i];
    const uint32_t attempts = peer.exchange.attempts();
    if (i == shortcut_ || peer.depth != 0 || peer.phase != Phase::kPending || attempts == 0 ||
        now < peer.exchange.scheduled()) {
      continue;
    }
    peer.phase = Phase::kFailed;
    peer.exchange.stop();
    report(peer.candidate, 0, PeerErrorKind::kTimeout,
           fmt::format("no reply within its timeout ({} since the last of {}); another root "
                       "had answered",
                       format_duration(now - peer.exchange.sent_at(attempts - 1)),
                       counted(attempts, "attempt")));
  }
}

void Descent::reject_leaf(TimePoint now, std::string detail) {
  if (state_ != State::kLeafFound) return;
  const AcceptedReply& leaf = replies_[leaf_];
  report(Candidate{peers_[leaf.peer].candidate.address, leaf.response.node_name}, leaf.depth,
         PeerErrorKind::kNotVerified, std::move(detail));
  state_ = State::kRunning;
  leaf_ = SIZE_MAX;
  // The leaf's reply stays `tried`: best_untried never picks it again. The cached leaf's
  // probe, paused when the leaf was found, goes on too: it may still answer.
  if (shortcut_ != SIZE_MAX) peers_[shortcut_].exchange.resume();
  abandon_winner(levels_.back());
  settle(now);
  pump(now);
}

bool Descent::shortcut_pending() const {
  return shortcut_ != SIZE_MAX && peers_[shortcut_].phase == Phase::kPending;
}

std::vector<Hop> Descent::path() const {
  std::vector<Hop> hops;
  for (const Level& level : levels_) {
    if (level.winner == SIZE_MAX) break;
    const Peer& winner = peers_[replies_[level.winner].peer];
    if (winner.candidate.speculative) {
      // The level was won a level down: the child the winner was listed under is on the
      // path too, whether or not it answered or was probed at all (a server known dead).
      const auto parent = std::find_if(level.peers.begin(), level.peers.end(), [&](size_t i) {
        return peers_[i].depth == level.depth &&
               same_server(peers_[i].candidate.address, winner.candidate.parent);
      });
      if (parent != level.peers.end()) {
        hops.push_back(hop_of(level, *parent));
      } else {
        Hop& hop = hops.emplace_back();
        hop.depth = level.depth;
        hop.address = to_address(winner.candidate.parent);
        if (const PeerRecord* record = shared_.peers.find(winner.candidate.parent)) {
          hop.name = record->name;
        }
      }
      hops.back().speculative = true;
    }
    hops.push_back(hop_of(level, replies_[level.winner].peer));
  }
  return hops;
}

// Siblings: the servers of the level at the same depth (a speculative level holds two).
Hop Descent::hop_of(const Level& level, size_t peer) const {
  const uint32_t depth = peers_[peer].depth;
  uint32_t probed = 0;
  uint32_t answered = 0;
  for (size_t i : level.peers) {
    if (peers_[i].depth == depth && peers_[i].exchange.attempts() > 0) ++probed;
  }
  const AcceptedReply* own = nullptr;
  for (size_t r : level.replies) {
    if (replies_[r].depth != depth) continue;
    ++answered;
    if (replies_[r].peer == peer) own = &replies_[r];
  }
  Hop hop;
  hop.depth = depth;
  hop.address = to_address(peers_[peer].candidate.address);
  hop.siblings_probed = probed;
  hop.siblings_answered = answered;
  if (own == nullptr) {
    const PeerRecord* record = shared_.peers.find(peers_[peer].candidate.address);
    hop.name =
        record != nullptr && !record->name.empty() ? record->name : peers_[peer].candidate.name;
    hop.transport = to_string(peers_[peer].last_via);
    return hop;
  }
  hop.name = own->response.node_name;
  hop.rtt = own->rtt;
  hop.load_permille = own->response.load.load_permille;
  hop.overload_limit_permille = own->response.load.overload_limit_permille;
  hop.tier = own->response.flow_control.tier;
  hop.transport = to_string(own->via);
  return hop;
}

std::vector<Hop> Descent::answers() const {
  std::vector<Hop> out;
  out.reserve(replies_.size());
  for (const AcceptedReply& reply : replies_) {
    out.push_back(Hop{
        reply.depth, reply.response.node_name, to_address(peers_[reply.peer].candidate.address),
        reply.rtt, reply.response.load.load_permille, reply.response.load.overload_limit_permille,
        0, 0, reply.response.flow_control.tier, to_string(reply.via)});
  }
  return out;
}

std::vector<Endpoint> Descent::path_addresses() const {
  std::vector<Endpoint> out;
  for (size_t i : path_replies()) {
    const Candidate& winner = peers_[replies_[i].peer].candidate;
    if (winner.speculative) out.push_back(winner.parent);  // As path() shows it.
    out.push_back(winner.address);
  }
  return out;
}

std::vector<size_t> Descent::path_replies() const {
  std::vector<size_t> out;
  for (const Level& level : levels_) {
    if (level.winner == SIZE_MAX) break;
    out.push_back(level.winner);
  }
  return out;
}

size_t Descent::best_untried(const Level& level) const {
  size_t best = SIZE_MAX;
  // At a speculative level a branch child comes after the leaves and the grandchildren:
  // they are a round trip further down.
  auto key = [&](size_t r) {
    const bool overloaded = options_.selection == Selection::kLoadAware && replies_[r].overloaded;
    const bool shallow = level.speculative && replies_[r].depth == level.depth &&
                         !replies_[r].response.children.empty();
    return std::make_tuple(overloaded, shallow, replies_[r].rtt, r);
  };
  for (size_t r : level.replies) {
    if (!replies_[r].tried && (best == SIZE_MAX || key(r) < key(best))) best = r;
  }
  return best;
}

bool Descent::has_pending(const Level& level) const {
  return std::any_of(level.peers.begin(), level.peers.end(),
                     [&](size_t i) { return peers_[i].phase == Phase::kPending; });
}

Descent::Level* Descent::find_level(uint64_t id) {
  for (Level& level : levels_) {
    if (level.id == id) return &level;
  }
  return nullptr;
}

bool Descent::on_path(const Endpoint& address) const {
  return std::any_of(levels_.begin(), levels_.end(), [&](const Level& level) {
    if (level.winner == SIZE_MAX) return false;
    const Candidate& winner = peers_[replies_[level.winner].peer].candidate;
    return same_server(winner.address, address) ||
           (winner.speculative && same_server(winner.parent, address));
  });
}

// While a leaf's win is held (hold_until()), the hold decides; otherwise the window.
TimePoint Descent::decision_time(const Level& level) {
  return level.hold_until != kNever ? level.hold_until : level.grace_until;
}

size_t Descent::in_flight_above(const Endpoint& address, uint32_t depth) const {
  if (levels_.empty()) return SIZE_MAX;
  for (size_t i : levels_.back().peers) {
    const Peer& peer = peers_[i];
    if (peer.phase == Phase::kPending && peer.depth == depth &&
        same_server(peer.candidate.address, address)) {
      return i;
    }
  }
  return SIZE_MAX;
}

bool Descent::failed_before(const Endpoint& address) const {
  return std::any_of(failed_.begin(), failed_.end(),
                     [&](const Endpoint& e) { return same_server(e, address); });
}

void Descent::report(const Candidate& candidate, uint32_t depth, PeerErrorKind kind,
                     std::string detail, uint16_t code) {
  errors_.add(PeerError{to_address(candidate.address), candidate.name, depth, kind, code,
                        std::move(detail)});
}

std::string Descent::failure_text() const {
  size_t probed = 0;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (i != shortcut_ && peers_[i].exchange.attempts() > 0) ++probed;
  }
  const auto answered = std::count_if(replies_.begin(), replies_.end(),
                                      [&](const AcceptedReply& r) { return r.peer != shortcut_; });
  if (probed == 0 && rate_limited_ > 0) return "every root is held back by a rate limit";
  if (probed == 0) return "no root to probe: every root is blacklisted or skipped";
  if (answered == 0 && empty_replies_ > 0) {
    return fmt::format(
        "no live child listed: {} of {} servers answered with no child and no service "
        "(everything below them is overloaded, draining or down)",
        empty_replies_, probed);
  }
  if (answered == 0) return fmt::format("no server answered ({} probed)", probed);
  return fmt::format("no leaf reached: every branch failed ({} servers probed, {} answered)",
                     probed, answered);
}

}  // namespace turnscout::client
