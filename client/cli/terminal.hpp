// What the CLI does differently on a terminal: colour (never with --json, NO_COLOR or
// TERM=dumb, never into a file or a pipe) and a status line with the elapsed time while a
// level waits. Neither changes a byte of what goes to a file or a pipe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace turnscout::cli {

// SGR colour for a stream, or none: every call returns its text unchanged when off.
struct Style {
  bool colour = false;

  // On when `stream` is a terminal and the environment allows it (https://no-color.org).
  static Style for_stream(std::FILE* stream);

  std::string bold(std::string_view text) const { return sgr("1", text); }
  std::string green(std::string_view text) const { return sgr("32", text); }
  std::string yellow(std::string_view text) const { return sgr("33", text); }
  std::string red(std::string_view text) const { return sgr("31", text); }

 private:
  std::string sgr(std::string_view code, std::string_view text) const;
};

// True when `stream` is a terminal that takes escape sequences (TERM is not "dumb").
bool is_terminal(std::FILE* stream);

// A status line on stdout ("/ waiting for replies, 0.4s"), redrawn every 100 ms by its own
// thread while enabled; print() clears it, writes a line of output and lets it come back.
// Every write to stdout during its life goes through print(). Off, print() only writes.
class StatusLine {
 public:
  explicit StatusLine(bool enabled);
  ~StatusLine();  // stop()
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  void print(const std::string& text);
  // Clears the line and ends the thread; later print()s only write.
  void stop();

 private:
  void run();
  void clear_locked();

  std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  bool shown_ = false;
  unsigned frame_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

}  // namespace turnscout::cli
