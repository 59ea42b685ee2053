#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Regenerates test/golden_cases.inc from test/golden_builders.txt and the current renderer.
# Use it after adding a builder line, then READ `git diff test/golden_cases.inc`: every changed
# expectation is a behaviour change that must be intended.
#   python3 test/update_golden.py BUILD_DIR
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
build = Path(sys.argv[1] if len(sys.argv) > 1 else "build-dev")
tsv = subprocess.run([str(build / "test" / "golden-dump"), "tsv"], check=True, capture_output=True, text=True).stdout
rows = {}
for line in tsv.splitlines():
    f = line.split("\t")
    rows[f[0]] = f[1:]
out = []
for line in (here / "golden_builders.txt").read_text().splitlines():
    if not line.strip():
        continue
    name, expr = line.split("|", 1)
    s_sql, s_params, p_sql, p_params = rows.get(name, ["", "", "", ""])
    if s_sql.startswith("!"):
        s_params = ""
    if p_sql.startswith("!"):
        p_params = ""
    out.append('{"%s", q([] { return %s; }),\n    {"%s", "%s"},\n    {"%s", "%s"}},'
               % (name.replace('"', '\\"'), expr, s_sql, s_params, p_sql, p_params))
(here / "golden_cases.inc").write_text("\n".join(out) + "\n")
