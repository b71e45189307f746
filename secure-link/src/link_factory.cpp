#include <stdexcept>

#include "file_tls_link.hpp"
#include "guardian/secure_link/link.hpp"
#include "plain_link.hpp"
#include "tunnel_link.hpp"

namespace guardian::secure_link {

// The explicit list of link kinds (STYLE.md: no self-registration).
std::unique_ptr<Link> make_link(const config::UplinkConfig& uplink) {
  const auto scheme_end = uplink.broker.find("://");
  const std::string scheme =
      scheme_end == std::string::npos ? std::string{} : uplink.broker.substr(0, scheme_end);
  const bool tls_scheme = scheme == "ssl" || scheme == "mqtts";
  if (uplink.secure_link) {
    if (!tls_scheme)
      throw std::invalid_argument("secure_link is set but uplink.broker \"" + uplink.broker +
                                  "\" is not a TLS URI; use ssl://host:port");
    if (uplink.tls)
      throw std::invalid_argument(
          "uplink.tls and secure_link cannot both be set: the secure link brings its own TLS");
    return std::make_unique<TunnelLink>(uplink.broker, *uplink.secure_link);
  }
  if (scheme == "tcp" || scheme == "mqtt") {
    if (uplink.tls)
      throw std::invalid_argument("uplink.tls is set but uplink.broker \"" + uplink.broker +
                                  "\" is not a TLS URI; use ssl://host:port");
    return std::make_unique<PlainLink>(uplink.broker);
  }
  if (tls_scheme)
    return std::make_unique<FileTlsLink>(uplink.broker,
                                         uplink.tls.value_or(config::TlsFilesConfig{}));
  throw std::invalid_argument("uplink.broker \"" + uplink.broker +
                              "\" has no supported scheme; use tcp://host:port or ssl://host:port");
}

}  // namespace guardian::secure_link
