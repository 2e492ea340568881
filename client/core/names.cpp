// Names of StartErrc, for logs and the CLI. (The public enums are named in
// client/io/types.cpp.)
#include "client/core/prober.hpp"

namespace turnscout::client {

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
