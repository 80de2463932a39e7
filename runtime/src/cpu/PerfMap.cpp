//===- PerfMap.cpp - Names for Linux perf of code loaded from memory ------===//
#include "kiln/rt/cpu/PerfMap.h"

#include "WriteAll.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kiln::rt::cpu {
namespace {

using hal::Status;
using hal::StatusCode;

/// Copies a T from `bytes` at `offset` when it lies inside `size` bytes.
template <typename T> bool readAt(const char *bytes, size_t size, uint64_t offset, T &out) {
  if (offset > size || size - offset < sizeof(T))
    return false;
  std::memcpy(&out, bytes + offset, sizeof(T));
  return true;
}

bool readHeader(const void *code, size_t size, Elf64_Ehdr &header) {
  if (!code || !readAt(static_cast<const char *>(code), size, 0, header))
    return false;
  return std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 &&
         header.e_ident[EI_CLASS] == ELFCLASS64;
}

} // namespace

bool perfMapRequested() {
  const char *value = std::getenv("KILN_PERF_MAP");
  return value && *value && std::strcmp(value, "0") != 0;
}

std::string perfMapPath() { return "/tmp/perf-" + std::to_string(getpid()) + ".map"; }

Status readFunctionSymbols(const void *code, size_t size, const std::string &name,
                           std::vector<CodeSymbol> &out) {
  auto bad = [&](const std::string &what) {
    return Status(StatusCode::InvalidCode, name + ": " + what);
  };
  out.clear();
  Elf64_Ehdr header;
  if (!readHeader(code, size, header))
    return bad("CPU code is not a 64-bit ELF object");
  const char *bytes = static_cast<const char *>(code);
  if (header.e_shentsize != sizeof(Elf64_Shdr))
    return bad("CPU code has section headers of " + std::to_string(header.e_shentsize) +
               " bytes, not " + std::to_string(sizeof(Elf64_Shdr)));
  auto section = [&](uint64_t index, Elf64_Shdr &sh) {
    return index < header.e_shnum &&
           readAt(bytes, size, header.e_shoff + index * sizeof(Elf64_Shdr), sh);
  };
  // The full symbol table names every function; the dynamic one only the exported ones.
  Elf64_Shdr table{}, strings{};
  bool found = false;
  for (uint32_t wanted : {uint32_t(SHT_SYMTAB), uint32_t(SHT_DYNSYM)}) {
    for (uint64_t i = 0; i < header.e_shnum && !found; ++i) {
      Elf64_Shdr sh;
      if (!section(i, sh))
        return bad("CPU code's section header " + std::to_string(i) + " lies past its end");
      if (sh.sh_type == wanted) {
        table = sh;
        found = true;
      }
    }
    if (found)
      break;
  }
  if (!found)
    return bad("CPU code has no symbol table");
  if (!section(table.sh_link, strings) || strings.sh_type != SHT_STRTAB)
    return bad("CPU code's symbol table has no string table");
  if (table.sh_entsize != sizeof(Elf64_Sym) || table.sh_offset > size ||
      table.sh_size > size - table.sh_offset || strings.sh_offset > size ||
      strings.sh_size > size - strings.sh_offset)
    return bad("CPU code's symbol table lies past its end");
  for (uint64_t i = 0; i < table.sh_size / sizeof(Elf64_Sym); ++i) {
    Elf64_Sym sym;
    readAt(bytes, size, table.sh_offset + i * sizeof(Elf64_Sym), sym);
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_size == 0)
      continue;
    if (sym.st_name >= strings.sh_size)
      return bad("CPU code's symbol " + std::to_string(i) + " has a name past its string table");
    const char *text = bytes + strings.sh_offset + sym.st_name;
    size_t length = strnlen(text, size_t(strings.sh_size - sym.st_name));
    if (length == size_t(strings.sh_size - sym.st_name))
      return bad("CPU code's symbol " + std::to_string(i) + " has an unterminated name");
    out.push_back({sym.st_value, sym.st_size, std::string(text, length)});
  }
  return Status::ok();
}

Status makeCodeAnonymous(const void *code, size_t size, uintptr_t base,
                         const std::string &name) {
  auto fail = [&](const std::string &what) {
    return Status(StatusCode::Unavailable, name + ": " + what);
  };
  Elf64_Ehdr header;
  if (!readHeader(code, size, header))
    return Status(StatusCode::InvalidCode, name + ": CPU code is not a 64-bit ELF object");
  const char *bytes = static_cast<const char *>(code);
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!readAt(bytes, size, header.e_phoff + uint64_t(i) * sizeof(Elf64_Phdr), ph))
      return Status(StatusCode::InvalidCode, name + ": CPU code's program headers are truncated");
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || ph.p_memsz == 0)
      continue;
    uintptr_t begin = (base + ph.p_vaddr) & ~(page - 1);
    uintptr_t end = (base + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
    size_t length = end - begin;
    // Pages shared with a data segment must stay writable: leave such code where it is.
    for (unsigned j = 0; j < header.e_phnum; ++j) {
      Elf64_Phdr other;
      if (j == i || !readAt(bytes, size, header.e_phoff + uint64_t(j) * sizeof(Elf64_Phdr),
                            other))
        continue;
      if (other.p_type != PT_LOAD || other.p_memsz == 0)
        continue;
      uintptr_t otherBegin = (base + other.p_vaddr) & ~(page - 1);
      uintptr_t otherEnd = (base + other.p_vaddr + other.p_memsz + page - 1) & ~(page - 1);
      if (otherBegin < end && begin < otherEnd)
        return fail("its code shares memory pages with another segment; it stays in the "
                    "memfd, where perf does not read the map");
    }
    // The loaded pages (relocations applied, padding included) are the bytes to keep.
    void *copy = std::malloc(length);
    if (!copy)
      return fail("cannot allocate " + std::to_string(length) + " bytes to move its code");
    std::memcpy(copy, reinterpret_cast<const void *>(begin), length);
    void *at = mmap(reinterpret_cast<void *>(begin), length, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (at == MAP_FAILED) {
      std::string err = std::strerror(errno);
      std::free(copy);
      // MAP_FIXED failing leaves the old mapping in place: the code still runs.
      return fail("cannot map anonymous memory over its code: " + err);
    }
    std::memcpy(at, copy, length);
    std::free(copy);
    __builtin___clear_cache(static_cast<char *>(at), static_cast<char *>(at) + length);
    int prot = PROT_EXEC | ((ph.p_flags & PF_R) ? PROT_READ : 0);
    if (mprotect(at, length, prot) != 0)
      return fail(std::string("cannot make its moved code executable: ") +
                  std::strerror(errno));
  }
  return Status::ok();
}

Status appendPerfMap(const std::string &path, uintptr_t base,
                     const std::vector<CodeSymbol> &symbols) {
  std::string text;
  char line[64];
  for (const CodeSymbol &s : symbols) {
    std::snprintf(line, sizeof(line), "%llx %llx ",
                  static_cast<unsigned long long>(base + s.offset),
                  static_cast<unsigned long long>(s.size));
    text += line;
    text += s.name;
    text += '\n';
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status(StatusCode::Unavailable,
                  "cannot open " + path + ": " + std::strerror(errno));
  if (int err = writeAll(fd, text.data(), text.size())) {
    close(fd);
    return Status(StatusCode::Unavailable, "cannot write " + path + ": " + std::strerror(err));
  }
  close(fd);
  return Status::ok();
}

} // namespace kiln::rt::cpu
