#!/usr/bin/env bash
# The example service under load: examples/similarity (threads and
# processes) against the same service in Node.js with Piscina
# (bench/peers/similarity_worker.js: same algorithm, same corpus, same
# input), in the same run: requests per second and latency under wrk with a
# 50-document JSON body, and the p99 of /healthz probed on one more
# connection during the load. 2 HTTP workers / 2 compute threads or
# processes; Node: 1 event loop, 2 Piscina threads.
#   bench/similarity.sh            (after cmake --build --preset release)
source "$(dirname "$0")/dispatch_lib.sh"
ensure_piscina
APP=$BUILD/examples/similarity/similarity
[ -x "$APP" ] || { echo "build first: $APP is missing" >&2; exit 1; }
python3 - "$WORK/body.json" <<'PY'
import json, random, sys
random.seed(11)
words = ("worker process crash restart supervisor memory loop event cpu task queue socket shared "
         "pasta water weather train music library garden sleep match price index query search").split()
docs = [{"id": f"d{i}", "text": " ".join(random.choice(words) for _ in range(40))} for i in range(50)]
json.dump({"query": "restart a crashed worker process", "documents": docs}, open(sys.argv[1], "w"))
PY
export BODY_FILE=$WORK/body.json

echo "similarity service, $(wc -c <"$BODY_FILE") B JSON (50 documents of 40 words), wrk -c $CONNECTIONS -d ${DURATION}s, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r)"
echo "| server | requests/s | p50 ms | p99 ms | non-2xx | /healthz p99 ms |"
echo "| --- | --- | --- | --- | --- | --- |"
for mode in threads processes; do
    start "similarity-$mode" 18741 "$APP" "${AS_ROOT[@]}" --listen 127.0.0.1:18741 --workers 2 --compute "$mode" \
        --compute-threads 1 --compute-processes 2 --log-level warn
    measure "examples/similarity --compute $mode" "http://127.0.0.1:18741/similarity" "http://127.0.0.1:18741/healthz"
    stop_last
done
start node-similarity 18742 node "$ROOT/bench/peers/piscina_echo.js" --port 18742 --threads 2 --worker similarity_worker.js
measure "Node.js $(node --version) + Piscina $(node -p "require('$NODE_PATH/piscina/package.json').version"), 2 threads" \
    "http://127.0.0.1:18742/similarity" "http://127.0.0.1:18742/healthz"
stop_last
