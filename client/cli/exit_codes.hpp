// Exit codes of the turnscout command, the same for every subcommand.
#pragma once

namespace turnscout::cli {

inline constexpr int kExitOk = 0;        // probe: a TURN server was found.
inline constexpr int kExitFailed = 1;    // probe: none found; stats: no answer; token: refused.
inline constexpr int kExitUsage = 2;     // A bad argument or option.
inline constexpr int kExitInternal = 3;  // The library could not run.
inline constexpr int kExitInterrupted = 130;  // probe: Ctrl-C (128 + SIGINT), after the report.

}  // namespace turnscout::cli
