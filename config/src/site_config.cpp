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

std::string broker_uri_host(std::string_view uri) {
  auto start = uri.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  if (start < uri.size() && uri[start] == '[') {
    const auto end = uri.find(']', start);
    return end == std::string_view::npos ? std::string{} : std::string(uri.substr(start + 1, end - start - 1));
  }
  const auto end = uri.find_first_of(":/", start);
  return std::string(uri.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

}  // namespace guardian::config
