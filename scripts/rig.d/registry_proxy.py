"""A fault proxy for the rig's registry: passes the distribution API through, and on request
cuts blob uploads off part-way (as a registry that is killed or a network that drops does) or
refuses connections outright (an outage), so that tests show how a push behaves then.

Faults are chosen per repository (the `/v2/<repository>/` of the path), so tests that run at
the same time do not disturb each other. The emulator hands this proxy's address out as the
registry of an access key that starts `AKIARIGREGFAULT`; every other key gets the registry.

Each connection carries one request (the proxy answers `Connection: close`), which keeps the
proxy a plain byte pump that never has to parse a body.

Control (on the proxy itself; REPO url-encoded):
  PUT    /_fault/REPO  JSON {"drop_upload_after": 1048576, "count": 3}
         cut the connection after that many body bytes of an upload (PATCH or PUT to
         /blobs/uploads/), before the registry answers, `count` times (uploads smaller
         than that pass and do not count);
         {"outage": 3}: the next 3 requests for the repository get their connection closed.
  GET    /_fault/REPO  {"requests": n, "dropped": n}
  DELETE /_fault/REPO  no more faults.

Run: python3 registry_proxy.py --port 45651 --upstream 127.0.0.1:45650
"""

import argparse
import json
import re
import socket
import threading
import urllib.parse

LOCK = threading.Lock()
FAULTS = {}  # repository -> settings
STATS = {}  # repository -> counters
UPSTREAM = ("127.0.0.1", 45650)
REPO = re.compile(r"^/v2/(.+?)/(blobs|manifests|tags)/")


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def closing(head):
    lines = [l for l in head.split("\r\n") if not l.lower().startswith(("connection:", "keep-alive:"))]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(sock, status, body):
    data = body.encode()
    sock.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)


def counted_off(repo):
    with LOCK:
        f = FAULTS.get(repo)
        if f and f.get("count", 0) > 0:
            f["count"] -= 1


def count(repo, what):
    with LOCK:
        s = STATS.setdefault(repo, {"requests": 0, "dropped": 0})
        s[what] += 1


def take_fault(repo, method, path):
    """The fault for this request, if any (and counts it off)."""
    with LOCK:
        f = FAULTS.get(repo)
        if not f:
            return None
        if f.get("outage", 0) > 0:
            f["outage"] -= 1
            return ("outage", 0)
        if f.get("count", 0) > 0 and method in ("PATCH", "PUT") and "/blobs/uploads/" in path:
            # Counted off when an upload is cut (a smaller one passes); uploads running at
            # the same time may each be cut, so `count` is a lower bound.
            return ("drop", int(f.get("drop_upload_after", 0)))
    return None


def control(sock, method, path, head, rest):
    repo = urllib.parse.unquote(path[len("/_fault/"):])
    if method == "PUT":
        m = re.search(r"(?i)content-length:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        body = rest
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        with LOCK:
            FAULTS[repo] = json.loads(body or b"{}")
        return reply(sock, "200 OK", "{}")
    if method == "DELETE":
        with LOCK:
            FAULTS.pop(repo, None)
        return reply(sock, "200 OK", "{}")
    with LOCK:
        stats = dict(STATS.get(repo) or {"requests": 0, "dropped": 0})
    return reply(sock, "200 OK", json.dumps(stats))


def pump(src, dst, limit=None, on_limit=None):
    """Copies src to dst until src ends; with `limit`, calls on_limit after that many bytes."""
    sent = 0
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            if limit is not None and sent + len(chunk) >= limit:
                dst.sendall(chunk[: max(0, limit - sent)])
                on_limit()
                return
            dst.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def cut(*socks):
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        except OSError:
            pass


def handle(client):
    try:
        head, rest = read_head(client)
        if head is None:
            return client.close()
        method, path = head.split(" ", 2)[:2]
        if path.startswith("/_fault/"):
            control(client, method, path, head, rest)
            return client.close()
        m = REPO.match(path)
        repo = m.group(1) if m else ""
        count(repo, "requests")
        fault = take_fault(repo, method, path) if repo else None
        if fault and fault[0] == "outage":
            count(repo, "dropped")
            return cut(client)
        upstream = socket.create_connection(UPSTREAM)
        upstream.sendall(closing(head))
        limit = None
        if fault and fault[0] == "drop":
            limit = max(0, fault[1] - len(rest))
            if limit == 0:
                count(repo, "dropped")
                counted_off(repo)
                return cut(client, upstream)
        upstream.sendall(rest)

        def dropped():
            count(repo, "dropped")
            counted_off(repo)
            cut(client, upstream)

        up = threading.Thread(target=pump, args=(client, upstream, limit, dropped), daemon=True)
        up.start()
        # The response: its head gets `Connection: close`, the rest is copied as it is.
        rhead, rrest = read_head(upstream)
        if rhead is not None:
            client.sendall(closing(rhead) + rrest)
            pump(upstream, client)
        up.join(timeout=1)
    except OSError:
        pass
    finally:
        for s in (client,):
            try:
                s.close()
            except OSError:
                pass


def main():
    global UPSTREAM
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    args = p.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    UPSTREAM = (host, int(port))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(128)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
