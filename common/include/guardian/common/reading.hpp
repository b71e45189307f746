#pragma once
/// \file
/// The data model every adapter produces and the gateway consumes (DESIGN.md "adapters/").

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace guardian {

/// Source timestamps: UTC wall clock with millisecond resolution.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// The current wall-clock time, truncated to milliseconds.
[[nodiscard]] inline Timestamp now_ms() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

/// Quality on every value, so a dashboard can tell "machine idle" from "gateway blind".
enum class Quality : std::uint8_t {
  good,       ///< Read and decoded now.
  stale,      ///< No fresh read within its period; value is the last known one.
  comm_fail,  ///< The device is not answering; value is absent.
  bad,        ///< The device answered but the value could not be decoded or is out of range.
};

/// Wire name of a quality ("good", "stale", "comm_fail", "bad").
[[nodiscard]] constexpr std::string_view to_string(Quality q) noexcept {
  switch (q) {
    case Quality::good: return "good";
    case Quality::stale: return "stale";
    case Quality::comm_fail: return "comm_fail";
    case Quality::bad: return "bad";
  }
  return "bad";
}

/// A decoded value. monostate = no value (comm_fail, or a decode failure).
using Value = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string>;

/// The magnitude of a numeric value (an integer or a real); nullopt for booleans, text and no
/// value.
[[nodiscard]] inline std::optional<double> numeric_value(const Value& v) noexcept {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  return std::nullopt;
}

/// One value of one point of one source at one instant.
struct Reading {
  std::string source;     ///< Adapter/device name, e.g. "espresso-1".
  std::string point;      ///< Point name within the source, e.g. "boiler_temp".
  Value value;            ///< Decoded, scaled value; monostate when there is none.
  std::string unit;       ///< Engineering unit, e.g. "degC"; may be empty.
  Quality quality = Quality::good;
  Timestamp source_ts{};  ///< When the value was read from the equipment.
  std::string error;      ///< Why quality is not good (e.g. "timeout", "exception 02 illegal data address").
};

/// Several readings that belong together (one espresso shot), delivered as one message.
struct Record {
  std::string source;     ///< Adapter/device name.
  std::string type;       ///< Record type, e.g. "shot".
  Timestamp source_ts{};  ///< When the record was produced by the equipment.
  std::vector<Reading> fields;
};

/// What an adapter hands to the gateway in one go: the readings of one poll (or one push).
struct ReadingBatch {
  std::string source;
  std::vector<Reading> readings;
};

}  // namespace guardian
