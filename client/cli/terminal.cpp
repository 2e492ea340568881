#include "client/cli/terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace turnscout::cli {

bool is_terminal(std::FILE* stream) {
  const char* term = std::getenv("TERM");
  return isatty(fileno(stream)) == 1 && (term == nullptr || std::strcmp(term, "dumb") != 0);
}

Style Style::for_stream(std::FILE* stream) {
  const char* no_colour = std::getenv("NO_COLOR");
  return Style{(no_colour == nullptr || *no_colour == '\0') && is_terminal(stream)};
}

std::string Style::sgr(std::string_view code, std::string_view text) const {
  if (!colour || text.empty()) return std::string(text);
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

StatusLine::StatusLine(bool enabled) : started_(std::chrono::steady_clock::now()) {
  if (!enabled) return;
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

StatusLine::~StatusLine() {
  stop();
}

void StatusLine::print(const std::string& text) {
  std::lock_guard lock(mutex_);
  clear_locked();
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

void StatusLine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    running_ = false;
    clear_locked();
    std::fflush(stdout);
  }
  wake_.notify_all();
  thread_.join();
}

void StatusLine::run() {
  static constexpr char kFrames[] = {'|', '/', '-', '\\'};
  std::unique_lock lock(mutex_);
  while (running_) {
    // Nothing for the first 100 ms: a fast answer prints no status at all.
    if (wake_.wait_for(lock, std::chrono::milliseconds{100}, [this] { return !running_; })) break;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::fputs(
        fmt::format("\r\x1b[K{} waiting for replies, {:.1f}s", kFrames[frame_++ % 4], elapsed)
            .c_str(),
        stdout);
    std::fflush(stdout);
    shown_ = true;
  }
}

void StatusLine::clear_locked() {
  if (!shown_) return;
  std::fputs("\r\x1b[K", stdout);
  shown_ = false;
}

}  // namespace turnscout::cli
