"""Known vulnerabilities of the pinned packages of a lock file, from the OSV database (osv.dev).

    python devtools/audit.py [requirements.lock] [--ignore GHSA-...] [--url URL] [--timeout S]

Exit 0: no known vulnerability, or the database could not be reached (prints "audit skipped:
offline ..." so that a laptop on a train or a sandboxed CI job is not failed by the network).
Exit 1: at least one pinned version has a known vulnerability that is not ignored (listed with its
ids). Exit 2: the lock cannot be read. Standard library only: it runs before any install.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path

OSV_URL = "https://api.osv.dev/v1/querybatch"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(lock: Path) -> list[tuple[str, str]]:
    """Every ``name==version`` requirement line of a pip/uv lock file, in file order."""
    found = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            found.append((match[1].lower(), match[2]))
    return found


def query(packages: list[tuple[str, str]], url: str, timeout: float) -> list[list[str]]:
    """The OSV vulnerability ids of each (name, version), in order. Raises OSError when unreachable."""
    body = json.dumps({"queries": [
        {"package": {"name": name, "ecosystem": "PyPI"}, "version": version} for name, version in packages
    ]}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed https URL or a test's
        results = json.load(response)["results"]
    if len(results) != len(packages):
        raise ValueError(f"OSV answered {len(results)} results for {len(packages)} queries")
    return [[v["id"] for v in result.get("vulns", [])] for result in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", nargs="?", default="requirements.lock", type=Path)
    parser.add_argument("--ignore", action="append", default=[], help="a vulnerability id to accept (repeatable)")
    parser.add_argument("--url", default=OSV_URL)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    try:
        packages = pins(args.lock)
    except OSError as exc:
        print(f"audit: cannot read {args.lock}: {exc}", file=sys.stderr)
        return 2
    if not packages:
        print(f"audit: no pinned requirement in {args.lock}", file=sys.stderr)
        return 2
    try:
        found = query(packages, args.url, args.timeout)
    except (OSError, ValueError, KeyError) as exc:  # URLError and TimeoutError are OSErrors
        # URLError, timeouts, refused connections, DNS failures and a garbled answer all mean
        # "no verdict": say so loudly and do not fail the build on the network.
        print(f"audit skipped: offline (OSV at {args.url} not reachable: {exc})")
        return 0
    ignored = set(args.ignore)
    bad = [(name, version, [i for i in ids if i not in ignored]) for (name, version), ids in zip(packages, found, strict=True)]
    bad = [row for row in bad if row[2]]
    for name, version, ids in bad:
        print(f"{name}=={version}: {', '.join(ids)} (https://osv.dev/vulnerability/{ids[0]})")
    print(f"audit: {len(packages)} pinned packages of {args.lock}, {len(bad)} with known vulnerabilities"
          + (f", ignored {sorted(ignored)}" if ignored else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
