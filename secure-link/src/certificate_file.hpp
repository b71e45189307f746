#pragma once
/// \file
/// Reading what health needs from an X.509 certificate file (PEM or DER) with mbedTLS: its
/// subject and its expiry (mbedTLS values are translated in crypto.hpp).

#include <filesystem>
#include <string>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"

namespace guardian::secure_link {

/// What a certificate says about itself.
struct CertificateSummary {
  std::string subject;  ///< distinguished name, e.g. "CN=store-042, O=Guardian"
  Timestamp not_after{};
};

/// Parses the first certificate in `path`. Errors name the file and keep the mbedTLS code.
[[nodiscard]] result<CertificateSummary> read_certificate(const std::filesystem::path& path);

}  // namespace guardian::secure_link
