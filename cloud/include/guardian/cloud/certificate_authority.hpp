#pragma once
/// \file
/// The fleet CA as the trust service uses it: issue a short-lived client certificate for an
/// enrolled public key (mbedtls_x509write_crt from the public key alone — the private key is in
/// the device's TPM, and mbedtls_x509write_csr cannot even write an RSA_ALT key's public part,
/// FIELD-NOTES), and sign the certificate revocation list the broker loads. mbedTLS has no CRL
/// writer, so the CRL (RFC 5280 §5) is encoded here with its ASN.1 writer.
///
/// Thread-safety: issue() and crl() may be called from several threads.

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/secure_link/crypto.hpp"

namespace guardian::cloud {

/// What the subject of a device certificate says.
struct CertificateRequest {
  std::string device_id;                      ///< becomes the CN (and so the MQTT username)
  secure_link::Bytes subject_public_der;      ///< the enrolled TLS key (SubjectPublicKeyInfo)
  Timestamp not_before{};
  Timestamp not_after{};
  bool software_key = false;                  ///< adds OU=software-key to the subject
};

/// An issued certificate.
struct Certificate {
  std::string pem;
  std::string serial;  ///< lower-case hex
};

/// A revoked certificate as the CRL lists it.
struct RevokedEntry {
  std::string serial;  ///< lower-case hex
  Timestamp revoked_at{};
};

class CertificateAuthority {
 public:
  /// Loads the CA certificate (PEM) and its private key (PEM, unencrypted). Errors name the file.
  [[nodiscard]] static result<std::unique_ptr<CertificateAuthority>> load(
      const std::filesystem::path& certificate_file, const std::filesystem::path& key_file);

  /// An X.509 v3 client certificate: subject "CN=<device>, O=Guardian device", a random 128-bit
  /// serial, basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage clientAuth,
  /// subject and authority key identifiers, signed with SHA-256.
  [[nodiscard]] result<Certificate> issue(const CertificateRequest& request);

  /// A v2 CRL listing `revoked`, with cRLNumber `number`, valid from `this_update` to
  /// `next_update` (an expired CRL makes OpenSSL-based brokers refuse every client: the trust
  /// service rewrites it well before). PEM.
  [[nodiscard]] result<std::string> crl(const std::vector<RevokedEntry>& revoked,
                                        Timestamp this_update, Timestamp next_update,
                                        std::int64_t number);

  /// The CA certificate, PEM.
  [[nodiscard]] const std::string& certificate_pem() const noexcept { return ca_pem_; }

 private:
  CertificateAuthority() = default;
  std::mutex mutex_;
  std::string ca_pem_;
  std::unique_ptr<secure_link::X509Chain> ca_;
  std::unique_ptr<secure_link::PkKey> key_;
};

}  // namespace guardian::cloud
