#pragma once
/// \file
/// The broker side of the chain of trust, as a mosquitto 2.0 configuration: a TLS listener that
/// trusts only the fleet CA and requires a client certificate, whose CN becomes the MQTT
/// username (use_identity_as_username); an ACL that confines each device to its own topic
/// prefix (`pattern readwrite guardian/v1/%u/#`); read-only readers (dashboards) and operators
/// (read everything, write only devices' `commands` topics), whose CN contains '@', which no
/// device id can; and the CRL the trust service maintains.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"

namespace guardian::cloud {

struct BrokerConfigOptions {
  std::filesystem::path ca_file;     ///< the fleet CA: the only issuer of client certificates
  std::filesystem::path cert_file;   ///< the broker's own certificate
  std::filesystem::path key_file;    ///< its key (readable by the mosquitto user)
  std::filesystem::path crl_file;    ///< maintained by `guardian-trust serve --crl`
  std::filesystem::path acl_file;    ///< where the ACL is written
  std::string bind = "0.0.0.0";
  std::uint16_t port = 8883;
  std::string topic_root = "guardian/v1";          ///< devices get <root>/<device id>/#
  std::vector<std::string> readers;                ///< CNs allowed to read <root>/#; must contain '@'
  /// CNs allowed to read <root>/# and to send cloud commands (write <root>/+/commands); must
  /// contain '@'.
  std::vector<std::string> operators;
  /// The guardian_revocation plugin (cloud/mosquitto-plugin) and the revoked-devices file it
  /// reads (`guardian-trust serve --revoked-devices`): a revoked device's session ends at once.
  /// Both empty: no plugin.
  std::filesystem::path revocation_plugin;
  std::filesystem::path revoked_devices_file;
};

/// mosquitto.conf lines (to include or append to a main configuration).
[[nodiscard]] result<std::string> mosquitto_listener_config(const BrokerConfigOptions& options);
/// The ACL file's content.
[[nodiscard]] result<std::string> mosquitto_acl(const BrokerConfigOptions& options);

}  // namespace guardian::cloud
