"""A fault proxy for the rig: sits between berth and the AWS emulator and makes the faults
a real account and network make — throttling, server errors, dropped connections, outages
and latency — so that tests show how berth behaves under them.

Faults are chosen per access key id (read from the SigV4 Authorization header), so tests
that run at the same time do not disturb each other: a request signed with a key that has
no faults set is passed through unchanged.

Control (on the proxy itself):
  PUT    /_fault/KEY   JSON {"throttle": 0.3, "error5xx": 0.1, "drop": 0.1,
                             "latency_ms": 200, "outage_s": 10, "only": "ecs"}
         rates are probabilities per request, but one call (the same method, path and
         body: a client's retries of it) is refused at most `max_in_a_row` times in a row
         (default 3) by a rate below 1, so that a client retrying as the AWS SDKs do gets
         through and a test measures behaviour under faults, not luck; a rate of 1 refuses
         every request; `outage_s` drops every request for that many
         seconds from now; `only` limits the faults to one service (the signing name),
         `action` to one API action (`ExecuteChangeSet`: the query `Action=` or the JSON
         protocol's X-Amz-Target), e.g. to delay one call and so force a race.
  GET    /_fault/KEY   what was done: {"requests": n, "throttled": n, "errors": n,
                                        "dropped": n}
  DELETE /_fault/KEY   no more faults for that key.

Run: python3 fault_proxy.py --port 45661 --upstream 127.0.0.1:45660
"""

import argparse
import http.client
import json
import random
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FAULTS = {}  # key -> settings (with "outage_until")
STATS = {}  # key -> counters
STREAKS = {}  # (key, call) -> faults in a row

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/[^/]+/([a-z0-9-]+)/")


def count(key, what):
    with LOCK:
        s = STATS.setdefault(key, {"requests": 0, "throttled": 0, "errors": 0, "dropped": 0})
        s[what] += 1


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ("127.0.0.1", 45660)

    def log_message(self, fmt, *args):  # quiet: the emulator logs requests
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def control(self, key):
        if self.command == "PUT":
            settings = json.loads(self.body() or b"{}")
            if settings.get("outage_s"):
                settings["outage_until"] = time.time() + float(settings["outage_s"])
            with LOCK:
                FAULTS[key] = settings
            return self.reply(200, "{}")
        if self.command == "DELETE":
            with LOCK:
                FAULTS.pop(key, None)
            return self.reply(200, "{}")
        with LOCK:
            stats = dict(STATS.get(key) or {"requests": 0, "throttled": 0, "errors": 0, "dropped": 0})
        return self.reply(200, json.dumps(stats))

    def error_answer(self, code, message, status):
        """An AWS error in the protocol of the request: JSON (X-Amz-Target) or query XML."""
        if self.headers.get("X-Amz-Target"):
            return self.reply(status, json.dumps({"__type": code, "message": message}), "application/x-amz-json-1.1")
        xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>rig-fault</RequestId></ErrorResponse>"
        return self.reply(status, xml, "text/xml")

    def drop(self):
        """Closes the connection without an answer, as a network or an outage does."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def handle_any(self):
        if self.path.startswith("/_fault/"):
            return self.control(self.path[len("/_fault/"):])
        body = self.body()
        m = CREDENTIAL.search(self.headers.get("Authorization") or "")
        key, service = (m.group(1), m.group(2)) if m else ("", "")
        with LOCK:
            f = dict(FAULTS.get(key) or {})
        target = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        action = target or urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if f and (not f.get("only") or f["only"] == service) and (not f.get("action") or f["action"] == action):
            count(key, "requests")
            if f.get("latency_ms"):
                time.sleep(f["latency_ms"] / 1000)
            call = (key, self.command, self.path, hash(body))
            with LOCK:
                streak = STREAKS.get(call, 0)
            cap = f.get("max_in_a_row", 3)

            def hit(rate):
                return rate >= 1 or (random.random() < rate and streak < cap)

            fault = None
            if time.time() < f.get("outage_until", 0):
                fault = "outage"
            elif hit(f.get("drop", 0)):
                fault = "drop"
            elif hit(f.get("throttle", 0)):
                fault = "throttle"
            elif hit(f.get("error5xx", 0)):
                fault = "error5xx"
            with LOCK:
                if fault:
                    STREAKS[call] = streak + 1
                else:
                    STREAKS.pop(call, None)
            if fault in ("outage", "drop"):
                count(key, "dropped")
                return self.drop()
            if fault == "throttle":
                count(key, "throttled")
                return self.error_answer("ThrottlingException" if self.headers.get("X-Amz-Target") else "Throttling", "Rate exceeded", 400)
            if fault == "error5xx":
                count(key, "errors")
                return self.error_answer("ServiceUnavailable", "Service is unavailable, try again", 503)
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=45661)
    ap.add_argument("--upstream", default="127.0.0.1:45660")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    Proxy.upstream = (host, int(port))
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Proxy)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
