# `make deb` (cpack -G DEB in build/): Debian packages made from the
# project's own install() rules, so whatever `cmake --install` installs is
# what the package holds, and nothing is listed twice.
#
# Components become packages by name, generically: an install() rule with
# COMPONENT Development (or dev, Devel, Headers) goes into clusterd-dev,
# everything else (no COMPONENT: "Unspecified", or any other name) into
# clusterd. Without a development component there is one package.
#
# Included last from CMakeLists.txt, once every install() rule exists.
# The package installs under /usr, the units where Debian 12 keeps them
# (/lib/systemd/system), and a man page made from --help by help2man.

set(CLUSTERD_DEB_MAINTAINER "clusterd maintainers <clusterd-maintainers@example.org>" CACHE STRING
    "Maintainer field of the Debian packages")

# The man page: help2man runs the freshly built binary (--help, --version).
find_program(CLUSTERD_HELP2MAN help2man)
if(CLUSTERD_HELP2MAN)
  set(man_page ${CMAKE_BINARY_DIR}/man/clusterd.1.gz)
  add_custom_command(
    OUTPUT ${man_page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${CLUSTERD_HELP2MAN} --no-info --section=1 --source=clusterd
            "--name=a multi-process HTTP supervisor" --output=${CMAKE_BINARY_DIR}/man/clusterd.1
            $<TARGET_FILE:clusterd>
    COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/clusterd.1
    DEPENDS clusterd
    COMMENT "help2man: man/clusterd.1.gz from clusterd --help"
    VERBATIM)
  add_custom_target(clusterd_man_page ALL DEPENDS ${man_page})
  install(FILES ${man_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man page (apt-get install help2man)")
endif()

# Which installed components are development files.
get_cmake_property(clusterd_components COMPONENTS)
set(clusterd_dev_components "")
set(clusterd_runtime_components "")
foreach(component IN LISTS clusterd_components)
  if(component MATCHES "^([Dd]ev|[Dd]evel|[Dd]evelopment|[Hh]eaders)$")
    list(APPEND clusterd_dev_components ${component})
  else()
    list(APPEND clusterd_runtime_components ${component})
  endif()
endforeach()

# Debian's policy files: copyright in every package's doc directory, the
# Debian changelog (gzip -9n) beside it.
set(clusterd_debian_changelog ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz)
add_custom_command(
  OUTPUT ${clusterd_debian_changelog}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/debian
  COMMAND sh -c "gzip -9n < '${PROJECT_SOURCE_DIR}/deploy/debian/changelog' > '${clusterd_debian_changelog}'"
  DEPENDS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog
  VERBATIM)
add_custom_target(clusterd_debian_changelog ALL DEPENDS ${clusterd_debian_changelog})
install(FILES deploy/debian/copyright ${clusterd_debian_changelog} DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/clusterd)
if(clusterd_dev_components)
  list(GET clusterd_dev_components 0 first_dev_component)
  install(FILES deploy/debian/copyright ${clusterd_debian_changelog}
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/clusterd-dev COMPONENT ${first_dev_component})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME clusterd)
set(CPACK_PACKAGE_VENDOR "clusterd")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CLUSTERD_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/deb)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # clusterd_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CLUSTERD_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/clusterd")
# dpkg-shlibdeps reads the ELF files: Depends on exactly the runtime
# libraries the binary links (libc6 alone: libcrypto, spdlog, fmt, libuv and
# the C++ runtime are linked in, apps/clusterd/CMakeLists.txt).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(clusterd_description_runtime
    "multi-process HTTP supervisor with health checks and metrics
clusterd keeps N HTTP worker processes alive on one listening socket:
it restarts a worker that crashes (at once, or with backoff and a circuit
breaker when it keeps dying), kills hung workers, reloads without dropping
a request, stops gracefully on SIGTERM, and speaks systemd's notify and
socket-activation protocols. It serves /healthz, /readyz, /metrics
(Prometheus text) and /status, and runs CPU work inline, on threads or in
supervised compute processes.

This package holds the daemon, its systemd units and its manual.")

if(clusterd_dev_components)
  # Two packages: clusterd (everything else) and clusterd-dev.
  set(CPACK_DEB_COMPONENT_INSTALL ON)
  set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
  include(CPackComponent)
  foreach(component IN LISTS clusterd_runtime_components)
    cpack_add_component(${component} GROUP runtime)
  endforeach()
  foreach(component IN LISTS clusterd_dev_components)
    cpack_add_component(${component} GROUP development)
  endforeach()
  cpack_add_component_group(runtime)
  cpack_add_component_group(development)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME clusterd)
  set(CPACK_DEBIAN_RUNTIME_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "${clusterd_description_runtime}")
  set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME clusterd-dev)
  set(CPACK_DEBIAN_DEVELOPMENT_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
  set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
      "clusterd (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}), libuv1-dev, libspdlog-dev, pkg-config")
  set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
      "multi-process HTTP supervisor (application API, development files)
clusterd keeps N HTTP worker processes alive on one listening socket and
runs the user's routes and CPU tasks in them.

This package holds the headers, the library, the CMake package and the
pkg-config file of the C++ application API.")
else()
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${clusterd_description_runtime}")
endif()

include(CPack)
