// One discovery: the descent, then (optionally) verification, under one deadline. A warm
// discovery answers from the last good leaf as soon as it replies and lets the descent
// run on in the background as a refresh; the Prober then decides whether the refreshed
// path replaces the cached one.
//
// Lifetime: owned by the Prober (never moved: its parts refer to its members) and removed
// once finished(); `shared` must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "client/core/blacklist.hpp"
#include "client/core/descent.hpp"
#include "client/core/last_path.hpp"
#include "client/core/options.hpp"
#include "client/core/result.hpp"
#include "client/core/shared.hpp"
#include "client/core/verifier.hpp"
#include "proto/message_view.hpp"

namespace turnscout::client {

// A path worth remembering, found by a discovery's descent.
struct PathUpdate {
  LastPath path;
  // The caller was already answered by the cached leaf: replace it only if clearly better.
  bool refresh = false;
};

class Discovery {
 public:
  // `started` is when the caller asked (root names were resolved since): the deadline and
  // total_time count from it. `roots` are resolved and not empty; `root_errors` are the
  // names that did not resolve. `last_path`, when given, is probed with the roots (the
  // caller checked that its roots match and that options.use_last_path is set).
  Discovery(DiscoveryId id, TimePoint started, DiscoverOptions options, std::vector<Root> roots,
            Blacklist blacklist, std::optional<LastPath> last_path,
            const std::vector<PeerError>& root_errors, Shared& shared);
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  void start(TimePoint now);
  // False when the transaction id is none of ours. `via`: how it came.
  bool on_message(TimePoint now, const Endpoint& remote, const proto::MessageView& view,
                  Transport via = Transport::kUdp);
  void on_unreachable(TimePoint now, const Endpoint& remote, Transport via = Transport::kUdp,
                      std::string_view why = {});
  void on_timeout(TimePoint now);
  TimePoint next_timeout() const;
  std::optional<std::string> take_resolve_request();
  void on_resolved(TimePoint now, std::string_view host, std::span<const Endpoint> addresses);

  // The caller's result, once.
  std::optional<DiscoveryResult> take_result();
  // Ends the discovery now, if its result is not out yet: the result says kCancelled and
  // carries the path found so far. The walk stops too.
  void stop(TimePoint now);
  // Hops won since the last call (with report_hops), root first; a hop the walk backed out
  // of is not taken back, and the next one may be at the same depth.
  std::vector<Hop> take_hops();
  std::optional<PathUpdate> take_path_update();
  // The result was produced and the descent (a background refresh too) has ended.
  bool finished() const { return delivered_ && walk_done_; }
  bool delivered() const { return delivered_; }
  DiscoveryId id() const { return id_; }

 private:
  struct Answer {
    std::vector<Service> services;
    std::vector<Service> backups;
    std::vector<Hop> path;
    Address reflexive;
    bool warm = false;
    bool from_shortcut = false;  // The cached leaf's own reply, not the walk's.
    uint32_t round_trips = 0;
  };

  void advance(TimePoint now);
  void advance_foreground(TimePoint now);
  void advance_walk(TimePoint now);
  // While verifying: replies from sibling leaves that came after the winner's.
  bool collecting_late_leaves() const { return verifier_ && !delivered_ && !verifier_->done(); }
  void add_late_leaves();
  Answer answer_from_descent() const;
  Answer answer_from_shortcut() const;
  void rank_by_transport(std::vector<Service>& services, std::vector<Service>& backups) const;
  // The answer's TURN servers all failed verification with time left: look elsewhere.
  void reject_answer(TimePoint now);
  void deliver(TimePoint now);
  void deliver_failure(TimePoint now, std::string reason);
  void fill(DiscoveryResult& result, const Answer& answer) const;
  Verification verification() const;
  static std::string verify_failure(const Verification& verification);
  // The current Verifier found nothing, checked what it could, and the deadline and the
  // Binding budget allow more: the walk may look elsewhere.
  bool look_elsewhere(TimePoint now) const;
  DiscoveryResult base_result(TimePoint now) const;

  DiscoveryId id_;
  TimePoint started_;
  TimePoint deadline_;
  DiscoverOptions options_;
  std::vector<Root> roots_;
  Blacklist blacklist_;
  std::optional<LastPath> last_path_;
  Shared& shared_;
  ErrorLog errors_;
  Descent descent_;
  std::optional<Verifier> verifier_;
  uint32_t bindings_left_;  // Of options_.max_bindings, over every Verifier.
  std::optional<Answer> answer_;
  std::optional<DiscoveryResult> result_;
  std::optional<PathUpdate> path_update_;
  // Verification rounds before the current one: their attempts, every URI they covered,
  // and the first answer they rejected (reported if nothing better is found).
  std::vector<VerifyAttempt> earlier_attempts_;
  std::vector<std::string> checked_uris_;
  std::optional<Answer> rejected_;
  bool shortcut_rejected_ = false;
  bool verify_failed_ = false;  // Delivered without a verified TURN server.
  // report_hops: the hops already reported (the path as last seen), and those to hand out.
  std::vector<Hop> reported_;
  std::vector<Hop> new_hops_;
  void note_hops();
  size_t replies_seen_ = 0;  // Replies of the descent already turned into candidates.
  bool delivered_ = false;
  bool walk_done_ = false;
};

}  // namespace turnscout::client
