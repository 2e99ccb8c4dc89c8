#!/usr/bin/env python3
"""pull_server.py — a tiny HTTP file server for the `r1 pull` tests (tests/e2e/pull.sh).

Serves files from ROOT on 127.0.0.1 with Range support (206 / 416), and a few misbehaviours
chosen by the path prefix:
  /cut/F        the first request without a Range header gets Content-Length of the whole file but
                only half of the bytes, then the connection is closed (a broken download)
  /norange/F    ignores Range headers (always 200 with the whole file)
  /etag/F       sends X-Linked-Etag with the file's real SHA-256, like Hugging Face
  /badetag/F    sends X-Linked-Etag with a wrong SHA-256
  /slow/F       a request from byte 0 gets its first 256 kB slowly (4 kB every 30 ms), so that a
                test can interrupt the download mid-way; a Range request is served at once
  /hf/...       Hugging Face layout: /hf/<org>/<repo>/resolve/main/<path> serves
                ROOT/repos/<org>/<repo>/<path>, or else ROOT/<file name>; /hf/api/models/<org>/<repo>
                lists ROOT/repos/<org>/<repo> as Hugging Face's API does ({"siblings":
                [{"rfilename": path}, ...]}), 404 when there is no such folder
Every request line and Range header is appended to ROOT/requests.log. The chosen port is written to
the file given as the second argument once the server listens.
Usage: pull_server.py ROOT PORT_FILE
"""
import hashlib
import http.server
import os
import sys

ROOT = sys.argv[1]
PORT_FILE = sys.argv[2]
cut_done = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(os.path.join(ROOT, "requests.log"), "a") as f:
            f.write("%s range=%s\n" % (self.path, self.headers.get("Range")))

    def do_GET(self):
        path = self.path.split("?")[0]
        mode = ""
        for prefix in ("/cut/", "/norange/", "/etag/", "/badetag/", "/slow/"):
            if path.startswith(prefix):
                mode = prefix.strip("/")
                path = "/" + path[len(prefix):]
        if path.startswith("/hf/api/models/"):
            repo = os.path.join(ROOT, "repos", path[len("/hf/api/models/"):].strip("/"))
            if ".." in path or not os.path.isdir(repo):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            files = []
            for d, _, names in os.walk(repo):
                for n in names:
                    files.append(os.path.relpath(os.path.join(d, n), repo))
            import json
            body = json.dumps({"id": path[len("/hf/api/models/"):],
                               "siblings": [{"rfilename": f} for f in sorted(files)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path.startswith("/hf/"):
            mode = "etag"
            parts = path[len("/hf/"):].split("/", 4)  # org, repo, "resolve", "main", path
            in_repo = os.path.join("repos", parts[0], parts[1], parts[4]) if len(parts) == 5 else ""
            if in_repo and os.path.isfile(os.path.join(ROOT, in_repo)):
                path = "/" + in_repo
            else:
                path = "/" + path.rsplit("/", 1)[1]
        fpath = os.path.join(ROOT, path.lstrip("/"))
        if not os.path.isfile(fpath) or ".." in path:
            self.send_response(404)
            body = b"not found\n"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = open(fpath, "rb").read()
        size = len(data)
        start = 0
        rng = self.headers.get("Range")
        if rng and mode != "norange" and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        else:
            rng = None
            self.send_response(200)
        if mode == "etag":
            self.send_header("X-Linked-Etag", '"%s"' % hashlib.sha256(data).hexdigest())
        if mode == "badetag":
            self.send_header("X-Linked-Etag", '"%s"' % ("0" * 64))
        self.send_header("Content-Length", str(size - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        body = data[start:]
        if mode == "slow" and not rng:
            import time
            slow = body[: 256 * 1024]
            try:
                for i in range(0, len(slow), 4096):
                    self.wfile.write(slow[i : i + 4096])
                    self.wfile.flush()
                    time.sleep(0.03)
                self.wfile.write(body[len(slow) :])
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if mode == "cut" and not rng and fpath not in cut_done:
            cut_done.add(fpath)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that hang up (the downloader on a checksum error) are expected


server = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
