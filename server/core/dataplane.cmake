# The hot path: admission control, listing strategies, the Probe/Binding responder.
add_library(turnscout_server_dataplane STATIC
  ${CMAKE_CURRENT_LIST_DIR}/counters.cpp
  ${CMAKE_CURRENT_LIST_DIR}/admission.cpp
  ${CMAKE_CURRENT_LIST_DIR}/strategy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responder.cpp
)
target_link_libraries(turnscout_server_dataplane PUBLIC turnscout_format turnscout_proto)
