// libuv's handle "inheritance" as casts: every handle is a uv_handle_t, every stream (TCP,
// pipe) a uv_stream_t, at the same address.
#pragma once

#include <uv.h>

namespace turnscout {

template <typename Handle>
uv_handle_t* as_handle(Handle* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

template <typename Handle>
uv_stream_t* as_stream(Handle* h) {
  return reinterpret_cast<uv_stream_t*>(h);
}

}  // namespace turnscout
