/* The turnscout client SDK for C and other languages: a blocking discovery of the nearest
 * TURN server with room, through a tree of turnscout balance servers; or, for applications
 * with their own event loop, one started and polled without blocking (turnscout_discovery_*).
 *
 *   turnscout_client* client = turnscout_client_create();
 *   turnscout_options* options = turnscout_options_create();
 *   turnscout_options_add_root(options, "scout.example.org:3478");
 *   turnscout_result* result = NULL;
 *   if (turnscout_discover(client, options, &result) == TURNSCOUT_OK)
 *     puts(turnscout_result_service(result, 0));
 *   else
 *     puts(result ? turnscout_result_failure(result) : "out of memory");
 *   turnscout_result_destroy(result);
 *   turnscout_options_destroy(options);
 *   turnscout_client_destroy(client);
 *
 * Rules:
 * - A client remembers servers between discoveries (a warm discovery costs one round
 *   trip). It runs a private event loop inside turnscout_discover() and
 *   turnscout_discovery_poll() only. One thread at a time may use a client and its
 *   discoveries; different clients may be used from different threads.
 * - Options and results are independent of the client that used them and of each other.
 * - Every string returned is owned by the object it came from and stays valid until that
 *   object is destroyed. Indexes out of range give NULL (strings) or -1 (numbers).
 * - Destroy functions accept NULL.
 */
#ifndef TURNSCOUT_TURNSCOUT_H
#define TURNSCOUT_TURNSCOUT_H

#include <stddef.h>
#include <stdint.h>

#include <turnscout/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct turnscout_client turnscout_client;
typedef struct turnscout_options turnscout_options;
typedef struct turnscout_result turnscout_result;
typedef struct turnscout_discovery turnscout_discovery;

typedef enum turnscout_status {
  TURNSCOUT_OK = 0,
  /* A NULL argument, a bad option value, or options the discovery refused (the result's
   * failure says which). */
  TURNSCOUT_ERR_INVALID_ARGUMENT = 1,
  /* The discovery ran and found no usable TURN server (see the result's failure). */
  TURNSCOUT_ERR_NOT_FOUND = 2,
  TURNSCOUT_ERR_NO_MEMORY = 3,
  /* The library could not run a discovery (event loop, sockets). */
  TURNSCOUT_ERR_INTERNAL = 4,
  /* Stopped by the caller (turnscout_discover_ex's stop flag); the result holds what was
   * found so far. */
  TURNSCOUT_ERR_CANCELLED = 5,
  /* turnscout_discovery_poll: the discovery is still running. */
  TURNSCOUT_PENDING = 6
} turnscout_status;

typedef enum turnscout_selection {
  TURNSCOUT_SELECTION_FIRST = 0,     /* The first valid reply wins a level. */
  TURNSCOUT_SELECTION_LOAD_AWARE = 1 /* The first one under its overload limit (default). */
} turnscout_selection;

typedef enum turnscout_transport {
  TURNSCOUT_TRANSPORT_AUTO = 0, /* UDP; TCP, then TLS, join when no root answered in time. */
  TURNSCOUT_TRANSPORT_UDP = 1,  /* UDP only. */
  TURNSCOUT_TRANSPORT_TCP = 2,  /* TCP only, for networks that block UDP. */
  TURNSCOUT_TRANSPORT_TLS = 3   /* TLS only, certificates checked (see below). */
} turnscout_transport;

/* "ok", "invalid argument", ...; never NULL. Takes an int so that any value is safe. */
TURNSCOUT_API const char* turnscout_status_string(int status);
/* The library's version, e.g. "0.1.0". */
TURNSCOUT_API const char* turnscout_version(void);

/* NULL when out of memory or when no event loop could be created. */
TURNSCOUT_API turnscout_client* turnscout_client_create(void);
TURNSCOUT_API void turnscout_client_destroy(turnscout_client* client);

/* Defaults: no roots, 2000 ms timeout, load-aware selection, verification on, free tier. */
TURNSCOUT_API turnscout_options* turnscout_options_create(void);
TURNSCOUT_API void turnscout_options_destroy(turnscout_options* options);
/* "192.0.2.1:3478", "[2001:db8::1]:3478" or "host.example.org[:port]" (default port 3478). */
TURNSCOUT_API turnscout_status turnscout_options_add_root(turnscout_options* options,
                                                          const char* root);
/* "index:N", "addr:IP:PORT" or "name:NODE". Checked when the discovery starts. */
TURNSCOUT_API turnscout_status turnscout_options_add_blacklist(turnscout_options* options,
                                                               const char* token);
/* 1 ms .. 1 hour. */
TURNSCOUT_API turnscout_status turnscout_options_set_timeout_ms(turnscout_options* options,
                                                                uint32_t timeout_ms);
/* Non-zero: confirm the chosen TURN server answers a STUN Binding, and look further when it
 * does not (on by default, as DiscoverOptions::verify). */
TURNSCOUT_API turnscout_status turnscout_options_set_verify(turnscout_options* options, int verify);
/* A turnscout_selection value; anything else is TURNSCOUT_ERR_INVALID_ARGUMENT. */
TURNSCOUT_API turnscout_status turnscout_options_set_selection(turnscout_options* options,
                                                               int selection);
/* A turnscout_transport value (DiscoverOptions::transport); anything else is
 * TURNSCOUT_ERR_INVALID_ARGUMENT. */
TURNSCOUT_API turnscout_status turnscout_options_set_transport(turnscout_options* options,
                                                               int transport);
/* TLS (TURNSCOUT_TRANSPORT_TLS, and verifying turns: services): the PEM file of the CAs a
 * server's certificate must chain to; NULL or "" = the system's. A root given by host name
 * must be named in its certificate, any other server by its IP address. A file that cannot
 * be read fails the discovery with TURNSCOUT_ERR_INVALID_ARGUMENT's status. */
TURNSCOUT_API turnscout_status turnscout_options_set_tls_ca_file(turnscout_options* options,
                                                                 const char* path);
/* Non-zero: accept any certificate (testing only). */
TURNSCOUT_API turnscout_status turnscout_options_set_tls_insecure(turnscout_options* options,
                                                                  int insecure);
/* 0: walk the tree level by level; non-zero (the default): speculative descent, the
 * children and grandchildren a server lists probed in one round (DiscoverOptions::speculate). */
TURNSCOUT_API turnscout_status turnscout_options_set_speculate(turnscout_options* options,
                                                               int speculate);
/* A capacity token as printed by `turnscout token issue` (base64url); NULL or "" = none. */
TURNSCOUT_API turnscout_status turnscout_options_set_capacity_token(turnscout_options* options,
                                                                    const char* token);

/* Runs one discovery, blocking for at most the options' timeout (a system name lookup
 * already under way is waited for). *result receives a result the caller destroys, whatever
 * the status, except for NULL arguments and TURNSCOUT_ERR_NO_MEMORY: then it is NULL. */
TURNSCOUT_API turnscout_status turnscout_discover(turnscout_client* client,
                                                  const turnscout_options* options,
                                                  turnscout_result** result);
/* Called with each hop as the walk wins its level, root first, before the discovery ends:
 * depth (0 = root), node name, "IP:PORT" and RTT in microseconds. The strings live for the
 * call only. It must not call any function of this library on the same client. */
typedef void (*turnscout_hop_fn)(void* user, uint32_t depth, const char* name, const char* address,
                                 int64_t rtt_us);
/* turnscout_discover, plus: `on_hop` (may be NULL) is called on the calling thread as hops
 * are won; when `*stop` (may be NULL) becomes non-zero, from another thread or a signal
 * handler, the discovery ends within about 10 ms with TURNSCOUT_ERR_CANCELLED and a result
 * holding the path and errors so far. */
TURNSCOUT_API turnscout_status turnscout_discover_ex(turnscout_client* client,
                                                     const turnscout_options* options,
                                                     turnscout_hop_fn on_hop, void* user,
                                                     const volatile int* stop,
                                                     turnscout_result** result);

/* Without blocking, for an application with its own event loop:
 *
 *   turnscout_discovery* d = NULL;
 *   turnscout_discovery_start(client, options, &d);
 *   ... wait (poll, epoll, select, or the application's loop) until
 *       turnscout_client_fd(client) is readable or turnscout_client_timeout_ms(client)
 *       milliseconds have passed (-1 = no timer), then:
 *   if (turnscout_discovery_poll(d, &result) != TURNSCOUT_PENDING) ... use result ...
 *   turnscout_discovery_destroy(d);
 *
 * Several discoveries may run on one client; polling any of them moves all of them on.
 * The fd and the timeout belong to the client and are the same for all of them: ask for
 * the timeout just before each wait. */
/* *discovery receives a handle the caller destroys; NULL for NULL arguments and
 * TURNSCOUT_ERR_NO_MEMORY. Bad options are reported by the first poll, with a result. */
TURNSCOUT_API turnscout_status turnscout_discovery_start(turnscout_client* client,
                                                         const turnscout_options* options,
                                                         turnscout_discovery** discovery);
/* Readable when the client has I/O to handle; -1 for NULL. Never read or close it. */
TURNSCOUT_API int turnscout_client_fd(const turnscout_client* client);
/* Milliseconds from now until the client has something to do: 0 = now (also when a result
 * of one of its discoveries waits to be polled), -1 = nothing (or NULL). */
TURNSCOUT_API int turnscout_client_timeout_ms(const turnscout_client* client);
/* Runs what is due without blocking. TURNSCOUT_PENDING while the discovery runs (*result is
 * NULL); then, once, its status with *result as turnscout_discover gives it; after that,
 * TURNSCOUT_ERR_INVALID_ARGUMENT. */
TURNSCOUT_API turnscout_status turnscout_discovery_poll(turnscout_discovery* discovery,
                                                        turnscout_result** result);
/* Ends the discovery now: the next poll gives TURNSCOUT_ERR_CANCELLED and a result holding
 * the path and errors so far. TURNSCOUT_ERR_INVALID_ARGUMENT when NULL or already ended,
 * including when its result is already on its way: the next poll then gives that result. */
TURNSCOUT_API turnscout_status turnscout_discovery_cancel(turnscout_discovery* discovery);
/* Abandons the discovery if it still runs (no result). Destroy discoveries before their
 * client; one left over when its client is destroyed ends with TURNSCOUT_ERR_CANCELLED. */
TURNSCOUT_API void turnscout_discovery_destroy(turnscout_discovery* discovery);

TURNSCOUT_API void turnscout_result_destroy(turnscout_result* result);

/* 1 when a TURN server was found, else 0. */
TURNSCOUT_API int turnscout_result_ok(const turnscout_result* result);
TURNSCOUT_API turnscout_status turnscout_result_status(const turnscout_result* result);
/* One line saying why the discovery failed; "" when it succeeded. */
TURNSCOUT_API const char* turnscout_result_failure(const turnscout_result* result);

/* The chosen leaf's TURN/STUN URIs, best first ("turn:192.0.2.10:3478?transport=udp"). */
TURNSCOUT_API size_t turnscout_result_service_count(const turnscout_result* result);
TURNSCOUT_API const char* turnscout_result_service(const turnscout_result* result, size_t index);
/* Ranked backups from other leaves. */
TURNSCOUT_API size_t turnscout_result_backup_count(const turnscout_result* result);
TURNSCOUT_API const char* turnscout_result_backup(const turnscout_result* result, size_t index);

/* The path, root first: node name, "IP:PORT", RTT in microseconds, load in permille. */
TURNSCOUT_API size_t turnscout_result_hop_count(const turnscout_result* result);
TURNSCOUT_API const char* turnscout_result_hop_name(const turnscout_result* result, size_t index);
TURNSCOUT_API const char* turnscout_result_hop_address(const turnscout_result* result,
                                                       size_t index);
TURNSCOUT_API int64_t turnscout_result_hop_rtt_us(const turnscout_result* result, size_t index);
TURNSCOUT_API int32_t turnscout_result_hop_load_permille(const turnscout_result* result,
                                                         size_t index);
/* The admission tier the hop served this client at (0 = free: a capacity token it did not
 * honour shows as 0); -1 for an index out of range. */
TURNSCOUT_API int32_t turnscout_result_hop_tier(const turnscout_result* result, size_t index);
/* How the hop's reply came: "udp" or "tcp"; NULL for an index out of range. */
TURNSCOUT_API const char* turnscout_result_hop_transport(const turnscout_result* result,
                                                         size_t index);
/* What carried the walk: "udp", or "tcp" where UDP got no answer (or was not used), or
 * "tls" (TURNSCOUT_TRANSPORT_TLS). */
TURNSCOUT_API const char* turnscout_result_transport(const turnscout_result* result);
/* The address family of the root the walk went through: "ipv4" or "ipv6"; "" when none
 * answered. */
TURNSCOUT_API const char* turnscout_result_family(const turnscout_result* result);

/* Our address as the leaf saw it ("IP:PORT"); "" when unknown. */
TURNSCOUT_API const char* turnscout_result_reflexive(const turnscout_result* result);
/* 1 when the first service answered a STUN Binding; 0 when not asked or none answered. */
TURNSCOUT_API int turnscout_result_verified(const turnscout_result* result);
/* 1 when answered by the last good leaf in one round trip. */
TURNSCOUT_API int turnscout_result_warm(const turnscout_result* result);
/* Rounds of Probes the answer waited for (DiscoveryResult::round_trips). */
TURNSCOUT_API int turnscout_result_round_trips(const turnscout_result* result);
TURNSCOUT_API int64_t turnscout_result_total_time_us(const turnscout_result* result);
TURNSCOUT_API uint32_t turnscout_result_probes_sent(const turnscout_result* result);
/* Verification Bindings sent, retransmissions included. */
TURNSCOUT_API uint32_t turnscout_result_bindings_sent(const turnscout_result* result);

/* Per-server errors, one line each: "127.0.0.1:3478 root-1 (depth 0): timeout: 5 attempts,
 * no reply". */
TURNSCOUT_API size_t turnscout_result_error_count(const turnscout_result* result);
TURNSCOUT_API const char* turnscout_result_error(const turnscout_result* result, size_t index);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TURNSCOUT_TURNSCOUT_H */
