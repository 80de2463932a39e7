//===- NoExceptionsCheck.cpp - Public headers compile without exceptions ==//
//
// kilnc is built with -fno-exceptions and writes artifacts through these headers; this file is
// compiled with -fno-exceptions to keep them usable there.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/artifact/Artifact.h"
#include "kiln/rt/artifact/FileIO.h"
#include "kiln/rt/weights/Safetensors.h"
#include "kiln/rt/weights/Weights.h"

int kilnWriteArtifactWithoutExceptions(const char *path) {
  kiln::rt::Manifest m;
  m.model = "m";
  kiln::rt::ArtifactWriter writer;
  writer.setManifest(m);
  kiln::rt::Status s = writer.write(path);
  return s.ok() ? 0 : 1;
}
