#include "common/yaml.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"

namespace turnscout {

struct ConfigReader::MapState {
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
  };
  std::string path;
  YAML::Mark mark;
  std::vector<Entry> entries;
  std::vector<std::string> known;
};

namespace {

// Positions in messages are 1-based; a node without one is reported at the start.
int line_of(const YAML::Mark& m) {
  return m.is_null() ? 1 : m.line + 1;
}
int column_of(const YAML::Mark& m) {
  return m.is_null() ? 1 : m.column + 1;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return quoted(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// "in \"cluster\"", or "at top level" for the root map.
std::string where(const std::string& path) {
  return path.empty() ? "at top level" : fmt::format("in \"{}\"", escaped(path));
}

// A key of the file's own choosing (a tier or a weight name) may hold any bytes: one that is
// not a plain word is quoted, so a message about its value stays one readable line.
std::string child_path(const std::string& parent, std::string_view key) {
  const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  const std::string shown = plain ? std::string(key) : quoted(key);
  return parent.empty() ? shown : fmt::format("{}.{}", parent, shown);
}

std::string prefixed(const std::string& path, std::string_view message) {
  return fmt::format("{}: {}", path.empty() ? "top level" : path, message);
}

std::string range_text(std::string_view what, const std::string& min, const std::string& max,
                       bool has_min, bool has_max) {
  if (has_min && has_max) return fmt::format("{} from {} to {}", what, min, max);
  if (has_min) return fmt::format("{} of at least {}", what, min);
  if (has_max) return fmt::format("{} of at most {}", what, max);
  return std::string(what);
}

// The whole text as one number: no sign for unsigned types, no spaces, no trailing junk.
template <typename Number>
bool parse_number(const std::string& text, Number& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

Result<YAML::Node, std::string> parse_yaml(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's message may quote a byte of the input, a line break or a control byte.
    return unexpected(
        fmt::format("{}:{}:{}: {}", name, line_of(e.mark), column_of(e.mark), escaped(e.msg)));
  } catch (const std::exception& e) {
    return unexpected(fmt::format("{}: {}", name, escaped(e.what())));
  }
}

}  // namespace

// ---- YamlDocument ----

Result<YamlDocument, std::string> YamlDocument::load_file(const std::string& path) {
  auto cannot_read = [&path](int err) {
    return unexpected(fmt::format("{}: cannot read: {}", path, std::strerror(err)));
  };
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return cannot_read(errno);
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) {
    text.append(buf, n);
  }
  const int err = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (err != 0) return cannot_read(err);
  return load_string(text, path);
}

Result<YamlDocument, std::string> YamlDocument::load_string(std::string_view text,
                                                            std::string name) {
  auto root = parse_yaml(std::string(text), name);
  if (!root) return unexpected(root.error());
  return YamlDocument(std::move(name), *root);
}

// ---- ConfigReader ----

ConfigReader::ConfigReader(const YamlDocument& doc) : name_(doc.name()), root_(doc.root()) {}

ConfigReader::~ConfigReader() = default;

ConfigNode ConfigReader::root() {
  return ConfigNode(this, root_, "", YAML::Mark());
}

void ConfigReader::error(const YAML::Mark& mark, std::string message) {
  errors_.push_back({line_of(mark), column_of(mark), std::move(message)});
}

ConfigReader::MapState* ConfigReader::open_map(const YAML::Node& node, const std::string& path,
                                               const YAML::Mark& mark) {
  auto state = std::make_unique<MapState>();
  state->path = path;
  state->mark = mark;
  if (node.IsMap()) {
    std::unordered_map<std::string, size_t> index;  // Hostile files may hold huge maps.
    for (const auto& item : node) {
      const YAML::Mark key_mark = item.first.Mark();
      if (!item.first.IsScalar()) {
        error(key_mark,
              prefixed(path, fmt::format("expected a string key, got {}", describe(item.first))));
        continue;
      }
      const std::string& key = item.first.Scalar();
      auto [it, fresh] = index.emplace(key, state->entries.size());
      if (!fresh) {
        const YAML::Mark& first = state->entries[it->second].key_mark;
        error(key_mark, fmt::format("duplicate key {} {} (first at {}:{})", quoted(key),
                                    where(path), line_of(first), column_of(first)));
        continue;
      }
      state->entries.push_back({key, key_mark, item.second});
    }
  }
  maps_.push_back(std::move(state));
  return maps_.back().get();
}

void ConfigReader::report_unknown_keys(const MapState& map) {
  std::vector<std::string> known = map.known;
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  for (const auto& entry : map.entries) {
    if (std::binary_search(known.begin(), known.end(), entry.key)) continue;
    const std::string expected = known.empty()
                                     ? "this map takes no keys"
                                     : fmt::format("expected one of: {}", fmt::join(known, ", "));
    error(entry.key_mark,
          fmt::format("unknown key {} {} ({})", quoted(entry.key), where(map.path), expected));
  }
}

std::vector<std::string> ConfigReader::finish() {
  for (; maps_checked_ < maps_.size(); ++maps_checked_) {
    report_unknown_keys(*maps_[maps_checked_]);
  }
  std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const Error& e : errors_) {
    std::string line = fmt::format("{}:{}:{}: {}", name_, e.line, e.column, e.message);
    // A map reached twice through YAML aliases would report its problems twice.
    if (seen.insert(line).second) out.push_back(std::move(line));
  }
  return out;
}

// ---- ConfigNode ----

YAML::Mark ConfigNode::mark() const {
  // yaml-cpp places an empty value ("port:") at the next token, often on a later line.
  const YAML::Mark own = node_.Mark();
  return own.is_null() || node_.IsNull() ? fallback_ : own;
}

void ConfigNode::error(std::string_view message) {
  reader_->error(mark(), prefixed(path_, message));
}

void ConfigNode::fail(std::string_view expected) {
  error(fmt::format("expected {}, got {}", expected, describe(node_)));
}

const std::string* ConfigNode::scalar(std::string_view expected) {
  if (node_.IsScalar()) return &node_.Scalar();
  fail(expected);
  return nullptr;
}

bool ConfigNode::read(std::string& out) {
  const std::string* text = scalar("a string");
  if (text == nullptr) return false;
  out = *text;
  return true;
}

bool ConfigNode::read(bool& out) {
  static constexpr std::string_view kExpected = "true or false";
  const std::string* text = scalar(kExpected);
  if (text == nullptr) return false;
  if (*text == "true" || *text == "True" || *text == "TRUE") {
    out = true;
  } else if (*text == "false" || *text == "False" || *text == "FALSE") {
    out = false;
  } else {
    fail(kExpected);
    return false;
  }
  return true;
}

bool ConfigNode::read_signed(int64_t& out, int64_t min, int64_t max) {
  const std::string expected =
      range_text("an integer", std::to_string(min), std::to_string(max), true, true);
  const std::string* text = scalar(expected);
  if (text == nullptr) return false;
  int64_t v = 0;
  if (!parse_number(*text, v) || v < min || v > max) {
    fail(expected);
    return false;
  }
  out = v;
  return true;
}

bool ConfigNode::read_unsigned(uint64_t& out, uint64_t min, uint64_t max) {
  const std::string expected =
      range_text("an integer", std::to_string(min), std::to_string(max), true, true);
  const std::string* text = scalar(expected);
  if (text == nullptr) return false;
  uint64_t v = 0;
  if (!parse_number(*text, v) || v < min || v > max) {
    fail(expected);
    return false;
  }
  out = v;
  return true;
}

bool ConfigNode::read(double& out, double min, double max) {
  const std::string expected =
      range_text("a number", fmt::format("{}", min), fmt::format("{}", max), std::isfinite(min),
                 std::isfinite(max));
  const std::string* text = scalar(expected);
  if (text == nullptr) return false;
  double v = 0;
  if (!parse_number(*text, v) || !std::isfinite(v) || v < min || v > max) {
    fail(expected);
    return false;
  }
  out = v;
  return true;
}

bool ConfigNode::read(Duration& out, Duration min, Duration max) {
  const std::string* text = scalar("a duration like 250ms, 2s or 1m");
  if (text == nullptr) return false;
  auto parsed = parse_duration(*text);
  if (!parsed) {
    error(parsed.error());
    return false;
  }
  if (*parsed < min || *parsed > max) {
    fail(range_text("a duration", format_duration(min), format_duration(max),
                    min > Duration::zero(), max < Duration::max()));
    return false;
  }
  out = *parsed;
  return true;
}

bool ConfigNode::read(Endpoint& out) {
  const std::string* text = scalar("an address like 192.0.2.1:3478 or [2001:db8::1]:3478");
  if (text == nullptr) return false;
  auto parsed = parse_endpoint(*text);
  if (!parsed) {
    error(parsed.error());
    return false;
  }
  out = *parsed;
  return true;
}

bool ConfigNode::read(Endpoint& out, uint16_t default_port) {
  const std::string* text = scalar("an address like 192.0.2.1:3478 or [2001:db8::1]:3478");
  if (text == nullptr) return false;
  auto parsed = parse_endpoint(*text, default_port);
  if (!parsed) {
    error(parsed.error());
    return false;
  }
  out = *parsed;
  return true;
}

std::optional<size_t> ConfigNode::match(const std::vector<std::string_view>& names) {
  const std::string expected = fmt::format("one of: {}", fmt::join(names, ", "));
  const std::string* text = scalar(expected);
  if (text == nullptr) return std::nullopt;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == *text) return i;
  }
  error(fmt::format("unknown value {} (expected {})", quoted(*text), expected));
  return std::nullopt;
}

ConfigMap ConfigNode::map() {
  if (!node_.IsMap() && !node_.IsNull()) {
    fail("a map");
    return {};
  }
  return ConfigMap(reader_, reader_->open_map(node_, path_, mark()));
}

std::vector<ConfigNode> ConfigNode::sequence() {
  std::vector<ConfigNode> items;
  if (node_.IsNull()) return items;
  if (!node_.IsSequence()) {
    fail("a sequence");
    return items;
  }
  items.reserve(node_.size());
  size_t i = 0;
  for (const auto& item : node_) {
    items.push_back(ConfigNode(reader_, item, fmt::format("{}[{}]", path_, i++), mark()));
  }
  return items;
}

// ---- ConfigMap ----

std::optional<ConfigNode> ConfigMap::get(std::string_view key) {
  if (state_ == nullptr) return std::nullopt;
  state_->known.emplace_back(key);
  for (const auto& entry : state_->entries) {
    if (entry.key == key) {
      return ConfigNode(reader_, entry.value, child_path(state_->path, key), entry.key_mark);
    }
  }
  return std::nullopt;
}

std::optional<ConfigNode> ConfigMap::require(std::string_view key) {
  auto node = get(key);
  if (!node && state_ != nullptr) {
    reader_->error(state_->mark,
                   fmt::format("missing key {} {}", quoted(key), where(state_->path)));
  }
  return node;
}

ConfigMap ConfigMap::map(std::string_view key) {
  auto node = require(key);
  return node ? node->map() : ConfigMap();
}

ConfigMap ConfigMap::optional_map(std::string_view key) {
  if (state_ == nullptr) return {};
  auto node = get(key);
  if (node) return node->map();
  // An absent section is an empty one: its reads see defaults, and it has no unknown keys.
  return ConfigMap(reader_,
                   reader_->open_map(YAML::Node(), child_path(state_->path, key), state_->mark));
}

std::vector<ConfigNode> ConfigMap::sequence(std::string_view key) {
  auto node = require(key);
  return node ? node->sequence() : std::vector<ConfigNode>();
}

std::vector<ConfigNode> ConfigMap::optional_sequence(std::string_view key) {
  auto node = get(key);
  return node ? node->sequence() : std::vector<ConfigNode>();
}

std::vector<std::pair<std::string, ConfigNode>> ConfigMap::entries() {
  std::vector<std::pair<std::string, ConfigNode>> out;
  if (state_ == nullptr) return out;
  for (const auto& entry : state_->entries) {
    state_->known.push_back(entry.key);
    out.emplace_back(entry.key, ConfigNode(reader_, entry.value,
                                           child_path(state_->path, entry.key), entry.key_mark));
  }
  return out;
}

void ConfigMap::allow(std::initializer_list<std::string_view> keys) {
  if (state_ == nullptr) return;
  for (std::string_view key : keys)
    state_->known.emplace_back(key);
}

bool ConfigMap::has(std::string_view key) const {
  if (state_ == nullptr) return false;
  return std::any_of(state_->entries.begin(), state_->entries.end(),
                     [key](const auto& entry) { return entry.key == key; });
}

void ConfigMap::error(std::string_view message) {
  if (state_ != nullptr) reader_->error(state_->mark, prefixed(state_->path, message));
}

const std::string& ConfigMap::path() const {
  static const std::string kNone;
  return state_ != nullptr ? state_->path : kNone;
}

YAML::Mark ConfigMap::mark() const {
  return state_ != nullptr ? state_->mark : YAML::Mark();
}

}  // namespace turnscout
