#include "guardian/common/named_regex.hpp"

namespace guardian {
namespace {

bool name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

Error at(std::size_t pos, const std::string& what) {
  return make_error(what + " at character " + std::to_string(pos + 1) + " of the pattern");
}

}  // namespace

result<NamedRegex> translate_named_groups(std::string_view p) {
  NamedRegex out;
  out.ecmascript.reserve(p.size());
  std::size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return at(i, "a backslash ends the pattern");
      out.ecmascript.append(p.substr(i, 2));
      i += 2;
      continue;
    }
    if (c == '[') {
      // A bracket expression runs to the first unescaped ']' that is not its first member.
      std::size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') j += (p[j] == '\\') ? std::size_t{2} : std::size_t{1};
      if (j >= p.size()) return at(i, "'[' is never closed by ']'");
      out.ecmascript.append(p.substr(i, j + 1 - i));
      i = j + 1;
      continue;
    }
    if (c != '(') {
      out.ecmascript.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < p.size() && p[i + 1] == '?') {
      const std::string_view rest = p.substr(i + 2);
      const bool python = rest.starts_with("P<");
      if (rest.starts_with("<=") || rest.starts_with("<!"))
        return at(i, "look-behind (?<= or (?<! is not supported by ECMAScript regexes");
      if (rest.starts_with("<") || python) {
        const std::size_t name_begin = i + (python ? 4 : 3);
        std::size_t j = name_begin;
        while (j < p.size() && name_char(p[j])) ++j;
        if (j >= p.size() || p[j] != '>' || j == name_begin || !name_start(p[name_begin]))
          return at(i,
                    "a group name must be letters, digits or '_' (not starting with a digit) "
                    "between < and >");
        std::string name(p.substr(name_begin, j - name_begin));
        if (out.group(name)) return at(i, "the group name '" + name + "' is used twice");
        out.group_names.push_back(std::move(name));
        out.ecmascript.push_back('(');
        i = j + 1;
        continue;
      }
      // (?: (?= (?! and anything else std::regex will judge: not a capture group.
      out.ecmascript.append("(?");
      i += 2;
      continue;
    }
    out.group_names.emplace_back();
    out.ecmascript.push_back('(');
    ++i;
  }
  return out;
}

}  // namespace guardian
