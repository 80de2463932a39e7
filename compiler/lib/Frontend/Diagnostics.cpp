//===- Diagnostics.cpp - Located errors and warnings for Kiln sources -----===//
#include "kiln/Frontend/Diagnostics.h"

namespace kiln {
namespace fe {

SourceFile::SourceFile(std::string name, std::string text)
    : Name(std::move(name)), Text(std::move(text)) {
  LineStarts.push_back(0);
  for (size_t i = 0; i < Text.size(); ++i)
    if (Text[i] == '\n')
      LineStarts.push_back(i + 1);
}

std::string SourceFile::lineText(uint32_t line) const {
  if (line == 0 || line > LineStarts.size())
    return std::string();
  size_t begin = LineStarts[line - 1];
  size_t end = Text.find('\n', begin);
  if (end == std::string::npos)
    end = Text.size();
  std::string s = Text.substr(begin, end - begin);
  if (!s.empty() && s.back() == '\r')
    s.pop_back();
  // Keep the echoed line printable and bounded.
  if (s.size() > 200)
    s.resize(200);
  for (char &c : s)
    if ((unsigned char)c < 0x20 && c != '\t')
      c = ' ';
  return s;
}

void DiagEngine::add(Severity sev, Loc where, std::string origin, std::string message) {
  if (sev == Severity::Error) {
    if (NumErrors >= MaxErrors)
      return;
    ++NumErrors;
    if (NumErrors == MaxErrors) {
      Diags.push_back({sev, where, std::move(origin), std::move(message)});
      Diags.push_back({Severity::Note, Loc(), "", "too many errors; stopping"});
      return;
    }
  } else if (NumErrors >= MaxErrors || Diags.size() > 4 * MaxErrors) {
    return;
  }
  Diags.push_back({sev, where, std::move(origin), std::move(message)});
}

void DiagEngine::error(Loc where, std::string message) {
  add(Severity::Error, where, "", std::move(message));
}
void DiagEngine::warning(Loc where, std::string message) {
  add(Severity::Warning, where, "", std::move(message));
}
void DiagEngine::note(Loc where, std::string message) {
  add(Severity::Note, where, "", std::move(message));
}
void DiagEngine::errorAt(std::string origin, std::string message) {
  add(Severity::Error, Loc(), std::move(origin), std::move(message));
}

std::string DiagEngine::render() const {
  std::string out;
  for (const Diagnostic &d : Diags) {
    const char *kind = d.Sev == Severity::Error     ? "error"
                       : d.Sev == Severity::Warning ? "warning"
                                                    : "note";
    if (d.Where.valid()) {
      out += File.name() + ":" + std::to_string(d.Where.line) + ":" +
             std::to_string(d.Where.col) + ": " + kind + ": " + d.Message + "\n";
      std::string line = File.lineText(d.Where.line);
      out += line + "\n";
      std::string caret;
      for (uint32_t i = 1; i < d.Where.col && i <= line.size(); ++i)
        caret += line[i - 1] == '\t' ? '\t' : ' ';
      out += caret + "^\n";
    } else {
      out += (d.Origin.empty() ? File.name() : d.Origin) + ": " + kind + ": " + d.Message + "\n";
    }
  }
  return out;
}

} // namespace fe
} // namespace kiln
