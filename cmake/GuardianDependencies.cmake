# Third-party dependencies: all Debian 12 packages (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(PkgConfig REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PahoMqttCpp REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)  # deflate of the compact payload
find_package(GTest REQUIRED)
pkg_check_modules(LIBMODBUS REQUIRED IMPORTED_TARGET libmodbus)
pkg_check_modules(TSS2 REQUIRED IMPORTED_TARGET tss2-esys tss2-tctildr tss2-mu tss2-rc)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)  # the registry on PostgreSQL

# mbedTLS 2.28 ships no CMake/pkg-config files on Debian 12.
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
add_library(guardian_mbedtls INTERFACE)
target_link_libraries(guardian_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})
add_library(MbedTLS::mbedtls ALIAS guardian_mbedtls)

# Boost.Asio is used header-only; these defines keep it lean and consistent across targets.
add_library(guardian_asio INTERFACE)
target_link_libraries(guardian_asio INTERFACE Boost::headers Boost::system Threads::Threads)
target_compile_definitions(guardian_asio INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)
add_library(Guardian::asio ALIAS guardian_asio)
