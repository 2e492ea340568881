// Reads the attributes of a typed message into its fields. Like MessageBuilder, errors are
// sticky: after the first failure nothing more is read and error() reports it, so a
// decoder lists its fields and checks once.
#pragma once

#include <optional>
#include <vector>

#include "proto/attributes.hpp"
#include "proto/errors.hpp"
#include "proto/message_view.hpp"

namespace turnscout::proto {

class FieldReader {
 public:
  explicit FieldReader(const MessageView& view) : view_(view) {}

  // The first attribute of `type` must be present; `read` turns it into a value.
  template <typename T, typename Read>
  void required(uint16_t type, T& out, Read read) {
    if (error_) return;
    if (auto a = view_.find(type)) {
      take(out, read(*a));
    } else {
      error_ = DecodeError{DecodeErrc::kMissingAttribute, static_cast<uint32_t>(view_.size()),
                           attribute_name(type)};
    }
  }

  // Leaves `out` untouched if the attribute is absent.
  template <typename T, typename Read>
  void optional(uint16_t type, T& out, Read read) {
    if (error_) return;
    if (auto a = view_.find(type)) take(out, read(*a));
  }

  // Every attribute of `type`, in message order.
  template <typename T, typename Read>
  void repeated(uint16_t type, std::vector<T>& out, Read read) {
    for (const Attribute a : view_) {
      if (error_) return;
      if (a.type != type) continue;
      auto value = read(a);
      if (value) {
        out.emplace_back(*value);
      } else {
        error_ = value.error();
      }
    }
  }

  void fail(const DecodeError& error) {
    if (!error_) error_ = error;
  }
  bool ok() const { return !error_.has_value(); }
  const DecodeError& error() const { return *error_; }

 private:
  template <typename T, typename R>
  void take(T& out, const R& value) {
    if (value) {
      out = *value;
    } else {
      error_ = value.error();
    }
  }

  const MessageView& view_;
  std::optional<DecodeError> error_;
};

}  // namespace turnscout::proto
