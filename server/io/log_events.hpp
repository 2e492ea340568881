// The server core's events (server/core/events.hpp) written to the process log: the
// "turnscout" spdlog logger of common/logging.hpp, so its level, format and LogCapture apply.
#pragma once

#include "server/core/events.hpp"

namespace turnscout::server {

// One instance for the process; safe to use from the threads that may log through spdlog.
EventLog& log_events();

}  // namespace turnscout::server
