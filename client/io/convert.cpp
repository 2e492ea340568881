#include "client/io/convert.hpp"

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "proto/base64url.hpp"
#include "proto/errors.hpp"

namespace turnscout::client {
namespace {

const char* scheme_name(proto::UriScheme scheme) {
  switch (scheme) {
    case proto::UriScheme::kStun:
      return "stun";
    case proto::UriScheme::kStuns:
      return "stuns";
    case proto::UriScheme::kTurn:
      return "turn";
    case proto::UriScheme::kTurns:
      return "turns";
  }
  return "?";
}

turnscout::Service convert_service(const Service& s) {
  turnscout::Service out;
  out.uri = s.text;
  out.scheme = scheme_name(s.uri.scheme);
  out.host = s.uri.host;
  out.port = s.uri.port;
  out.transport = s.uri.transport == proto::UriTransport::kTcp ? "tcp" : "udp";
  out.node_name = s.node_name;
  out.node_address = to_public(s.node_address);
  out.node_rtt = s.node_rtt;
  out.node_load_permille = s.node_load_permille;
  return out;
}

std::vector<turnscout::Service> convert_services(const std::vector<Service>& services) {
  std::vector<turnscout::Service> out;
  out.reserve(services.size());
  for (const Service& s : services)
    out.push_back(convert_service(s));
  return out;
}

turnscout::PeerErrorKind convert_kind(PeerErrorKind kind) {
  switch (kind) {
    case PeerErrorKind::kTimeout:
      return turnscout::PeerErrorKind::kTimeout;
    case PeerErrorKind::kMalformed:
      return turnscout::PeerErrorKind::kMalformed;
    case PeerErrorKind::kRateLimited:
      return turnscout::PeerErrorKind::kRateLimited;
    case PeerErrorKind::kErrorResponse:
      return turnscout::PeerErrorKind::kErrorResponse;
    case PeerErrorKind::kBlacklisted:
      return turnscout::PeerErrorKind::kBlacklisted;
    case PeerErrorKind::kUnreachable:
      return turnscout::PeerErrorKind::kUnreachable;
    case PeerErrorKind::kEmpty:
      return turnscout::PeerErrorKind::kEmpty;
    case PeerErrorKind::kSkipped:
      return turnscout::PeerErrorKind::kSkipped;
  }
  return turnscout::PeerErrorKind::kTimeout;
}

turnscout::VerifyState convert_state(VerifyState state) {
  switch (state) {
    case VerifyState::kNotRequested:
      return turnscout::VerifyState::kNotRequested;
    case VerifyState::kVerified:
      return turnscout::VerifyState::kVerified;
    case VerifyState::kFailed:
      return turnscout::VerifyState::kFailed;
  }
  return turnscout::VerifyState::kFailed;
}

turnscout::Verification convert_verification(const Verification& v) {
  turnscout::Verification out;
  out.state = convert_state(v.state);
  out.service = v.service;
  out.address = to_public(v.address);
  out.rtt = v.rtt;
  out.mapped = to_public(v.mapped);
  for (const VerifyAttempt& attempt : v.tried)
    out.tried.push_back({attempt.service, to_public(attempt.address), attempt.outcome});
  return out;
}

}  // namespace

Result<DiscoverOptions, StartError> to_request(const turnscout::DiscoverOptions& options) {
  DiscoverOptions o;
  o.roots = options.roots;
  o.default_port = turnscout::kDefaultPort;
  o.resolve_host_names = true;
  o.blacklist = options.blacklist;
  o.deadline = options.timeout;
  o.selection =
      options.selection == turnscout::Selection::kFirst ? Selection::kFirst : Selection::kLoadAware;
  o.verify = options.verify;
  if (!options.capacity_token.empty()) {
    auto token = proto::base64url_decode(options.capacity_token);
    if (!token) {
      return unexpected(StartError{
          StartErrc::kBadOption,
          fmt::format("capacity token: not base64url ({})", proto::to_string(token.error()))});
    }
    o.capacity_token = std::move(*token);
  }
  o.children_wanted = options.children_wanted;
  o.max_attempts = options.max_attempts;
  o.use_last_path = options.use_last_path;
  return o;
}

turnscout::Address to_public(const Endpoint& address) {
  if (!address.valid()) return {};
  const Endpoint plain = unmap_v4(address);
  return {ip_to_string(plain), plain.port};
}

turnscout::DiscoveryResult to_public(DiscoveryResult r, std::optional<StartErrc> refused) {
  turnscout::DiscoveryResult out;
  out.status = r.ok      ? turnscout::Status::kOk
               : refused ? turnscout::Status::kInvalidOptions
                         : turnscout::Status::kNotFound;
  out.failure = std::move(r.failure);
  out.services = convert_services(r.services);
  out.backups = convert_services(r.backups);
  for (const Hop& hop : r.path) {
    out.path.push_back({hop.depth, hop.name, to_public(hop.address), hop.rtt, hop.load_permille,
                        hop.overload_limit_permille, hop.siblings_probed, hop.siblings_answered});
  }
  out.reflexive = to_public(r.reflexive);
  out.total_time = r.total_time;
  out.warm = r.warm;
  for (PeerError& e : r.errors) {
    out.errors.push_back({to_public(e.address), std::move(e.name), e.depth, convert_kind(e.kind),
                          e.error_code, std::move(e.detail)});
  }
  out.errors_dropped = r.errors_dropped;
  out.verification = convert_verification(r.verification);
  out.probes_sent = r.probes_sent;
  return out;
}

turnscout::DiscoveryResult failed_result(turnscout::Status status, std::string failure) {
  turnscout::DiscoveryResult out;
  out.status = status;
  out.failure = std::move(failure);
  return out;
}

}  // namespace turnscout::client
