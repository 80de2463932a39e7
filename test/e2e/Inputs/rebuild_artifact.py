"""Rebuilds a .kc artifact with kiln-make-artifact, optionally adding CPU features to its
cpu-x86_64 target, so that tests can craft an otherwise real artifact the runtime must refuse.

    rebuild_artifact.py IN.kc OUT.kc --make-artifact PATH [--add-cpu-feature NAME]...

The sections are read from IN.kc's section table (docs/artifact.md, "Layout") and written back
unchanged; only the manifest is edited. kiln-make-artifact recomputes the checksums.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

KINDS = {1: "manifest", 2: "code", 3: "schedule", 4: "data"}


def read_sections(data):
    """(name, kind, bytes) of each section of an artifact, in table order."""
    if data[:8] != b"\x89KILN\r\n\x1a":
        sys.exit("not a Kiln artifact")
    (count,) = struct.unpack_from("<I", data, 32)
    sections = []
    for i in range(count):
        entry = 64 + 80 * i
        name = data[entry:entry + 48].split(b"\0", 1)[0].decode("ascii")
        (kind,) = struct.unpack_from("<I", data, entry + 48)
        offset, size = struct.unpack_from("<QQ", data, entry + 56)
        sections.append((name, KINDS[kind], data[offset:offset + size]))
    return sections


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--make-artifact", required=True)
    ap.add_argument("--add-cpu-feature", action="append", default=[])
    args = ap.parse_args()

    with open(args.input, "rb") as f:
        sections = read_sections(f.read())
    with tempfile.TemporaryDirectory() as tmp:
        command = [args.make_artifact]
        for i, (name, kind, data) in enumerate(sections):
            if kind == "manifest":
                manifest = json.loads(data)
                for target in manifest["targets"]:
                    if target["name"] == "cpu-x86_64":
                        target["cpu_features"] = target.get("cpu_features", []) + \
                            args.add_cpu_feature
                path = os.path.join(tmp, "manifest.json")
                with open(path, "w") as f:
                    json.dump(manifest, f)
                command.append(path)
                continue
            path = os.path.join(tmp, f"section{i}")
            with open(path, "wb") as f:
                f.write(data)
            command += ["--section", f"{name}:{kind}:{path}"]
        command += ["-o", args.output]
        r = subprocess.run(command, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"kiln-make-artifact failed: {r.stderr}")


if __name__ == "__main__":
    main()
