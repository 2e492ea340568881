// Reading YAML configuration with errors that point into the file. Every error is one line,
// "FILE:LINE:COL: message" with 1-based line and column; nothing here throws.
//
// A config section reads as a few declarative lines; problems are collected, not fatal:
//
//   ConfigReader reader(doc);
//   ConfigMap cluster = reader.root().map().map("cluster");
//   cluster.required("name", cfg.name);
//   cluster.optional("heartbeat", cfg.heartbeat, 100ms, 1min);  // keeps the default if absent
//   cluster.optional("port", cfg.port, 1, 65535);
//   cluster.optional_one_of("strategy", cfg.strategy, {{"random", Strategy::kRandom}, ...});
//   for (ConfigNode child : cluster.optional_sequence("children")) { ... }
//   std::vector<std::string> errors = reader.finish();  // also reports unknown keys
//
// Messages name the value's dotted path, e.g. `cluster.port: expected an integer from 1 to
// 65535, got "70000"`, `missing key "name" in "cluster"`, `unknown key "hearbeat" in
// "cluster" (expected one of: heartbeat, name, port)`.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout {

// A parsed document and the name its errors carry (a file path, or a name given by tests).
class YamlDocument {
 public:
  // Errors: "FILE: cannot read: <reason>", or "FILE:LINE:COL: <syntax error>".
  static Result<YamlDocument, std::string> load_file(const std::string& path);
  static Result<YamlDocument, std::string> load_string(std::string_view text, std::string name);

  const std::string& name() const { return name_; }
  const YAML::Node& root() const { return root_; }

 private:
  YamlDocument(std::string name, YAML::Node root) : name_(std::move(name)), root_(root) {}

  std::string name_;
  YAML::Node root_;
};

class ConfigNode;
class ConfigMap;

// Extra arguments of a read into T: range bounds for numbers and durations, the default
// port for endpoints.
template <typename T>
struct ReadArg {
  using type = T;
};
template <>
struct ReadArg<Endpoint> {
  using type = uint16_t;
};
template <typename T>
struct ReadArg<std::optional<T>> : ReadArg<T> {};
template <typename T>
using ReadArgT = typename ReadArg<T>::type;

template <typename T>
concept ConfigInteger = std::integral<T> && !std::same_as<T, bool>;

// Collects the errors of one document. Must outlive every ConfigNode and ConfigMap taken
// from it; not copyable or movable for that reason.
class ConfigReader {
 public:
  explicit ConfigReader(const YamlDocument& doc);
  ~ConfigReader();
  ConfigReader(const ConfigReader&) = delete;
  ConfigReader& operator=(const ConfigReader&) = delete;

  ConfigNode root();

  // Reports every key that no read asked for in every map opened so far, then returns all
  // errors ordered by position in the file. Read everything first; later calls return the
  // same list plus errors added since.
  std::vector<std::string> finish();
  bool has_errors() const { return !errors_.empty(); }

  // For checks only the caller can make; `mark` as from ConfigNode::mark().
  void error(const YAML::Mark& mark, std::string message);

 private:
  friend class ConfigNode;
  friend class ConfigMap;
  struct MapState;
  struct Error {
    int line;
    int column;
    std::string message;
  };

  MapState* open_map(const YAML::Node& node, const std::string& path, const YAML::Mark& mark);
  void report_unknown_keys(const MapState& map);

  std::string name_;
  YAML::Node root_;
  std::vector<std::unique_ptr<MapState>> maps_;
  std::vector<Error> errors_;
  size_t maps_checked_ = 0;
};

// One value in the document, with its dotted path ("cluster.children[2].address").
// The read() family sets `out` and returns true on success; otherwise it reports an error
// at the value and leaves `out` untouched. A null value ("key:" with nothing after it)
// is an error for scalars and an empty map or sequence for map() and sequence().
class ConfigNode {
 public:
  bool read(std::string& out);
  // true/True/TRUE or false/False/FALSE only (YAML 1.2): "yes" or "on" are refused.
  bool read(bool& out);
  // Decimal integers in [min, max].
  template <ConfigInteger T>
  bool read(T& out, std::type_identity_t<T> min = std::numeric_limits<T>::min(),
            std::type_identity_t<T> max = std::numeric_limits<T>::max());
  // Finite decimal numbers in [min, max].
  bool read(double& out, double min = -std::numeric_limits<double>::infinity(),
            double max = std::numeric_limits<double>::infinity());
  // As parse_duration() reads them, in [min, max].
  bool read(Duration& out, Duration min = Duration::zero(), Duration max = Duration::max());
  // As parse_endpoint() reads them: a port is required...
  bool read(Endpoint& out);
  // ...unless a default is given.
  bool read(Endpoint& out, uint16_t default_port);
  // Reads a T into an optional; the extra arguments are those of the read into T.
  template <typename T>
  bool read(std::optional<T>& out);
  template <typename T>
  bool read(std::optional<T>& out, ReadArgT<T> a);
  template <typename T>
  bool read(std::optional<T>& out, ReadArgT<T> a, ReadArgT<T> b);
  // A string that must be one of the names; `out` gets the matching value.
  template <typename T>
  bool read_one_of(T& out, std::initializer_list<std::pair<std::string_view, T>> choices);

  ConfigMap map();
  std::vector<ConfigNode> sequence();

  // Reports "PATH: message" at this value.
  void error(std::string_view message);
  const std::string& path() const { return path_; }
  // Where the value is; for an empty value, where its key (or its sequence) is.
  YAML::Mark mark() const;
  const YAML::Node& yaml() const { return node_; }

 private:
  friend class ConfigReader;
  friend class ConfigMap;
  ConfigNode(ConfigReader* reader, YAML::Node node, std::string path, YAML::Mark fallback)
      : reader_(reader), node_(node), path_(std::move(path)), fallback_(fallback) {}

  const std::string* scalar(std::string_view expected);
  void fail(std::string_view expected);
  bool read_signed(int64_t& out, int64_t min, int64_t max);
  bool read_unsigned(uint64_t& out, uint64_t min, uint64_t max);
  // Index of the scalar among `names`; reports an error when it is none of them.
  std::optional<size_t> match(const std::vector<std::string_view>& names);

  ConfigReader* reader_;
  YAML::Node node_;
  std::string path_;
  YAML::Mark fallback_;
};

// A map whose keys are tracked: every key a read asks for (present or not) is known, and
// ConfigReader::finish() reports the others as unknown. A default-constructed map, or one
// that failed to open (the error is already reported), is empty and reads nothing.
class ConfigMap {
 public:
  ConfigMap() = default;

  // The value at `key`, if present.
  std::optional<ConfigNode> get(std::string_view key);
  // As get(); when absent, reports `missing key "KEY" in "PATH"` at the map.
  std::optional<ConfigNode> require(std::string_view key);

  // Reads the value at `key` with ConfigNode::read(); extra arguments as there.
  // optional() leaves `out` untouched when the key is absent.
  template <typename T>
  bool required(std::string_view key, T& out);
  template <typename T>
  bool required(std::string_view key, T& out, ReadArgT<T> a);
  template <typename T>
  bool required(std::string_view key, T& out, ReadArgT<T> a, ReadArgT<T> b);
  template <typename T>
  bool optional(std::string_view key, T& out);
  template <typename T>
  bool optional(std::string_view key, T& out, ReadArgT<T> a);
  template <typename T>
  bool optional(std::string_view key, T& out, ReadArgT<T> a, ReadArgT<T> b);
  template <typename T>
  bool required_one_of(std::string_view key, T& out,
                       std::initializer_list<std::pair<std::string_view, T>> choices);
  template <typename T>
  bool optional_one_of(std::string_view key, T& out,
                       std::initializer_list<std::pair<std::string_view, T>> choices);

  // Nested maps and sequences; an absent optional one reads as empty.
  ConfigMap map(std::string_view key);
  ConfigMap optional_map(std::string_view key);
  std::vector<ConfigNode> sequence(std::string_view key);
  std::vector<ConfigNode> optional_sequence(std::string_view key);

  // Every entry in document order, for maps keyed by data (names of children); all keys
  // become known.
  std::vector<std::pair<std::string, ConfigNode>> entries();
  // Keys accepted without being read, e.g. the settings of an alternative not chosen.
  void allow(std::initializer_list<std::string_view> keys);
  bool has(std::string_view key) const;
  bool valid() const { return state_ != nullptr; }

  // Reports "PATH: message" at the map.
  void error(std::string_view message);
  const std::string& path() const;
  YAML::Mark mark() const;

 private:
  friend class ConfigNode;
  ConfigMap(ConfigReader* reader, ConfigReader::MapState* state) : reader_(reader), state_(state) {}

  ConfigReader* reader_ = nullptr;
  ConfigReader::MapState* state_ = nullptr;
};

// ---- Template definitions ----

template <ConfigInteger T>
bool ConfigNode::read(T& out, std::type_identity_t<T> min, std::type_identity_t<T> max) {
  if constexpr (std::is_signed_v<T>) {
    int64_t v = 0;
    if (!read_signed(v, min, max)) return false;
    out = static_cast<T>(v);
  } else {
    uint64_t v = 0;
    if (!read_unsigned(v, min, max)) return false;
    out = static_cast<T>(v);
  }
  return true;
}

template <typename T>
bool ConfigNode::read(std::optional<T>& out) {
  T v{};
  if (!read(v)) return false;
  out = std::move(v);
  return true;
}

template <typename T>
bool ConfigNode::read(std::optional<T>& out, ReadArgT<T> a) {
  T v{};
  if (!read(v, a)) return false;
  out = std::move(v);
  return true;
}

template <typename T>
bool ConfigNode::read(std::optional<T>& out, ReadArgT<T> a, ReadArgT<T> b) {
  T v{};
  if (!read(v, a, b)) return false;
  out = std::move(v);
  return true;
}

template <typename T>
bool ConfigNode::read_one_of(T& out,
                             std::initializer_list<std::pair<std::string_view, T>> choices) {
  std::vector<std::string_view> names;
  names.reserve(choices.size());
  for (const auto& choice : choices)
    names.push_back(choice.first);
  const std::optional<size_t> index = match(names);
  if (!index) return false;
  out = choices.begin()[*index].second;
  return true;
}

template <typename T>
bool ConfigMap::required(std::string_view key, T& out) {
  auto node = require(key);
  return node && node->read(out);
}

template <typename T>
bool ConfigMap::required(std::string_view key, T& out, ReadArgT<T> a) {
  auto node = require(key);
  return node && node->read(out, a);
}

template <typename T>
bool ConfigMap::required(std::string_view key, T& out, ReadArgT<T> a, ReadArgT<T> b) {
  auto node = require(key);
  return node && node->read(out, a, b);
}

template <typename T>
bool ConfigMap::optional(std::string_view key, T& out) {
  auto node = get(key);
  return node && node->read(out);
}

template <typename T>
bool ConfigMap::optional(std::string_view key, T& out, ReadArgT<T> a) {
  auto node = get(key);
  return node && node->read(out, a);
}

template <typename T>
bool ConfigMap::optional(std::string_view key, T& out, ReadArgT<T> a, ReadArgT<T> b) {
  auto node = get(key);
  return node && node->read(out, a, b);
}

template <typename T>
bool ConfigMap::required_one_of(std::string_view key, T& out,
                                std::initializer_list<std::pair<std::string_view, T>> choices) {
  auto node = require(key);
  return node && node->read_one_of(out, choices);
}

template <typename T>
bool ConfigMap::optional_one_of(std::string_view key, T& out,
                                std::initializer_list<std::pair<std::string_view, T>> choices) {
  auto node = get(key);
  return node && node->read_one_of(out, choices);
}

}  // namespace turnscout
