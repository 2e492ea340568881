// The level-by-level walk down the tree. Each level's candidates are probed at once; the
// first valid reply wins the level (under kLoadAware, the first that is not overloaded,
// or the best overloaded one once the grace window closes) and its children become the
// next level. Silent candidates are retransmitted to on their own RTO schedules until the
// level is won; their late replies are kept as alternates. A level where everyone failed
// sends the walk back to the best untried alternate of the level above (or resumes that
// level's silent candidates). The walk ends at a leaf (services and no children), or fails
// when nothing is left to try.
//
// Optionally a shortcut, the last good leaf, is probed together with the roots; its reply
// is reported separately (shortcut_answer) so the caller can answer in one round trip
// while the walk goes on as a refresh.
//
// Bounded, whatever servers answer: at most max_probes datagrams and max_probe_bytes bytes
// per discovery, max_children_per_level children probed per level, only to addresses the
// address policy allows (address_policy.hpp), kMaxPeersPerDescent servers, kMaxAttemptsLimit
// attempts each (one transaction id per attempt is remembered), max_depth levels.
// Per reply: one hash lookup, one decode, and work linear in the current level's size.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/sans_io.hpp"
#include "client/core/blacklist.hpp"
#include "client/core/exchange.hpp"
#include "client/core/options.hpp"
#include "client/core/result.hpp"
#include "client/core/shared.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"

namespace turnscout::client {

inline constexpr size_t kMaxPeersPerDescent = 512;

// A server to probe, as known before probing it.
struct Candidate {
  Endpoint address;
  std::string name;  // A root's host name, or the NODE-NAME last heard from it.
  // A root's host name, which its TLS certificate must carry; empty: its IP address must.
  std::string host{};
  // A grandchild probed with its parent's level (speculative descent): one level deeper,
  // listed under the child at `parent`.
  bool speculative = false;
  Endpoint parent{};
};

// A valid reply to one of our probes, from the address probed.
struct AcceptedReply {
  size_t peer = 0;
  uint32_t depth = 0;
  TimePoint at{};
  Duration rtt{};
  proto::ProbeResponse response;
  bool overloaded = false;  // At or over its announced limit, or draining.
  bool tried = false;       // Won its level (its subtree was or is being walked).
  Transport via = Transport::kUdp;
};

class Descent {
 public:
  enum class State : uint8_t { kRunning, kLeafFound, kFailed };

  // The references must outlive the Descent.
  Descent(const DiscoverOptions& options, const std::vector<Root>& roots,
          const Blacklist& blacklist, TimePoint deadline, Shared& shared, ErrorLog& errors);

  // `shortcut_depth` is the depth the shortcut had on the last good path.
  void start(TimePoint now, const std::optional<Candidate>& shortcut, uint32_t shortcut_depth);
  // False when the transaction id is not one of ours. `via`: how the reply came.
  bool on_message(TimePoint now, const Endpoint& remote, const proto::MessageView& view,
                  Transport via = Transport::kUdp);
  // What the driver could not send to `remote` over `via` (see Prober::on_unreachable).
  // `why`: what the driver knows of it (a refused certificate), or nothing.
  void on_unreachable(TimePoint now, const Endpoint& remote, Transport via = Transport::kUdp,
                      std::string_view why = {});
  void on_timeout(TimePoint now);
  TimePoint next_timeout() const;
  // The deadline passed: the silent candidates of the current level are reported and the
  // walk fails if it was still running.
  void expire();
  // At the end of a cold walk: roots that were probed and stayed silent past their
  // retransmission timeout are reported (another root's answer had taken the walk on, so
  // they were never given up), so a dead root shows up even when the discovery succeeded.
  // A root merely slower than the winner, not yet due for a retransmission, is not.
  void report_silent_roots(TimePoint now);
  // With kLeafFound: the leaf is no good after all (none of its TURN servers answered), so
  // the walk goes on as if it had failed: its siblings, then the alternates of the levels
  // above. `detail` is reported against the leaf.
  void reject_leaf(TimePoint now, std::string detail);

  State state() const { return state_; }
  const std::string& failure() const { return failure_; }
  // The winning leaf; only with kLeafFound.
  const AcceptedReply& leaf() const { return replies_[leaf_]; }
  // The shortcut's reply when it is a usable leaf.
  const AcceptedReply* shortcut_answer() const {
    return shortcut_answer_ < replies_.size() ? &replies_[shortcut_answer_] : nullptr;
  }
  bool shortcut_pending() const;
  // Root first; with kLeafFound the leaf is last.
  std::vector<Hop> path() const;
  // The addresses of path(), in its order (a speculative hop's too).
  std::vector<Endpoint> path_addresses() const;
  // Every accepted reply, in arrival order.
  const std::vector<AcceptedReply>& replies() const { return replies_; }
  // Every accepted reply as a Hop (DiscoveryResult::answers).
  std::vector<Hop> answers() const;
  const Endpoint& address_of(const AcceptedReply& reply) const {
    return peers_[reply.peer].candidate.address;
  }
  // Indices into replies() of the winners on the current path, root first.
  std::vector<size_t> path_replies() const;
  uint32_t probes_sent() const { return probes_sent_; }
  // Levels opened, one after the other: the rounds of Probes the walk waited for.
  uint32_t rounds() const { return levels_opened_; }
  // What carries the walk: with TransportMode::kAuto, UDP until the first valid reply came
  // over TCP (no root answered UDP within the fallback delay).
  Transport carrier() const { return carrier_; }
  // The walk goes over TCP and no server has answered it over UDP, not even late: UDP is
  // blocked (or, with kTcp, was not to be used). A UDP answer that came after TCP had won
  // says the network only lost a datagram.
  bool udp_silent() const { return carrier_ != Transport::kUdp && !udp_heard_; }

 private:
  enum class Phase : uint8_t { kPending, kAnswered, kFailed };
  struct Peer {
    Candidate candidate;
    uint32_t depth = 0;
    uint64_t level_id = 0;  // kShortcutLevel for the shortcut.
    Phase phase = Phase::kPending;
    Exchange exchange;
    // By slot(transport): a Probe went to it that way; that way is closed (the kernel
    // refused a datagram, a TCP connection failed, a TLS handshake failed); the driver
    // said so for that transport itself.
    std::array<bool, 3> sent{};
    std::array<bool, 3> refused{};
    std::array<bool, 3> reported{};
    Transport last_via = Transport::kUdp;  // Of the last Probe sent to it.
  };
  struct Level {
    uint64_t id = 0;
    uint32_t depth = 0;
    std::vector<size_t> peers;
    std::vector<size_t> replies;  // Accepted, in arrival order.
    size_t winner = SIZE_MAX;
    TimePoint grace_until = kNever;
    bool speculative = false;       // Holds grandchildren (depth + 1) as well as children.
    bool joined = false;            // The first branch child's children have joined it.
    TimePoint hold_until = kNever;  // A leaf's win waits for joined servers (hold_until()).
  };
  static constexpr uint64_t kShortcutLevel = 0;

  std::vector<Candidate> admissible(TimePoint now, std::vector<Candidate> candidates,
                                    uint32_t depth);
  bool open_level(TimePoint now, uint32_t depth, std::vector<Candidate> candidates);
  // The grandchildren the winner's reply lists, to probe with its children (at most
  // max_speculative - `children` of them, the least loaded first).
  std::vector<Candidate> speculative_candidates(const AcceptedReply& winner, size_t children);
  // At a speculative level: `reply` is a branch at the level's own depth while a deeper
  // server or a leaf may still answer, so it should not win yet.
  bool wait_for_deeper(const Level& level, size_t reply) const;
  void join_children(Level& level, size_t reply, TimePoint now);
  TimePoint hold_until(const Level& level, size_t reply) const;
  // A path hop for the winner of `level`, or for the child it was listed under.
  Hop hop_of(const Level& level, size_t peer) const;
  bool start_another_round(TimePoint now);
  size_t add_peer(TimePoint now, Candidate candidate, uint32_t depth, uint64_t level_id);
  void pump(TimePoint now);
  size_t next_due_peer(TimePoint now) const;
  void transmit(size_t index, TimePoint now, std::optional<Transport> via = std::nullopt);
  // TransportMode::kAuto: no root answered in time, so each pending one gets the next
  // transport too: TCP after transport_fallback, TLS after as long again.
  void race(TimePoint now);
  // The transports of a race in the order they join; slot() is a transport's place.
  static constexpr std::array<Transport, 3> kRace{Transport::kUdp, Transport::kTcp,
                                                  Transport::kTls};
  static constexpr size_t slot(Transport t) { return static_cast<size_t>(t); }
  Transport next_transport(const Peer& peer) const;
  void fail_peer(size_t index, TimePoint now, PeerErrorKind kind, std::string detail,
                 uint16_t code = 0);
  void accept(size_t index, TimePoint now, Duration rtt, proto::ProbeResponse response,
              Transport via);
  void settle(TimePoint now);
  bool descend(size_t reply, TimePoint now);
  void abandon_winner(Level& level);
  void check_failed();
  size_t best_untried(const Level& level) const;
  bool has_pending(const Level& level) const;
  Level* find_level(uint64_t id);
  bool on_path(const Endpoint& address) const;
  // A peer of the level being won, at `depth` and still pending, at `address`; SIZE_MAX if
  // none.
  size_t in_flight_above(const Endpoint& address, uint32_t depth) const;
  static TimePoint decision_time(const Level& level);
  bool failed_before(const Endpoint& address) const;
  void report(const Candidate& candidate, uint32_t depth, PeerErrorKind kind, std::string detail,
              uint16_t code = 0);
  std::string failure_text() const;

  const DiscoverOptions& options_;
  const std::vector<Root>& roots_;
  const Blacklist& blacklist_;
  TimePoint deadline_;
  Shared& shared_;
  ErrorLog& errors_;
  std::vector<uint8_t> capacity_token_;  // options_.capacity_token decoded (start() checked it).

  std::vector<Peer> peers_;
  std::vector<AcceptedReply> replies_;
  std::vector<Level> levels_;  // The current path: roots first, the level being probed last.
  uint64_t next_level_id_ = 1;
  struct SentProbe {
    size_t peer = 0;
    uint32_t attempt = 0;
    Transport via = Transport::kUdp;
  };
  std::unordered_map<proto::TransactionId, SentProbe, TransactionIdHash> tids_;
  // Transport racing (DiscoverOptions::transport): the carrier, whether a reply fixed it,
  // and when the next transport joins (kAuto, until then).
  Transport carrier_ = Transport::kUdp;
  bool carrier_fixed_ = false;
  TimePoint race_at_ = kNever;    // When the next transport joins.
  Duration race_step_{};          // The fallback delay, between one joining and the next.
  size_t raced_ = 0;              // Transports joined after UDP: 1 = TCP, 2 = TCP and TLS.
  bool udp_heard_ = false;        // Some reply of ours came over UDP.
  std::vector<Endpoint> failed_;  // Failed in this discovery: not probed again.
  size_t shortcut_ = SIZE_MAX;
  size_t shortcut_answer_ = SIZE_MAX;
  size_t leaf_ = SIZE_MAX;
  State state_ = State::kRunning;
  std::string failure_;
  uint32_t probes_sent_ = 0;
  uint32_t levels_opened_ = 0;
  size_t bytes_sent_ = 0;  // Of probes_sent_, against DiscoverOptions::max_probe_bytes.
  uint32_t rate_limited_ = 0;
  uint32_t empty_replies_ = 0;  // Answers that listed no child and no service.
  // The roots as first opened, and the rounds of the walk so far beyond the first.
  std::vector<Candidate> root_candidates_;
  uint32_t rounds_ = 0;
  size_t round_replies_ = 0;     // replies_.size() when the current round began.
  uint32_t round_timeouts_ = 0;  // Servers that stayed silent in the current round.
  uint32_t round_answers_ = 0;   // Error, malformed and empty answers in the current round.
  static constexpr uint32_t kMaxRounds = 16;
};

}  // namespace turnscout::client
