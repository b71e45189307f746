// The trust service's transport under hostile clients, with the real guardian-trust process: held
// connections (idle, half-finished TLS, requests that never end), floods from one address, and a
// descriptor table run dry. A legitimate device must still attest. Other clients connect from
// other loopback addresses (127.0.0.2 …), as they would come from elsewhere; all traffic stays on
// the loopback interface.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <iostream>
#include <regex>

#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/tls_session.hpp"
#include "guardian/testing/device_rig.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::cloud {
namespace {

using namespace std::chrono_literals;
using secure_link::Socket;
using test::DeviceRig;
using testing::SecureFleet;

SecureFleet::Options fleet_options(std::vector<std::string> trust_args = {},
                                   std::vector<std::string> wrapper = {}) {
  SecureFleet::Options o;
  o.broker = false;
  o.trust_args = std::move(trust_args);
  o.trust_wrapper = std::move(wrapper);
  return o;
}

// A TCP connection to the trust service from `source`, which then sends nothing.
Socket idle_connection(const std::string& source, std::uint16_t port) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(s.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    throw std::runtime_error("cannot connect from " + source + ": " + std::strerror(errno));
  return s;
}

// The server has closed (or reset) this connection.
bool closed_by_server(const Socket& s) {
  char byte = 0;
  const auto n = ::recv(s.get(), &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// An enrolled device that has attested once (its credential activated), ready to attest again.
struct Device {
  explicit Device(SecureFleet& fleet) : rig(fleet, "store-042") {
    rig.enroll();
    rig.allow_this_process();
    identity = secure_link::open_identity(rig.cfg);
    auto measured = secure_link::measure(*identity, static_cast<unsigned>(rig.cfg.attestation.pcr),
                                         secure_link::measurement_targets(rig.cfg), rig.cfg.attestation.event_log);
    if (!measured) throw std::runtime_error(measured.error().describe());
    log = std::move(measured).value();
    if (auto first = attest(); !first) throw std::runtime_error(first.error().describe());
  }
  result<secure_link::IssuedCertificate> attest() {
    secure_link::AttestationClient client(rig.cfg.trust_service, rig.cfg.device_id);
    return client.attest(*identity, identity->find_keys().value()->tls_public_der,
                         static_cast<unsigned>(rig.cfg.attestation.pcr), log, 1h);
  }
  DeviceRig rig;
  std::unique_ptr<secure_link::Identity> identity;
  std::vector<secure_link::Measurement> log;
};

// The server's tally, which it logs when it stops.
std::uint64_t logged_count(const std::string& log, const std::string& what) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("([0-9]+) " + what))) return ~0ull;
  return std::stoull(m[1].str());
}

TEST(TrustServer, ALegitimateDeviceAttestsWhileHundredsOfIdleAndSlowConnectionsAreHeld) {
  SecureFleet fleet(fleet_options());
  Device device(fleet);
  // 200 connections that never speak, from 13 other addresses (16 each).
  std::vector<Socket> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(idle_connection("127.0.0." + std::to_string(2 + i / 16), fleet.trust_port()));
  // 20 that finish the handshake and then send a request a few bytes at a time, never ending it.
  std::vector<std::unique_ptr<secure_link::TlsSession>> slow;
  secure_link::TlsClientOptions o;
  o.host = "127.0.0.1";
  o.port = fleet.trust_port();
  o.ca_file = fleet.ca_file();
  o.server_name = "localhost";
  for (int i = 0; i < 20; ++i) {
    auto s = secure_link::TlsSession::connect(o);
    ASSERT_TRUE(s) << s.error().describe();
    ASSERT_TRUE(s.value()->write_all(R"({"op":"nonce","dev)", std::chrono::steady_clock::now() + 5s));
    slow.push_back(std::move(s).value());
  }
  const auto start = std::chrono::steady_clock::now();
  auto issued = device.attest();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(issued) << issued.error().describe() << "\n" << fleet.trust_log();
  std::cout << "attested in " << took.count() << " ms while 200 idle and 20 slow connections were held\n";
  // The held connections do not stay forever: the handshake and request deadlines close them.
  ASSERT_TRUE(testing::wait_until(
      [&] { return std::all_of(idle.begin(), idle.end(), closed_by_server); }, 30s));
}

TEST(TrustServer, OneAddressGetsAtMostItsShareOfConnectionsAndOthersStillGetIn) {
  SecureFleet fleet(fleet_options({"--max-connections-per-address", "8", "--handshake-timeout", "60s"}));
  Device device(fleet);
  std::vector<Socket> greedy;
  for (int i = 0; i < 12; ++i) greedy.push_back(idle_connection("127.0.0.9", fleet.trust_port()));
  // The four beyond the share are closed at once; the eight within it stay until their deadline.
  std::size_t closed = 0;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        closed = static_cast<std::size_t>(std::count_if(greedy.begin(), greedy.end(), closed_by_server));
        return closed >= 4;
      },
      10s));
  EXPECT_EQ(closed, 4u);
  EXPECT_TRUE(device.attest()) << fleet.trust_log();
  fleet.stop_trust_service();
  EXPECT_EQ(logged_count(fleet.trust_log(), "per address"), 4u) << fleet.trust_log();
}

TEST(TrustServer, RunningOutOfDescriptorsBacksOffInsteadOfSpinningAndRecovers) {
  // 40 descriptors: a few for the registry, the keys and the log, the rest for clients.
  SecureFleet fleet(fleet_options({}, {"prlimit", "--nofile=40:40"}));
  Device device(fleet);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Socket> held;
  for (int i = 0; i < 60; ++i) held.push_back(idle_connection("127.0.0." + std::to_string(2 + i / 10), fleet.trust_port()));
  ASSERT_TRUE(testing::wait_until([&] { return fleet.trust_log().find("backing off") != std::string::npos; }, 20s))
      << fleet.trust_log();
  held.clear();  // the clients leave; descriptors come back
  EXPECT_TRUE(device.attest()) << fleet.trust_log();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count() + 1;
  fleet.stop_trust_service();
  // Back-offs start at 50 ms: at most 20 a second, where a spinning accept loop would count
  // hundreds of thousands.
  const auto backoffs = logged_count(fleet.trust_log(), "accept back-off");
  EXPECT_GE(backoffs, 1u) << fleet.trust_log();
  EXPECT_LE(backoffs, static_cast<std::uint64_t>(20 * seconds + 5)) << fleet.trust_log();
}

}  // namespace
}  // namespace guardian::cloud
