// Names of the enums in options.hpp, result.hpp and prober.hpp, for logs, the CLI and JSON.
#include "client/core/options.hpp"
#include "client/core/prober.hpp"
#include "client/core/result.hpp"

namespace turnscout::client {

const char* to_string(Selection selection) {
  switch (selection) {
    case Selection::kFirst:
      return "first";
    case Selection::kLoadAware:
      return "load-aware";
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
  }
  return "?";
}

const char* to_string(StartErrc code) {
  switch (code) {
    case StartErrc::kNoRoots:
      return "no-roots";
    case StartErrc::kBadRoot:
      return "bad-root";
    case StartErrc::kBadBlacklist:
      return "bad-blacklist";
    case StartErrc::kBadOption:
      return "bad-option";
    case StartErrc::kTooManyAtOnce:
      return "too-many-at-once";
  }
  return "?";
}

}  // namespace turnscout::client
