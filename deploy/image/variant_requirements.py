"""Print the hash-pinned requirements of one image variant (deploy/Dockerfile).

``cuda``: requirements.lock as it is (onnxruntime-gpu, about 340 MB).
``cpu``: requirements.lock with the onnxruntime-gpu entry replaced by the CPU
build pinned in onnxruntime-cpu.lock. The two pins must name one version (the
lock decides it; a stale CPU pin stops the build). Standard library only: it
runs in the image build before anything is installed.

    python variant_requirements.py cpu requirements.lock > /tmp/requirements.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CPU_LOCK = Path(__file__).with_name("onnxruntime-cpu.lock")
VARIANTS = ("cpu", "cuda")


def entries(text: str) -> list[str]:
    """Requirement entries, each with its continuation lines joined; comments dropped."""
    out: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        pending += line + "\n"
        if not stripped.endswith("\\"):
            out.append(pending)
            pending = ""
    if pending:
        out.append(pending)
    return out


def pinned_version(entry: str, name: str) -> str | None:
    m = re.match(rf"{re.escape(name)}==([^\s;\\]+)", entry)
    return m.group(1) if m else None


def requirements(variant: str, lock_text: str, cpu_lock_text: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    locked = entries(lock_text)
    if variant == "cuda":
        return "".join(locked)
    gpu = [v for e in locked if (v := pinned_version(e, "onnxruntime-gpu"))]
    cpu_entries = entries(cpu_lock_text)
    cpu = [v for e in cpu_entries if (v := pinned_version(e, "onnxruntime"))]
    if len(gpu) != 1 or len(cpu) != 1:
        raise ValueError(f"expected one onnxruntime-gpu pin in the lock and one onnxruntime pin in {CPU_LOCK.name}")
    if gpu != cpu:
        raise ValueError(f"{CPU_LOCK.name} pins onnxruntime {cpu[0]}, the lock onnxruntime-gpu {gpu[0]}: refresh {CPU_LOCK.name}")
    # The CPU wheel carries no environment marker: the image is linux/amd64 only.
    kept = [e for e in locked if pinned_version(e, "onnxruntime-gpu") is None]
    return "".join(kept + cpu_entries)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    variant, lock = argv
    try:
        sys.stdout.write(requirements(variant, Path(lock).read_text(), CPU_LOCK.read_text()))
    except (OSError, ValueError) as e:
        print(f"variant_requirements: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
