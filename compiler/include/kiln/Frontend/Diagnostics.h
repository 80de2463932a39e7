//===- Diagnostics.h - Located errors and warnings for Kiln sources -------===//
//
// Every front-end error is reported as `file:line:col: error: message`, followed by the source
// line and a caret. Errors are collected (many per run) and printed by the driver.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_DIAGNOSTICS_H
#define KILN_FRONTEND_DIAGNOSTICS_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {
namespace fe {

/// A 1-based position in the source file; line 0 means "no location".
struct Loc {
  uint32_t line = 0;
  uint32_t col = 0;
  bool valid() const { return line != 0; }
};

/// A source file: its display name and contents.
class SourceFile {
public:
  SourceFile(std::string name, std::string text);
  const std::string &name() const { return Name; }
  const std::string &text() const { return Text; }
  /// The text of line `line` (1-based) without its newline.
  std::string lineText(uint32_t line) const;

private:
  std::string Name;
  std::string Text;
  std::vector<size_t> LineStarts;
};

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity Sev;
  Loc Where;
  /// Where the message comes from when it has no source location ("--set", a config file).
  std::string Origin;
  std::string Message;
};

/// Collects diagnostics. After `MaxErrors` errors further errors are dropped and one
/// "too many errors" note is kept, so that pathological inputs stay cheap.
class DiagEngine {
public:
  explicit DiagEngine(const SourceFile &file) : File(file) {}

  void error(Loc where, std::string message);
  void warning(Loc where, std::string message);
  void note(Loc where, std::string message);
  /// An error about something outside the source file (a --set flag, a config.json key).
  void errorAt(std::string origin, std::string message);

  unsigned numErrors() const { return NumErrors; }
  bool hasErrors() const { return NumErrors != 0; }
  bool tooManyErrors() const { return NumErrors >= MaxErrors; }
  const std::vector<Diagnostic> &diagnostics() const { return Diags; }
  const SourceFile &file() const { return File; }

  /// Renders every diagnostic: `file:line:col: error: msg`, the source line and a caret.
  std::string render() const;

  static constexpr unsigned MaxErrors = 30;

private:
  void add(Severity sev, Loc where, std::string origin, std::string message);

  const SourceFile &File;
  std::vector<Diagnostic> Diags;
  unsigned NumErrors = 0;
};

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_DIAGNOSTICS_H
