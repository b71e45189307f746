#pragma once
/// \file
/// Readers for sections of the site file that are shared or live in their own file. Private to
/// config/.

#include <string>
#include <string_view>

#include "guardian/config/site_config.hpp"
#include "object_reader.hpp"

namespace guardian::config::detail {

/// Names that must be unique across the whole site.
struct SiteNames {
  UniqueNames adapters;
  UniqueNames sources;  ///< Device names: the `source` of every reading northbound.
};

/// Reads an optional `{min: …, max: …}` map of retry delays under `key` into `min` and `max`
/// (left at their defaults when absent), each within [lowest, highest] and min ≤ max.
void read_delay_range(ObjectReader& parent, std::string_view key, Duration& min, Duration& max,
                      Duration lowest, Duration highest);

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

}  // namespace guardian::config::detail
