#!/usr/bin/env bash
# Ship, then report from berth's JSON: a line per target, and the image references that were
# deployed (for a changelog, a Slack message, or the next job). Exits with berth's exit code.
set -uo pipefail
berth ship -o json > berth-result.json
status=$?
jq -r '.targets[] | "\(.name)\t\(.status)\t\(.after // "-")"' berth-result.json
jq -r '.images[] | select(.digest != null) | "\(.name)\t\(.repository_uri)@\(.digest)"' berth-result.json
# Fail loudly on anything that is not deployed or unchanged, naming it.
jq -e '[.targets[] | select(.status != "deployed" and .status != "unchanged")] | length == 0' \
  berth-result.json >/dev/null || echo "some targets did not deploy" >&2
exit "$status"
