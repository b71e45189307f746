#include "guardian/testing/mqtt_collector.hpp"

#include <atomic>
#include <random>
#include <stdexcept>

#include <mqtt/async_client.h>

namespace guardian::testing {

struct MqttCollector::Impl : public virtual mqtt::callback {
  explicit Impl(const std::string& uri, const std::string& client_id)
      : client(uri, client_id, mqtt::create_options(MQTTVERSION_3_1_1)) {}

  void message_arrived(mqtt::const_message_ptr msg) override {
    {
      std::lock_guard lock(mutex);
      received.push_back(ReceivedMessage{msg->get_topic(), msg->to_string(), msg->is_retained(),
                                         msg->get_qos()});
    }
    cv.notify_all();
  }
  void connection_lost(const std::string&) override { is_connected = false; }
  void connected(const std::string&) override {
    is_connected = true;
    // Re-subscribe after an automatic reconnect (clean session).
    try {
      client.subscribe(filter, 1);
    } catch (const mqtt::exception&) {
    }
  }

  mqtt::async_client client;
  std::string filter;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<ReceivedMessage> received;
  std::atomic<bool> is_connected{false};
};

MqttCollector::MqttCollector(const std::string& uri, const std::string& topic_filter,
                             const std::string& client_id, bool persistent_session,
                             const std::optional<CollectorTls>& tls) {
  std::string id = client_id;
  if (id.empty()) id = "collector-" + std::to_string(std::random_device{}());
  impl_ = std::make_unique<Impl>(uri, id);
  impl_->filter = topic_filter;
  impl_->client.set_callback(*impl_);
  auto opts = mqtt::connect_options_builder()
                  .clean_session(!persistent_session)
                  .automatic_reconnect(std::chrono::milliseconds{100}, std::chrono::seconds{1})
                  .keep_alive_interval(std::chrono::seconds{20})
                  .finalize();
  if (tls) {
    mqtt::ssl_options ssl;
    ssl.set_trust_store(tls->ca_file);
    ssl.set_key_store(tls->cert_file);
    ssl.set_private_key(tls->key_file);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);
    opts.set_ssl(std::move(ssl));
  }
  try {
    impl_->client.connect(opts)->wait_for(std::chrono::seconds{10});
    if (!impl_->client.is_connected()) throw std::runtime_error("connect timed out");
    impl_->client.subscribe(topic_filter, 1)->wait_for(std::chrono::seconds{10});
    impl_->is_connected = true;
  } catch (const mqtt::exception& e) {
    throw std::runtime_error("MqttCollector: " + std::string(e.what()));
  }
}

MqttCollector::~MqttCollector() {
  try {
    if (impl_->client.is_connected()) impl_->client.disconnect()->wait_for(std::chrono::seconds{2});
  } catch (const mqtt::exception&) {
  }
}

std::vector<ReceivedMessage> MqttCollector::messages() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::vector<ReceivedMessage> MqttCollector::messages_on(const std::string& suffix) const {
  std::vector<ReceivedMessage> out;
  std::lock_guard lock(impl_->mutex);
  for (const auto& m : impl_->received)
    if (m.topic.size() >= suffix.size() &&
        m.topic.compare(m.topic.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(m);
  return out;
}

bool MqttCollector::wait_for(
    const std::function<bool(const std::vector<ReceivedMessage>&)>& predicate,
    std::chrono::milliseconds deadline) {
  std::unique_lock lock(impl_->mutex);
  return impl_->cv.wait_for(lock, deadline, [&] { return predicate(impl_->received); });
}

bool MqttCollector::wait_for_count(const std::string& suffix, std::size_t count,
                                   std::chrono::milliseconds deadline) {
  return wait_for(
      [&](const std::vector<ReceivedMessage>& all) {
        std::size_t n = 0;
        for (const auto& m : all)
          if (m.topic.size() >= suffix.size() &&
              m.topic.compare(m.topic.size() - suffix.size(), suffix.size(), suffix) == 0)
            ++n;
        return n >= count;
      },
      deadline);
}

bool MqttCollector::connected() const { return impl_->is_connected; }

}  // namespace guardian::testing
