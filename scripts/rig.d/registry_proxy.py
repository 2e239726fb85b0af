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

Several accounts' registries. ECR has one registry per account and region, each on its own
host; the rig has one registry. The proxy gives each (account, region) other than the rig's
default (123456789012, us-east-1) a port of its own from `--namespace-ports` (when all are
taken, the one least recently asked for is given to the new one), and stores that
registry's repositories under `<account>/<region>/` in the one registry: it rewrites the
repository in the path (and a mount's `from=`) on the way in, and in `Location` on the way
out. Each port takes only its account's ECR token (`AWS:<account>-auth-token`, as the
emulator's GetAuthorizationToken gives), as ECR's registry takes only its own account's, and
passes the registry's own credentials on.
  PUT    /_ns/ACCOUNT/REGION  the port of that registry (assigned on first ask), as text

Run: python3 registry_proxy.py --port 45651 --upstream 127.0.0.1:45650 --namespace-ports 45680-45695
"""

import argparse
import base64
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
DEFAULT_ACCOUNT = "123456789012"
PORTS = {}  # port -> [(account, region) or None, last asked for]


def namespace_port(account, region):
    """The port of (account, region)'s registry (every port listens from the start)."""
    import time

    with LOCK:
        if not PORTS:
            return None
        port = next((p for p, v in PORTS.items() if v[0] == (account, region)), None)
        if port is None:
            port = min(PORTS, key=lambda p: (PORTS[p][0] is not None, PORTS[p][1]))
            PORTS[port][0] = (account, region)
        PORTS[port][1] = time.monotonic()
        return port


def namespace_of(port):
    with LOCK:
        return PORTS[port][0] if port in PORTS else None


def rewrite_request(head, ns):
    """The request head for the one registry, or None when the credentials are not the
    namespace account's own ECR token."""
    account, region = ns
    lines = head.split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    auth = [l for l in lines[1:] if l.lower().startswith("authorization:")]
    if auth:
        scheme, _, value = auth[0].split(":", 1)[1].strip().partition(" ")
        try:
            decoded = base64.b64decode(value).decode() if scheme.lower() == "basic" else ""
        except ValueError:
            decoded = ""
        if decoded != f"AWS:{account}-auth-token":
            return None
    prefix = f"{account}/{region}/"
    if target.startswith("/v2/") and target != "/v2/" and not target.startswith("/v2/_catalog"):
        target = "/v2/" + prefix + target[len("/v2/"):]
    target = re.sub(r"([?&]from=)([^&]+)", lambda m: m.group(1) + urllib.parse.quote(prefix, safe="") + m.group(2), target)
    own = base64.b64encode(f"AWS:{DEFAULT_ACCOUNT}-auth-token".encode()).decode()
    out = [f"{method} {target} {version}"]
    for l in lines[1:]:
        out.append(f"Authorization: Basic {own}" if l.lower().startswith("authorization:") else l)
    return "\r\n".join(out)


def rewrite_response(head, ns):
    prefix = f"/v2/{ns[0]}/{ns[1]}/"
    return "\r\n".join(
        l.replace(prefix, "/v2/") if l.lower().startswith("location:") else l for l in head.split("\r\n")
    )


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


def handle(client, port=None):
    ns = namespace_of(port) if port is not None else None
    try:
        head, rest = read_head(client)
        if head is None:
            return client.close()
        method, path = head.split(" ", 2)[:2]
        if port is not None and ns is None:
            return cut(client)
        if ns is not None:
            head = rewrite_request(head, ns)
            if head is None:
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"not this registry\'s credentials"}]}'
                client.sendall(
                    b'HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm="ecr"\r\nContent-Type: application/json\r\n'
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
                )
                return client.close()
        elif path.startswith("/_ns/"):
            parts = path.split("/")
            port = namespace_port(parts[2], parts[3]) if len(parts) == 4 else None
            if port is None:
                reply(client, "400 Bad Request", '"no namespace port left"')
            else:
                reply(client, "200 OK", str(port))
            return client.close()
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
            if ns is not None:
                rhead = rewrite_response(rhead, ns)
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


def listen(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    return server


def serve(server, port=None):
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, port), daemon=True).start()


def main():
    global UPSTREAM
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--namespace-ports", default="", help="FIRST-LAST: ports for other accounts' and regions' registries")
    args = p.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    UPSTREAM = (host, int(port))
    if args.namespace_ports:
        first, last = (int(x) for x in args.namespace_ports.split("-"))
        for port in range(first, last + 1):
            PORTS[port] = [None, 0.0]
            threading.Thread(target=serve, args=(listen(port), port), daemon=True).start()
    serve(listen(args.port))


if __name__ == "__main__":
    main()
