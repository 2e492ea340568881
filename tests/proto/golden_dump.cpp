// Prints the golden messages as annotated hex dumps (the examples in proto/PROTOCOL.md) and,
// with --corpus DIR, writes each one to DIR/<name>.bin as a fuzzer seed.
//   proto_golden_dump [--corpus DIR]
#include <cstdio>
#include <fstream>
#include <string>

#include "proto/byte_order.hpp"
#include "tests/proto/golden_messages.hpp"

namespace turnscout::proto {
namespace {

// RFC 5952 text: the longest run of two or more zero groups becomes "::".
std::string ipv6_text(const Endpoint& e) {
  int groups[8];
  for (int i = 0; i < 8; ++i)
    groups[i] = (e.ip[2 * i] << 8) | e.ip[2 * i + 1];
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && groups[j] == 0)
      ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j == i ? i + 1 : j;
  }
  std::string out;
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", groups[i]);
    out += buf;
  }
  return out;
}

std::string ip_text(const Endpoint& e) {
  if (e.family == Family::kV6) return "[" + ipv6_text(e) + "]:" + std::to_string(e.port);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", e.ip[0], e.ip[1], e.ip[2], e.ip[3], e.port);
  return buf;
}

std::string text(std::span<const uint8_t> v) {
  return {v.begin(), v.end()};
}

// One line describing the attribute's value.
std::string describe(const MessageView& m, const Attribute& a) {
  char buf[160];
  switch (a.type) {
    case attr::kXorMappedAddress:
      return ip_text(*read_xor_address(a, m.transaction_id()));
    case attr::kAdvertisedAddress:
      return ip_text(*read_address(a));
    case attr::kNodeName:
    case attr::kService:
    case attr::kSoftware:
      return "\"" + text(a.value) + "\"";
    case attr::kLoad: {
      const auto l = *read_load(a);
      std::snprintf(buf, sizeof buf, "load %u, limit %u", l.load_permille,
                    l.overload_limit_permille);
      return buf;
    }
    case attr::kChild:
    case attr::kGrandchild: {
      const auto c = *read_child(a);
      std::snprintf(buf, sizeof buf, "%s, %s, load %u, weight %u", ip_text(c.address).c_str(),
                    c.leaf ? "leaf" : "branch", c.load_permille, c.weight);
      return buf;
    }
    case attr::kFlowControl: {
      const auto f = *read_flow_control(a);
      std::snprintf(buf, sizeof buf, "burst %u, refill %u mtok/s, probe %u, binding %u, tier %u",
                    f.burst_tokens, f.refill_millitokens_per_s, f.probe_cost, f.binding_cost,
                    f.tier);
      return buf;
    }
    case attr::kSubtree: {
      const auto s = *read_subtree(a);
      std::snprintf(buf, sizeof buf, "%u live leaves, best load %u, height %u", s.live_leaves,
                    s.best_load_permille, s.height);
      return buf;
    }
    case attr::kReplyFlags:
    case attr::kCapacity:
      return std::to_string(*read_u32(a));
    case attr::kChildrenWanted:
      return std::to_string(*read_children_wanted(a));
    case attr::kDepthWanted:
      return std::to_string(*read_depth_wanted(a));
    case attr::kNodeState:
      return *read_node_state(a) == NodeState::kActive ? "active" : "draining";
    case attr::kWeight:
      return std::to_string(*read_weight(a));
    case attr::kTimestamp:
      return std::to_string(*read_timestamp(a)) + " ms";
    case attr::kErrorCode: {
      const auto e = *read_error_code(a);
      return std::to_string(e.code) + " \"" + std::string(e.reason) + "\"";
    }
    case attr::kCapacityToken: {
      const auto v = a.value;
      const uint64_t expiry = load_u64(v.data() + 4);
      const std::string client(v.begin() + 13, v.begin() + 13 + v[12]);
      std::snprintf(buf, sizeof buf, "version %u, tier %u, expiry %llu, client \"%s\", HMAC", v[0],
                    v[1], static_cast<unsigned long long>(expiry), client.c_str());
      return buf;
    }
    case attr::kUnknownAttributes: {
      std::string out;
      const auto types = read_unknown_attributes(a);
      for (uint16_t t : *types) {
        std::snprintf(buf, sizeof buf, "%s0x%04x", out.empty() ? "" : ", ", t);
        out += buf;
      }
      return out;
    }
    case attr::kPadding:
      return "zeros";
    case attr::kMessageIntegritySha256:
      std::snprintf(buf, sizeof buf, "HMAC of bytes 0-%u, length field 0x%04x", a.offset - 1,
                    a.offset + 36 - 20);
      return buf;
    case attr::kFingerprint:
      std::snprintf(buf, sizeof buf, "CRC-32 of bytes 0-%u xor 0x5354554e", a.offset - 1);
      return buf;
    default:
      return "?";
  }
}

const char* message_name(const MessageView& m) {
  static constexpr const char* kNames[4][4] = {
      {"Binding request", "Binding indication", "Binding success", "Binding error"},
      {"Probe request", "Probe indication", "Probe success", "Probe error"},
      {"Heartbeat request", "Heartbeat indication", "Heartbeat success", "Heartbeat error"},
      {"Leave request", "Leave indication", "Leave success", "Leave error"},
  };
  size_t method = 0;
  if (m.method() == Method::kProbe) method = 1;
  if (m.method() == Method::kHeartbeat) method = 2;
  if (m.method() == Method::kLeave) method = 3;
  return kNames[method][static_cast<size_t>(m.message_class())];
}

void row(std::span<const uint8_t> bytes, size_t at, const std::string& note) {
  std::printf("%02x %02x %02x %02x", bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (!note.empty()) std::printf("   %s", note.c_str());
  std::printf("\n");
}

void dump(const golden::Encoded& e) {
  const auto m = parse_message(e.bytes);
  if (!m) {
    std::printf("%s: %s\n", e.name.c_str(), to_string(m.error()).c_str());
    return;
  }
  const auto b = e.bytes;
  char note[96];
  std::printf("<!-- golden:%s -->\n```\n", e.name.c_str());
  std::snprintf(note, sizeof note, "%s (type 0x%04x), length %zu", message_name(*m), m->type(),
                b.size() - kHeaderSize);
  row(b, 0, note);
  row(b, 4, "magic cookie");
  row(b, 8, "transaction id");
  row(b, 12, "");
  row(b, 16, "");
  for (const Attribute a : *m) {
    std::snprintf(note, sizeof note, "%s (0x%04x), length %zu", attribute_name(a.type), a.type,
                  a.value.size());
    const std::string value = describe(*m, a);
    row(b, a.offset, value.empty() ? note : std::string(note) + ": " + value);
    for (size_t i = 0; i < a.value.size(); i += 4)
      row(b, a.offset + 4 + i, "");
  }
  std::printf("```\n\n");
}

}  // namespace
}  // namespace turnscout::proto

int main(int argc, char** argv) {
  using namespace turnscout::proto;
  const auto all = golden::encode_all();
  if (argc == 3 && std::string(argv[1]) == "--corpus") {
    for (const auto& e : all) {
      std::ofstream f(std::string(argv[2]) + "/" + e.name + ".bin", std::ios::binary);
      f.write(reinterpret_cast<const char*>(e.bytes.data()),
              static_cast<std::streamsize>(e.bytes.size()));
      if (!f) return 1;
    }
    return 0;
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: proto_golden_dump [--corpus DIR]\n");
    return 2;
  }
  for (const auto& e : all)
    dump(e);
  return 0;
}
