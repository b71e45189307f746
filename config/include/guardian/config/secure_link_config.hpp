#pragma once
/// \file
/// The typed `secure_link:` section: the hardware-bound identity, the trust service that attests
/// it and issues short-lived certificates, and the mTLS tunnel to the broker. Documented key by
/// key in docs/configuration.md ("secure_link") and explained in docs/secure-link.md.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace guardian::config {

/// Where the device's keys live.
enum class IdentityBackend : std::uint8_t {
  tpm,       ///< TPM 2.0 through tpm2-tss ESAPI: keys created inside the chip, never exported.
  software,  ///< Key files on disk, for development only; the trust service refuses them by default.
};

/// The identity: a TLS signing key and a restricted attestation key.
struct IdentityConfig {
  IdentityBackend backend = IdentityBackend::tpm;
  /// TCTI configuration for Tss2_TctiLdr_Initialize: "device:/dev/tpmrm0" on hardware,
  /// "swtpm:host=127.0.0.1,port=2321" for a software TPM.
  std::string tcti = "device:/dev/tpmrm0";
  /// Persistent handles (TPM 2.0 Part 2 §7.6, owner range 0x81000000–0x817FFFFF) of the keys.
  std::uint32_t signing_key_handle = 0x81000101;
  std::uint32_t attestation_key_handle = 0x81000102;
};

/// The trust service the device attests to.
struct TrustServiceConfig {
  std::string host;
  std::uint16_t port = 7443;
  std::filesystem::path ca_file;   ///< CA that issued the trust service's TLS certificate
  std::string server_name;         ///< expected name in its certificate; default: host
  std::chrono::milliseconds timeout{10000};
  /// The fleet's approval key (ECDSA P-256 public key, PEM): the TPM backend's TLS key signs
  /// only in PCR states this key approved (tpm_policy.hpp). Required with backend tpm.
  std::filesystem::path approval_key;
};

/// The broker end of the tunnel (the broker's address is uplink.broker).
struct TunnelBrokerConfig {
  std::filesystem::path ca_file;   ///< CA that issued the broker's certificate
  std::string server_name;         ///< expected name in its certificate; default: the URI host
};

/// The PCR measurements go to: one that software cannot reset (PC Client Platform TPM Profile:
/// only 16 and 23 are resettable at locality 0), and that the boot chain leaves alone on a
/// typical gateway (8–9 GRUB, 10 IMA, 11–12 systemd-stub, 14 shim; 13 only for the initrd
/// system extensions of a unified kernel image). 8–15 are allowed.
inline constexpr int kDefaultMeasurementPcr = 13;

/// What the device measures into its PCR before it quotes.
struct AttestationConfig {
  int pcr = kDefaultMeasurementPcr;
  std::optional<std::filesystem::path> firmware_image;  ///< measured when set
  /// The measurement log of this boot: kept across gateway restarts (so the PCR, which only a
  /// reboot resets, still replays) and lost at reboot with the PCR (/run is a tmpfs).
  std::filesystem::path event_log = "/run/guardian/measurements.json";
};

/// How long certificates live and when they are renewed.
struct CertificateConfig {
  std::chrono::milliseconds lifetime{std::chrono::hours{24}};  ///< requested lifetime
  double renew_at = 2.0 / 3.0;   ///< fraction of the lifetime after which to renew, (0, 1)
  std::chrono::milliseconds retry_min{5000};    ///< back-off when the trust service is away
  std::chrono::milliseconds retry_max{600000};
};

/// The whole `secure_link:` section. When present, the uplink reaches its ssl:// broker through
/// the TPM tunnel (link kind "tpm-tunnel", or "software-tunnel" with the software backend).
struct SecureLinkConfig {
  IdentityConfig identity;
  /// Certificate, enrollment record and (software backend) key files; created mode 0700.
  std::filesystem::path state_dir = "/var/lib/guardian/identity";
  TrustServiceConfig trust_service;
  TunnelBrokerConfig broker;
  AttestationConfig attestation;
  CertificateConfig certificate;

  // Filled by the loader from the rest of the site file, so the link needs nothing else:
  std::string device_id;                 ///< the site's device.id: the certificate's CN
  std::filesystem::path config_file;     ///< the site file itself, measured at start
};

}  // namespace guardian::config
