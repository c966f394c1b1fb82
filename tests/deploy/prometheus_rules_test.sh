#!/usr/bin/env bash
# deploy/prometheus/: the alert rules are valid (promtool check rules) and
# fire, or stay silent, as their unit tests say (promtool test rules).
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || skip "promtool is not installed (apt-get install prometheus)"
cd "$(dirname "$0")/../../deploy/prometheus"
promtool check rules clusterd-alerts.yml || fail "promtool check rules"
promtool test rules clusterd-alerts.test.yml || fail "promtool test rules"
echo "PASSED"
