#pragma once
/// \file
/// The serial protocol of the simulated espresso machine `espresso-serial` (docs/simulator.md):
/// NMEA-style ASCII lines, each `$BODY*hh\r\n` with hh the XOR of the BODY bytes in hex.
///
///   $STAT,<boiler °C>,<steam bar>,<group head °C>,<pump bar>,<state 0-5>,<water low 0/1>*hh
///       once per status interval, and at once in answer to the query "STAT?\r\n";
///   $SHOT,<number>,<duration s>,<volume ml>,<pre-infusion s>,<peak bar>,<mean bar>,
///         <mean flow ml/s>,<boiler °C at start>,<boiler °C at end>,<lowest boiler °C>,
///         <energy Wh>,<result OK|SHORT|LONG>*hh
///       once when a shot ends: twelve measurements of that shot;
///   $TRC,<pump bar>,<flow ml/s>,<group head °C>*hh
///       every trace interval while brewing: the shot's trace.
///
/// Pure and deterministic; the servers that put these lines on a pty or a socket are elsewhere.

#include <optional>
#include <string>

#include "espresso_model.hpp"

namespace guardian::sim {

/// `$BODY*hh\r\n` with the NMEA 0183 checksum (XOR of BODY).
[[nodiscard]] std::string nmea_sentence(const std::string& body);

/// The status sentence for `r`.
[[nodiscard]] std::string status_sentence(const EspressoReadings& r);

/// The trace sentence for `r` (sent while brewing).
[[nodiscard]] std::string trace_sentence(const EspressoReadings& r);

/// Follows a machine tick by tick and produces the SHOT sentence when a shot ends.
class ShotTracker {
 public:
  /// Call after every model step of `dt` seconds; returns the SHOT sentence when a shot ended.
  [[nodiscard]] std::optional<std::string> observe(const EspressoReadings& r, double dt);

 private:
  bool brewing_ = false;
  std::uint32_t number_ = 0;
  double duration_ = 0, volume_ = 0, preinfusion_ = 0, peak_ = 0, pressure_time_ = 0;
  double temp_start_ = 0, temp_min_ = 0, energy_start_ = 0;
};

}  // namespace guardian::sim
