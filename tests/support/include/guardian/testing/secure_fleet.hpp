#pragma once
/// \file
/// The fleet side of the secure link, for tests: a PKI made with openssl (fleet CA; certificates
/// for the trust service and the broker, both for localhost / 127.0.0.1; a read-only reader and
/// an operator who may send commands; the fleet's approval key), `guardian-trust serve` on a
/// fresh registry that trusts the test TPM manufacturer (SwtpmProcess::manufacturer_ca_file())
/// and maintains a CRL, and a real mosquitto whose mTLS listener and ACL come from
/// `guardian-trust broker-config`. Everything real; nothing mocked.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/mqtt_collector.hpp"
#include "guardian/testing/pki.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class SecureFleet {
 public:
  struct Options {
    bool broker = true;                    ///< start mosquitto too
    /// CA that issues the broker's certificate: "fleet-ca", or "other-ca" for a broker the
    /// devices must refuse.
    std::string broker_issuer = "fleet-ca";
    std::string nonce_lifetime = "60s";
    std::vector<std::string> trust_args;     ///< more `guardian-trust serve` options
    std::vector<std::string> trust_wrapper;  ///< a command the service runs under (e.g. prlimit)
    /// The registry: empty for a SQLite file in the fleet's directory, or a postgresql:// URI
    /// (PostgresServer::create_database) that replicas share.
    std::string registry;
  };

  SecureFleet();
  explicit SecureFleet(Options options);
  ~SecureFleet();
  SecureFleet(const SecureFleet&) = delete;
  SecureFleet& operator=(const SecureFleet&) = delete;

  /// The fleet CA certificate: trust service and (normally) broker chain to it.
  [[nodiscard]] std::filesystem::path ca_file() const { return pki_.pem("fleet-ca"); }
  [[nodiscard]] std::filesystem::path ca_key() const { return pki_.key("fleet-ca"); }
  /// The approval key's public half (what devices configure as trust_service.approval_key),
  /// and its private key (what guardian-trust serve signs with).
  [[nodiscard]] std::filesystem::path approval_key() const { return dir_ / "approval.pub.pem"; }
  [[nodiscard]] std::filesystem::path approval_private_key() const { return dir_ / "approval.key"; }
  [[nodiscard]] std::uint16_t trust_port() const noexcept { return trust_port_; }
  [[nodiscard]] std::uint16_t broker_port() const noexcept { return broker_port_; }
  /// Where the registry is: Options::registry, or the SQLite file.
  [[nodiscard]] std::string registry() const {
    return options_.registry.empty() ? (dir_ / "registry.db").string() : options_.registry;
  }
  [[nodiscard]] std::filesystem::path crl() const { return dir_ / "crl.pem"; }
  /// The revoked device ids the trust service writes with each CRL, read by the broker's
  /// guardian_revocation plugin.
  [[nodiscard]] std::filesystem::path revoked_devices() const { return dir_ / "revoked-devices"; }
  [[nodiscard]] TestPki& pki() noexcept { return pki_; }
  [[nodiscard]] MosquittoBroker& broker() { return *broker_; }

  /// `guardian-trust <args…> --registry <registry>` (throws with its output if it fails, unless
  /// `may_fail`).
  CommandResult cli(std::vector<std::string> args, bool may_fail = false) const;
  /// Allows a measurement of `kind` ("gateway", "config", "firmware") by hashing `file`.
  void allow(const std::string& kind, const std::filesystem::path& file) const;
  /// Imports an enrollment record.
  void enroll(const std::filesystem::path& record) const;

  /// A subscriber on the broker's mTLS listener with the reader certificate ("reader@test",
  /// allowed to read guardian/v1/#).
  [[nodiscard]] std::unique_ptr<MqttCollector> reader(const std::string& topic_filter) const;
  /// Publishes with mosquitto_pub as the operator ("operator@test": reads everything, writes
  /// only guardian/v1/+/commands), QoS 1.
  CommandResult send_command(const std::string& topic, const std::string& payload) const;
  /// A certificate for `cn` from the fleet CA (software key, openssl): e.g. for a client that
  /// should or should not get through the broker's ACL.
  void make_client(const std::string& name, const std::string& cn);

  /// Stops and restarts the trust service (same registry, same port).
  void restart_trust_service();
  void stop_trust_service();
  [[nodiscard]] std::string trust_log() const;
  /// The trust service's process id (0 when it is not running).
  [[nodiscard]] int trust_pid() const;

  /// Starts another `guardian-trust serve` on the same registry (another replica; with a
  /// PostgreSQL registry, as if on another machine), writing its own CRL file. Returns its port.
  std::uint16_t start_replica();
  /// The CRL file replica `n` (1, 2, … in the order started) maintains.
  [[nodiscard]] std::filesystem::path replica_crl(int n) const;
  /// Replica `n`'s process id (0 when it is not running).
  [[nodiscard]] int replica_pid(int n) const;

 private:
  void start_trust_service();
  /// Starts `guardian-trust serve` named `name` (its log, port and CRL files) and returns it
  /// once it listens, with its port.
  std::pair<std::unique_ptr<Process>, std::uint16_t> serve(const std::string& name, std::uint16_t port,
                                                           const std::filesystem::path& crl_file);

  Options options_;
  TempDir dir_{"guardian-fleet"};
  TestPki pki_;
  std::uint16_t trust_port_;
  std::uint16_t broker_port_;
  std::unique_ptr<Process> trust_;
  std::vector<std::unique_ptr<Process>> replicas_;
  std::unique_ptr<MosquittoBroker> broker_;
};

}  // namespace guardian::testing
