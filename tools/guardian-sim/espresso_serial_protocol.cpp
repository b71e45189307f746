#include "espresso_serial_protocol.hpp"

#include <algorithm>
#include <cstdio>

namespace guardian::sim {
namespace {

// Below this pump pressure a shot is still pre-infusing (the model pre-infuses at ~3 bar).
constexpr double kPreinfusionBar = 5.0;
// A shot shorter or longer than this is reported as such (espresso: 20–35 s).
constexpr double kShortShot = 20.0;
constexpr double kLongShot = 35.0;

std::string format(const char* fmt, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

std::string nmea_sentence(const std::string& body) {
  unsigned sum = 0;
  for (const char c : body) sum ^= static_cast<unsigned char>(c);
  char hex[3];
  std::snprintf(hex, sizeof hex, "%02X", sum);
  return "$" + body + "*" + hex + "\r\n";
}

std::string status_sentence(const EspressoReadings& r) {
  return nmea_sentence("STAT," + format("%.1f", r.boiler_temp) + "," +
                       format("%.2f", r.steam_pressure) + "," + format("%.1f", r.group_head_temp) +
                       "," + format("%.1f", r.pump_pressure) + "," +
                       std::to_string(static_cast<int>(r.state)) + "," + (r.water_low ? "1" : "0"));
}

std::string trace_sentence(const EspressoReadings& r) {
  return nmea_sentence("TRC," + format("%.2f", r.pump_pressure) + "," +
                       format("%.2f", r.water_flow) + "," + format("%.1f", r.group_head_temp));
}

std::optional<std::string> ShotTracker::observe(const EspressoReadings& r, double dt) {
  const bool brewing = r.state == MachineState::brewing;
  if (brewing && !brewing_) {
    brewing_ = true;
    number_ = r.shot_count;
    duration_ = volume_ = preinfusion_ = peak_ = pressure_time_ = 0;
    temp_start_ = temp_min_ = r.boiler_temp;
    energy_start_ = r.energy;
    return std::nullopt;
  }
  if (brewing) {
    duration_ += dt;
    volume_ += r.water_flow * dt;
    if (r.pump_pressure < kPreinfusionBar && duration_ - dt <= preinfusion_ + 1e-9)
      preinfusion_ += dt;
    peak_ = std::max(peak_, r.pump_pressure);
    pressure_time_ += r.pump_pressure * dt;
    temp_min_ = std::min(temp_min_, r.boiler_temp);
    return std::nullopt;
  }
  if (!brewing_) return std::nullopt;
  brewing_ = false;
  if (duration_ <= 0) return std::nullopt;
  const char* result = duration_ < kShortShot ? "SHORT" : duration_ > kLongShot ? "LONG" : "OK";
  return nmea_sentence(
      "SHOT," + std::to_string(number_) + "," + format("%.1f", duration_) + "," +
      format("%.1f", volume_) + "," + format("%.1f", preinfusion_) + "," + format("%.1f", peak_) +
      "," + format("%.1f", pressure_time_ / duration_) + "," + format("%.2f", volume_ / duration_) +
      "," + format("%.1f", temp_start_) + "," + format("%.1f", r.boiler_temp) + "," +
      format("%.1f", temp_min_) + "," + format("%.2f", r.energy - energy_start_) + "," + result);
}

}  // namespace guardian::sim
