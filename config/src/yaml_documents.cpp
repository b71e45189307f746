#include "yaml_documents.hpp"

#include <sstream>
#include <string_view>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace guardian::config::detail {
namespace {

/// Records where each document and its root start, and whether the root is empty; ignores the
/// content.
class DocumentSurvey final : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    YAML::Mark root;
    bool empty = true;
  };

  [[nodiscard]] const std::vector<Document>& documents() const noexcept { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    documents_.push_back({mark, mark, true});
    root_seen_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { root(mark, false); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { root(mark, true); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    root(mark, true);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(mark, true);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    root(mark, true);
  }
  void OnMapEnd() override {}

 private:
  void root(const YAML::Mark& mark, bool has_content) {
    if (root_seen_) return;
    root_seen_ = true;
    documents_.back().root = mark;
    documents_.back().empty = !has_content;
  }

  std::vector<Document> documents_;
  bool root_seen_ = false;
};

/// What to look at for a YAML syntax error. yaml-cpp reports a tab in the indentation as an
/// "illegal map value" somewhere on that line, which does not say what to change.
[[nodiscard]] std::string syntax_hint(std::string_view text, const YAML::Mark& mark) {
  std::size_t line_start = 0;
  for (int line = 0; line < mark.line && line_start != std::string_view::npos; ++line) {
    line_start = text.find('\n', line_start);
    if (line_start != std::string_view::npos) ++line_start;
  }
  if (line_start != std::string_view::npos) {
    const std::string_view line = text.substr(line_start, text.find('\n', line_start) - line_start);
    const std::string_view indentation = line.substr(0, line.find_first_not_of(" \t"));
    if (indentation.find('\t') != std::string_view::npos)
      return " (this line is indented with a tab: YAML indentation must be spaces)";
    // A plain value cannot start with a YAML indicator that has no meaning there ('%' is a
    // directive, '@' and '`' are reserved): "unit: %" is the usual one.
    if (mark.column >= 0 && static_cast<std::size_t>(mark.column) < line.size()) {
      const char c = line[static_cast<std::size_t>(mark.column)];
      if (c == '%' || c == '@' || c == '`') {
        const std::string_view rest = line.substr(static_cast<std::size_t>(mark.column));
        const std::string value(rest.substr(0, rest.find(" #")));
        return std::string(" (a value that starts with '") + c + "' must be quoted: write \"" + value + "\")";
      }
    }
  }
  return " (check the indentation and quotes on this line and the one before)";
}

}  // namespace

YamlDocuments read_yaml_documents(const std::string& text) {
  YamlDocuments result;
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentSurvey survey;
  // A parser that does not move on reports an empty document at the same token again and again.
  // Three documents are enough to tell: the first, a second, and whether the second repeats.
  constexpr std::size_t kDocumentsToSurvey = 3;
  while (survey.documents().size() < kDocumentsToSurvey && parser.HandleNextDocument(survey)) {
    const auto& docs = survey.documents();
    if (docs.size() >= 2 && docs.back().empty && docs[docs.size() - 2].empty &&
        docs.back().root.pos == docs[docs.size() - 2].root.pos) {
      result.stuck_at = docs.back().root;
      return result;
    }
  }
  const auto& docs = survey.documents();
  for (std::size_t i = 1; i < docs.size() && !result.second_document; ++i)
    if (!docs[i].empty) result.second_document = docs[i].start;
  if (!docs.empty() && !docs.front().empty) result.first = YAML::Load(text);
  return result;
}

}  // namespace guardian::config::detail

namespace guardian::config::detail {

std::optional<YAML::Node> read_single_document(const std::string& text,
                                               Diagnostics& diagnostics) {
  YamlDocuments documents;
  try {
    documents = read_yaml_documents(text);
  } catch (const YAML::Exception& e) {
    // A syntax error stops the YAML parser itself: nothing after it can be read reliably.
    diagnostics.error(e.mark, "YAML syntax error: " + e.msg + syntax_hint(text, e.mark));
    return std::nullopt;
  }
  if (documents.stuck_at) {
    const auto pos = static_cast<std::size_t>(documents.stuck_at->pos);
    const std::string found = pos < text.size() ? "'" + text.substr(pos, 1) + "'" : "this";
    diagnostics.error(*documents.stuck_at, "YAML syntax error: unexpected " + found +
                                               syntax_hint(text, *documents.stuck_at));
    return std::nullopt;
  }
  if (documents.second_document)
    diagnostics.error(*documents.second_document,
                      "a second YAML document ('---') starts here; the file must hold exactly "
                      "one");
  return documents.first;
}

}  // namespace guardian::config::detail
