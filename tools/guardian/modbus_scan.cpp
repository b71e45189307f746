#include "modbus_scan.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <sstream>
#include <vector>

#include "guardian/adapters/modbus/register_codec.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::tools {
namespace {

using Clock = std::chrono::steady_clock;
// Progress goes to the terminal at most this often.
constexpr auto kProgressEvery = std::chrono::seconds{2};

[[nodiscard]] std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

[[nodiscard]] result<int> number(const std::string& text, int min, int max, const char* what) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
    return make_error(std::string(what) + " '" + text + "' is not a number from " +
                      std::to_string(min) + " to " + std::to_string(max));
  return value;
}

/// "1-247", "1,2,10-20".
[[nodiscard]] result<std::vector<int>> unit_list(const std::string& text) {
  std::vector<int> units;
  for (const auto& part : split(text)) {
    const auto dash = part.find('-');
    BOOST_OUTCOME_TRY(first, number(part.substr(0, dash), 0, 255, "--units"));
    int last = first;
    if (dash != std::string::npos) {
      BOOST_OUTCOME_TRY(end, number(part.substr(dash + 1), 0, 255, "--units"));
      last = end;
    }
    for (int u = first; u <= last; ++u) units.push_back(u);
  }
  if (units.empty()) return make_error("--units is empty");
  return units;
}

struct LineSetting {
  int baud = 9600;
  std::string parity = "none";
  int stop_bits = 1;
};

[[nodiscard]] std::string setting_text(const adapters::modbus::ClientEndpoint& e) {
  return adapters::modbus::describe_endpoint(e);
}

}  // namespace

void add_scan_options(CLI::App& command, ScanOptions& options) {
  options.connection.timeout = "100ms";
  options.connection.add_to(command, false);
  command.add_option("--units", options.units, "Unit ids to try: ranges and lists, e.g. 1-247")
      ->capture_default_str();
  command.add_option("--bauds", options.bauds, "Serial: baud rates to try, e.g. 9600,19200")
      ->capture_default_str();
  command.add_option("--parities", options.parities, "Serial: parities to try: none,even,odd")
      ->capture_default_str();
  command.add_option("--stop-bits", options.stop_bits, "Serial: stop bits to try: 1,2")
      ->capture_default_str();
  command
      .add_option("--read", options.read,
                  "The probe read sent to each unit, TABLE:ADDRESS:COUNT")
      ->capture_default_str();
  command.add_option("--max-time", options.max_time, "Stop after this long, e.g. 60s or 5m")
      ->capture_default_str();
}

int run_modbus_scan(const ScanOptions& options, std::ostream& out, std::ostream& err) {
  const auto usage = [&](const std::string& message) {
    err << "guardian scan: " << message << '\n';
    return kExitUsage;
  };
  auto units = unit_list(options.units);
  if (!units) return usage(units.error().message);
  auto spec = parse_read_spec(options.read, 0);
  if (!spec) return usage(spec.error().message);
  auto timeout = options.connection.request_timeout();
  if (!timeout) return usage(timeout.error().message);
  auto max_time = config::parse_duration(options.max_time);
  if (!max_time) return usage("--max-time: " + max_time.error().message);

  // Serial lines: every combination of the settings asked for; TCP: the endpoint as it is.
  std::vector<LineSetting> settings;
  const bool serial = options.connection.endpoint.starts_with('/');
  if (serial) {
    for (const auto& b : split(options.bauds)) {
      auto baud = number(b, 1, 4'000'000, "--bauds");
      if (!baud) return usage(baud.error().message);
      for (const auto& parity : split(options.parities)) {
        if (parity != "none" && parity != "even" && parity != "odd")
          return usage("--parities: '" + parity + "' is not none, even or odd");
        for (const auto& s : split(options.stop_bits)) {
          auto stop = number(s, 1, 2, "--stop-bits");
          if (!stop) return usage(stop.error().message);
          settings.push_back({baud.value(), parity, stop.value()});
        }
      }
    }
  } else {
    settings.push_back({});
  }
  if (settings.empty()) return usage("no line settings to try");

  const auto started = Clock::now();
  const auto deadline = started + max_time.value();
  auto next_progress = started + kProgressEvery;
  std::vector<std::uint16_t> registers(spec.value().count);
  std::vector<std::uint8_t> bits(spec.value().count);
  int found = 0;
  for (std::size_t si = 0; si < settings.size(); ++si) {
    auto connection = options.connection;
    connection.baud = settings[si].baud;
    connection.parity = settings[si].parity;
    connection.stop_bits = settings[si].stop_bits;
    const auto endpoint = connection.client_endpoint().value();
    auto client = open_client(connection, err);
    if (!client) return found > 0 ? kExitOk : kExitCannotConnect;
    int garbled = 0;
    std::size_t checked = 0;
    for (const int unit : units.value()) {
      if (Clock::now() >= deadline) {
        err << "stopped at --max-time " << options.max_time << ": units from " << unit
            << " at " << setting_text(endpoint)
            << (si + 1 < settings.size() ? " and the settings after it" : "")
            << " were not tried\n";
        out << "found " << found << (found == 1 ? " unit\n" : " units\n");
        return found > 0 ? kExitOk : kExitDeviceError;
      }
      const adapters::modbus::ModbusRequest request{
          static_cast<std::uint8_t>(unit), adapters::modbus::read_function(spec.value().table),
          spec.value().address, spec.value().count, {}, {}};
      const auto sent = Clock::now();
      auto done = client->transact(request, {registers, bits}, timeout.value());
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
      ++checked;
      const std::string where = "unit " + std::to_string(unit) + " at " + setting_text(endpoint);
      std::array<char, 64> rtt{};
      std::snprintf(rtt.data(), rtt.size(), " (%.1f ms)", ms);
      if (done) {
        ++found;
        out << where << ": answers";
        if (adapters::modbus::is_bit_table(spec.value().table))
          out << ", " << options.read << " = " << static_cast<int>(bits[0]);
        else
          out << ", " << options.read << " = " << registers[0];
        out << rtt.data() << '\n';
      } else if (const int code = adapters::modbus::exception_of(done.error()); code != 0) {
        // A gateway's "target did not respond" (0A/0B) means nobody is there; any other
        // exception is an answer from the unit itself.
        if (!adapters::modbus::is_gateway_silence(code)) {
          ++found;
          out << where << ": answers with " << adapters::modbus::exception_text(code)
              << " (it is there; try another --read)" << rtt.data() << '\n';
        }
      } else if (adapters::modbus::is_garbled(done.error())) {
        if (garbled++ == 0)
          err << where << ": garbled answer (" << done.error().message
              << "): something talks on this line at other settings\n";
      } else if (!adapters::modbus::is_timeout(done.error())) {
        err << "guardian scan: " << done.error().message << '\n';
        return found > 0 ? kExitOk : kExitCannotConnect;
      }
      if (Clock::now() >= next_progress) {
        next_progress = Clock::now() + kProgressEvery;
        err << "… " << setting_text(endpoint) << ": " << checked << " of " << units.value().size()
            << " units tried, " << found << " found\n";
      }
    }
  }
  out << "found " << found << (found == 1 ? " unit\n" : " units\n");
  return found > 0 ? kExitOk : kExitDeviceError;
}

}  // namespace guardian::tools
