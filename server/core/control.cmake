add_library(turnscout_server_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/child_registry.cpp
  ${CMAKE_CURRENT_LIST_DIR}/events.cpp
  ${CMAKE_CURRENT_LIST_DIR}/heartbeat_auth.cpp
  ${CMAKE_CURRENT_LIST_DIR}/load_parse.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parent_links.cpp
  ${CMAKE_CURRENT_LIST_DIR}/server_core.cpp
  ${CMAKE_CURRENT_LIST_DIR}/snapshot_builder.cpp
)
target_link_libraries(turnscout_server_core PUBLIC turnscout_server_dataplane)
# The build_info metric reports the project version.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/metrics.cpp PROPERTIES
  COMPILE_DEFINITIONS "TURNSCOUT_VERSION=\"${PROJECT_VERSION}\"")
