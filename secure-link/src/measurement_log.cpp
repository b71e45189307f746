// The measurement log of one boot (measurement_log.hpp).
#include "guardian/secure_link/measurement_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

namespace guardian::secure_link {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kLogFormat = "guardian-event-log-v1";

// An exclusive flock(2) on <log>.lock for as long as it lives: two gateway processes on one
// TPM (a restart racing the old process's exit) must not interleave their extends.
class LogLock {
 public:
  static result<LogLock> acquire(const fs::path& log_file) {
    std::error_code ec;
    const auto dir = log_file.parent_path();
    if (!dir.empty() && !fs::exists(dir, ec)) {
      fs::create_directories(dir, ec);
      if (ec)
        return make_error(ec, "cannot create " + dir.string() +
                                  " for the measurement log (under systemd it is the service's "
                                  "RuntimeDirectory; elsewhere set secure_link.attestation.event_log)");
      ::chmod(dir.c_str(), 0700);
    }
    const auto path = log_file.string() + ".lock";
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return make_errno_error(errno, "cannot open " + path);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return make_errno_error(e, "cannot lock " + path);
    }
    return LogLock(fd);
  }
  LogLock(LogLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  LogLock& operator=(LogLock&&) = delete;
  ~LogLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit LogLock(int fd) : fd_(fd) {}
  int fd_;
};

// The events a log file holds for `pcr`; none if there is no file, or it is for another PCR.
result<std::vector<Measurement>> load(const fs::path& log_file, unsigned pcr) {
  std::error_code ec;
  if (!fs::exists(log_file, ec)) return std::vector<Measurement>{};
  BOOST_OUTCOME_TRY(text, read_text_file(log_file));
  const auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("format", std::string{}) != kLogFormat || !j.contains("events"))
    return make_error(log_file.string() + " is not a Guardian measurement log");
  if (!j.contains("pcr") || !j["pcr"].is_number_unsigned() || j["pcr"].get<unsigned>() != pcr)
    return std::vector<Measurement>{};
  auto events = event_log_from_json(j["events"]);
  if (!events) return make_error(log_file.string() + ": " + events.error().message);
  return events;
}

result<void> save(const fs::path& log_file, unsigned pcr, std::span<const Measurement> events) {
  const json j{{"format", kLogFormat}, {"pcr", pcr}, {"events", event_log_to_json(events)}};
  return write_file_atomically(log_file, j.dump(1), 0600);
}

// The longest prefix of `events` whose replay is `value` (its length), or nullopt.
std::optional<std::size_t> confirmed_prefix(std::span<const Measurement> events,
                                            const Sha256Digest& value) {
  Sha256Digest pcr{};
  std::optional<std::size_t> found;
  if (pcr == value) found = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    pcr = pcr_extend(pcr, extend_digest(events[i]));
    if (pcr == value) found = i + 1;
  }
  return found;
}

Error foreign_extension(unsigned pcr) {
  return make_error("PCR " + std::to_string(pcr) +
                    " holds measurements that the gateway's measurement log does not explain: "
                    "another program extended it (or the log was removed). It cannot be "
                    "reset until the host reboots; until then the gateway cannot attest. If "
                    "another program uses this PCR, choose another one with "
                    "secure_link.attestation.pcr (and the trust service's policy set --pcr)");
}

// The log this boot's PCR confirms (see the file comment of measurement_log.hpp).
result<std::vector<Measurement>> confirmed_log(Identity& identity, unsigned pcr,
                                               const fs::path& log_file) {
  BOOST_OUTCOME_TRY(value, identity.read_pcr(pcr));
  auto events = load(log_file, pcr);
  // An unreadable log is a lost log: harmless if the PCR is still zero (a new boot).
  std::vector<Measurement> log = events ? std::move(events).value() : std::vector<Measurement>{};
  const auto prefix = confirmed_prefix(log, value);
  if (!prefix) {
    if (!events) return events.error();
    return foreign_extension(pcr);
  }
  log.resize(*prefix);
  return log;
}

bool same_measurements(std::span<const Measurement> a, std::span<const Measurement> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const Measurement& x, const Measurement& y) {
                      return x.kind == y.kind && x.file_sha256 == y.file_sha256;
                    });
}

}  // namespace

std::vector<MeasurementTarget> measurement_targets(const config::SecureLinkConfig& cfg) {
  std::vector<MeasurementTarget> targets;
  // Hashed through /proc/self/exe: the image actually running, even if its file was replaced
  // since; measure() logs its real path for humans.
  targets.push_back({MeasurementKind::gateway, "/proc/self/exe"});
  if (cfg.attestation.firmware_image)
    targets.push_back({MeasurementKind::firmware, *cfg.attestation.firmware_image});
  if (!cfg.config_file.empty()) targets.push_back({MeasurementKind::config, cfg.config_file});
  return targets;
}

result<std::vector<Measurement>> measure(Identity& identity, unsigned pcr,
                                         std::span<const MeasurementTarget> targets,
                                         const fs::path& log_file) {
  std::vector<Measurement> start;
  for (const auto& target : targets) {
    BOOST_OUTCOME_TRY(digest, sha256_file(target.path));
    Measurement m{target.kind, target.path.string(), digest};
    if (target.path == "/proc/self/exe") {
      std::error_code ec;
      const auto real = fs::read_symlink(target.path, ec);
      if (!ec) m.path = real.string();
    }
    start.push_back(std::move(m));
  }

  auto lock = LogLock::acquire(log_file);  // held until the log and the PCR agree again
  if (!lock) return lock.error();
  BOOST_OUTCOME_TRY(log, confirmed_log(identity, pcr, log_file));
  const auto last_gateway = std::find_if(log.rbegin(), log.rend(), [](const Measurement& m) {
    return m.kind == MeasurementKind::gateway;
  });
  if (last_gateway != log.rend() &&
      same_measurements(std::span(std::prev(last_gateway.base()), log.end()), start))
    return log;
  // Written before the PCR is extended: a crash in between leaves entries the PCR does not
  // confirm, which the next start drops (confirmed_prefix), never a PCR the log cannot explain.
  std::vector<Measurement> grown = log;
  grown.insert(grown.end(), start.begin(), start.end());
  BOOST_OUTCOME_TRY(save(log_file, pcr, grown));
  for (const auto& m : start) {
    BOOST_OUTCOME_TRY(identity.extend_pcr(pcr, extend_digest(m)));
  }
  return grown;
}

result<std::vector<Measurement>> read_measurement_log(Identity& identity, unsigned pcr,
                                                      const fs::path& log_file) {
  return confirmed_log(identity, pcr, log_file);
}

result<void> check_measurements(Identity& identity, unsigned pcr, std::span<const Measurement> log) {
  BOOST_OUTCOME_TRY(value, identity.read_pcr(pcr));
  if (value != replay_event_log(log)) return foreign_extension(pcr);
  return outcome::success();
}

}  // namespace guardian::secure_link
