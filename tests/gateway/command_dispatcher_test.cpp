// CommandDispatcher: strict parsing of command payloads, routing by source, one result per
// command carrying its id, repeats answered without a second write. The adapter here is a
// stand-in that records the writes it is asked for (the Modbus path is tested end to end in
// tests/e2e/command_e2e_test.cpp).
#include <gtest/gtest.h>

#include <vector>

#include "guardian/gateway/command_dispatcher.hpp"

namespace guardian::gateway {
namespace {

class RecordingAdapter final : public adapters::Adapter {
 public:
  void start() override {}
  void stop() override {}
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] adapters::AdapterHealth health() const override {
    adapters::AdapterHealth h;
    h.name = name_;
    h.sources.push_back({});
    h.sources.back().source = "espresso-1";
    return h;
  }
  void async_write(const adapters::WriteCommand& command,
                   adapters::WriteHandler handler) override {
    writes.push_back(command);
    pending.push_back(std::move(handler));
  }
  // Completes the oldest pending write.
  void complete(bool ok) {
    auto handler = std::move(pending.front());
    pending.erase(pending.begin());
    const auto& c = writes.back();
    handler(adapters::WriteResult{c.id, c.source, c.point, ok, ok ? "" : "exception 04", c.value,
                                  now_ms()});
  }

  std::vector<adapters::WriteCommand> writes;
  std::vector<adapters::WriteHandler> pending;

 private:
  std::string name_ = "bus";
};

struct Dispatch {
  Dispatch() {
    adapters.push_back(std::make_unique<RecordingAdapter>());
    dispatcher = std::make_unique<CommandDispatcher>(
        "gw-1", adapters, [this](std::string p) { published.push_back(nlohmann::json::parse(p)); });
  }
  RecordingAdapter& adapter() { return static_cast<RecordingAdapter&>(*adapters.front()); }

  CommandDispatcher::Adapters adapters;
  std::vector<nlohmann::json> published;
  std::unique_ptr<CommandDispatcher> dispatcher;
};

std::string error_of(std::string_view payload) {
  std::string id;
  auto parsed = CommandDispatcher::parse(payload, id);
  return parsed ? std::string("(parsed)") : parsed.error().message;
}

TEST(CommandDispatcher, ParsesACommandWithEveryKindOfValue) {
  std::string id;
  auto c = CommandDispatcher::parse(
      R"({"v":1,"id":"a","source":"s","point":"p","value":92.5,"readback":true})", id);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(id, "a");
  EXPECT_EQ(c.value().value, Value{92.5});
  EXPECT_TRUE(c.value().readback);
  EXPECT_EQ(CommandDispatcher::parse(R"({"id":"a","source":"s","point":"p","value":-3})", id)
                .value()
                .value,
            Value{std::int64_t{-3}});
  EXPECT_EQ(CommandDispatcher::parse(R"({"id":"a","source":"s","point":"p","value":true})", id)
                .value()
                .value,
            Value{true});
  EXPECT_EQ(CommandDispatcher::parse(R"({"id":"a","source":"s","point":"p","value":"eco"})", id)
                .value()
                .value,
            Value{std::string("eco")});
}

TEST(CommandDispatcher, RefusesEveryMalformedCommandWithTheReason) {
  EXPECT_EQ(error_of("{"), "command is not valid JSON");
  EXPECT_EQ(error_of("[1,2]"), "command is not a JSON object");
  EXPECT_EQ(error_of(R"({"id":"a","source":"s","point":"p","value":1,"x":2})"),
            "unknown key 'x'; a command has id, source, point, value and optionally readback, v");
  EXPECT_EQ(error_of(R"({"v":2,"id":"a","source":"s","point":"p","value":1})"),
            "'v' must be 1 (this gateway speaks schema version 1)");
  EXPECT_EQ(error_of(R"({"id":"","source":"s","point":"p","value":1})"),
            "'id' must be a string of 1 to 128 characters: the result carries it back");
  EXPECT_EQ(error_of(R"({"id":7,"source":"s","point":"p","value":1})"),
            "'id' must be a string of 1 to 128 characters: the result carries it back");
  EXPECT_EQ(error_of(R"({"id":"a","point":"p","value":1})"), "missing 'source'");
  EXPECT_EQ(error_of(R"({"id":"a","source":"s","point":"","value":1})"),
            "'point' must be a non-empty string");
  EXPECT_EQ(error_of(R"({"id":"a","source":"s","point":"p"})"), "missing 'value'");
  EXPECT_EQ(error_of(R"({"id":"a","source":"s","point":"p","value":null})"),
            "'value' must be a number, true/false or a string (an enum label), not null");
  EXPECT_EQ(error_of(R"({"id":"a","source":"s","point":"p","value":1,"readback":"yes"})"),
            "'readback' must be true or false");
  EXPECT_EQ(error_of(std::string(5000, ' ')), "command of 5000 bytes; at most 4096");
}

TEST(CommandDispatcher, PublishesOneResultPerCommandWithItsId) {
  Dispatch d;
  d.dispatcher->on_message(R"({"id":"c-1","source":"espresso-1","point":"p","value":1})");
  ASSERT_EQ(d.adapter().writes.size(), 1U);
  EXPECT_TRUE(d.published.empty());  // the write is still on the bus
  d.adapter().complete(true);
  ASSERT_EQ(d.published.size(), 1U);
  EXPECT_EQ(d.published[0]["v"], 1);
  EXPECT_EQ(d.published[0]["device"], "gw-1");
  EXPECT_EQ(d.published[0]["id"], "c-1");
  EXPECT_EQ(d.published[0]["ok"], true);
  EXPECT_EQ(d.published[0]["readback"], 1);

  d.dispatcher->on_message("garbage");
  ASSERT_EQ(d.published.size(), 2U);
  EXPECT_TRUE(d.published[1]["id"].is_null());
  EXPECT_EQ(d.published[1]["ok"], false);

  d.dispatcher->on_message(R"({"id":"c-2","source":"fridge","point":"p","value":1})");
  EXPECT_EQ(d.published.back()["error"], "no source 'fridge' on this gateway (its sources: "
                                         "'espresso-1')");
  EXPECT_EQ(d.adapter().writes.size(), 1U);
  EXPECT_EQ(d.dispatcher->counters().rejected, 2U);
  EXPECT_EQ(d.dispatcher->counters().succeeded, 1U);
}

TEST(CommandDispatcher, ARepeatedIdIsNotWrittenAgain) {
  Dispatch d;
  const std::string command = R"({"id":"c-1","source":"espresso-1","point":"p","value":1})";
  d.dispatcher->on_message(command);
  d.dispatcher->on_message(command);  // while the first is on the bus: answered once
  EXPECT_EQ(d.adapter().writes.size(), 1U);
  d.adapter().complete(false);
  ASSERT_EQ(d.published.size(), 1U);
  d.dispatcher->on_message(command);  // after it finished: the same result again
  EXPECT_EQ(d.adapter().writes.size(), 1U);
  ASSERT_EQ(d.published.size(), 2U);
  EXPECT_EQ(d.published[1], d.published[0]);
  EXPECT_EQ(d.dispatcher->counters().repeated, 2U);
}

}  // namespace
}  // namespace guardian::gateway
