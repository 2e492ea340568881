#include "client/core/verifier.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "client/core/address_policy.hpp"
#include "common/format.hpp"
#include "proto/binding.hpp"
#include "proto/error_response.hpp"

namespace turnscout::client {
namespace {

// How a STUN Binding reaches the service: over UDP or TCP as its URI says, and TLS over TCP
// for turns: and stuns:; nothing for DTLS (turns: over UDP).
std::optional<Transport> binding_transport(const Service& service) {
  const bool tls = service.scheme == "turns" || service.scheme == "stuns";
  if (!tls && service.scheme != "stun" && service.scheme != "turn") return std::nullopt;
  if (service.transport == "tcp") return tls ? Transport::kTls : Transport::kTcp;
  if (service.transport == "udp" && !tls) return Transport::kUdp;
  return std::nullopt;
}

}  // namespace

Verifier::Verifier(const DiscoverOptions& options, TimePoint deadline, Shared& shared,
                   uint32_t& bindings_left, std::function<bool()> udp_blocked)
    : options_(options),
      deadline_(deadline),
      shared_(shared),
      bindings_left_(bindings_left),
      udp_blocked_(std::move(udp_blocked)) {
  result_.state = VerifyState::kFailed;
}

void Verifier::start(TimePoint now, std::vector<Service> candidates,
                     std::vector<std::string> skip) {
  candidates_ = std::move(candidates);
  skip_ = std::move(skip);
  index_ = 0;
  next_candidate(now);
}

void Verifier::add_candidates(std::vector<Service> more) {
  if (done_) return;
  candidates_.insert(candidates_.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
}

// Starts on candidates_[index_] or the first checkable one after it.
void Verifier::next_candidate(TimePoint now) {
  for (; index_ < candidates_.size(); ++index_) {
    const Service& service = candidates_[index_];
    target_ = Endpoint{};
    if (std::find(skip_.begin(), skip_.end(), service.uri) != skip_.end()) continue;
    const std::optional<Transport> via = binding_transport(service);
    if (!via) {
      note("not checked: needs DTLS, the check is a STUN Binding over UDP, TCP or TLS");
      ++uncheckable_;
      continue;
    }
    if (*via == Transport::kUdp && udp_blocked_ && udp_blocked_()) {
      note("not checked: UDP got no answer from the tree on this network");
      ++uncheckable_;
      continue;
    }
    via_ = *via;
    auto ip = parse_ip(service.host);
    if (ip) {
      target_ = *ip;
      target_.port = service.port;
      if (begin_check(now)) return;
      continue;
    }
    if (options_.resolve_host_names) {
      resolve_request_ = service.host;
      resolving_ = service.host;
      return;
    }
    note("not checked: a host name, and the core resolves none");
    ++uncheckable_;
  }
  done_ = true;
}

void Verifier::give_up(std::string outcome, TimePoint now) {
  note(std::move(outcome));
  exchange_.reset();
  ++index_;
  next_candidate(now);
}

void Verifier::pump(TimePoint now) {
  while (!done_ && exchange_ && exchange_->due() <= now) {
    if (exchange_->exhausted()) {
      shared_.peers.touch(target_, now).health.on_failure(now, shared_.random);
      give_up(counted(exchange_->attempts(), "attempt") + ", no reply", now);
    } else {
      transmit(now);
    }
  }
}

void Verifier::transmit(TimePoint now) {
  if (bindings_left_ == 0) {
    const std::string why = fmt::format("over the discovery's budget ({} sent)",
                                        counted(options_.max_bindings, "Binding"));
    if (exchange_->attempts() == 0) target_ = Endpoint{};  // Nothing was sent to it.
    note(exchange_->attempts() == 0 ? "not checked: " + why
                                    : fmt::format("{}, no reply; then {}",
                                                  counted(exchange_->attempts(), "attempt"), why));
    exchange_.reset();
    done_ = true;
    out_of_budget_ = true;
    return;
  }
  PeerRecord& record = shared_.peers.touch(target_, now);
  const TimePoint allowed = shared_.gate.when_allowed(now, record, RequestKind::kBinding);
  if (allowed > now) {
    if (allowed >= deadline_) {
      give_up("rate-limited: no Binding may leave before the deadline", now);
    } else {
      exchange_->defer(allowed);
      ++shared_.counters.deferred;
    }
    return;
  }
  proto::BindingRequest request;
  shared_.random.fill(request.transaction_id);
  std::vector<uint8_t> bytes(64);
  auto size = proto::encode_binding_request(request, bytes);
  if (!size) {
    give_up("cannot encode the Binding: " + proto::to_string(size.error()), now);
    return;
  }
  bytes.resize(*size);
  shared_.gate.charge(now, record, RequestKind::kBinding);
  Datagram& out = shared_.outbox.emplace_back();
  out.remote = target_;
  out.bytes = std::move(bytes);
  out.transport = via_;
  if (via_ == Transport::kTls) {
    // A service named by host name must carry that name; one named by address, the address.
    const std::string& host = candidates_[index_].host;
    if (!parse_ip(host)) out.tls_name = host;
    out.tls_ca_file = options_.tls_ca_file;
    out.tls_verify = !options_.tls_insecure;
  }
  tids_[exchange_->sent(now, shared_.random)] = request.transaction_id;
  ++bindings_sent_;
  --bindings_left_;
  ++shared_.counters.bindings_sent;
}

bool Verifier::on_message(TimePoint now, const Endpoint& remote, const proto::MessageView& view,
                          Transport via) {
  if (!exchange_) return false;
  const auto end = tids_.begin() + exchange_->attempts();
  const auto match = std::find(tids_.begin(), end, view.transaction_id());
  if (match == end) return false;
  if (unmap_v4(remote) != unmap_v4(target_) || via != via_) {
    ++shared_.counters.wrong_source;
    return true;
  }
  const Duration rtt = now - exchange_->sent_at(static_cast<uint32_t>(match - tids_.begin()));
  PeerRecord& record = shared_.peers.touch(target_, now);
  if (view.message_class() == proto::MessageClass::kError) {
    auto error = proto::decode_error_response(view);
    give_up(error ? fmt::format("error {} {}", error->code, quoted(error->reason))
                  : "malformed error response: " + proto::to_string(error.error()),
            now);
    return true;
  }
  auto response = proto::decode_binding_response(view);
  if (!response) {
    give_up("malformed Binding response: " + proto::to_string(response.error()), now);
    return true;
  }
  // Over TCP the time includes the connection's handshake: not a UDP RTT sample.
  if (via == Transport::kUdp) record.rtt.add_sample(rtt);
  record.health.on_success();
  note(via == Transport::kUdp ? std::string("answered")
                              : fmt::format("answered over {} (connection included)",
                                            via == Transport::kTls ? "TLS" : "TCP"));
  result_.state = VerifyState::kVerified;
  result_.service = candidates_[index_].uri;
  result_.address = to_address(target_);
  result_.rtt = rtt;
  result_.mapped = to_address(response->mapped);
  exchange_.reset();
  done_ = true;
  return true;
}

void Verifier::on_unreachable(TimePoint now, const Endpoint& remote, Transport via,
                              std::string_view why) {
  if (exchange_ && via == via_ && unmap_v4(remote) == unmap_v4(target_)) {
    give_up(why.empty() ? std::string("destination unreachable")
                        : fmt::format("destination unreachable ({})", why),
            now);
  }
}

void Verifier::on_timeout(TimePoint now) {
  pump(now);
}

TimePoint Verifier::next_timeout() const {
  return !done_ && exchange_ ? exchange_->due() : kNever;
}

void Verifier::expire() {
  if (done_) return;
  if (index_ < candidates_.size()) {
    note(resolving_ ? "not checked: the host name was not resolved before the deadline"
                    : "no reply before the deadline");
  }
  exchange_.reset();
  resolving_.reset();
  done_ = true;
  expired_ = true;
}

std::vector<std::string> Verifier::candidate_uris() const {
  std::vector<std::string> uris;
  uris.reserve(candidates_.size());
  for (const Service& service : candidates_)
    uris.push_back(service.uri);
  return uris;
}

std::optional<std::string> Verifier::take_resolve_request() {
  auto request = std::move(resolve_request_);
  resolve_request_.reset();
  return request;
}

void Verifier::on_resolved(TimePoint now, std::string_view host,
                           std::span<const Endpoint> addresses) {
  if (done_ || !resolving_ || *resolving_ != host) return;
  resolving_.reset();
  resolve_request_.reset();
  if (addresses.empty() || !addresses.front().valid()) {
    note("not checked: the host name did not resolve");
    ++unusable_;  // Nobody can reach it by that name: as good as a failed check.
    ++index_;
    next_candidate(now);
    return;
  }
  target_ = addresses.front();
  target_.port = candidates_[index_].port;
  if (begin_check(now)) return;
  ++index_;
  next_candidate(now);
}

// Starts the Bindings to target_ when the address policy allows them (a TURN server named
// by a leaf is no more private than the leaf); otherwise notes why not and returns false.
bool Verifier::begin_check(TimePoint now) {
  const Service& service = candidates_[index_];
  auto leaf = parse_ip(service.node_address.ip);
  if (leaf) leaf->port = service.node_address.port;
  const auto why = leaf ? refuse_named(*leaf, target_, options_.allow_any_scope)
                        : std::optional<std::string>("its leaf's address is unknown");
  if (why) {
    target_ = Endpoint{};  // Nothing was sent.
    note("not checked: " + *why);
    ++unusable_;
    return false;
  }
  const Duration rto = shared_.peers.touch(target_, now).rtt.rto();
  exchange_.emplace(options_.verify_attempts, rto, shared_.config.rto);
  pump(now);
  return true;
}

void Verifier::note(std::string outcome) {
  if (index_ >= candidates_.size()) return;
  result_.tried.push_back(
      VerifyAttempt{candidates_[index_].uri, to_address(target_), std::move(outcome)});
}

}  // namespace turnscout::client
