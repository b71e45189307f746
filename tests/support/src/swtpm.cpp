#include "guardian/testing/swtpm.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

namespace guardian::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A TPM manufacturer for tests: a root and an issuing CA made with openssl (as a vendor's are,
// with their own names), swtpm_localca's state around them, and the swtpm_setup configuration
// that makes swtpm_setup use them. One per name, per test process; swtpm_localca's own lock
// serialises parallel use.
class Manufacturer {
 public:
  explicit Manufacturer(const std::string& name) : dir_("guardian-tpm-" + name) {
    const auto ext = dir_ / "ca.ext";
    write_file(ext, "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    const std::string org = "/O=Guardian test TPM maker " + name;
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-days", "36500", "-subj", org + "/CN=EK Root CA", "-addext",
              "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
              "-keyout", (dir_ / "root.key").string(), "-out", (dir_ / "root.pem").string()},
             {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
              org + "/CN=EK Issuing CA", "-keyout", (dir_ / "signkey.pem").string(), "-out",
              (dir_ / "issuing.csr").string()},
             {"openssl", "x509", "-req", "-in", (dir_ / "issuing.csr").string(), "-CA",
              (dir_ / "root.pem").string(), "-CAkey", (dir_ / "root.key").string(), "-CAcreateserial",
              "-days", "36500", "-extfile", ext.string(), "-out", (dir_ / "issuercert.pem").string()}}) {
      const auto made = run_command(argv, std::chrono::seconds{30});
      if (made.exit_code != 0) throw std::runtime_error("openssl: " + made.output);
    }
    write_file(dir_ / "manufacturer-cas.pem",
               read_file(dir_ / "root.pem") + read_file(dir_ / "issuercert.pem"));
    write_file(dir_ / "localca.conf",
               "statedir = " + dir_.path().string() + "\n" +
                   "signingkey = " + (dir_ / "signkey.pem").string() + "\n" +
                   "issuercert = " + (dir_ / "issuercert.pem").string() + "\n" +
                   "certserial = " + (dir_ / "certserial").string() + "\n");
    write_file(dir_ / "localca.options", "--platform-manufacturer Guardian-Test\n"
                                         "--platform-version 2.1\n"
                                         "--platform-model TestPlatform\n");
    write_file(dir_ / "setup.conf",
               "create_certs_tool = /usr/bin/swtpm_localca\n"
               "create_certs_tool_config = " + (dir_ / "localca.conf").string() + "\n" +
                   "create_certs_tool_options = " + (dir_ / "localca.options").string() + "\n" +
                   "active_pcr_banks = sha256\n");
  }
  [[nodiscard]] fs::path setup_config() const { return dir_ / "setup.conf"; }
  // The root and the issuing CA (what a vendor publishes).
  [[nodiscard]] fs::path ca_bundle() const { return dir_ / "manufacturer-cas.pem"; }

 private:
  TempDir dir_;
};

Manufacturer& manufacturer(SwtpmProcess::Endorsement e) {
  static Manufacturer test("manufacturer");
  static Manufacturer other("other-manufacturer");
  return e == SwtpmProcess::Endorsement::other_manufacturer ? other : test;
}

}  // namespace

SwtpmProcess::SwtpmProcess(Endorsement endorsement) : dir_("guardian-swtpm") {
  fs::create_directories(dir_ / "state");
  std::vector<std::string> argv{"swtpm_setup", "--tpm2", "--tpmstate", (dir_ / "state").string(),
                                "--pcr-banks", "sha256", "--logfile", (dir_ / "setup.log").string()};
  if (endorsement == Endorsement::none) {
    argv.push_back("--createek");
  } else {
    for (const char* a : {"--create-ek-cert", "--create-platform-cert", "--config"}) argv.push_back(a);
    argv.push_back(manufacturer(endorsement).setup_config().string());
  }
  const auto setup = run_command(argv, 30s);
  if (setup.exit_code != 0)
    throw std::runtime_error("swtpm_setup failed: " + setup.output + read_file(dir_ / "setup.log"));
  start();
}

SwtpmProcess::~SwtpmProcess() {
  if (process_) process_->kill_now();
}

fs::path SwtpmProcess::manufacturer_ca_file() {
  return manufacturer(Endorsement::test_manufacturer).ca_bundle();
}

void SwtpmProcess::start() {
  if (running()) return;
  const auto sock = socket();
  // The swtpm TCTI finds the control channel at "<path>.ctrl" (tpm2-tss tcti-swtpm).
  const auto ctrl = sock.string() + ".ctrl";
  std::error_code ec;
  fs::remove(sock, ec);
  fs::remove(ctrl, ec);
  // In the foreground (no -d), so that the PID is ours to stop.
  process_ = std::make_unique<Process>(Process::Options{
      {"swtpm", "socket", "--tpm2", "--server", "type=unixio,path=" + sock.string() + ",mode=0600",
       "--ctrl", "type=unixio,path=" + ctrl + ",mode=0600", "--tpmstate",
       "dir=" + (dir_ / "state").string(), "--flags", "not-need-init,startup-clear"},
      {},
      dir_ / "swtpm.log",
      {}});
  // Both sockets exist once swtpm has initialised the TPM and listens.
  if (!wait_until([&] { return (fs::exists(sock) && fs::exists(ctrl)) || !running(); }, 10s) ||
      !running())
    throw std::runtime_error("swtpm did not start on " + sock.string() + ": " + log());
}

void SwtpmProcess::stop() {
  if (process_) process_->stop(std::chrono::seconds{5});
}

bool SwtpmProcess::running() const { return process_ && process_->running(); }

std::string SwtpmProcess::tcti() const { return "swtpm:path=" + socket().string(); }

std::string SwtpmProcess::log() const { return read_file(dir_ / "swtpm.log"); }

}  // namespace guardian::testing
