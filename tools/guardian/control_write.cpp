#include "control_write.hpp"

#include <sstream>
#include <variant>

#include "guardian/config/loader.hpp"
#include "guardian/config/modbus_words.hpp"
#include "guardian/gateway/control_server.hpp"
#include "modbus_tool_options.hpp"

namespace guardian::tools {
namespace {

// A daemon's write waits for the bus: the unit's timeout times its attempts, and a read-back.
constexpr std::chrono::seconds kWriteTimeout{60};
constexpr int kExitDaemonUnreachable = 3;

[[nodiscard]] std::string endpoint_of(const config::ModbusAdapterConfig& a) {
  switch (a.transport) {
    case config::ModbusTransport::tcp:
      return "tcp://" + a.tcp.host + ":" + std::to_string(a.tcp.port);
    case config::ModbusTransport::rtu_over_tcp:
      return "rtu+tcp://" + a.tcp.host + ":" + std::to_string(a.tcp.port);
    case config::ModbusTransport::rtu: {
      const char* parity = a.serial.parity == config::Parity::even  ? "even"
                           : a.serial.parity == config::Parity::odd ? "odd"
                                                                    : "none";
      return a.serial.port + " --baud " + std::to_string(a.serial.baud) + " --parity " + parity +
             " --stop-bits " + std::to_string(a.serial.stop_bits);
    }
  }
  return "?";
}

// The `guardian write modbus` command that writes the same register without the daemon.
[[nodiscard]] std::string direct_command(const config::SiteConfig& site,
                                         const ControlWriteOptions& o) {
  for (const auto& adapter : site.adapters) {
    const auto& a = std::get<config::ModbusAdapterConfig>(adapter);
    for (const auto& d : a.devices) {
      if (d.name != o.source) continue;
      for (const auto& p : d.points) {
        if (p.name != o.point) continue;
        std::ostringstream c;
        c << "guardian write modbus " << endpoint_of(a) << " --unit " << d.unit_id << " --table "
          << config::to_string(p.table) << " --address " << p.address << " --type "
          << config::to_string(p.type);
        if (p.order != config::WordOrder::ABCD) c << " --order " << config::to_string(p.order);
        if (p.scale != 1.0) c << " --scale " << p.scale;
        if (p.offset != 0.0) c << " --offset " << p.offset;
        if (p.type == config::DataType::bit) c << " --bit " << p.bit;
        if (p.type == config::DataType::string) c << " --length " << p.length;
        if (d.write_multiple) c << " --write-multiple";
        c << " --value " << o.value;
        return c.str();
      }
    }
  }
  return {};
}

}  // namespace

int run_control_write(const ControlWriteOptions& o, std::ostream& out, std::ostream& err) {
  const auto loaded = config::load_site_config(o.config);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) err << e.to_string() << '\n';
    return kExitUsage;
  }
  const auto& site = *loaded.config;
  const std::filesystem::path socket =
      o.socket.empty() ? site.control.socket : std::filesystem::path(o.socket);
  // The value as typed (92.5, true, eco) travels as the JSON the cloud would send.
  nlohmann::json value;
  const auto typed = parse_value(o.value);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (!std::is_same_v<T, std::monostate>) value = v;
      },
      typed);
  nlohmann::json request{{"cmd", "write"}, {"source", o.source}, {"point", o.point},
                         {"value", value},  {"readback", o.readback}};
  auto response = gateway::control_request(socket, request, kWriteTimeout);
  if (!response) {
    err << "guardian write: " << response.error().describe() << '\n';
    if (const auto direct = direct_command(site, o); !direct.empty())
      err << "without the daemon, write the register directly (the bus must be free):\n  "
          << direct << '\n';
    return kExitDaemonUnreachable;
  }
  const auto& r = response.value();
  if (!r.value("ok", false)) {
    err << "guardian write: " << r.value("error", std::string("the write failed")) << '\n';
    return r.contains("result") ? kExitDeviceError : kExitUsage;
  }
  out << o.source << "/" << o.point << ": wrote " << o.value;
  if (const auto& result = r["result"]; result.contains("readback"))
    out << ", read back " << result["readback"].dump();
  out << '\n';
  return kExitOk;
}

}  // namespace guardian::tools
