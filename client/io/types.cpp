// The functions declared in the public types header.
#include <turnscout/types.hpp>

#include "client/core/options.hpp"
#include "client/core/result.hpp"

#ifndef TURNSCOUT_VERSION
#define TURNSCOUT_VERSION "unknown"
#endif

namespace turnscout {

// The public enums mirror the core's value for value (checked below), so their names come
// from the one table in client/core/names.cpp.
#define TURNSCOUT_SAME_ENUM(Type, value)                                                \
  static_assert(static_cast<int>(Type::value) == static_cast<int>(client::Type::value), \
                #Type "::" #value " differs")
TURNSCOUT_SAME_ENUM(Selection, kFirst);
TURNSCOUT_SAME_ENUM(Selection, kLoadAware);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kTimeout);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kMalformed);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kRateLimited);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kErrorResponse);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kBlacklisted);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kUnreachable);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kEmpty);
TURNSCOUT_SAME_ENUM(PeerErrorKind, kSkipped);
TURNSCOUT_SAME_ENUM(VerifyState, kNotRequested);
TURNSCOUT_SAME_ENUM(VerifyState, kVerified);
TURNSCOUT_SAME_ENUM(VerifyState, kFailed);
#undef TURNSCOUT_SAME_ENUM

const char* to_string(Selection selection) {
  return client::to_string(static_cast<client::Selection>(selection));
}

const char* to_string(PeerErrorKind kind) {
  return client::to_string(static_cast<client::PeerErrorKind>(kind));
}

const char* to_string(VerifyState state) {
  return client::to_string(static_cast<client::VerifyState>(state));
}

const char* to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
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
