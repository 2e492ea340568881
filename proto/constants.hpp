// Numbers fixed by the wire contract (proto/PROTOCOL.md): header layout, methods, classes,
// attribute types, error codes and size limits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace turnscout::proto {

inline constexpr size_t kHeaderSize = 20;
inline constexpr uint32_t kMagicCookie = 0x2112A442;
inline constexpr uint32_t kFingerprintXor = 0x5354554E;
inline constexpr size_t kIntegritySha256Size = 32;
// The header length field is 16 bits, so no message is larger than this.
inline constexpr size_t kMaxMessageSize = kHeaderSize + 0xFFFF;
// parse_message rejects messages with more attributes than this (bounds a MessageView).
inline constexpr size_t kMaxAttributes = 128;
// A client pads each Probe request to this size: it fits the IPv6 minimum MTU and is
// the budget the server's reply must stay within.
inline constexpr size_t kRecommendedRequestSize = 1200;

using TransactionId = std::array<uint8_t, 12>;

// Our methods sit in the Expert Review range 0x080-0x0FF (0x080 is GOOG-PING; 0x0B1-0x0B3
// are unassigned). 0x100-0xFFF is reserved by RFC 7983: there the first byte of the message
// is 0x04 or more, and DTLS-SRTP demultiplexers (and Wireshark) do not take it for STUN.
enum class Method : uint16_t {
  kBinding = 0x001,
  kProbe = 0x0B1,
  kHeartbeat = 0x0B2,
  kLeave = 0x0B3,
};

enum class MessageClass : uint8_t {
  kRequest = 0,
  kIndication = 1,
  kSuccess = 2,
  kError = 3,
};

// True for the methods defined by this protocol (they always carry FINGERPRINT).
constexpr bool is_turnscout_method(Method m) {
  return m == Method::kProbe || m == Method::kHeartbeat || m == Method::kLeave;
}

// RFC 8489 §5: the class bits C0 and C1 sit at bits 4 and 8, the 12 method bits around them.
constexpr uint16_t message_type(Method method, MessageClass cls) {
  const auto m = static_cast<uint16_t>(method);
  const auto c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) |
                               ((c & 1) << 4) | ((c & 2) << 7));
}

constexpr Method method_of(uint16_t type) {
  return static_cast<Method>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

constexpr MessageClass class_of(uint16_t type) {
  return static_cast<MessageClass>(((type >> 4) & 1) | ((type >> 7) & 2));
}

static_assert(message_type(Method::kBinding, MessageClass::kSuccess) == 0x0101);
static_assert(message_type(Method::kProbe, MessageClass::kRequest) == 0x0261);
static_assert(message_type(Method::kProbe, MessageClass::kError) == 0x0371);
static_assert(message_type(Method::kLeave, MessageClass::kSuccess) == 0x0363);
static_assert(method_of(0x0372) == Method::kHeartbeat && class_of(0x0372) == MessageClass::kError);

// Outside RFC 7983's reserved 0x100-0xFFF, the first byte of every message is 0..3: the
// range an RFC 7983 demultiplexer hands to STUN.
static_assert(message_type(Method::kProbe, MessageClass::kRequest) >> 8 <= 3 &&
              message_type(Method::kLeave, MessageClass::kError) >> 8 <= 3);

// Attribute types. Below 0x8000: comprehension-required; 0x8000 and above: optional.
namespace attr {
inline constexpr uint16_t kMappedAddress = 0x0001;
inline constexpr uint16_t kUsername = 0x0006;
inline constexpr uint16_t kMessageIntegrity = 0x0008;
inline constexpr uint16_t kErrorCode = 0x0009;
inline constexpr uint16_t kUnknownAttributes = 0x000A;
inline constexpr uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kXorMappedAddress = 0x0020;
inline constexpr uint16_t kPadding = 0x0026;
inline constexpr uint16_t kSoftware = 0x8022;
inline constexpr uint16_t kFingerprint = 0x8028;

// Ours: a contiguous block in the comprehension-optional Expert Review range, unassigned in
// the IANA registry and unnamed by Wireshark (IANA has 0xC000-0xC002, 0xC057-0xC05E, 0xC060
// and 0xC070-0xC071 there). New attributes continue at 0xCA11.
inline constexpr uint16_t kNodeName = 0xCA01;
inline constexpr uint16_t kLoad = 0xCA02;
inline constexpr uint16_t kChild = 0xCA03;
inline constexpr uint16_t kService = 0xCA04;
inline constexpr uint16_t kFlowControl = 0xCA05;
inline constexpr uint16_t kReplyFlags = 0xCA06;
inline constexpr uint16_t kChildrenWanted = 0xCA07;
inline constexpr uint16_t kCapacityToken = 0xCA08;
inline constexpr uint16_t kAdvertisedAddress = 0xCA09;
inline constexpr uint16_t kCapacity = 0xCA0A;
inline constexpr uint16_t kSubtree = 0xCA0B;
inline constexpr uint16_t kNodeState = 0xCA0C;
inline constexpr uint16_t kTimestamp = 0xCA0D;
inline constexpr uint16_t kWeight = 0xCA0E;
inline constexpr uint16_t kDepthWanted = 0xCA0F;
inline constexpr uint16_t kGrandchild = 0xCA10;

constexpr bool comprehension_required(uint16_t type) {
  return type < 0x8000;
}
static_assert(!comprehension_required(kNodeName) && kWeight - kNodeName == 13);
}  // namespace attr

// ERROR-CODE values this protocol sends.
namespace error_code {
inline constexpr uint16_t kBadRequest = 400;
inline constexpr uint16_t kUnauthorized = 401;
inline constexpr uint16_t kForbidden = 403;
inline constexpr uint16_t kUnknownAttribute = 420;
inline constexpr uint16_t kStaleTimestamp = 438;
inline constexpr uint16_t kServerError = 500;
}  // namespace error_code

// REPLY-FLAGS bits.
namespace reply_flag {
inline constexpr uint32_t kTruncated = 1u << 0;
inline constexpr uint32_t kDraining = 1u << 1;
}  // namespace reply_flag

// Value limits, in bytes.
inline constexpr size_t kMaxNodeNameSize = 64;
inline constexpr size_t kMaxServiceSize = 255;
inline constexpr size_t kMaxReasonSize = 128;
inline constexpr size_t kMaxSoftwareSize = 763;  // RFC 8489 §14.14.
inline constexpr size_t kMaxCapacityTokenSize = 128;
inline constexpr size_t kMaxAdvertisedAddresses = 4;
// CHILD attributes a Heartbeat may carry: the sender's own listing (PROTOCOL.md §6).
inline constexpr size_t kMaxHeartbeatListing = 16;

}  // namespace turnscout::proto
