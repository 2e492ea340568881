// Text as the bytes a MAC or a wire format takes: keys are raw bytes held in strings.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace turnscout {

inline std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace turnscout
