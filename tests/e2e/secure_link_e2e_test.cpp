// The chain of trust end to end, the way a field technician and a fleet operator run it: the
// real `guardian` binary provisions its identity in a real swtpm, `guardian-trust` enrolls it and
// attests it, and the gateway's telemetry reaches a TLS mosquitto that trusts only the fleet CA —
// through the TPM tunnel, with Paho unchanged (publishing, and receiving cloud commands).
#include <gtest/gtest.h>

#include <fstream>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/pymodbus.hpp"
#include "guardian/testing/secure_fleet.hpp"
#include "guardian/testing/swtpm.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kDevice = "e2e-secure-01";

std::string adapters_yaml(std::uint16_t port) {
  return R"(  - name: espresso-bus
    type: modbus
    host: 127.0.0.1
    port: )" + std::to_string(port) + R"(
    devices:
      - name: espresso-1
        unit_id: 1
        poll_interval: 200ms
        points:
          - {name: boiler_temp, table: holding, address: 0, type: float32, unit: degC}
          - {name: boiler_setpoint, table: holding, address: 14, type: uint16, scale: 0.1,
             unit: degC, writable: true, write_min: 85, write_max: 96}
)";
}

std::string secure_link_yaml(const SecureFleet& fleet, const SwtpmProcess& tpm, const TempDir& dir,
                             const std::string& certificate = "retry: {min: 100ms, max: 1s}") {
  return "secure_link:\n"
         "  identity: {tcti: '" + tpm.tcti() + "'}\n"
         "  state_dir: " + (dir / "identity").string() + "\n"
         "  trust_service:\n"
         "    address: 127.0.0.1:" + std::to_string(fleet.trust_port()) + "\n"
         "    ca_file: " + fleet.ca_file().string() + "\n"
         "    server_name: localhost\n"
         "    approval_key: " + fleet.approval_key().string() + "\n"
         "  broker: {ca_file: " + fleet.ca_file().string() + ", server_name: localhost}\n"
         "  attestation: {event_log: " + (dir / "run" / "measurements.json").string() + "}\n"
         "  certificate: {" + certificate + "}\n";
}

/// The fleet, one gateway with its own TPM, and the equipment it reads.
struct SecureSite {
  explicit SecureSite(const std::string& certificate = "retry: {min: 100ms, max: 1s}")
      : peer(json::parse(R"({"units": {"1": {"hr": {"0": 17082, "1": 32768, "14": 900}}}})")),
        gw(dir, kDevice, "ssl://127.0.0.1:" + std::to_string(fleet.broker_port()),
           adapters_yaml(peer.port()), "", "", secure_link_yaml(fleet, tpm, dir, certificate)) {}
  /// provision → enroll → allow this build and this configuration.
  void enroll() {
    const auto provisioned = guardian({"identity", "provision", "-c", gw.config_path().string(),
                                       "--out", record().string()});
    if (provisioned.exit_code != 0) throw std::runtime_error(provisioned.output);
    fleet.enroll(record());
    fleet.allow("gateway", binary_path("guardian"));
    fleet.allow("config", gw.config_path());
  }

  CommandResult guardian(std::vector<std::string> args) const {
    args.insert(args.begin(), binary_path("guardian").string());
    return run_command(args, 60s);
  }
  std::filesystem::path record() const { return dir / "enrollment.json"; }
  /// The running gateway's link_error once it names `reason` (fails the test after 20 s).
  std::string wait_for_link_error(const std::string& reason) const {
    std::string link_error;
    EXPECT_TRUE(wait_until(
        [&] {
          link_error = gw.status().at("link").value("link_error", "");
          return link_error.find(reason) != std::string::npos;
        },
        20s))
        << link_error << "\n" << gw.log();
    return link_error;
  }
  /// Telemetry of this gateway has reached the fleet's reader.
  static bool telemetry_arrived(MqttCollector& reader) {
    return reader.wait_for(
        [](const auto& all) { return !on_topic(all, std::string(kDevice) + "/telemetry").empty(); },
        20s);
  }

  SecureFleet fleet;
  SwtpmProcess tpm;
  TempDir dir{"guardian-e2e-secure"};
  PymodbusServer peer;
  GatewayProcess gw;
};

TEST(SecureLinkE2E, ProvisionEnrollAttestConnectPublishAndReceiveACommand) {
  SecureSite site;
  const auto config = site.gw.config_path().string();
  EXPECT_NE(site.guardian({"identity", "show", "-c", config}).output.find("not provisioned"),
            std::string::npos);

  // The technician provisions (twice: it is idempotent) and hands over the record.
  const auto first = site.guardian({"identity", "provision", "-c", config, "--out", site.record().string()});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("provisioned: e2e-secure-01"), std::string::npos) << first.output;
  const auto record = json::parse(read_file(site.record()));
  const auto again = site.guardian({"identity", "provision", "-c", config, "--out", site.record().string()});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already provisioned"), std::string::npos) << again.output;
  EXPECT_EQ(json::parse(read_file(site.record()))["tls_key"], record["tls_key"]);
  // The record carries public keys only.
  for (const char* secret : {"PRIVATE", "private", "sensitive"})
    EXPECT_EQ(read_file(site.record()).find(secret), std::string::npos) << secret;

  const auto shown = json::parse(site.guardian({"identity", "show", "-c", config, "--json"}).output);
  EXPECT_EQ(shown["state"], "provisioned");
  EXPECT_NE(shown["tls_key"]["attributes"].get<std::string>().find("fixedtpm|fixedparent"),
            std::string::npos)
      << shown.dump(2);
  EXPECT_TRUE(shown["certificate"].is_null());
  // tpm2-tools, not Guardian, says the key cannot leave the TPM.
  const auto readpublic = run_command({"tpm2_readpublic", "-c", "0x81000101"}, 30s,
                                      {{"TPM2TOOLS_TCTI", site.tpm.tcti()}});
  EXPECT_NE(readpublic.output.find("fixedtpm|fixedparent"), std::string::npos) << readpublic.output;

  // The operator enrolls it and allows this build of the gateway and this configuration.
  site.fleet.enroll(site.record());
  site.fleet.allow("gateway", binary_path("guardian"));
  site.fleet.allow("config", site.gw.config_path());

  auto reader = site.fleet.reader("guardian/v1/#");
  site.gw.start();
  ASSERT_TRUE(site.telemetry_arrived(*reader)) << site.gw.log() << site.fleet.trust_log();
  const auto telemetry = json::parse(reader->messages_on("/telemetry").front().payload);
  EXPECT_EQ(telemetry["device"], kDevice);

  const auto link = site.gw.status().at("link");
  EXPECT_EQ(link["kind"], "tpm-tunnel") << link.dump(2);
  EXPECT_EQ(link["state"], "connected") << link.dump(2);
  EXPECT_NE(link["identity"].get<std::string>().find("CN=e2e-secure-01"), std::string::npos);
  EXPECT_GT(link["cert_expires_in_s"].get<std::int64_t>(), 23 * 3600) << link.dump(2);
  EXPECT_GE(link["secure"]["attestations"].get<std::uint64_t>(), 1u) << link.dump(2);
  const auto status = site.guardian({"status", "-c", config});
  EXPECT_NE(status.output.find("(tpm-tunnel)"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("identity CN=e2e-secure-01"), std::string::npos) << status.output;

  // A cloud command comes back down the same tunnel: Paho's subscription works unchanged.
  const auto sent = site.fleet.send_command(
      "guardian/v1/e2e-secure-01/commands",
      R"({"id":"c-1","source":"espresso-1","point":"boiler_setpoint","value":92.5})");
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  ASSERT_TRUE(reader->wait_for(
      [](const auto& all) {
        for (const auto& m : on_topic(all, "/commands/result"))
          if (json::parse(m.payload).value("id", "") == "c-1") return true;
        return false;
      },
      20s))
      << site.gw.log();
  const auto result = json::parse(reader->messages_on("/commands/result").front().payload);
  EXPECT_EQ(result["ok"], true) << result.dump();

  const auto with_cert = site.guardian({"identity", "show", "-c", config});
  EXPECT_NE(with_cert.output.find("certificate:  CN=e2e-secure-01"), std::string::npos)
      << with_cert.output;
  EXPECT_EQ(site.gw.stop(), 0) << site.gw.log();
  // No secret reached the log: no key material, no certificate body.
  EXPECT_EQ(site.gw.log().find("-----BEGIN"), std::string::npos);
}

TEST(SecureLinkE2E, AGatewayBinaryThePolicyDoesNotKnowGetsNoCertificateUntilTheOperatorAllowsIt) {
  SecureSite site;
  const auto config = site.gw.config_path().string();
  ASSERT_EQ(site.guardian({"identity", "provision", "-c", config, "--out", site.record().string()})
                .exit_code,
            0);
  site.fleet.enroll(site.record());
  site.fleet.allow("config", site.gw.config_path());
  site.fleet.allow("gateway", binary_path("guardian-sim"));  // another build, not this one

  auto reader = site.fleet.reader("guardian/v1/#");
  site.gw.start();
  // The gateway runs, says why it is offline, and nothing of it reaches the broker.
  const auto link_error = site.wait_for_link_error("measurement_refused");
  EXPECT_NE(link_error.find("gateway"), std::string::npos) << link_error;
  EXPECT_NE(site.gw.status().at("link")["state"], "connected");
  const auto list = json::parse(site.fleet.cli({"list", "--json"}).output)["devices"];
  EXPECT_NE(list.at(0)["last_result"].get<std::string>().find("measurement_refused"),
            std::string::npos);

  // The operator allows this build: the next retry attests, and telemetry flows.
  site.fleet.allow("gateway", binary_path("guardian"));
  ASSERT_TRUE(site.telemetry_arrived(*reader)) << site.gw.log();
  EXPECT_EQ(site.gw.stop(), 0);
}

TEST(SecureLinkE2E, AGatewayWhoseBinaryChangedCannotUseItsKeyUntilTheNewBuildIsAllowed) {
  SecureSite site;
  site.enroll();
  auto reader = site.fleet.reader("guardian/v1/#");
  site.gw.start();
  ASSERT_TRUE(site.telemetry_arrived(*reader)) << site.gw.log();
  ASSERT_EQ(site.gw.stop(), 0);

  // An update (or an intruder) replaces the binary: another build, same boot, and a certificate
  // from the last run that is still valid for hours. The new process measures what it is, the
  // PCR leaves the approved state, and the TPM key will not sign with the old approval.
  const auto build = site.dir / "guardian-1.1";
  std::filesystem::copy_file(binary_path("guardian"), build);
  {
    std::ofstream out(build, std::ios::app | std::ios::binary);
    out << "another build";
  }
  std::filesystem::permissions(build, std::filesystem::perms::owner_all);
  site.gw.set_binary(build);
  const auto telemetry_before = on_topic(reader->messages(), "/telemetry").size();
  site.gw.start();
  const auto link_error = site.wait_for_link_error("measurement_refused");
  EXPECT_NE(link_error.find(build.string()), std::string::npos) << link_error;
  EXPECT_NE(site.gw.status().at("link")["state"], "connected");
  const auto shown = json::parse(site.guardian({"identity", "show", "-c", site.gw.config_path().string(),
                                                "--json"}).output);
  EXPECT_EQ(shown["measurements"]["events"].size(), 4u) << shown.dump(2);  // both starts of this boot
  EXPECT_EQ(on_topic(reader->messages(), "/telemetry").size(), telemetry_before);

  // Once the operator allows the new build, the next retry attests, the fleet approves the new
  // state, and the key signs again.
  site.fleet.allow("gateway", build);
  ASSERT_TRUE(reader->wait_for(
      [&](const auto& all) { return on_topic(all, "/telemetry").size() > telemetry_before; },
      20s))
      << site.gw.log();
  EXPECT_EQ(site.gw.status().at("link")["state"], "connected");
  EXPECT_EQ(site.gw.stop(), 0);
}

TEST(SecureLinkE2E, RenewsItsCertificateWhileConnectedAndLosesNothingWhenTheOldOneExpires) {
  // 12 s certificates renewed at half their life: a day of renewals in a few seconds.
  SecureSite site("lifetime: 12s, renew_at: 0.5, retry: {min: 100ms, max: 1s}");
  site.enroll();
  auto reader = site.fleet.reader("guardian/v1/#");
  site.gw.start();
  ASSERT_TRUE(SecureSite::telemetry_arrived(*reader)) << site.gw.log();
  const auto first = site.gw.status().at("link");
  const auto first_expiry = first.at("cert_not_after").get<std::string>();

  // Renewed while connected: health shows the new certificate at once…
  json link;
  ASSERT_TRUE(wait_until(
      [&] {
        link = site.gw.status().at("link");
        return link.at("secure").at("attestations").get<std::uint64_t>() >= 2;
      },
      20s))
      << link.dump(2) << site.gw.log();
  EXPECT_GT(link.at("cert_not_after").get<std::string>(), first_expiry);
  EXPECT_EQ(link.at("connects").get<std::uint64_t>(), 1u) << "renewed during the first session";
  // …and when the old one lapses, the session it authenticated ends and the uplink reconnects
  // with the new one.
  ASSERT_TRUE(wait_until(
      [&] {
        link = site.gw.status().at("link");
        return link.at("connects").get<std::uint64_t>() >= 2 && link.at("state") == "connected";
      },
      20s))
      << link.dump(2) << site.gw.log();
  EXPECT_GE(link.at("secure").at("sessions_ended_at_expiry").get<std::uint64_t>(), 1u);
  const auto last_seq = site.gw.status().at("queue").at("last_seq").get<std::uint64_t>();
  ASSERT_TRUE(reader->wait_for([&](const auto& all) { return SeqLedger(all).has_all(last_seq); },
                               20s))
      << site.gw.log();
  EXPECT_TRUE(SeqLedger(reader->messages()).missing(last_seq).empty());
  EXPECT_EQ(site.gw.stop(), 0);
}

}  // namespace
}  // namespace guardian::testing
