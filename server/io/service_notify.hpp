// The service manager's side channel (sd_notify(3), libsystemd): readiness, reloads,
// stopping, a status line and the watchdog keep-alive. Without $NOTIFY_SOCKET (not started
// by systemd with Type=notify) every call does nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace turnscout::server {

// Sends `state` ("READY=1\nSTATUS=…"); errors are not the server's concern, only logged at
// debug level.
void notify_service(std::string_view state);

// "RELOADING=1" with the MONOTONIC_USEC systemd asks reloads to carry.
std::string reloading_state();

// How often to send "WATCHDOG=1": half of WatchdogSec, when the manager set one for us.
std::optional<Duration> watchdog_keepalive_interval();

}  // namespace turnscout::server
