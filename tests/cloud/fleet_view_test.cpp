// What the fleet view flags for an operator (guardian-trust list), from registry entries.
#include <gtest/gtest.h>

#include <algorithm>

#include "guardian/cloud/fleet_view.hpp"

namespace guardian::cloud {
namespace {

using namespace std::chrono_literals;

const Timestamp kNow{std::chrono::milliseconds{1'700'000'000'000}};
const std::string kGateway(64, 'a'), kConfig(64, 'c');

FleetEntry healthy() {
  FleetEntry e;
  e.device.id = "store-042";
  e.device.backend = config::IdentityBackend::tpm;
  e.device.enrolled = kNow - 30 * 24h;
  e.device.activated = kNow - 30 * 24h;
  e.device.last_attestation = kNow - 1h;
  e.device.last_result = "ok";
  e.device.running = {{"gateway", kGateway}, {"config", kConfig}};
  e.certificate = CertificateRecord{"aa", "store-042", kNow - 1h, kNow + 23h};
  return e;
}

Policy allowing_it() {
  Policy p;
  p.allowed[secure_link::MeasurementKind::gateway][kGateway] = "0.2.0";
  p.allowed[secure_link::MeasurementKind::config][kConfig] = "site";
  return p;
}

std::vector<std::string> codes(const std::vector<Attention>& flags) {
  std::vector<std::string> out;
  for (const auto& f : flags) out.push_back(f.code);
  return out;
}

TEST(FleetView, AHealthyDeviceNeedsNoAttention) {
  EXPECT_TRUE(assess(healthy(), allowing_it(), kNow).empty());
}

TEST(FleetView, FlagsRepeatedFailuresAndRecentRefusals) {
  auto e = healthy();
  e.refusals = 1;
  e.failures_in_a_row = 0;
  EXPECT_EQ(codes(assess(e, allowing_it(), kNow)), std::vector<std::string>{"refused"});
  e.refusals = 5;
  e.failures_in_a_row = 3;
  const auto flags = assess(e, allowing_it(), kNow);
  EXPECT_EQ(codes(flags), std::vector<std::string>{"failing"});
  EXPECT_NE(flags[0].what.find("last 3"), std::string::npos);
}

TEST(FleetView, FlagsWhatItRunsWhenThePolicyNoLongerAllowsIt) {
  auto policy = allowing_it();
  policy.allowed[secure_link::MeasurementKind::gateway].clear();  // the build was withdrawn
  const auto flags = assess(healthy(), policy, kNow);
  ASSERT_EQ(codes(flags), std::vector<std::string>{"not_allowed"});
  EXPECT_NE(flags[0].what.find("gateway " + kGateway), std::string::npos);
}

TEST(FleetView, FlagsADeviceGoneSilentOrThatNeverAttested) {
  auto e = healthy();
  e.certificate->not_after = kNow - 1min;
  EXPECT_EQ(codes(assess(e, allowing_it(), kNow)), std::vector<std::string>{"silent"});
  FleetEntry fresh;
  fresh.device.id = "store-043";
  fresh.device.enrolled = kNow - 10min;
  EXPECT_TRUE(assess(fresh, allowing_it(), kNow).empty());  // give it time
  fresh.device.enrolled = kNow - 2h;
  EXPECT_EQ(codes(assess(fresh, allowing_it(), kNow)), std::vector<std::string>{"silent"});
}

TEST(FleetView, FlagsATpmThatAttemptedButNeverActivated) {
  auto e = healthy();
  e.device.activated.reset();
  e.certificate.reset();
  e.device.running.clear();
  e.device.last_result = "bad_signature: …";
  EXPECT_EQ(codes(assess(e, allowing_it(), kNow)), std::vector<std::string>{"not_activated"});
}

TEST(FleetView, ARevokedDeviceIsShownRevokedNotFlagged) {
  auto e = healthy();
  e.device.revoked = kNow - 1h;
  e.failures_in_a_row = 10;
  EXPECT_TRUE(assess(e, Policy{}, kNow).empty());
}

}  // namespace
}  // namespace guardian::cloud
