#include "plain_link.hpp"

#include <utility>

namespace guardian::secure_link {

PlainLink::PlainLink(std::string broker_uri) : broker_uri_(std::move(broker_uri)) {}

result<MqttEndpoint> PlainLink::open() { return MqttEndpoint{broker_uri_, std::nullopt}; }

LinkInfo PlainLink::info() const { return LinkInfo{"plain", {}, std::nullopt}; }

}  // namespace guardian::secure_link
