#!/usr/bin/env python3
"""Soak load for bench/soak/run.sh: WRITERS threads send gateway calls (JSON
and streamed chat, in turn) as fast as they are answered, READERS threads
read the ledger through the API (events and budgets) at the same time, and
every INTERVAL seconds one line goes to the CSV: elapsed seconds, requests
answered, errors, the WAL's and the database's size in bytes, the 1-minute
load average. Standard library only.

  load.py HOST:PORT KEY DB_PATH DURATION_S CSV [WRITERS] [READERS] [INTERVAL]
"""
import http.client
import json
import os
import sys
import threading
import time

host, key, db, duration, csv_path = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
writers = int(sys.argv[6]) if len(sys.argv) > 6 else 16
readers = int(sys.argv[7]) if len(sys.argv) > 7 else 2
interval = float(sys.argv[8]) if len(sys.argv) > 8 else 5.0
h, p = host.split(":")
stop = time.monotonic() + duration
lock = threading.Lock()
counts = {"ok": 0, "err": 0, "reads": 0}
auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def writer(n):
    conn = http.client.HTTPConnection(h, int(p), timeout=60)
    i = n
    while time.monotonic() < stop:
        body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": f"Ticket {i}: where is my refund?"}]}
        if i % 2:
            body["stream"] = True
        i += writers
        try:
            conn.request("POST", "/v1/chat/completions", json.dumps(body), auth)
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
        except Exception:
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(h, int(p), timeout=60)
        with lock:
            counts["ok" if ok else "err"] += 1


def reader():
    conn = http.client.HTTPConnection(h, int(p), timeout=60)
    paths = ["/api/v1/events?limit=500", "/api/v1/budgets"]
    i = 0
    while time.monotonic() < stop:
        try:
            conn.request("GET", paths[i % 2], headers=auth)
            conn.getresponse().read()
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection(h, int(p), timeout=60)
        i += 1
        with lock:
            counts["reads"] += 1


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
threads += [threading.Thread(target=reader) for _ in range(readers)]
for t in threads:
    t.start()
start = time.monotonic()
with open(csv_path, "w") as out:
    out.write("elapsed_s,requests,errors,reads,wal_bytes,db_bytes,load_1m\n")
    while True:
        now = time.monotonic()
        with lock:
            c = dict(counts)
        line = f"{now - start:.0f},{c['ok']},{c['err']},{c['reads']},{size(db + '-wal')},{size(db)},{os.getloadavg()[0]:.2f}"
        out.write(line + "\n")
        out.flush()
        print(line, flush=True)
        if now >= stop:
            break
        time.sleep(min(interval, max(0.0, stop - now)))
for t in threads:
    t.join()
