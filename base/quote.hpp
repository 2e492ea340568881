// Quoting of user-supplied text inside error messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace turnscout {

// Longest input quoted in full; longer text is cut and followed by "...".
inline constexpr size_t kMaxQuoted = 64;
// The same for file names, which are useless cut: PATH_MAX on Linux.
inline constexpr size_t kMaxQuotedPath = 4096;

// `text` in double quotes with quotes, backslashes and control bytes escaped, so junk
// input cannot break an error line or a terminal.
// Escapes as fmt's "{:?}" does: \t \n \r \" \\, other control bytes and bytes that are
// not part of valid UTF-8 as \xNN; valid UTF-8 sequences are kept.
std::string quoted(std::string_view text, size_t max = kMaxQuoted);
// A file name from a config or command line, in full up to kMaxQuotedPath.
std::string quoted_path(std::string_view path);
// `text` escaped as quoted() does, without the quotes and uncut: for messages from other
// libraries that may carry bytes of the input (a YAML parser's "unknown escape character").
std::string escaped(std::string_view text);

}  // namespace turnscout
