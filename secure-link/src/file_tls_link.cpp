#include "file_tls_link.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "certificate_file.hpp"
#include "guardian/secure_link/crypto.hpp"

namespace guardian::secure_link {
namespace {

namespace fs = std::filesystem;

result<void> check_readable(const fs::path& path, const char* key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_errno_error(errno, std::string(key) + " " + path.string() +
                                       " cannot be read; check the path and its permissions");
  ::close(fd);
  return outcome::success();
}

result<CertificateSummary> check_certificate(const fs::path& path, const char* key) {
  BOOST_OUTCOME_TRY(check_readable(path, key));
  auto summary = read_certificate(path);
  if (!summary)
    return make_error(summary.error().code,
                      std::string(key) + ": " + summary.error().message + "; expected a PEM file");
  return summary;
}

result<void> check_private_key(const fs::path& path) {
  BOOST_OUTCOME_TRY(check_private_file(path, "uplink.tls.key_file"));
  return check_readable(path, "uplink.tls.key_file");
}

}  // namespace

FileTlsLink::FileTlsLink(std::string broker_uri, config::TlsFilesConfig tls)
    : broker_uri_(std::move(broker_uri)), tls_(std::move(tls)) {
  info_.kind = "tls-files";
}

result<MqttEndpoint> FileTlsLink::open() {
  if (!tls_.ca_file.empty()) {
    BOOST_OUTCOME_TRY(check_certificate(tls_.ca_file, "uplink.tls.ca_file"));
  }
  if (tls_.cert_file.empty() != tls_.key_file.empty())
    return make_error(
        "uplink.tls.cert_file and uplink.tls.key_file go together: mutual TLS needs the client "
        "certificate and its private key; set both or neither");
  if (!tls_.cert_file.empty()) {
    BOOST_OUTCOME_TRY(check_private_key(tls_.key_file));
    BOOST_OUTCOME_TRY(summary, check_certificate(tls_.cert_file, "uplink.tls.cert_file"));
    std::lock_guard lock(info_mutex_);
    info_.identity = summary.subject;
    info_.cert_not_after = summary.not_after;
  }
  if (!tls_.server_name.empty() && tls_.server_name != config::broker_uri_host(broker_uri_))
    return make_error("uplink.tls.server_name \"" + tls_.server_name +
                      "\" differs from the host of " + broker_uri_ +
                      ": Paho TLS verifies the broker certificate against the URI host;"
                      " put the certificate's name in uplink.broker instead");
  return MqttEndpoint{
      broker_uri_, PahoTlsOptions{tls_.ca_file, tls_.cert_file, tls_.key_file, tls_.server_name}};
}

LinkInfo FileTlsLink::info() const {
  std::lock_guard lock(info_mutex_);
  return info_;
}

}  // namespace guardian::secure_link
