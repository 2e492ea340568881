#include "server/io/service_notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstring>

#include <fmt/format.h>

#include "common/logging.hpp"

namespace turnscout::server {

void notify_service(std::string_view state) {
  const std::string text(state);
  const int rc = sd_notify(0, text.c_str());
  if (rc < 0) logger().debug("sd_notify: {}", std::strerror(-rc));
}

std::string reloading_state() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec =
      static_cast<uint64_t>(now.tv_sec) * 1'000'000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  return fmt::format("RELOADING=1\nMONOTONIC_USEC={}", usec);
}

std::optional<Duration> watchdog_keepalive_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds{usec / 2};
}

}  // namespace turnscout::server
