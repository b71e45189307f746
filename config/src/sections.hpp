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

/// Reads the top-level `secure_link:` section (secure_link_section.cpp). The loader fills
/// device_id and config_file, and checks the rules that involve the uplink.
void read_secure_link(ObjectReader& r, SecureLinkConfig& secure_link);

}  // namespace guardian::config::detail
