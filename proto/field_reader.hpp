// Reads the attributes of a typed message into its fields. Like MessageBuilder, errors are
// sticky: after the first failure nothing more is read and error() reports it, so a
// decoder lists its fields and checks once.
#pragma once

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
    if (failed_) return;
    if (auto a = view_.find(type)) {
      take(out, read(*a));
    } else {
      set(DecodeError{DecodeErrc::kMissingAttribute, static_cast<uint32_t>(view_.size()),
                      attribute_name(type)});
    }
  }

  // Leaves `out` untouched if the attribute is absent.
  template <typename T, typename Read>
  void optional(uint16_t type, T& out, Read read) {
    if (failed_) return;
    if (auto a = view_.find(type)) take(out, read(*a));
  }

  // Every attribute of `type`, in message order.
  template <typename T, typename Read>
  void repeated(uint16_t type, std::vector<T>& out, Read read) {
    for (const Attribute a : view_) {
      if (failed_) return;
      if (a.type != type) continue;
      auto value = read(a);
      if (value) {
        out.emplace_back(*value);
      } else {
        set(value.error());
      }
    }
  }

  void fail(const DecodeError& error) {
    if (!failed_) set(error);
  }
  bool ok() const { return !failed_; }
  const DecodeError& error() const { return error_; }

 private:
  template <typename T, typename R>
  void take(T& out, const R& value) {
    if (value) {
      out = *value;
    } else {
      set(value.error());
    }
  }

  void set(const DecodeError& error) {
    error_ = error;
    failed_ = true;
  }

  const MessageView& view_;
  // A flag rather than std::optional: g++ 12 at -O3 warns (falsely) that an optional's
  // payload may be used uninitialized once it is copied into a Result.
  bool failed_ = false;
  DecodeError error_;
};

}  // namespace turnscout::proto
