// docs/configuration.md shows real loader output: its examples are run here, so the page cannot
// drift from what a technician sees.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::config {
namespace {

/// The fenced block that follows `<!-- example: NAME -->` in the page ("" if there is none).
std::string example_block(const std::string& page, const std::string& name) {
  const auto marker = page.find("<!-- example: " + name + " -->");
  if (marker == std::string::npos) return {};
  const auto fence = page.find("```", marker);
  const auto body = page.find('\n', fence) + 1;
  const auto end = page.find("\n```", body);
  if (fence == std::string::npos || end == std::string::npos) return {};
  return page.substr(body, end - body + 1);
}

const std::string& page() {
  static const std::string text =
      guardian::testing::read_file(guardian::testing::source_path("docs/configuration.md"));
  return text;
}

TEST(ConfigurationDocs, TheErrorExampleIsExactlyWhatTheLoaderReports) {
  const std::string input = example_block(page(), "error-input");
  const std::string output = example_block(page(), "error-output");
  ASSERT_FALSE(input.empty());
  ASSERT_FALSE(output.empty());
  const auto result = parse_site_config(input, "guardian.yaml");
  std::string reported;
  for (const auto& error : result.errors) reported += error.to_string() + "\n";
  EXPECT_EQ(reported, output);
  EXPECT_EQ(result.errors.size(), 5u);
}

TEST(ConfigurationDocs, TheCompleteExampleLoads) {
  const std::string valid = example_block(page(), "valid");
  ASSERT_FALSE(valid.empty());
  EXPECT_TRUE(testing::loads(testing::parse(valid)));
}

}  // namespace
}  // namespace guardian::config
