#pragma once
/// \file
/// Readers for sections of the site file that are shared or live in their own file. Private to
/// config/.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/config/site_config.hpp"
#include "object_reader.hpp"

namespace guardian::config::detail {

class ProfileLibrary;

/// What the readers of one site file share: the names that must be unique across the whole
/// site, and the device profiles it may refer to.
struct SiteNames {
  UniqueNames adapters;
  UniqueNames sources;  ///< Device names: the `source` of every reading northbound.
  ProfileLibrary* profiles = nullptr;  ///< Set while the adapters are read.
};

/// The keys a Modbus device and a profile's `defaults` share, as written (nullopt = absent).
struct ModbusDeviceDefaults {
  std::optional<Duration> poll_interval;
  std::optional<Duration> timeout;
  std::optional<int> retries;
  std::optional<bool> write_multiple;
  std::optional<ModbusCoalescing> coalescing;
};

/// Reads the keys of ModbusDeviceDefaults present in `r`.
void read_modbus_device_defaults(ObjectReader& r, ModbusDeviceDefaults& out);

/// Reads the list of points under `points`, each address as the manual prints it with
/// `address_base`, names unique within the list.
void read_modbus_points(ObjectReader& r, int address_base, Items items,
                        std::vector<ModbusPoint>& out);

/// Reads an optional `address_base` (0 or 1), 0 when absent.
[[nodiscard]] int read_address_base(ObjectReader& r);

/// Reads an optional `{min: …, max: …}` map of retry delays under `key` into `min` and `max`
/// (left at their defaults when absent), each within [lowest, highest] and min ≤ max.
void read_delay_range(ObjectReader& parent, std::string_view key, Duration& min, Duration& max,
                      Duration lowest, Duration highest);

/// Who reads a serial port: Modbus RTU allows 7 or 8 data bits, other equipment 5 to 8.
enum class SerialLineUse : std::uint8_t { modbus, stream };

/// Reads a `serial` map (port, baud, parity, data_bits, stop_bits, flow_control, rs485): the same
/// keys for a Modbus RTU bus and a stream adapter. serial_port_section.cpp.
void read_serial_port(ObjectReader& r, SerialPortSettings& settings, SerialLineUse use);

/// Names declared per source, by source name.
using DeclaredPoints = std::map<std::string, std::vector<std::string>, std::less<>>;

/// The points each source declares, by source name: a Modbus device's points; for a stream
/// adapter, the fields of the messages it sends as readings (not records), under its own source
/// and each of its peers' sources. Sources named at run time by `source_field` are not known here.
[[nodiscard]] DeclaredPoints declared_points(const SiteConfig& config);

/// "unknown <what> '<name>'" with a did-you-mean among `known`, or the list of them when short.
[[nodiscard]] std::string unknown_name_message(std::string_view what, const std::string& name,
                                               const std::vector<std::string>& known);

/// Reads the `processing` list of `r` into config.processing, checking each rule's source and
/// point against the adapters already in config.adapters.
void read_processing(ObjectReader& r, SiteConfig& config);

/// Reads the `traces` list of `r` into config.traces, checking each capture's source, points and
/// conditions against the adapters already in config.adapters (trace_section.cpp).
void read_traces(ObjectReader& r, SiteConfig& config);

/// Reads the keys of one `type: modbus` entry of `adapters` (name and type are already read).
[[nodiscard]] AdapterConfig read_modbus_adapter(ObjectReader& r, std::string name,
                                                SiteNames& names);

/// Read the keys of one stream adapter entry (`type: serial | tcp-client | tcp-server | udp`):
/// transport, codec, poll (name and type are already read). stream_section.cpp.
[[nodiscard]] AdapterConfig read_serial_adapter(ObjectReader& r, std::string name,
                                                SiteNames& names);
[[nodiscard]] AdapterConfig read_tcp_client_adapter(ObjectReader& r, std::string name,
                                                    SiteNames& names);
[[nodiscard]] AdapterConfig read_tcp_server_adapter(ObjectReader& r, std::string name,
                                                    SiteNames& names);
[[nodiscard]] AdapterConfig read_udp_adapter(ObjectReader& r, std::string name, SiteNames& names);

/// Reads a stream adapter's `codec` map (also a stream profile's). stream_section.cpp.
void read_codec(ObjectReader& r, CodecConfig& codec);

/// Reads a stream adapter's `poll` map (also a stream profile's). stream_section.cpp.
void read_poll(ObjectReader& r, StreamPoll& poll);

/// Reads the top-level `secure_link:` section (secure_link_section.cpp). The loader fills
/// device_id and config_file, and checks the rules that involve the uplink.
void read_secure_link(ObjectReader& r, SecureLinkConfig& secure_link);

}  // namespace guardian::config::detail
