#include "guardian/testing/secure_fleet.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include "guardian/testing/swtpm.hpp"

namespace guardian::testing {

using namespace std::chrono_literals;

SecureFleet::SecureFleet() : SecureFleet(Options{}) {}

SecureFleet::SecureFleet(Options options)
    : options_(std::move(options)), trust_port_(0), broker_port_(free_tcp_port()) {
  pki_.make_ca("fleet-ca");
  pki_.make_leaf("trust", "fleet-ca", "localhost", "DNS:localhost,IP:127.0.0.1");
  if (options_.broker_issuer != "fleet-ca") pki_.make_ca(options_.broker_issuer);
  pki_.make_leaf("broker", options_.broker_issuer, "localhost", "DNS:localhost,IP:127.0.0.1");
  pki_.make_leaf("reader", "fleet-ca", "reader@test");
  pki_.make_leaf("operator", "fleet-ca", "operator@test");
  // The approval key, made as docs/secure-link.md says (openssl, ECDSA P-256).
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            approval_private_key().string()},
           {"openssl", "ec", "-in", approval_private_key().string(), "-pubout", "-out",
            approval_key().string()}}) {
    const auto made = run_command(argv, 30s);
    if (made.exit_code != 0) throw std::runtime_error("openssl: " + made.output);
  }
  ::chmod(approval_private_key().c_str(), 0600);
  cli({"tpm-ca", "add", SwtpmProcess::manufacturer_ca_file().string(), "--note", "test TPM manufacturer"});
  start_trust_service();
  if (!options_.broker) return;
  // The broker's listener and ACL exactly as an operator would generate them.
  const auto conf = dir_ / "listener.conf";
  cli({"broker-config", "--ca", ca_file().string(), "--cert", pki_.pem("broker"), "--key",
       pki_.key("broker"), "--crl", crl().string(), "--acl", (dir_ / "acl").string(), "--bind",
       "127.0.0.1", "--port", std::to_string(broker_port_), "--reader", "reader@test", "--operator",
       "operator@test", "--revocation-plugin", (binary_path("guardian-trust").parent_path().parent_path() / "lib" / "guardian_revocation.so").string(),
       "--revoked-devices", revoked_devices().string(), "--out", conf.string()});
  broker_ = std::make_unique<MosquittoBroker>("pid_file " + (dir_ / "mosquitto.pid").string() +
                                              "\n" + read_file(conf));
  if (!wait_for_tcp_port(broker_port_, 10s))
    throw std::runtime_error("the broker's TLS listener did not open: " + broker_->log());
}

SecureFleet::~SecureFleet() {
  broker_.reset();
  for (auto& replica : replicas_) replica->stop(2s);
  if (trust_) trust_->stop(2s);
}

void SecureFleet::start_trust_service() {
  // The first start listens on port 0 (a port chosen beforehand can be taken by a parallel test
  // before the service binds it); restarts keep the port the devices were configured with.
  auto [process, port] = serve("trust", trust_port_, crl());
  trust_ = std::move(process);
  trust_port_ = port;
}

std::uint16_t SecureFleet::start_replica() {
  const int n = static_cast<int>(replicas_.size()) + 1;
  auto [process, port] = serve("replica-" + std::to_string(n), 0, replica_crl(n));
  replicas_.push_back(std::move(process));
  return port;
}

int SecureFleet::replica_pid(int n) const {
  const auto& r = replicas_.at(static_cast<std::size_t>(n - 1));
  return r->running() ? r->pid() : 0;
}

std::filesystem::path SecureFleet::replica_crl(int n) const {
  return dir_ / ("replica-" + std::to_string(n) + ".crl.pem");
}

std::pair<std::unique_ptr<Process>, std::uint16_t> SecureFleet::serve(const std::string& name, std::uint16_t port,
                                                                      const std::filesystem::path& crl_file) {
  const auto port_file = dir_ / (name + ".port");
  std::filesystem::remove(port_file);
  // After each CRL rewrite the broker is told to reload it (docs/secure-link.md "Revocation").
  const std::string reload =
      "test ! -f " + (dir_ / "mosquitto.pid").string() + " || kill -HUP $(cat " +
      (dir_ / "mosquitto.pid").string() + ")";
  std::vector<std::string> argv = options_.trust_wrapper;
  for (const auto& a : std::vector<std::string>{
           binary_path("guardian-trust").string(), "serve", "--registry", registry(),
           "--listen", "127.0.0.1:" + std::to_string(port), "--cert", pki_.pem("trust"), "--key",
           pki_.key("trust"), "--ca-cert", ca_file().string(), "--ca-key", ca_key().string(),
           "--approval-key", approval_private_key().string(), "--crl", crl_file.string(),
           "--revoked-devices", revoked_devices().string(), "--crl-check",
           "100ms", "--on-crl-update", reload, "--nonce-lifetime", options_.nonce_lifetime,
           "--port-file", port_file.string()})
    argv.push_back(a);
  argv.insert(argv.end(), options_.trust_args.begin(), options_.trust_args.end());
  auto process = std::make_unique<Process>(Process::Options{argv, {}, dir_ / (name + ".log"), {}});
  if (!wait_until([&] { return std::filesystem::exists(port_file) || !process->running(); }, 10s) ||
      !process->running())
    throw std::runtime_error("guardian-trust (" + name + ") did not start: " + read_file(dir_ / (name + ".log")));
  return {std::move(process), static_cast<std::uint16_t>(std::stoi(read_file(port_file)))};
}

void SecureFleet::restart_trust_service() {
  stop_trust_service();
  start_trust_service();
}

void SecureFleet::stop_trust_service() {
  if (trust_) trust_->stop(5s);
}

std::string SecureFleet::trust_log() const { return read_file(dir_ / "trust.log"); }

int SecureFleet::trust_pid() const { return trust_ && trust_->running() ? trust_->pid() : 0; }

CommandResult SecureFleet::cli(std::vector<std::string> args, bool may_fail) const {
  std::vector<std::string> argv{binary_path("guardian-trust").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  if (args.at(0) != "broker-config") {
    argv.push_back("--registry");
    argv.push_back(registry());
  }
  auto r = run_command(argv, 30s);
  if (r.exit_code != 0 && !may_fail)
    throw std::runtime_error("guardian-trust " + args.at(0) + " failed: " + r.output);
  return r;
}

void SecureFleet::allow(const std::string& kind, const std::filesystem::path& file) const {
  cli({"policy", "allow", "--kind", kind, "--file", file.string()});
}

void SecureFleet::enroll(const std::filesystem::path& record) const {
  cli({"enroll", record.string()});
}

std::unique_ptr<MqttCollector> SecureFleet::reader(const std::string& topic_filter) const {
  return std::make_unique<MqttCollector>(
      "ssl://127.0.0.1:" + std::to_string(broker_port_), topic_filter, std::string{}, false,
      CollectorTls{ca_file().string(), pki_.pem("reader"), pki_.key("reader")});
}

CommandResult SecureFleet::send_command(const std::string& topic, const std::string& payload) const {
  return run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_port_),
                      "--cafile", ca_file().string(), "--cert", pki_.pem("operator"), "--key",
                      pki_.key("operator"), "-q", "1", "-t", topic, "-m", payload},
                     std::chrono::seconds{20});
}

void SecureFleet::make_client(const std::string& name, const std::string& cn) {
  pki_.make_leaf(name, "fleet-ca", cn);
}

}  // namespace guardian::testing
