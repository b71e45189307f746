// docs/stream-adapters.md: every worked example is a complete file that loads without errors, so
// the page cannot drift from what the loader accepts.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::config {
namespace {

struct Example {
  std::string name;
  std::string yaml;
};

/// Every fenced block that follows a `<!-- example: NAME -->` marker.
std::vector<Example> examples(const std::string& page) {
  std::vector<Example> out;
  const std::string marker = "<!-- example: ";
  for (auto at = page.find(marker); at != std::string::npos; at = page.find(marker, at + 1)) {
    const auto name_end = page.find(" -->", at);
    const auto fence = page.find("```", name_end);
    const auto body = page.find('\n', fence) + 1;
    const auto end = page.find("\n```", body);
    out.push_back({page.substr(at + marker.size(), name_end - at - marker.size()),
                   page.substr(body, end - body + 1)});
  }
  return out;
}

TEST(StreamAdapterDocs, EveryWorkedExampleLoadsWithoutErrors) {
  const auto page =
      guardian::testing::read_file(guardian::testing::source_path("docs/stream-adapters.md"));
  const auto found = examples(page);
  ASSERT_GE(found.size(), 5u);
  for (const auto& e : found) {
    SCOPED_TRACE(e.name);
    const auto result = parse_site_config(e.yaml, e.name + ".yaml");
    EXPECT_TRUE(testing::loads(result));
    ASSERT_TRUE(result.config);
    EXPECT_TRUE(std::holds_alternative<StreamAdapterConfig>(result.config->adapters.at(0)));
  }
}

TEST(StreamAdapterDocs, TheSerialExampleIsTheDemoAdapter) {
  const auto page =
      guardian::testing::read_file(guardian::testing::source_path("docs/stream-adapters.md"));
  const auto demo =
      load_site_config(guardian::testing::source_path("config/examples/guardian.yaml"));
  ASSERT_TRUE(demo.ok());
  const auto doc = parse_site_config(examples(page).at(0).yaml, "doc.yaml");
  ASSERT_TRUE(doc.ok());
  const auto& a = std::get<StreamAdapterConfig>(demo.config->adapters.at(1));
  const auto& b = std::get<StreamAdapterConfig>(doc.config->adapters.at(0));
  ASSERT_EQ(a.codec.lines.messages.size(), b.codec.lines.messages.size());
  for (std::size_t i = 0; i < a.codec.lines.messages.size(); ++i) {
    EXPECT_EQ(a.codec.lines.messages[i].regex, b.codec.lines.messages[i].regex);
    EXPECT_EQ(a.codec.lines.messages[i].fields.size(), b.codec.lines.messages[i].fields.size());
  }
}

}  // namespace
}  // namespace guardian::config
