#pragma once
/// \file
/// Reading the YAML stream of a site file: its first document, plus what the rest of the stream
/// holds. Private to config/.

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "diagnostics.hpp"

namespace guardian::config::detail {

/// The first document of a YAML stream and the problems of the stream around it.
struct YamlDocuments {
  YAML::Node first;  ///< Null when the stream is empty.
  /// Where the parser stopped making progress: a token no document can start with (a stray ','
  /// before any content). The stream is unreadable from here on.
  std::optional<YAML::Mark> stuck_at;
  /// Where a second document with content starts ('---' followed by more YAML).
  std::optional<YAML::Mark> second_document;
};

/// Parses `text`. Throws YAML::Exception (with a mark) on a syntax error, as yaml-cpp does.
///
/// YAML::LoadAll is not used: in yaml-cpp 0.7 it never returns, and allocates without bound, on a
/// stream whose document starts with a stray ',' (yaml-cpp issue #1040, fixed upstream by PR
/// #1319). The stream is surveyed here with a bounded number of documents instead.
[[nodiscard]] YamlDocuments read_yaml_documents(const std::string& text);

/// The one document of a configuration file (the site file or a profile), every problem of the
/// stream reported in `diagnostics`: a syntax error (with a hint at what to look at on that
/// line) or a stuck parser leave nothing readable (nullopt); a second document is reported and
/// the first one is still returned.
[[nodiscard]] std::optional<YAML::Node> read_single_document(const std::string& text,
                                                             Diagnostics& diagnostics);

}  // namespace guardian::config::detail
