// Messages over a byte stream (TCP, TLS): back to back with nothing between them, each a
// whole STUN message whose length is in its header (RFC 8489 §6.2.2). A reader finds where
// the first message in its buffer ends, or learns early that the stream is not ours or
// announces more than it will accept, without waiting for the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace turnscout::proto {

enum class FrameStatus : uint8_t {
  kNeedMore,  // The first message is not complete yet.
  kComplete,  // `size` bytes at the front are one message.
  kInvalid,   // Not a STUN message: the first two bits are set, the magic cookie is wrong
              // or the length is not a multiple of 4. Nothing after it can be framed.
  kTooLarge,  // Its header announces `size` bytes, more than the reader's limit.
};

struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  size_t size = 0;  // kComplete, kTooLarge: the message's size, header included.
};

// The first message in `buffered`. `max_message` bounds what a header may announce (at
// least the 20-byte header); checks run on as many bytes as have arrived, so a bad first
// byte is kInvalid at once.
Frame next_frame(std::span<const uint8_t> buffered, size_t max_message);

// Whether a stream that starts with `first_byte` is TLS rather than STUN: a TLS record of
// a handshake (a ClientHello) starts with 22, a STUN message with 0 or 1 (RFC 7983 §7 tells
// them apart the same way), so one port can serve both.
constexpr bool starts_tls(uint8_t first_byte) {
  return first_byte == 22;
}

}  // namespace turnscout::proto
