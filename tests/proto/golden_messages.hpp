// The example messages of proto/PROTOCOL.md, as typed values, and their encodings. The
// golden tests pin the encodings byte for byte; the dump tool prints them for the document
// and writes them as the fuzzer's seed corpus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/proto.hpp"

namespace turnscout::proto::golden {

// The example cluster key: the 29 ASCII bytes of "turnscout-example-cluster-key".
std::span<const uint8_t> cluster_key();

// Example times: the token is issued at kIssuedAt and expires at kExpiry (Unix seconds).
inline constexpr uint64_t kIssuedAt = 1735689600;  // 2025-01-01T00:00:00Z
inline constexpr uint64_t kExpiry = 1767225600;    // 2026-01-01T00:00:00Z

CapacityToken token_fields();
std::vector<uint8_t> token_bytes();  // token_fields() signed with cluster_key().

ProbeRequest probe_request();  // Refers to a static copy of token_bytes().
ProbeReply branch_reply();     // Four children; the fourth does not fit the request's size.
ProbeResponse branch_response_decoded();  // What a client reads from branch_reply().
ProbeResponse leaf_response();
ProbeRequest probe_request_depth();   // DEPTH-WANTED 2, padded to 168 bytes.
ProbeResponse root_response_depth();  // Two regions, each with its leaves (GRANDCHILD).
ProbeReply root_reply_depth();        // The same as a server writes it (a static copy).
HeartbeatRequest heartbeat_request();
HeartbeatResponse heartbeat_response();
LeaveRequest leave_request();
LeaveResponse leave_response();
BindingRequest binding_request();
BindingResponse binding_response();
ErrorResponse error_response();

struct Encoded {
  std::string name;  // Also the seed corpus file name.
  std::vector<uint8_t> bytes;
};

// Every example, encoded by the library (signed ones with cluster_key()). Empty bytes mean
// the encoder failed, which the golden tests report.
std::vector<Encoded> encode_all();

}  // namespace turnscout::proto::golden
