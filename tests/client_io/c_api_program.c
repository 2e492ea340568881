/* The C API used from C: `c_api_program ROOT...` discovers a TURN server through the given
 * roots twice on one client (the second time warm), checks the accessors and the error
 * paths, prints what it found, and exits 0 when everything held. The process tests run it
 * against real turnscout-server processes, built in the tree and against an installed
 * package. */
#define _POSIX_C_SOURCE 200809L /* poll(), in strict C11. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <turnscout/turnscout.h>

static int failures = 0;

enum { kWarmTries = 10 };

#define EXPECT(condition)                                                      \
  do {                                                                         \
    if (!(condition)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static void print_result(const char* label, const turnscout_result* result) {
  size_t i;
  printf("%s: %s\n", label, turnscout_result_ok(result) ? "found" : "not found");
  for (i = 0; i < turnscout_result_hop_count(result); ++i) {
    printf("  hop %u %s %s %lld us %d permille tier %d\n", (unsigned)i,
           turnscout_result_hop_name(result, i), turnscout_result_hop_address(result, i),
           (long long)turnscout_result_hop_rtt_us(result, i),
           (int)turnscout_result_hop_load_permille(result, i),
           (int)turnscout_result_hop_tier(result, i));
    EXPECT(turnscout_result_hop_tier(result, i) == 0); /* No token: the free tier. */
  }
  EXPECT(turnscout_result_hop_tier(result, i) == -1);
  for (i = 0; i < turnscout_result_service_count(result); ++i)
    printf("  service %s\n", turnscout_result_service(result, i));
  for (i = 0; i < turnscout_result_backup_count(result); ++i)
    printf("  backup %s\n", turnscout_result_backup(result, i));
  for (i = 0; i < turnscout_result_error_count(result); ++i)
    printf("  error %s\n", turnscout_result_error(result, i));
  printf("  reflexive %s, verified %d, warm %d, %d round trips, %lld us, %u probes, %u Bindings\n",
         turnscout_result_reflexive(result), turnscout_result_verified(result),
         turnscout_result_warm(result), turnscout_result_round_trips(result),
         (long long)turnscout_result_total_time_us(result),
         (unsigned)turnscout_result_probes_sent(result),
         (unsigned)turnscout_result_bindings_sent(result));
  if (!turnscout_result_ok(result)) printf("  failure: %s\n", turnscout_result_failure(result));
}

/* Hops as turnscout_discover_ex reports them. */
struct hops {
  unsigned count;
  unsigned bad;
};

static void on_hop(void* user, uint32_t depth, const char* name, const char* address,
                   int64_t rtt_us) {
  struct hops* seen = (struct hops*)user;
  if (name == NULL || address == NULL || strlen(address) == 0 || rtt_us < 0 || depth > 8) {
    ++seen->bad;
  }
  printf("  streamed hop %u %s %s %lld us\n", (unsigned)depth, name, address, (long long)rtt_us);
  ++seen->count;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* Polls `discovery` as an application's own loop would: waits for the client's fd or its
 * timeout, then polls; with `wait_first`, waits before the first poll too. Bounded: 20 s,
 * waits of at most 50 ms (the timeout is 0 while another discovery's result waits). */
static turnscout_status wait_for_ex(turnscout_client* client, turnscout_discovery* discovery,
                                    int wait_first, turnscout_result** result) {
  turnscout_status status = TURNSCOUT_PENDING;
  const double started = now_ms();
  *result = NULL;
  if (!wait_first) status = turnscout_discovery_poll(discovery, result);
  while (status == TURNSCOUT_PENDING && now_ms() - started < 20000) {
    struct pollfd p;
    int timeout = turnscout_client_timeout_ms(client);
    EXPECT(*result == NULL);
    p.fd = turnscout_client_fd(client);
    p.events = POLLIN;
    p.revents = 0;
    if (timeout < 0 || timeout > 50) timeout = 50;
    poll(&p, 1, timeout);
    status = turnscout_discovery_poll(discovery, result);
  }
  return status;
}

static turnscout_status wait_for(turnscout_client* client, turnscout_discovery* discovery,
                                 turnscout_result** result) {
  return wait_for_ex(client, discovery, 0, result);
}

/* A loopback UDP socket that never answers; its "127.0.0.1:PORT" goes to `root`. */
static int silent_socket(char* root, size_t size) {
  struct sockaddr_in a;
  socklen_t length = sizeof a;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr*)&a, &length) != 0) {
    return -1;
  }
  snprintf(root, size, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
  return fd;
}

/* Waiting before the first poll works as the header shows: the first replies wake the
 * caller (no wait for a retransmission), a result that came while another discovery was
 * polled makes the timeout 0, and a blocking call returns when its own result comes even
 * while a started discovery still runs. */
static void check_async_waits(const turnscout_options* options) {
  turnscout_client* client = turnscout_client_create();
  turnscout_options* bad = turnscout_options_create();
  turnscout_options* slow = turnscout_options_create();
  turnscout_discovery* d = NULL;
  turnscout_discovery* refused = NULL;
  turnscout_result* result = NULL;
  char root[64];
  double started;
  int silent = silent_socket(root, sizeof root);
  EXPECT(client != NULL && bad != NULL && slow != NULL && silent >= 0);
  if (client == NULL || bad == NULL || slow == NULL || silent < 0) return;

  /* Cold, through root, region and a leaf: 1 + 1 + 2 Probes when no reply waited for a
   * retransmission timer; the replies come within milliseconds on loopback. Beside it, a
   * discovery with refused options, whose result is there at once but not polled. */
  EXPECT(turnscout_discovery_start(client, bad, &refused) == TURNSCOUT_OK);
  EXPECT(turnscout_discovery_start(client, options, &d) == TURNSCOUT_OK);
  EXPECT(wait_for_ex(client, d, 1, &result) == TURNSCOUT_OK);
  if (result != NULL) {
    printf("  waited first: %u probes\n", (unsigned)turnscout_result_probes_sent(result));
    EXPECT(turnscout_result_probes_sent(result) == 4);
  }
  turnscout_result_destroy(result);
  turnscout_discovery_destroy(d);
  /* Nothing else runs, but a result waits: the timeout says "now", not "nothing". */
  EXPECT(turnscout_client_timeout_ms(client) == 0);
  EXPECT(turnscout_discovery_poll(refused, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(result != NULL);
  turnscout_result_destroy(result);
  turnscout_discovery_destroy(refused);

  /* A blocking call while a discovery of a silent root runs for 3 s. */
  EXPECT(turnscout_options_add_root(slow, root) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_timeout_ms(slow, 3000) == TURNSCOUT_OK);
  EXPECT(turnscout_discovery_start(client, slow, &d) == TURNSCOUT_OK);
  started = now_ms();
  EXPECT(turnscout_discover(client, options, &result) == TURNSCOUT_OK);
  printf("  blocking call beside a running discovery: %.0f ms\n", now_ms() - started);
  EXPECT(now_ms() - started < 1500);
  turnscout_result_destroy(result);
  /* Cancelled (it cannot have ended: its root never answers): the next poll gives what was
   * found so far. A discovery whose result is already on its way refuses, as the header
   * says (a warm one on loopback may be answered within its start). */
  EXPECT(turnscout_discovery_cancel(d) == TURNSCOUT_OK);
  EXPECT(wait_for(client, d, &result) == TURNSCOUT_ERR_CANCELLED);
  EXPECT(result != NULL && strcmp(turnscout_result_failure(result), "stopped by the caller") == 0);
  turnscout_result_destroy(result);
  EXPECT(turnscout_discovery_cancel(d) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  turnscout_discovery_destroy(d);

  close(silent);
  turnscout_options_destroy(slow);
  turnscout_options_destroy(bad);
  turnscout_client_destroy(client);
}

/* The asynchronous calls: two discoveries at once, an abandoned one, bad options, one left
 * over when its client goes, and the NULL arguments. */
static void check_async(turnscout_client* client, const turnscout_options* options) {
  turnscout_discovery* first = NULL;
  turnscout_discovery* second = NULL;
  turnscout_result* result = NULL;
  turnscout_result* other = NULL;
  EXPECT(turnscout_client_fd(client) >= 0);
  EXPECT(turnscout_discovery_start(client, options, &first) == TURNSCOUT_OK);
  EXPECT(turnscout_discovery_start(client, options, &second) == TURNSCOUT_OK);
  if (first == NULL || second == NULL) return;
  EXPECT(wait_for(client, first, &result) == TURNSCOUT_OK);
  EXPECT(wait_for(client, second, &other) == TURNSCOUT_OK);
  if (result == NULL || other == NULL) return;
  print_result("async", result);
  EXPECT(turnscout_result_ok(result) == 1 && turnscout_result_ok(other) == 1);
  EXPECT(turnscout_result_hop_count(result) >= 1);
  EXPECT(strncmp(turnscout_result_service(result, 0), "turn:", 5) == 0);
  EXPECT(strncmp(turnscout_result_service(other, 0), "turn:", 5) == 0);
  turnscout_result_destroy(result);
  turnscout_result_destroy(other);
  /* The result is handed out once; an ended discovery cannot be cancelled. */
  EXPECT(turnscout_discovery_poll(first, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(result == NULL);
  EXPECT(turnscout_discovery_cancel(first) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  turnscout_discovery_destroy(first);
  turnscout_discovery_destroy(second);

  /* Abandoned while it runs: nothing is called later, and the client goes on working. */
  EXPECT(turnscout_discovery_start(client, options, &first) == TURNSCOUT_OK);
  turnscout_discovery_destroy(first);
  EXPECT(turnscout_discover(client, options, &result) == TURNSCOUT_OK);
  turnscout_result_destroy(result);

  /* Bad options are reported by the first poll. */
  {
    turnscout_options* none = turnscout_options_create();
    EXPECT(turnscout_discovery_start(client, none, &first) == TURNSCOUT_OK);
    EXPECT(wait_for(client, first, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
    EXPECT(result != NULL && strstr(turnscout_result_failure(result), "no roots") != NULL);
    turnscout_result_destroy(result);
    turnscout_discovery_destroy(first);
    turnscout_options_destroy(none);
  }

  /* A discovery left over when its client is destroyed ends as cancelled. */
  {
    turnscout_client* doomed = turnscout_client_create();
    EXPECT(doomed != NULL);
    EXPECT(turnscout_discovery_start(doomed, options, &first) == TURNSCOUT_OK);
    turnscout_client_destroy(doomed);
    EXPECT(turnscout_discovery_poll(first, &result) == TURNSCOUT_ERR_CANCELLED);
    EXPECT(result != NULL &&
           strstr(turnscout_result_failure(result), "client was destroyed") != NULL);
    turnscout_result_destroy(result);
    turnscout_discovery_destroy(first);
  }

  EXPECT(turnscout_discovery_start(NULL, options, &first) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(first == NULL);
  EXPECT(turnscout_discovery_start(client, NULL, &first) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_discovery_start(client, options, NULL) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_discovery_poll(NULL, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_discovery_cancel(NULL) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_client_fd(NULL) == -1);
  EXPECT(turnscout_client_timeout_ms(NULL) == -1);
  EXPECT(strcmp(turnscout_status_string(TURNSCOUT_PENDING), "pending") == 0);
  turnscout_discovery_destroy(NULL);
}

/* Errors that need no server: NULL arguments, bad values, refused options. */
static void check_errors(turnscout_client* client) {
  turnscout_options* options = turnscout_options_create();
  turnscout_result* result = (turnscout_result*)&failures; /* Must be reset to NULL. */
  EXPECT(options != NULL);
  EXPECT(turnscout_discover(NULL, options, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(result == NULL);
  EXPECT(turnscout_discover(client, NULL, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_discover(client, options, NULL) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_add_root(options, NULL) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_add_root(options, "") == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_timeout_ms(options, 0) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_selection(options, 7) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_transport(options, 4) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_tls_ca_file(NULL, "ca.pem") == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_tls_insecure(NULL, 1) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_speculate(NULL, 1) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(turnscout_options_set_transport(NULL, TURNSCOUT_TRANSPORT_TCP) ==
         TURNSCOUT_ERR_INVALID_ARGUMENT);
  /* No roots: the discovery refuses the options and says why. */
  EXPECT(turnscout_discover(client, options, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(result != NULL);
  EXPECT(!turnscout_result_ok(result));
  EXPECT(strstr(turnscout_result_failure(result), "no roots") != NULL);
  EXPECT(turnscout_result_service(result, 0) == NULL);
  EXPECT(turnscout_result_hop_rtt_us(result, 0) == -1);
  turnscout_result_destroy(result);
  EXPECT(turnscout_options_add_root(options, "192.0.2.1:3478") == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_capacity_token(options, "not base64!") == TURNSCOUT_OK);
  EXPECT(turnscout_discover(client, options, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(turnscout_result_failure(result), "capacity token") != NULL);
  turnscout_result_destroy(result);
  /* TLS with a CA file that cannot be read: refused at once, naming the file. */
  EXPECT(turnscout_options_set_capacity_token(options, NULL) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_transport(options, TURNSCOUT_TRANSPORT_TLS) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_tls_ca_file(options, "/nonexistent/ca.pem") == TURNSCOUT_OK);
  EXPECT(turnscout_discover(client, options, &result) == TURNSCOUT_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(turnscout_result_failure(result), "/nonexistent/ca.pem") != NULL);
  turnscout_result_destroy(result);
  EXPECT(turnscout_options_set_tls_ca_file(options, NULL) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_tls_insecure(options, 1) == TURNSCOUT_OK);
  turnscout_options_destroy(options);
  EXPECT(strcmp(turnscout_status_string(TURNSCOUT_ERR_NOT_FOUND), "no TURN server found") == 0);
  EXPECT(turnscout_status_string(99) != NULL);
  EXPECT(strlen(turnscout_version()) > 0);
  turnscout_result_destroy(NULL);
  turnscout_options_destroy(NULL);
  turnscout_client_destroy(NULL);
}

int main(int argc, char** argv) {
  turnscout_client* client;
  turnscout_options* options;
  turnscout_result* result = NULL;
  turnscout_status status;
  int i;
  int warm = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s ROOT...\n", argv[0]);
    return 2;
  }
  client = turnscout_client_create();
  options = turnscout_options_create();
  EXPECT(client != NULL && options != NULL);
  if (client == NULL || options == NULL) return 1;
  check_errors(client);

  for (i = 1; i < argc; ++i)
    EXPECT(turnscout_options_add_root(options, argv[i]) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_timeout_ms(options, 3000) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_verify(options, 1) == TURNSCOUT_OK);
  EXPECT(turnscout_options_set_selection(options, TURNSCOUT_SELECTION_LOAD_AWARE) == TURNSCOUT_OK);

  status = turnscout_discover(client, options, &result);
  EXPECT(status == TURNSCOUT_OK);
  EXPECT(result != NULL);
  if (result == NULL) return 1;
  print_result("cold", result);
  EXPECT(turnscout_result_ok(result) == 1);
  EXPECT(turnscout_result_status(result) == TURNSCOUT_OK);
  EXPECT(strcmp(turnscout_result_failure(result), "") == 0);
  EXPECT(turnscout_result_service_count(result) >= 1);
  EXPECT(strncmp(turnscout_result_service(result, 0), "turn:", 5) == 0);
  EXPECT(turnscout_result_hop_count(result) >= 1);
  EXPECT(turnscout_result_hop_name(result, turnscout_result_hop_count(result)) == NULL);
  EXPECT(turnscout_result_hop_rtt_us(result, 0) >= 0);
  EXPECT(strlen(turnscout_result_reflexive(result)) > 0);
  EXPECT(turnscout_result_verified(result) == 1);
  EXPECT(turnscout_result_bindings_sent(result) >= 1);
  EXPECT(turnscout_result_warm(result) == 0);
  /* Root, then the region and its leaves at once (speculative descent, on by default). */
  EXPECT(turnscout_result_round_trips(result) == 2);
  EXPECT(turnscout_result_round_trips(NULL) == 0);
  EXPECT(strcmp(turnscout_result_transport(result), "udp") == 0);
  EXPECT(strcmp(turnscout_result_family(result), "ipv4") == 0);
  EXPECT(turnscout_result_family(NULL) == NULL);
  EXPECT(strcmp(turnscout_result_hop_transport(result, 0), "udp") == 0);
  EXPECT(turnscout_result_hop_transport(result, turnscout_result_hop_count(result)) == NULL);
  turnscout_result_destroy(result);

  /* Over TCP, as where UDP is blocked: every hop's reply came over a connection. */
  {
    turnscout_client* tcp_client = turnscout_client_create();
    EXPECT(turnscout_options_set_transport(options, TURNSCOUT_TRANSPORT_TCP) == TURNSCOUT_OK);
    status = turnscout_discover(tcp_client, options, &result);
    EXPECT(status == TURNSCOUT_OK);
    if (result == NULL) return 1;
    print_result("tcp", result);
    EXPECT(turnscout_result_ok(result) == 1);
    EXPECT(strcmp(turnscout_result_transport(result), "tcp") == 0);
    for (i = 0; (size_t)i < turnscout_result_hop_count(result); ++i)
      EXPECT(strcmp(turnscout_result_hop_transport(result, (size_t)i), "tcp") == 0);
    turnscout_result_destroy(result);
    turnscout_client_destroy(tcp_client);
    EXPECT(turnscout_options_set_transport(options, TURNSCOUT_TRANSPORT_AUTO) == TURNSCOUT_OK);
  }

  /* The same client remembers the path, so a later discovery is answered by the last leaf
   * in one round trip. Whether the leaf's reply beats the region's is up to the scheduler
   * on a loaded machine, so a few tries are allowed; a client that remembered nothing
   * would never be warm. */
  for (i = 0; i < kWarmTries && !warm; ++i) {
    status = turnscout_discover(client, options, &result);
    EXPECT(status == TURNSCOUT_OK);
    if (result == NULL) return 1;
    print_result("again", result);
    warm = turnscout_result_warm(result);
    if (warm) printf("chosen %s\n", turnscout_result_service(result, 0));
    if (warm) EXPECT(turnscout_result_round_trips(result) == 1);
    turnscout_result_destroy(result);
  }
  EXPECT(warm);

  /* Each hop before the result, then a discovery stopped by its flag. */
  {
    struct hops seen = {0, 0};
    volatile int stop = 0;
    status = turnscout_discover_ex(client, options, on_hop, &seen, &stop, &result);
    EXPECT(status == TURNSCOUT_OK);
    if (result == NULL) return 1;
    EXPECT(seen.count >= 1);
    EXPECT(seen.count >= turnscout_result_hop_count(result));
    EXPECT(seen.bad == 0);
    turnscout_result_destroy(result);
    stop = 1;
    status = turnscout_discover_ex(client, options, NULL, NULL, &stop, &result);
    EXPECT(status == TURNSCOUT_ERR_CANCELLED);
    if (result == NULL) return 1;
    EXPECT(turnscout_result_status(result) == TURNSCOUT_ERR_CANCELLED);
    EXPECT(strcmp(turnscout_result_failure(result), "stopped by the caller") == 0);
    EXPECT(strcmp(turnscout_status_string(TURNSCOUT_ERR_CANCELLED), "cancelled") == 0);
    turnscout_result_destroy(result);
  }

  check_async(client, options);
  check_async_waits(options);

  turnscout_options_destroy(options);
  turnscout_client_destroy(client);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c api: all checks passed\n");
  return 0;
}
