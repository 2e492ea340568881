# The hot path: admission control, listing strategies, the Probe/Binding responder, and
# the limits of TCP and TLS connections.
add_library(turnscout_server_dataplane STATIC
  ${CMAKE_CURRENT_LIST_DIR}/counters.cpp
  ${CMAKE_CURRENT_LIST_DIR}/admission.cpp
  ${CMAKE_CURRENT_LIST_DIR}/strategy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_table.cpp
)
target_link_libraries(turnscout_server_dataplane PUBLIC turnscout_format turnscout_proto)
