#pragma once
/// \file
/// The seam between the uplink and whatever protects the path to the broker. The uplink asks its
/// Link where to connect and with which TLS material; it never knows whether that is a plain TCP
/// broker, TLS with certificate files, or (issue 6) an mbedTLS tunnel whose key lives in a TPM.
/// Swapping the Link is the only change the secure link needs in the gateway.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::secure_link {

/// TLS material for Paho's own TLS (ssl:// URIs). Paths, never key bytes.
struct PahoTlsOptions {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;  ///< empty = no client certificate
  std::filesystem::path key_file;   ///< empty = no client certificate
  std::string server_name;          ///< expected name in the broker certificate (empty = URI host)
};

/// Where and how the MQTT client connects.
struct MqttEndpoint {
  std::string server_uri;              ///< "tcp://127.0.0.1:1883", "ssl://broker:8883", …
  std::optional<PahoTlsOptions> tls;   ///< set for ssl:// URIs
};

/// What health and `guardian status` show about the link.
struct LinkInfo {
  std::string kind;                    ///< "plain", "tls-files", "tpm-tunnel"
  std::string identity;                ///< certificate subject / device id, when known
  std::optional<Timestamp> cert_not_after;  ///< client certificate expiry, when there is one
  /// Link-specific counters for health (tunnel: attestations, refused local connections, …);
  /// empty for links that have none.
  std::map<std::string, std::uint64_t> counters;
  /// The link's own latest problem ("" when none), e.g. why the last attestation failed.
  std::string last_error;
};

/// A path to the broker. open() is called before every connection attempt (a tunnel may need to
/// re-attest or renew); it may block (file reads, TPM commands, network) and is therefore called
/// from the uplink's connect worker, never on the io_context thread. open() and close() are not
/// thread-safe; info() is, and never blocks, so health can read it live from any thread.
class Link {
 public:
  virtual ~Link() = default;
  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// Prepares the path and returns where Paho should connect. Errors say what to fix
  /// (missing CA file, key file with loose permissions, …).
  [[nodiscard]] virtual result<MqttEndpoint> open() = 0;
  /// Releases what open() set up (a tunnel listener, …). Idempotent.
  virtual void close() = 0;
  /// Makes an open() in progress on another thread return soon with an error (ECANCELED), and
  /// every later one at once, until resume(): how a stopping uplink keeps its promise while a
  /// link is mid-handshake or waiting for the trust service. Thread-safe; never blocks. Links
  /// whose open() does not wait on the network need not implement it.
  virtual void interrupt() noexcept {}
  /// Ends interrupt(): open() works again. Not concurrent with open().
  virtual void resume() noexcept {}
  /// What the link is and how it is doing now (a renewed certificate shows at once).
  [[nodiscard]] virtual LinkInfo info() const = 0;
};

/// The Link for an uplink configuration: with uplink.secure_link, the TPM tunnel (kind
/// "tpm-tunnel", or "software-tunnel" with the development backend) to an ssl:// broker — its
/// renewal thread starts here and attests at once; otherwise plain TCP for tcp:// (mqtt://)
/// brokers, and Paho TLS with certificate files for ssl:// (mqtts://) brokers (uplink.tls;
/// without it, the system's trust store). Configuration problems the loader cannot see (files
/// missing at run time, a TPM that does not answer) surface from open(), not here. Throws
/// std::invalid_argument (start-up, control plane) for a configuration no link can serve: an
/// unsupported URI scheme, uplink.tls with a tcp:// broker, or a secure link to a tcp:// broker.
[[nodiscard]] std::unique_ptr<Link> make_link(const config::UplinkConfig& uplink);

}  // namespace guardian::secure_link
