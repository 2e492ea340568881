# turnscout_server_config: the YAML loader (ServerConfig) and the load-source arithmetic.
add_library(turnscout_server_config STATIC
  ${CMAKE_CURRENT_LIST_DIR}/config_describe.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_yaml.cpp
  ${CMAKE_CURRENT_LIST_DIR}/load_parse.cpp
)
target_link_libraries(turnscout_server_config PUBLIC turnscout_common turnscout_proto)
