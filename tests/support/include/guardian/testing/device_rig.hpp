#pragma once
// A device for secure-link tests: its own swtpm (or a software identity), a state directory, a
// site file to measure, and the SecureLinkConfig that points at a SecureFleet. Provisioning and
// enrollment go through the same code as `guardian identity provision` / `guardian-trust enroll`.
// Header-only: include it from tests (and benches) that link Guardian::secure_link.

#include <filesystem>
#include <memory>
#include <string>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "guardian/config/site_config.hpp"
#include "guardian/secure_link/enrollment.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/secure_fleet.hpp"
#include "guardian/testing/swtpm.hpp"

namespace guardian::test {

using namespace std::chrono_literals;

class DeviceRig {
 public:
  DeviceRig(testing::SecureFleet& fleet, std::string device_id,
            config::IdentityBackend backend = config::IdentityBackend::tpm,
            testing::SwtpmProcess::Endorsement endorsement =
                testing::SwtpmProcess::Endorsement::test_manufacturer)
      : fleet_(fleet) {
    if (backend == config::IdentityBackend::tpm)
      swtpm = std::make_unique<testing::SwtpmProcess>(endorsement);
    cfg.identity.backend = backend;
    if (swtpm) cfg.identity.tcti = swtpm->tcti();
    cfg.state_dir = dir / "identity";
    cfg.trust_service = {"127.0.0.1", fleet.trust_port(), fleet.ca_file(), "localhost", 10s,
                         fleet.approval_key()};
    // The measurement log of this "boot" (the swtpm's): beside the device, not in /run.
    cfg.attestation.event_log = dir / "run" / "measurements.json";
    cfg.broker = {fleet.ca_file(), "localhost"};
    cfg.certificate.lifetime = 1h;
    cfg.certificate.retry_min = 100ms;
    cfg.certificate.retry_max = 1s;
    cfg.device_id = std::move(device_id);
    cfg.config_file = dir / "site.yaml";
    testing::write_file(cfg.config_file, "device:\n  id: " + cfg.device_id + "\n");
  }

  /// Creates the keys (as `guardian identity provision` does) and writes the record.
  secure_link::EnrollmentRecord provision() {
    auto identity = secure_link::open_identity(cfg);
    auto record = secure_link::provision_identity(*identity, cfg.device_id);
    if (!record) throw std::runtime_error("provisioning failed: " + record.error().describe());
    testing::write_file(record_path(), secure_link::enrollment_to_json(record.value()).dump(2));
    return record.value();
  }
  /// provision() and `guardian-trust enroll`.
  void enroll() {
    provision();
    fleet_.enroll(record_path());
  }
  /// Lets the policy accept what this process measures: the test binary and the site file.
  void allow_this_process() const {
    fleet_.allow("gateway", std::filesystem::read_symlink("/proc/self/exe"));
    fleet_.allow("config", cfg.config_file);
  }
  /// The uplink configuration make_link() turns into the TPM tunnel.
  [[nodiscard]] config::UplinkConfig uplink() const {
    config::UplinkConfig u;
    u.broker = "ssl://127.0.0.1:" + std::to_string(fleet_.broker_port());
    u.secure_link = cfg;
    return u;
  }
  [[nodiscard]] std::filesystem::path record_path() const { return dir / "enrollment.json"; }

  testing::TempDir dir{"guardian-device"};
  std::unique_ptr<testing::SwtpmProcess> swtpm;
  config::SecureLinkConfig cfg;

 private:
  testing::SecureFleet& fleet_;
};

/// A Paho client connected to `uri` (the tunnel's local endpoint) as `client_id`; throws if the
/// connection is not up within 15 s.
inline std::unique_ptr<mqtt::async_client> connect_paho(const std::string& uri,
                                                        const std::string& client_id) {
  auto client = std::make_unique<mqtt::async_client>(uri, client_id,
                                                     mqtt::create_options(MQTTVERSION_3_1_1));
  auto options = mqtt::connect_options_builder().clean_session(true).finalize();
  client->connect(options)->wait_for(15s);
  if (!client->is_connected()) throw std::runtime_error("Paho did not connect to " + uri);
  return client;
}

/// Publishes `payload` with QoS 1 and waits for the PUBACK.
inline void publish(mqtt::async_client& client, const std::string& topic, const std::string& payload) {
  client.publish(topic, payload.data(), payload.size(), 1, false)->wait_for(10s);
}

}  // namespace guardian::test
