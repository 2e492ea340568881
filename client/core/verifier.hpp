// The optional last step: a STUN Binding to the chosen TURN server itself, on its own RTO
// schedule; when it stays silent, the next backup is checked instead. The Binding goes the
// way the URI says: UDP or TCP (stun: and turn:), TLS (turns: and stuns: over TCP, the
// certificate checked as DiscoverOptions::tls_ca_file says); DTLS ones are listed as not
// checked, and so are UDP ones where the walk found UDP blocked.
//
// Host names: the core never resolves them. With DiscoverOptions::resolve_host_names the
// verifier asks the driver (take_resolve_request, answered by on_resolved) and waits,
// within the deadline; without it, services named by a host name are skipped as
// "not resolved by the core".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "client/core/exchange.hpp"
#include "client/core/options.hpp"
#include "client/core/result.hpp"
#include "client/core/shared.hpp"
#include "proto/message_view.hpp"

namespace turnscout::client {

class Verifier {
 public:
  // The references must outlive the Verifier. `bindings_left` is the discovery's Binding
  // budget, shared by every Verifier it starts; each Binding sent takes one.
  // `udp_blocked`, asked before each candidate: the walk got no answer over UDP (it went
  // over TCP, and no late UDP answer came since), so UDP services are not checked.
  Verifier(const DiscoverOptions& options, TimePoint deadline, Shared& shared,
           uint32_t& bindings_left, std::function<bool()> udp_blocked = {});

  // `candidates` in the order to try them: the chosen services, then the backups. Those
  // whose URI is in `skip` (checked earlier in the same discovery) are passed over unnoted.
  void start(TimePoint now, std::vector<Service> candidates, std::vector<std::string> skip = {});
  // More backups, tried after the others (e.g. sibling leaves whose replies came after the
  // winner's). Ignored once done().
  void add_candidates(std::vector<Service> more);
  // False when the transaction id is not one of ours. A reply must come the way its request
  // went (`via`).
  bool on_message(TimePoint now, const Endpoint& remote, const proto::MessageView& view,
                  Transport via = Transport::kUdp);
  void on_unreachable(TimePoint now, const Endpoint& remote, Transport via = Transport::kUdp,
                      std::string_view why = {});
  void on_timeout(TimePoint now);
  TimePoint next_timeout() const;
  // The deadline passed: whatever is being checked is given up.
  void expire();

  // A host name the driver should resolve, handed out once.
  std::optional<std::string> take_resolve_request();
  // The driver's answer for `host`; an empty list means it did not resolve.
  void on_resolved(TimePoint now, std::string_view host, std::span<const Endpoint> addresses);

  bool done() const { return done_; }
  // Done because the deadline passed (expire()) with candidates left.
  bool expired() const { return expired_; }
  // Done because the discovery's Binding budget ran out with candidates left.
  bool out_of_budget() const { return out_of_budget_; }
  // Every candidate's URI, checked or not.
  std::vector<std::string> candidate_uris() const;
  const Verification& result() const { return result_; }
  // The candidate that answered (kVerified only).
  size_t verified_index() const { return index_; }
  uint32_t bindings_sent() const { return bindings_sent_; }
  // Done without a single Binding because what the leaf named cannot be checked this way
  // (TLS only, UDP where UDP is blocked, host names the core may not resolve), and nothing was
  // refused by the address policy or failed to resolve: the leaf's word is all there is, which is
  // not a reason to look elsewhere.
  bool nothing_checkable() const {
    return done_ && !expired_ && !out_of_budget_ && bindings_sent_ == 0 && uncheckable_ > 0 &&
           unusable_ == 0 && result_.state != VerifyState::kVerified;
  }

 private:
  void next_candidate(TimePoint now);
  bool begin_check(TimePoint now);
  void give_up(std::string outcome, TimePoint now);
  void pump(TimePoint now);
  void transmit(TimePoint now);
  void note(std::string outcome);

  const DiscoverOptions& options_;
  TimePoint deadline_;
  Shared& shared_;
  uint32_t& bindings_left_;
  std::vector<Service> candidates_;
  std::vector<std::string> skip_;
  size_t index_ = 0;
  Endpoint target_;
  Transport via_ = Transport::kUdp;  // How the Bindings to target_ go.
  std::function<bool()> udp_blocked_;
  std::optional<Exchange> exchange_;  // For candidates_[index_], while a Binding is out.
  std::array<proto::TransactionId, kMaxAttemptsLimit> tids_{};
  std::optional<std::string> resolve_request_;
  std::optional<std::string> resolving_;  // Waiting for on_resolved for this host.
  Verification result_;
  bool done_ = false;
  bool expired_ = false;
  bool out_of_budget_ = false;
  uint32_t uncheckable_ = 0;  // Candidates no Binding can check (TLS, host name, UDP blocked).
  // Candidates the address policy kept us from checking, or whose name did not resolve.
  uint32_t unusable_ = 0;
  uint32_t bindings_sent_ = 0;
};

}  // namespace turnscout::client
