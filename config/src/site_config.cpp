#include "guardian/config/site_config.hpp"

namespace guardian::config {

std::string SiteConfig::topic_prefix() const {
  std::string prefix = uplink.topic_prefix;
  static constexpr std::string_view kPlaceholder = "{device_id}";
  for (auto pos = prefix.find(kPlaceholder); pos != std::string::npos;
       pos = prefix.find(kPlaceholder, pos + device_id.size()))
    prefix.replace(pos, kPlaceholder.size(), device_id);
  if (prefix.empty() || prefix.back() != '/') prefix.push_back('/');
  return prefix;
}

}  // namespace guardian::config
