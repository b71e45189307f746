#pragma once
/// \file
/// The Link for a broker reached over plain TCP (tcp:// or mqtt://): nothing to prepare.

#include <string>

#include "guardian/secure_link/link.hpp"

namespace guardian::secure_link {

/// Hands Paho the configured URI unchanged. For development and closed networks only: nothing
/// on this path is authenticated or encrypted.
class PlainLink final : public Link {
 public:
  explicit PlainLink(std::string broker_uri);

  /// Always succeeds.
  [[nodiscard]] result<MqttEndpoint> open() override;
  void close() override {}
  /// kind "plain".
  [[nodiscard]] LinkInfo info() const override;

 private:
  std::string broker_uri_;
};

}  // namespace guardian::secure_link
