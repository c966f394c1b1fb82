#!/bin/sh
# A program that never says it is ready (no sd_notify, no notify fd): under
# --ready=notify its start deadline must kill it and count a boot failure.
echo "silent server $$ up, and never telling anyone"
exec sleep 3600
