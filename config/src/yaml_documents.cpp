#include "yaml_documents.hpp"

#include <sstream>
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
