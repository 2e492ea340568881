#include "client/core/discovery.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "client/core/answer.hpp"
#include "common/format.hpp"

namespace turnscout::client {

Discovery::Discovery(DiscoveryId id, TimePoint started, DiscoverOptions options,
                     std::vector<Root> roots, Blacklist blacklist,
                     std::optional<LastPath> last_path, const std::vector<PeerError>& root_errors,
                     Shared& shared)
    : id_(id),
      started_(started),
      deadline_(started + options.timeout),
      options_(std::move(options)),
      roots_(std::move(roots)),
      blacklist_(std::move(blacklist)),
      last_path_(std::move(last_path)),
      shared_(shared),
      errors_(shared.config.max_errors),
      descent_(options_, roots_, blacklist_, deadline_, shared_, errors_),
      bindings_left_(options_.max_bindings) {
  for (const PeerError& error : root_errors)
    errors_.add(error);
}

void Discovery::start(TimePoint now) {
  std::optional<Candidate> shortcut;
  uint32_t depth = 0;
  if (last_path_) {
    shortcut = Candidate{last_path_->leaf_address(), last_path_->leaf().name};
    depth = last_path_->leaf().depth;
  }
  descent_.start(now, shortcut, depth);
  advance(now);
}

bool Discovery::on_message(TimePoint now, const Endpoint& remote, const proto::MessageView& view,
                           Transport via) {
  // Once the walk has ended the descent still takes the replies to its last probes while
  // the verifier runs: a sibling leaf that answers late is one more backup to check.
  const bool ours =
      ((!walk_done_ || collecting_late_leaves()) && descent_.on_message(now, remote, view, via)) ||
      (verifier_ && !delivered_ && verifier_->on_message(now, remote, view, via));
  if (ours) advance(now);
  return ours;
}

void Discovery::on_unreachable(TimePoint now, const Endpoint& remote, Transport via,
                               std::string_view why) {
  if (!walk_done_) descent_.on_unreachable(now, remote, via, why);
  if (verifier_ && !delivered_) verifier_->on_unreachable(now, remote, via, why);
  advance(now);
}

void Discovery::on_timeout(TimePoint now) {
  if (!walk_done_) descent_.on_timeout(now);
  if (verifier_ && !delivered_) verifier_->on_timeout(now);
  advance(now);
}

TimePoint Discovery::next_timeout() const {
  if (finished()) return kNever;
  TimePoint next = deadline_;
  if (!walk_done_) next = std::min(next, descent_.next_timeout());
  if (verifier_ && !delivered_) next = std::min(next, verifier_->next_timeout());
  return next;
}

std::optional<std::string> Discovery::take_resolve_request() {
  if (!verifier_ || delivered_) return std::nullopt;
  return verifier_->take_resolve_request();
}

void Discovery::on_resolved(TimePoint now, std::string_view host,
                            std::span<const Endpoint> addresses) {
  if (!verifier_ || delivered_) return;
  verifier_->on_resolved(now, host, addresses);
  advance(now);
}

std::optional<DiscoveryResult> Discovery::take_result() {
  auto result = std::move(result_);
  result_.reset();
  return result;
}

std::optional<PathUpdate> Discovery::take_path_update() {
  auto update = std::move(path_update_);
  path_update_.reset();
  return update;
}

void Discovery::advance(TimePoint now) {
  if (!delivered_) {
    advance_foreground(now);
    note_hops();
  }
  advance_walk(now);
}

// Compares the path now with the one last reported: hops beyond the common part are new.
void Discovery::note_hops() {
  if (!options_.report_hops) return;
  const std::vector<Hop> path = delivered_ ? (result_ ? result_->path : std::vector<Hop>{})
                                : answer_  ? answer_->path
                                           : descent_.path();
  size_t common = 0;
  while (common < path.size() && common < reported_.size() &&
         path[common].address == reported_[common].address &&
         path[common].depth == reported_[common].depth) {
    ++common;
  }
  if (common == path.size()) {
    reported_.resize(common);  // Backed out of deeper hops: they may be won again.
    return;
  }
  new_hops_.insert(new_hops_.end(), path.begin() + static_cast<long>(common), path.end());
  reported_ = path;
}

std::vector<Hop> Discovery::take_hops() {
  return std::exchange(new_hops_, {});
}

void Discovery::stop(TimePoint now) {
  if (!delivered_) {
    DiscoveryResult result = base_result(now);
    result.status = Status::kCancelled;
    result.failure = "stopped by the caller";
    if (answer_) {
      fill(result, *answer_);
    } else if (rejected_) {
      fill(result, *rejected_);  // What an earlier verification round found and checked.
    } else {
      result.path = descent_.path();
    }
    if (verifier_ || !earlier_attempts_.empty()) result.verification = verification();
    result_ = std::move(result);
    delivered_ = true;
  }
  walk_done_ = true;
}

void Discovery::advance_foreground(TimePoint now) {
  while (!answer_) {
    if (descent_.state() == Descent::State::kLeafFound) {
      answer_ = answer_from_descent();
      // The walk may have met the cached leaf while its probe, sent at the start, was still
      // out: then that one exchange answered both, in one round trip, and the answer is warm.
      answer_->warm = descent_.shortcut_answer() == &descent_.leaf();
      if (answer_->warm) answer_->round_trips = 1;
    } else if (descent_.shortcut_answer() != nullptr && !shortcut_rejected_) {
      answer_ = answer_from_shortcut();
    } else if (descent_.state() == Descent::State::kFailed) {
      deliver_failure(now, rejected_ ? verify_failure(verification()) : descent_.failure());
      return;
    } else if (now >= deadline_) {
      descent_.expire();
      deliver_failure(now, descent_.failure());
      return;
    } else {
      return;
    }
    if (!options_.verify) break;
    std::vector<Service> candidates = answer_->services;
    candidates.insert(candidates.end(), answer_->backups.begin(), answer_->backups.end());
    // Where UDP got no answer at all (or was not to be used) UDP services are not checked.
    verifier_.emplace(options_, deadline_, shared_, bindings_left_,
                      [this] { return descent_.udp_silent(); });
    verifier_->start(now, std::move(candidates), checked_uris_);
    replies_seen_ = descent_.replies().size();
    if (verifier_->done() && look_elsewhere(now)) reject_answer(now);  // Nothing new here.
  }
  if (collecting_late_leaves()) add_late_leaves();
  if (verifier_ && !verifier_->done()) {
    if (now < deadline_) return;
    verifier_->expire();
  }
  if (verifier_ && verifier_->done() && look_elsewhere(now)) {
    reject_answer(now);
    advance_foreground(now);
    return;
  }
  deliver(now);
}

// Everything this answer offered was checked and failed: the walk backtracks as it does
// past a dead server (to sibling leaves, then other branches), within the deadline.
bool Discovery::look_elsewhere(TimePoint now) const {
  return verifier_->result().state == VerifyState::kFailed && !verifier_->expired() &&
         !verifier_->out_of_budget() && bindings_left_ > 0 && !verifier_->nothing_checkable() &&
         now < deadline_;
}

void Discovery::reject_answer(TimePoint now) {
  const Verification& round = verifier_->result();
  earlier_attempts_.insert(earlier_attempts_.end(), round.tried.begin(), round.tried.end());
  for (std::string& uri : verifier_->candidate_uris()) {
    if (std::find(checked_uris_.begin(), checked_uris_.end(), uri) == checked_uris_.end()) {
      checked_uris_.push_back(std::move(uri));
    }
  }
  if (!rejected_) rejected_ = std::move(*answer_);
  const bool from_shortcut = answer_->from_shortcut;
  answer_.reset();
  verifier_.reset();
  if (from_shortcut) {
    shortcut_rejected_ = true;
    return;
  }
  if (descent_.shortcut_answer() == &descent_.leaf()) shortcut_rejected_ = true;
  descent_.reject_leaf(now, "none of its TURN servers answered a STUN Binding");
}

void Discovery::add_late_leaves() {
  const std::vector<AcceptedReply>& replies = descent_.replies();
  const size_t known = answer_->backups.size();
  for (; replies_seen_ < replies.size(); ++replies_seen_) {
    const AcceptedReply& reply = replies[replies_seen_];
    if (!reply.response.children.empty()) continue;
    append_unique(answer_->backups, services_of(reply, descent_.address_of(reply)),
                  answer_->services, shared_.config.max_backups);
  }
  // The verifier's candidates are the services then the backups, in this order, so that
  // verified_index() still points into them.
  if (answer_->backups.size() > known) {
    verifier_->add_candidates(
        {answer_->backups.begin() + static_cast<long>(known), answer_->backups.end()});
  }
}

// The descent as a source of the path to remember; it may outlive the foreground answer.
void Discovery::advance_walk(TimePoint now) {
  if (walk_done_) return;
  // Until its TURN servers answer, a leaf may still be rejected and the walk go on.
  if (options_.verify && !delivered_) return;
  if (descent_.state() == Descent::State::kRunning) {
    if (now < deadline_) return;
    descent_.expire();
  }
  walk_done_ = true;
  if (descent_.state() != Descent::State::kLeafFound || verify_failed_) return;
  const Answer fresh = answer_from_descent();
  std::vector<Endpoint> roots;
  for (const Root& root : roots_)
    roots.push_back(root.address);
  path_update_ = PathUpdate{LastPath{sorted_roots(std::move(roots)), fresh.path,
                                     descent_.path_addresses(), fresh.services, fresh.backups},
                            answer_ && answer_->warm};
}

Discovery::Answer Discovery::answer_from_descent() const {
  const AcceptedReply& leaf = descent_.leaf();
  Answer answer;
  answer.services = services_of(leaf, descent_.address_of(leaf));
  const size_t chosen = static_cast<size_t>(&leaf - descent_.replies().data());
  answer.backups = rank_backups(descent_, chosen, answer.services, shared_.config.max_backups);
  answer.path = descent_.path();
  answer.round_trips = descent_.rounds();
  answer.reflexive = to_address(leaf.response.reflexive);
  rank_by_transport(answer.services, answer.backups);
  return answer;
}

// Where the walk had to use TCP or TLS and nothing answered over UDP, UDP is blocked or not
// to be used: TURN over TCP and TLS comes first, and UDP services are marked as unlikely to
// work; where it went over TLS, TLS services (turns:) come before the rest. The order among
// each kind stays the leaf's.
void Discovery::rank_by_transport(std::vector<Service>& services,
                                  std::vector<Service>& backups) const {
  if (!descent_.udp_silent()) return;
  const bool tls_first = descent_.carrier() == Transport::kTls;
  for (std::vector<Service>* list : {&services, &backups}) {
    for (Service& s : *list)
      s.likely_blocked = s.transport == "udp";
    std::stable_partition(list->begin(), list->end(),
                          [](const Service& s) { return !s.likely_blocked; });
    if (tls_first) {
      // TLS over TCP, that is: DTLS (turns: over UDP) was just marked unlikely.
      std::stable_partition(list->begin(), list->end(), [](const Service& s) {
        return (s.scheme == "turns" || s.scheme == "stuns") && !s.likely_blocked;
      });
    }
  }
}

Discovery::Answer Discovery::answer_from_shortcut() const {
  const AcceptedReply& reply = *descent_.shortcut_answer();
  Answer answer;
  answer.services = services_of(reply, descent_.address_of(reply));
  append_unique(answer.backups, last_path_->backups, answer.services, shared_.config.max_backups);
  answer.path = last_path_->hops;
  Hop& leaf = answer.path.back();
  leaf.name = reply.response.node_name;
  leaf.rtt = reply.rtt;
  leaf.load_permille = reply.response.load.load_permille;
  leaf.overload_limit_permille = reply.response.load.overload_limit_permille;
  leaf.siblings_probed = 1;
  leaf.siblings_answered = 1;
  leaf.tier = reply.response.flow_control.tier;
  answer.reflexive = to_address(reply.response.reflexive);
  answer.warm = true;
  answer.from_shortcut = true;
  answer.round_trips = 1;
  rank_by_transport(answer.services, answer.backups);
  return answer;
}

DiscoveryResult Discovery::base_result(TimePoint now) const {
  DiscoveryResult result;
  result.status = Status::kNotFound;
  result.total_time = now - started_;
  result.errors = errors_.errors();
  result.errors_dropped = errors_.dropped();
  result.probes_sent = descent_.probes_sent();
  result.answers = descent_.answers();
  result.bindings_sent = options_.max_bindings - bindings_left_;
  result.transport = to_string(descent_.carrier());
  return result;
}

void Discovery::deliver_failure(TimePoint now, std::string reason) {
  result_ = base_result(now);
  result_->failure = std::move(reason);
  if (rejected_) {
    // What was found is kept, with every verification attempt.
    fill(*result_, *rejected_);
    result_->verification = verification();
    verify_failed_ = true;
  }
  delivered_ = true;
}

void Discovery::fill(DiscoveryResult& result, const Answer& answer) const {
  result.warm = answer.warm;
  result.round_trips = answer.round_trips;
  result.path = answer.path;
  if (!answer.path.empty()) {
    result.family = answer.path.front().address.ip.find(':') == std::string::npos ? "ipv4" : "ipv6";
  }
  result.reflexive = answer.reflexive;
  result.services = answer.services;
  result.backups = answer.backups;
}

// Every round's attempts in order; the current round's outcome.
Verification Discovery::verification() const {
  Verification v;
  if (verifier_) v = verifier_->result();
  v.state = verifier_ ? v.state : VerifyState::kFailed;
  v.tried.insert(v.tried.begin(), earlier_attempts_.begin(), earlier_attempts_.end());
  return v;
}

std::string Discovery::verify_failure(const Verification& v) {
  const bool any_sent = std::any_of(v.tried.begin(), v.tried.end(),
                                    [](const VerifyAttempt& a) { return !a.address.empty(); });
  return any_sent ? fmt::format("no TURN server answered a STUN Binding ({} tried)", v.tried.size())
                  : "no TURN server could be checked by a STUN Binding over UDP or TCP";
}

void Discovery::deliver(TimePoint now) {
  // A warm answer comes while the roots are still being asked, by design: not an error.
  if (!answer_->warm) descent_.report_silent_roots(now);
  DiscoveryResult result = base_result(now);
  result.status = Status::kOk;
  fill(result, *answer_);
  // A hop probed with the leaf (speculative descent) may have answered since the leaf was
  // found, during verification: the path as it stands now has its round trip.
  if (!answer_->from_shortcut && descent_.state() == Descent::State::kLeafFound) {
    result.path = descent_.path();
  }
  if (verifier_) {
    result.verification = verification();
    const size_t k = verifier_->verified_index();
    if (result.verification.state == VerifyState::kVerified) {
      if (k < result.services.size()) {
        std::rotate(result.services.begin(), result.services.begin() + static_cast<long>(k),
                    result.services.begin() + static_cast<long>(k) + 1);
      } else {
        const auto backup = result.backups.begin() + static_cast<long>(k - result.services.size());
        result.services.insert(result.services.begin(), *backup);
        result.backups.erase(backup);
      }
    } else if (verifier_->nothing_checkable()) {
      result.verification.state = VerifyState::kUnchecked;  // Still a good answer.
    } else {
      result.status = Status::kNotFound;
      verify_failed_ = true;
      const auto& tried = result.verification.tried;
      if (verifier_->expired()) {
        result.failure =
            fmt::format("deadline of {} passed while verifying TURN servers ({} tried)",
                        format_duration(Duration{options_.timeout}), tried.size());
      } else if (verifier_->out_of_budget() || bindings_left_ == 0) {
        result.failure = fmt::format(
            "no TURN server answered a STUN Binding within the discovery's budget of {} ({} tried)",
            counted(options_.max_bindings, "Binding"), tried.size());
      } else {
        result.failure = verify_failure(result.verification);
      }
      if (rejected_) fill(result, *rejected_);  // The first path found, as deliver_failure.
    }
  }
  // Backups from replies that came while verifying were added after the answer was ranked.
  // (A verified service is never a blocked one, so it stays first.)
  rank_by_transport(result.services, result.backups);
  result_ = std::move(result);
  delivered_ = true;
}

}  // namespace turnscout::client
