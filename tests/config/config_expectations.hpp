#pragma once
/// \file
/// Helpers for config tests: parse a snippet and compare its errors with the expected locations
/// and message fragments, printing every error on failure.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "guardian/config/loader.hpp"

namespace guardian::config::testing {

/// The file name every snippet is parsed under.
inline constexpr std::string_view kFile = "site.yaml";

/// parse_site_config(yaml, "site.yaml").
[[nodiscard]] inline LoadResult parse(std::string_view yaml) {
  return parse_site_config(yaml, std::string(kFile));
}

/// One error we expect: its 1-based position and a fragment of its message.
struct ExpectedError {
  int line;
  int column;
  std::string fragment;
};

[[nodiscard]] inline std::string describe(const LoadResult& result) {
  std::string out;
  for (const auto& e : result.errors) out += "  " + e.to_string() + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

/// Exactly `expected`, in this order, each at its line and column and containing its fragment.
[[nodiscard]] inline ::testing::AssertionResult has_errors(
    const LoadResult& result, const std::vector<ExpectedError>& expected) {
  bool match = result.errors.size() == expected.size() && !result.config;
  for (std::size_t i = 0; match && i < expected.size(); ++i) {
    const auto& e = result.errors[i];
    match = e.file == kFile && e.line == expected[i].line && e.column == expected[i].column &&
            e.message.find(expected[i].fragment) != std::string::npos;
  }
  if (match) return ::testing::AssertionSuccess();
  std::string want;
  for (const auto& e : expected)
    want += "  " + std::string(kFile) + ":" + std::to_string(e.line) + ":" +
            std::to_string(e.column) + ": …" + e.fragment + "…\n";
  return ::testing::AssertionFailure() << "expected errors:\n"
                                       << want << "got:\n"
                                       << describe(result);
}

/// One error at line:column containing `fragment`, and no other.
[[nodiscard]] inline ::testing::AssertionResult has_error(const LoadResult& result, int line,
                                                          int column, std::string fragment) {
  return has_errors(result, {{line, column, std::move(fragment)}});
}

/// No errors and a config.
[[nodiscard]] inline ::testing::AssertionResult loads(const LoadResult& result) {
  if (result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected no errors, got:\n" << describe(result);
}

/// A valid site around one Modbus point written as a flow map on line 11, column 13, e.g.
/// point_site("{name: p, table: coil, address: 0, type: bool}"). `device_keys` is inserted as
/// line 9 (one `key: value` at the device's indentation); leave it empty for none.
[[nodiscard]] inline std::string point_site(std::string_view point,
                                            std::string_view device_keys = "retries: 1") {
  std::string site =
      "device: {id: gw}\n"                               // 1
      "adapters:\n"                                      // 2
      "  - name: bus\n"                                  // 3
      "    type: modbus\n"                               // 4
      "    host: 127.0.0.1\n"                            // 5
      "    devices:\n"                                   // 6
      "      - name: dev\n"                              // 7
      "        unit_id: 1\n";                            // 8
  site += "        " + std::string(device_keys) + "\n";  // 9
  site += "        points:\n";                           // 10
  site += "          - " + std::string(point) + "\n";    // 11, the map starts at column 13
  return site;
}

/// The column at which `needle` starts on the point line of point_site (1-based).
[[nodiscard]] inline int point_column(std::string_view point, std::string_view needle) {
  return 13 + static_cast<int>(point.find(needle));
}

/// The one point of point_site, for tests that check decoded values.
[[nodiscard]] inline const ModbusPoint& only_point(const LoadResult& result) {
  return std::get<ModbusAdapterConfig>(result.config->adapters.at(0)).devices.at(0).points.at(0);
}

}  // namespace guardian::config::testing
