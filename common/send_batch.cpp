#include "common/send_batch.hpp"

#include <cassert>
#include <cerrno>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"

namespace turnscout {

SendBatch::SendBatch() = default;

std::span<uint8_t> SendBatch::slot() {
  assert(!full());
  // On first use: a port that never answers (a client's, a quiet virtual node's) keeps none.
  if (storage_.empty()) storage_.resize(kCapacity * kSlotSize);
  return {storage_.data() + count_ * kSlotSize, kSlotSize};
}

void SendBatch::commit(const Endpoint& to, size_t size) {
  assert(!full() && size <= kSlotSize);
  const socklen_t len = to_sockaddr(to, addresses_[count_]);
  iov_[count_] = {storage_.data() + count_ * kSlotSize, size};
  msghdr& h = headers_[count_].msg_hdr;
  h = {};
  h.msg_name = &addresses_[count_];
  h.msg_namelen = len;
  h.msg_iov = &iov_[count_];
  h.msg_iovlen = 1;
  ++count_;
}

FlushResult SendBatch::flush(int fd) {
  FlushResult result;
  size_t done = 0;
  while (done < count_) {
    const int n = sendmmsg(fd, &headers_[done], static_cast<unsigned>(count_ - done), 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
      result.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // The datagram at `done` was refused: once more on its own, then give it up.
    const msghdr& h = headers_[done].msg_hdr;
    if (sendmsg(fd, &h, 0) >= 0) {
      ++result.sent;
      ++done;
      continue;
    }
    result.last_error = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      result.dropped += count_ - done;
      break;
    }
    ++result.dropped;
    ++done;
  }
  count_ = 0;
  return result;
}

}  // namespace turnscout
