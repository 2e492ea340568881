// The functions declared in the public types header. The core uses these types too
// (client/core/result.hpp); the names live here, in the library that exports them.
#include <turnscout/types.hpp>

#ifndef TURNSCOUT_VERSION
#define TURNSCOUT_VERSION "unknown"
#endif

namespace turnscout {

const char* to_string(Selection selection) {
  switch (selection) {
    case Selection::kFirst:
      return "first";
    case Selection::kLoadAware:
      return "load-aware";
  }
  return "?";
}

const char* to_string(TransportMode mode) {
  switch (mode) {
    case TransportMode::kAuto:
      return "auto";
    case TransportMode::kUdp:
      return "udp";
    case TransportMode::kTcp:
      return "tcp";
    case TransportMode::kTls:
      return "tls";
  }
  return "?";
}

const char* to_string(PeerErrorKind kind) {
  switch (kind) {
    case PeerErrorKind::kTimeout:
      return "timeout";
    case PeerErrorKind::kMalformed:
      return "malformed";
    case PeerErrorKind::kRateLimited:
      return "rate-limited";
    case PeerErrorKind::kErrorResponse:
      return "error-response";
    case PeerErrorKind::kBlacklisted:
      return "blacklisted";
    case PeerErrorKind::kUnreachable:
      return "unreachable";
    case PeerErrorKind::kEmpty:
      return "empty";
    case PeerErrorKind::kSkipped:
      return "skipped";
    case PeerErrorKind::kNotVerified:
      return "not-verified";
  }
  return "?";
}

const char* to_string(VerifyState state) {
  switch (state) {
    case VerifyState::kNotRequested:
      return "not-requested";
    case VerifyState::kVerified:
      return "verified";
    case VerifyState::kFailed:
      return "failed";
    case VerifyState::kUnchecked:
      return "unchecked";
  }
  return "?";
}

const char* to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kCancelled:
      return "cancelled";
    case Status::kInvalidOptions:
      return "invalid-options";
    case Status::kNotFound:
      return "not-found";
    case Status::kInternalError:
      return "internal-error";
  }
  return "?";
}

std::string to_string(const PeerError& error) {
  // Appended piece by piece: g++ 12 at -O3 warns (falsely, -Wrestrict) about
  // "literal" + std::string temporaries.
  std::string out = error.address.to_string();
  if (!error.name.empty()) {
    if (!out.empty()) out += ' ';
    out += error.name;
  }
  out += " (depth ";
  out += std::to_string(error.depth);
  out += "): ";
  out += to_string(error.kind);
  if (error.kind == PeerErrorKind::kErrorResponse) {
    out += ' ';
    out += std::to_string(error.error_code);
  }
  if (!error.detail.empty()) {
    out += ": ";
    out += error.detail;
  }
  return out;
}

const char* version() {
  return TURNSCOUT_VERSION;
}

}  // namespace turnscout
