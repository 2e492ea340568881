#include "proto/stream_framing.hpp"

#include "proto/byte_order.hpp"
#include "proto/constants.hpp"

namespace turnscout::proto {

Frame next_frame(std::span<const uint8_t> buffered, size_t max_message) {
  const size_t have = buffered.size();
  if (have >= 1 && (buffered[0] & 0xC0) != 0) return {FrameStatus::kInvalid, 0};
  if (have >= 4) {
    const size_t length = load_u16(buffered.data() + 2);
    if (length % 4 != 0) return {FrameStatus::kInvalid, 0};
    if (kHeaderSize + length > max_message) return {FrameStatus::kTooLarge, kHeaderSize + length};
  }
  // The cookie is checked only once all four of its bytes are in: a partial match proves
  // nothing and a partial mismatch would be caught a moment later anyway.
  if (have >= 8 && load_u32(buffered.data() + 4) != kMagicCookie) {
    return {FrameStatus::kInvalid, 0};
  }
  if (have < kHeaderSize) return {FrameStatus::kNeedMore, 0};
  const size_t size = kHeaderSize + load_u16(buffered.data() + 2);
  if (have < size) return {FrameStatus::kNeedMore, 0};
  return {FrameStatus::kComplete, size};
}

}  // namespace turnscout::proto
