#pragma once
/// \file
/// The Link for a broker reached with Paho's own TLS (ssl:// or mqtts://) and certificate files
/// from uplink.tls — for development and sites without a TPM; the TPM tunnel replaces it.

#include <mutex>
#include <string>

#include "guardian/config/site_config.hpp"
#include "guardian/secure_link/link.hpp"

namespace guardian::secure_link {

/// open() checks the files every time (they may be replaced while the gateway runs): the CA and
/// client certificate must parse, the private key must be mode 0600 or stricter, and a
/// server_name, if given, must be the URI's host (Paho verifies the URI host and has no separate
/// name to check). It then reads the client certificate's subject and expiry for info().
class FileTlsLink final : public Link {
 public:
  FileTlsLink(std::string broker_uri, config::TlsFilesConfig tls);

  /// Errors name the configuration key and the file, and say what to do.
  [[nodiscard]] result<MqttEndpoint> open() override;
  void close() override {}
  /// kind "tls-files"; identity and cert_not_after from the client certificate once open()
  /// has succeeded.
  [[nodiscard]] LinkInfo info() const override;

 private:
  std::string broker_uri_;
  config::TlsFilesConfig tls_;
  mutable std::mutex info_mutex_;
  LinkInfo info_;  // guarded by info_mutex_
};

}  // namespace guardian::secure_link
