#include "guardian/testing/pki.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include "guardian/testing/process.hpp"

namespace guardian::testing {

void TestPki::run(const std::vector<std::string>& argv) {
  auto r = run_command(argv, std::chrono::seconds{30});
  if (r.exit_code != 0) throw std::runtime_error(argv.at(0) + " failed: " + r.output);
}

void TestPki::make_ca(const std::string& name) {
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", key(name), "-subj", "/O=Guardian Test/CN=" + name, "-days", "2", "-out",
       pem(name)});
  ::chmod(key(name).c_str(), 0600);
}

void TestPki::make_leaf(const std::string& name, const std::string& ca, const std::string& cn,
                        const std::string& san) {
  const auto csr = (dir_ / (name + ".csr")).string();
  run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", key(name), "-subj", "/O=Guardian Test/CN=" + cn, "-out", csr});
  const auto ext = dir_ / (name + ".ext");
  // A server (it has names to be reached by) may serve and nothing else; a client may only be
  // a client: a broker's certificate cannot pass for a device's, nor the reverse.
  write_file(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
                      (san.empty() ? std::string("extendedKeyUsage=clientAuth\n")
                                   : "extendedKeyUsage=serverAuth\nsubjectAltName=" + san + "\n"));
  run({"openssl", "x509", "-req", "-in", csr, "-CA", pem(ca), "-CAkey", key(ca),
       "-CAcreateserial", "-days", "2", "-extfile", ext.string(), "-out", pem(name)});
  ::chmod(key(name).c_str(), 0600);
}

std::string TestPki::pem(const std::string& name) const { return (dir_ / (name + ".pem")).string(); }

std::string TestPki::key(const std::string& name) const { return (dir_ / (name + ".key")).string(); }

}  // namespace guardian::testing
