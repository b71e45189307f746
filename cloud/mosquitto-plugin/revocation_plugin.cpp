// guardian_revocation — a mosquitto 2.0 plugin (v5 API, mosquitto-dev) that ends the broker
// session of a device the moment the fleet revokes it, instead of when its certificate expires
// or the broker next reloads its CRL.
//
//   guardian-trust serve --revoked-devices FILE   writes the ids of revoked devices, one a line,
//                                                 with every CRL, then runs --on-crl-update
//   this plugin: at start, on SIGHUP (MOSQ_EVT_RELOAD) and whenever FILE changes (checked on
//                MOSQ_EVT_TICK, about once a second at most):
//                  read FILE; kick every client whose username (= certificate CN) is in it
//                refuses to authenticate (MOSQ_EVT_BASIC_AUTH) any username in it
//
// Why a plugin of our own rather than the dynamic-security plugin: dynamic security keeps its own
// users and roles and is driven over MQTT with credentials of its own; the fleet's identities are
// certificates and its registry is the trust service's, which already hands the broker a file
// (the CRL). One more file, read by 150 lines with no other state, is the smaller trust surface.
//
// Configuration (mosquitto.conf; `guardian-trust broker-config --revocation-plugin` writes it):
//   plugin /usr/lib/guardian/guardian_revocation.so
//   plugin_opt_revoked_devices /var/lib/guardian-trust/revoked-devices
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <set>
#include <string>

namespace {

struct State {
  mosquitto_plugin_id_t* id = nullptr;
  std::string file;
  std::set<std::string> revoked;
  timespec seen{};  // the file's mtime when last read
  off_t seen_size = -1;
  time_t last_check = 0;
};

// Reads the file (a missing file is an empty list) and kicks whoever is newly in it.
void reload(State& s) {
  struct stat st{};
  const bool exists = ::stat(s.file.c_str(), &st) == 0;
  std::set<std::string> now;
  if (exists) {
    std::ifstream in(s.file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty() && line.size() <= 64) now.insert(line);
    }
    s.seen = st.st_mtim;
    s.seen_size = st.st_size;
  }
  for (const auto& id : now) {
    if (s.revoked.contains(id)) continue;
    // The will is not sent: a revoked device does not get to say anything more.
    const int kicked = mosquitto_kick_client_by_username(id.c_str(), false);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "guardian_revocation: %s is revoked; its session is ended (%s)",
                         id.c_str(), kicked == MOSQ_ERR_SUCCESS ? "kicked" : "not connected");
  }
  s.revoked = std::move(now);
}

bool changed(const State& s) {
  struct stat st{};
  if (::stat(s.file.c_str(), &st) != 0) return !s.revoked.empty();
  return st.st_size != s.seen_size || st.st_mtim.tv_sec != s.seen.tv_sec ||
         st.st_mtim.tv_nsec != s.seen.tv_nsec;
}

int on_reload(int, void*, void* userdata) {
  reload(*static_cast<State*>(userdata));
  return MOSQ_ERR_SUCCESS;
}

int on_tick(int, void* event, void* userdata) {
  auto& s = *static_cast<State*>(userdata);
  const auto* tick = static_cast<mosquitto_evt_tick*>(event);
  if (tick->now_s == s.last_check) return MOSQ_ERR_SUCCESS;
  s.last_check = tick->now_s;
  if (changed(s)) reload(s);
  return MOSQ_ERR_SUCCESS;
}

int on_basic_auth(int, void* event, void* userdata) {
  const auto& s = *static_cast<State*>(userdata);
  const auto* auth = static_cast<mosquitto_evt_basic_auth*>(event);
  const char* username = mosquitto_client_username(auth->client);
  if (username != nullptr && s.revoked.contains(username)) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "guardian_revocation: refused %s (revoked)", username);
    return MOSQ_ERR_AUTH;
  }
  return MOSQ_ERR_PLUGIN_DEFER;
}

}  // namespace

extern "C" {

int mosquitto_plugin_version(int supported_version_count, const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i)
    if (supported_versions[i] == 5) return 5;
  return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                          struct mosquitto_opt* options, int option_count) {
  auto* s = new State();
  s->id = identifier;
  for (int i = 0; i < option_count; ++i)
    if (std::strcmp(options[i].key, "revoked_devices") == 0) s->file = options[i].value;
  if (s->file.empty()) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "guardian_revocation: plugin_opt_revoked_devices is required");
    delete s;
    return MOSQ_ERR_INVAL;
  }
  reload(*s);
  mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, on_reload, nullptr, s);
  mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, nullptr, s);
  mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr, s);
  mosquitto_log_printf(MOSQ_LOG_INFO, "guardian_revocation: %zu revoked device(s) in %s",
                       s->revoked.size(), s->file.c_str());
  *userdata = s;
  return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void* userdata, struct mosquitto_opt*, int) {
  auto* s = static_cast<State*>(userdata);
  mosquitto_callback_unregister(s->id, MOSQ_EVT_RELOAD, on_reload, nullptr);
  mosquitto_callback_unregister(s->id, MOSQ_EVT_TICK, on_tick, nullptr);
  mosquitto_callback_unregister(s->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr);
  delete s;
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
