# cmake --install: the public headers, libclusterd.a, a CMake package
# (find_package(clusterd) → clusterd::clusterd) and a pkg-config file, all in
# the Development component (the clusterd-dev package of `make deb`).
include(CMakePackageConfigHelpers)
set(CLUSTERD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/clusterd)
install(TARGETS clusterd_lib EXPORT clusterd-targets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/clusterd DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development)
install(EXPORT clusterd-targets NAMESPACE clusterd:: DESTINATION ${CLUSTERD_CMAKE_DIR} COMPONENT Development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/api/clusterd-config.cmake.in
  ${CMAKE_BINARY_DIR}/clusterd-config.cmake INSTALL_DESTINATION ${CLUSTERD_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/clusterd-config-version.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/clusterd-config.cmake ${CMAKE_BINARY_DIR}/clusterd-config-version.cmake
        DESTINATION ${CLUSTERD_CMAKE_DIR} COMPONENT Development)
# Relative to where it is installed (${pcfiledir}), so --prefix at install time holds.
file(RELATIVE_PATH CLUSTERD_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${PROJECT_SOURCE_DIR}/api/clusterd.pc.in ${CMAKE_BINARY_DIR}/clusterd.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/clusterd.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)
install(FILES docs/APPLICATIONS.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL COMPONENT Development)
