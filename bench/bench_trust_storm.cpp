// bench_trust_storm: a reconnect storm against the trust service — thousands of devices
// attesting at once, as after a regional outage — against real guardian-trust processes:
//   1. one replica on SQLite (the embedded default)
//   2. one replica on PostgreSQL
//   3. two replicas on one PostgreSQL (clients split between them)
// and, on each, one legitimate attestation timed while 200 idle connections are held open.
//
// The devices are software identities (keys in files, quotes made by software), accepted by a
// bench-only policy (allow_software_keys): a TPM per simulated device is not possible here, and
// the service's work per attestation — TLS handshake, quote signature, evidence, certificate,
// registry — is the same. Every attestation is a whole AttestationClient::attest() (one TLS
// connection, nonce, quote, certificate), `--clients` of them in flight at a time.
//
// All clients come from 127.0.0.1, so the service's per-address limits (32 connections, 50 new
// a second), which would rightly throttle one address doing this, are lifted for the run.
//
//   bench_trust_storm [--devices 5000] [--clients 200] [--idle 200] [--only sqlite|postgresql|replicas]
// See bench/README.md.
#include <CLI/CLI.hpp>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "guardian/cloud/registry.hpp"
#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/testing/postgres.hpp"
#include "guardian/testing/secure_fleet.hpp"

namespace {

using namespace guardian;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

template <typename T>
T must(result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().describe());
  return std::move(r).value();
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// CPU seconds of a process, and of its children it has reaped (PostgreSQL's backends).
double cpu_seconds(int pid, bool with_reaped_children = false) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  // After "pid (comm) ": state is field 3; utime 14, stime 15, cutime 16, cstime 17.
  const auto at = [&](int field) { return std::stod(f.at(static_cast<std::size_t>(field - 3))); };
  double ticks = at(14) + at(15);
  if (with_reaped_children) ticks += at(16) + at(17);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A process tree's CPU: the process (with what it reaped) and its live children.
double tree_cpu_seconds(int pid) {
  double total = cpu_seconds(pid, true);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    fields >> state >> ppid;
    if (ppid == pid) total += cpu_seconds(std::stoi(name));
  }
  return total;
}

// Peak resident set of a process, MiB.
double peak_rss_mib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Device {
  std::string id;
  std::unique_ptr<secure_link::Identity> identity;
  secure_link::IdentityKeys keys;
};

// What each simulated gateway measured: the same build and configuration for all.
const std::vector<secure_link::Measurement>& event_log() {
  static const std::vector<secure_link::Measurement> log{
      {secure_link::MeasurementKind::gateway, "/usr/local/bin/guardian", secure_link::sha256("bench gateway build")},
      {secure_link::MeasurementKind::config, "/etc/guardian/guardian.yaml", secure_link::sha256("bench site config")}};
  return log;
}

// Software identities make an RSA-2048 TLS key each (~0.1 s): made on every core, and kept in
// `dir`; with --keep, a later run finds them there instead of making them again.
std::vector<Device> make_devices(int count, const std::filesystem::path& dir) {
  std::vector<Device> devices(static_cast<std::size_t>(count));
  std::atomic<int> next{0};
  std::mutex failed_mutex;
  std::string failed;
  std::vector<std::thread> makers;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t)
    makers.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        config::SecureLinkConfig c;
        c.identity.backend = config::IdentityBackend::software;
        c.state_dir = dir / std::to_string(i);
        auto& d = devices[static_cast<std::size_t>(i)];
        d.id = "storm-" + std::to_string(i);
        d.identity = secure_link::open_identity(c);
        auto found = d.identity->find_keys();  // kept from an earlier run with --keep
        auto keys = found && found.value() ? result<secure_link::IdentityKeys>(*found.value())
                                           : d.identity->create_keys();
        bool extended = keys.has_value();
        for (const auto& m : event_log())
          extended = extended && d.identity->extend_pcr(config::kDefaultMeasurementPcr, secure_link::extend_digest(m));
        if (!extended) {
          std::lock_guard lock(failed_mutex);
          failed = keys ? "extending the software PCR failed" : keys.error().describe();
          return;
        }
        d.keys = std::move(keys).value();
      }
    });
  for (auto& t : makers) t.join();
  if (!failed.empty()) throw std::runtime_error("software identity: " + failed);
  return devices;
}

void prepare_registry(const std::string& location, const std::vector<Device>& devices) {
  auto registry = must(cloud::Registry::open(location), "registry");
  must(registry->update_policy([](cloud::Policy& p) -> result<void> {
         p.allow_software_keys = true;  // bench only: see the file comment
         for (const auto& m : event_log()) p.allowed[m.kind][secure_link::to_hex(m.file_sha256)] = "bench";
         return outcome::success();
       }),
       "policy");
  for (const auto& d : devices) {
    cloud::DeviceRecord r;
    r.id = d.id;
    r.backend = config::IdentityBackend::software;
    r.tls_public_der = d.keys.tls_public_der;
    r.ak_public_der = d.keys.ak_public_der;
    r.enrolled = now_ms();
    must(registry->enroll(r, true), "enroll");
  }
}

struct Storm {
  double seconds = 0;
  std::vector<double> latencies_ms;
  std::map<std::string, int> failures;
};

Storm storm(std::vector<Device>& devices, const std::vector<config::TrustServiceConfig>& replicas, int clients) {
  Storm s;
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&] {
      std::vector<double> mine;
      std::map<std::string, int> failed;
      for (std::size_t i = next++; i < devices.size(); i = next++) {
        auto& d = devices[i];
        secure_link::AttestationClient client(replicas[i % replicas.size()], d.id);
        const auto began = Clock::now();
        auto issued = client.attest(*d.identity, d.keys.tls_public_der, config::kDefaultMeasurementPcr,
                                    event_log(), 1h);
        if (issued) mine.push_back(ms_since(began));
        else ++failed[issued.error().message.substr(0, 90)];
      }
      std::lock_guard lock(mutex);
      s.latencies_ms.insert(s.latencies_ms.end(), mine.begin(), mine.end());
      for (const auto& [why, n] : failed) s.failures[why] += n;
    });
  for (auto& t : threads) t.join();
  s.seconds = ms_since(start) / 1000.0;
  return s;
}

// Holds `count` TCP connections to the service that send nothing.
std::vector<int> idle_connections(std::uint16_t port, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) fds.push_back(fd);
    else ::close(fd);
  }
  return fds;
}

// The baseline: what the service's share of one attestation costs in Mbed TLS's public-key
// operations alone, timed here on one core in the same run. Per attestation the service does
// an X25519 key pair and shared secret (the TLS key exchange the clients choose), one P-256
// ECDSA signature in the handshake and one on the certificate, and one P-256 ECDSA
// verification (the quote).
double crypto_floor_ms() {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context rng;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&rng);
  mbedtls_ctr_drbg_seed(&rng, mbedtls_entropy_func, &entropy, nullptr, 0);
  mbedtls_ecp_group x25519;
  mbedtls_ecp_group_init(&x25519);
  mbedtls_ecp_group_load(&x25519, MBEDTLS_ECP_DP_CURVE25519);
  mbedtls_mpi d, peer_d, z;
  mbedtls_ecp_point q, peer_q;
  for (auto* m : {&d, &peer_d, &z}) mbedtls_mpi_init(m);
  mbedtls_ecp_point_init(&q);
  mbedtls_ecp_point_init(&peer_q);
  mbedtls_ecdh_gen_public(&x25519, &peer_d, &peer_q, mbedtls_ctr_drbg_random, &rng);
  mbedtls_ecdsa_context key;
  mbedtls_ecdsa_init(&key);
  mbedtls_ecdsa_genkey(&key, MBEDTLS_ECP_DP_SECP256R1, mbedtls_ctr_drbg_random, &rng);
  const unsigned char digest[32] = {1};
  unsigned char signature[MBEDTLS_ECDSA_MAX_LEN];
  std::size_t length = 0;
  constexpr int kRounds = 200;
  const auto start = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    mbedtls_ecdh_gen_public(&x25519, &d, &q, mbedtls_ctr_drbg_random, &rng);
    mbedtls_ecdh_compute_shared(&x25519, &z, &peer_q, &d, mbedtls_ctr_drbg_random, &rng);
    for (int s = 0; s < 2; ++s)
      mbedtls_ecdsa_write_signature(&key, MBEDTLS_MD_SHA256, digest, sizeof digest, signature, &length,
                                    mbedtls_ctr_drbg_random, &rng);
    if (mbedtls_ecdsa_read_signature(&key, digest, sizeof digest, signature, length) != 0)
      throw std::runtime_error("ECDSA baseline: the signature does not verify");
  }
  const double ms = ms_since(start) / kRounds;
  mbedtls_ecdsa_free(&key);
  for (auto* m : {&d, &peer_d, &z}) mbedtls_mpi_free(m);
  mbedtls_ecp_point_free(&q);
  mbedtls_ecp_point_free(&peer_q);
  mbedtls_ecp_group_free(&x25519);
  mbedtls_ctr_drbg_free(&rng);
  mbedtls_entropy_free(&entropy);
  return ms;
}

struct Setup {
  const char* name;
  bool postgresql;
  int replicas;
};

void run(const Setup& setup, std::vector<Device>& devices, int clients, int idle) {
  std::unique_ptr<testing::PostgresServer> postgres;
  testing::SecureFleet::Options o;
  o.broker = false;
  o.trust_args = {"--max-connections", "1024", "--max-connections-per-address", "1024",
                  "--connection-rate", "1000000"};
  if (setup.postgresql) {
    postgres = std::make_unique<testing::PostgresServer>();
    o.registry = postgres->create_database("storm");
  }
  testing::SecureFleet fleet(o);
  std::vector<std::uint16_t> ports{fleet.trust_port()};
  for (int r = 1; r < setup.replicas; ++r) ports.push_back(fleet.start_replica());
  const auto enroll_start = Clock::now();
  prepare_registry(fleet.registry(), devices);
  const double enroll_s = ms_since(enroll_start) / 1000.0;
  std::vector<config::TrustServiceConfig> replicas;
  for (const auto port : ports)
    replicas.push_back({"127.0.0.1", port, fleet.ca_file(), "localhost", 30s, fleet.approval_key()});

  std::vector<int> service_pids{fleet.trust_pid()};
  for (int r = 1; r < setup.replicas; ++r) service_pids.push_back(fleet.replica_pid(r));
  const auto service_cpu = [&] {
    double total = 0;
    for (const int pid : service_pids) total += cpu_seconds(pid);
    return total;
  };
  const double service0 = service_cpu();
  const double db0 = postgres ? tree_cpu_seconds(postgres->pid()) : 0;
  const double client0 = own_cpu_seconds();
  auto s = storm(devices, replicas, clients);
  const double service_s = service_cpu() - service0;
  const double db_s = postgres ? tree_cpu_seconds(postgres->pid()) - db0 : 0;
  const double client_s = own_cpu_seconds() - client0;
  double rss = 0;
  for (const int pid : service_pids) rss = std::max(rss, peak_rss_mib(pid));

  const auto ok = s.latencies_ms.size();
  std::printf("\n%s  (%zu devices enrolled in %.1f s, %d clients in flight)\n", setup.name, devices.size(),
              enroll_s, clients);
  std::printf("  %zu attested, %zu failed in %.2f s: %.0f attestations/s   latency p50 %.0f ms  p99 %.0f ms  max %.0f ms\n",
              ok, devices.size() - ok, s.seconds, static_cast<double>(ok) / s.seconds,
              percentile(s.latencies_ms, 0.50), percentile(s.latencies_ms, 0.99), percentile(s.latencies_ms, 1.0));
  const double floor_ms = crypto_floor_ms();
  const double service_ms = service_s * 1000 / static_cast<double>(std::max<std::size_t>(ok, 1));
  std::printf("  CPU: trust service %.1f s (%.2f ms per attestation, %.2fx the %.2f ms of public-key "
              "operations it must do)%s, clients %.1f s; service peak RSS %.0f MiB\n",
              service_s, service_ms, service_ms / floor_ms, floor_ms,
              postgres ? (", PostgreSQL " + std::to_string(db_s).substr(0, 4) + " s").c_str() : "", client_s, rss);
  std::printf("  at that cost one core of this machine serves %.0f attestations/s; the clients' share "
              "(%.2f ms each) is the devices' own work in a real storm\n",
              1000 / service_ms, client_s * 1000 / static_cast<double>(std::max<std::size_t>(ok, 1)));
  for (const auto& [why, n] : s.failures) std::printf("  failure x%d: %s\n", n, why.c_str());

  // One legitimate device while `idle` connections sit on the service doing nothing.
  const auto fds = idle_connections(ports[0], idle);
  secure_link::AttestationClient client(replicas[0], devices[0].id);
  const auto began = Clock::now();
  auto issued = client.attest(*devices[0].identity, devices[0].keys.tls_public_der, config::kDefaultMeasurementPcr,
                              event_log(), 1h);
  std::printf("  with %zu idle connections held: a legitimate attestation %s in %.0f ms\n", fds.size(),
              issued ? "succeeded" : ("FAILED (" + issued.error().describe() + ")").c_str(), ms_since(began));
  for (const int fd : fds) ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  int device_count = 5000, clients = 200, idle = 200;
  std::string only, keep;
  CLI::App app{"bench_trust_storm — a reconnect storm against guardian-trust, on SQLite and PostgreSQL"};
  app.add_option("--devices", device_count)->capture_default_str();
  app.add_option("--clients", clients, "attestations in flight at once")->capture_default_str();
  app.add_option("--idle", idle, "idle connections held during the legitimate attestation")->capture_default_str();
  app.add_option("--only", only, "sqlite, postgresql or replicas");
  app.add_option("--keep", keep, "keep the software identities in this directory and reuse them next run");
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens, even into a file
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);

  try {
    testing::TempDir dir("guardian-storm");
    const auto made = Clock::now();
    auto devices = make_devices(device_count, keep.empty() ? dir.path() : std::filesystem::path(keep));
    std::printf("trust storm bench: %d software identities made in %.1f s; %u cores\n", device_count,
                ms_since(made) / 1000.0, std::thread::hardware_concurrency());
    const std::vector<Setup> setups{{"1 replica, SQLite", false, 1},
                                    {"1 replica, PostgreSQL", true, 1},
                                    {"2 replicas, one PostgreSQL", true, 2}};
    for (const auto& setup : setups) {
      if (!only.empty() && !((only == "sqlite" && !setup.postgresql) ||
                             (only == "postgresql" && setup.postgresql && setup.replicas == 1) ||
                             (only == "replicas" && setup.replicas > 1)))
        continue;
      run(setup, devices, clients, idle);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_trust_storm: %s\n", e.what());
    return 1;
  }
  return 0;
}
