/* baseline_server: the floor of any UDP request/response server, to measure turnscout-server
 * against. Each datagram that looks like a STUN request (at least a header, the magic
 * cookie) gets a minimal STUN Binding success response: the transaction id echoed and the
 * sender's XOR-MAPPED-ADDRESS, 32 bytes for IPv4. No policy, no allocation, no clock.
 *
 *   baseline_server mmsg|single ADDRESS PORT [READY_FILE]
 *
 * mmsg: a blocking recvmmsg of up to 64 datagrams, then one sendmmsg of the replies.
 * single: one recvfrom and one sendto per datagram.
 * Port 0 lets the kernel choose; the bound "udp ADDRESS:PORT" is written to READY_FILE
 * (through a rename, so a reader never sees half of it) or to stdout. Runs until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kBatch = 64, kMaxRequest = 2048, kMaxReply = 44, kHeader = 20 };
static const uint32_t kMagicCookie = 0x2112A442u;

static void put16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Writes the response to `request` from `from` into `out`; returns its size, 0 for none. */
static size_t answer(const uint8_t* request, size_t size, const struct sockaddr_storage* from,
                     uint8_t* out) {
  if (size < kHeader || (request[0] & 0xC0) != 0 || get32(request + 4) != kMagicCookie) return 0;
  put16(out, 0x0101);               /* Binding success. */
  memcpy(out + 4, request + 4, 16); /* Magic cookie and transaction id. */
  uint8_t* attr = out + kHeader;
  put16(attr, 0x0020); /* XOR-MAPPED-ADDRESS */
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)from;
    put16(attr + 2, 8);
    put16(attr + 4, 0x01);
    put16(attr + 6, (uint16_t)(ntohs(a->sin_port) ^ (kMagicCookie >> 16)));
    put32(attr + 8, ntohl(a->sin_addr.s_addr) ^ kMagicCookie);
    put16(out + 2, 12);
    return kHeader + 12;
  }
  const struct sockaddr_in6* a = (const struct sockaddr_in6*)from;
  put16(attr + 2, 20);
  put16(attr + 4, 0x02);
  put16(attr + 6, (uint16_t)(ntohs(a->sin6_port) ^ (kMagicCookie >> 16)));
  for (int i = 0; i < 16; ++i)
    attr[8 + i] = (uint8_t)(a->sin6_addr.s6_addr[i] ^ request[4 + i]);
  put16(out + 2, 24);
  return kHeader + 24;
}

static void serve_mmsg(int fd) {
  static uint8_t requests[kBatch][kMaxRequest];
  static uint8_t replies[kBatch][kMaxReply];
  static struct sockaddr_storage peers[kBatch];
  static struct iovec in_iov[kBatch];
  static struct iovec out_iov[kBatch];
  static struct mmsghdr in[kBatch];
  static struct mmsghdr out[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      in_iov[i].iov_base = requests[i];
      in_iov[i].iov_len = kMaxRequest;
      memset(&in[i], 0, sizeof in[i]);
      in[i].msg_hdr.msg_iov = &in_iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
      in[i].msg_hdr.msg_name = &peers[i];
      in[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
    const int n = recvmmsg(fd, in, kBatch, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    unsigned count = 0;
    for (int i = 0; i < n; ++i) {
      const size_t size = answer(requests[i], in[i].msg_len, &peers[i], replies[count]);
      if (size == 0) continue;
      out_iov[count].iov_base = replies[count];
      out_iov[count].iov_len = size;
      memset(&out[count], 0, sizeof out[count]);
      out[count].msg_hdr.msg_iov = &out_iov[count];
      out[count].msg_hdr.msg_iovlen = 1;
      out[count].msg_hdr.msg_name = &peers[i];
      out[count].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
      ++count;
    }
    /* A reply the kernel refuses is dropped, as a loaded server would. */
    if (count > 0) sendmmsg(fd, out, count, 0);
  }
}

static void serve_single(int fd) {
  static uint8_t request[kMaxRequest];
  uint8_t reply[kMaxReply];
  for (;;) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    const ssize_t n = recvfrom(fd, request, sizeof request, 0, (struct sockaddr*)&peer, &len);
    if (n < 0) continue;
    const size_t size = answer(request, (size_t)n, &peer, reply);
    if (size > 0) sendto(fd, reply, size, 0, (const struct sockaddr*)&peer, len);
  }
}

static int announce(int fd, const char* ready_file) {
  struct sockaddr_storage bound;
  socklen_t len = sizeof bound;
  char ip[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  if (getsockname(fd, (struct sockaddr*)&bound, &len) != 0) return -1;
  if (bound.ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)&bound;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)&bound;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
  }
  const int v6 = bound.ss_family == AF_INET6;
  if (ready_file == NULL) {
    printf(v6 ? "udp [%s]:%u\n" : "udp %s:%u\n", ip, port);
    return fflush(stdout);
  }
  char staging[4096];
  if (snprintf(staging, sizeof staging, "%s.tmp", ready_file) >= (int)sizeof staging) return -1;
  FILE* f = fopen(staging, "w");
  if (f == NULL) return -1;
  fprintf(f, v6 ? "udp [%s]:%u\n" : "udp %s:%u\n", ip, port);
  if (fclose(f) != 0) return -1;
  return rename(staging, ready_file);
}

static int open_socket(const char* address, const char* port_text) {
  struct sockaddr_storage at;
  memset(&at, 0, sizeof at);
  socklen_t len = 0;
  const unsigned long port = strtoul(port_text, NULL, 10);
  if (port > 65535) return -1;
  struct sockaddr_in* v4 = (struct sockaddr_in*)&at;
  struct sockaddr_in6* v6 = (struct sockaddr_in6*)&at;
  if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    len = sizeof *v6;
  } else {
    return -1;
  }
  const int fd = socket(at.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, (const struct sockaddr*)&at, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5 || (strcmp(argv[1], "mmsg") != 0 && strcmp(argv[1], "single") != 0)) {
    fprintf(stderr, "usage: baseline_server mmsg|single ADDRESS PORT [READY_FILE]\n");
    return 2;
  }
  const int fd = open_socket(argv[2], argv[3]);
  if (fd < 0) {
    perror("baseline_server: cannot bind");
    return 1;
  }
  if (announce(fd, argc == 5 ? argv[4] : NULL) != 0) {
    perror("baseline_server: cannot announce the bound address");
    return 1;
  }
  if (strcmp(argv[1], "mmsg") == 0) {
    serve_mmsg(fd);
  } else {
    serve_single(fd);
  }
  return 0;
}
