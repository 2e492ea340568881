// Replies waiting to leave one socket, sent with a single sendmmsg. The capacity is fixed
// and the memory allocated once, on the first slot(), so queuing a reply never allocates.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/address.hpp"

namespace turnscout {

struct FlushResult {
  size_t sent = 0;
  size_t dropped = 0;  // Refused by the socket (full buffer, unreachable, ...); not retried.
  int last_error = 0;  // errno of the last refusal.
};

class SendBatch {
 public:
  static constexpr size_t kCapacity = 64;
  // Every reply fits: a Probe reply is at most the size of a request the client padded to
  // 1200 bytes, and the responder needs at least 1500 bytes to write into.
  static constexpr size_t kSlotSize = 2048;

  SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == kCapacity; }
  size_t size() const { return count_; }

  // Where the next reply is written. Must not be called when full().
  std::span<uint8_t> slot();
  // Queues the first `size` bytes of slot() for `to`. Must not be called when full().
  void commit(const Endpoint& to, size_t size);
  // Sends everything queued from `fd` and empties the batch. When the kernel refuses a
  // datagram, that one is tried alone once more and dropped if it fails again; on EAGAIN the
  // rest of the batch is dropped too (the socket buffer is full: queuing more would only
  // grow memory without bound).
  FlushResult flush(int fd);

 private:
  std::vector<uint8_t> storage_;
  std::array<mmsghdr, kCapacity> headers_{};
  std::array<iovec, kCapacity> iov_{};
  std::array<sockaddr_storage, kCapacity> addresses_{};
  size_t count_ = 0;
};

}  // namespace turnscout
