#!/usr/bin/env python3
"""egress_servers.py — the test servers test_egress.c reaches through the
egress proxy: Python's own http.server, once over plain HTTP and once over
TLS (ssl module, the given self-signed certificate), both answering every
GET with BODY. Prints "ready" once both listen; runs until killed.

usage: egress_servers.py BIND HTTP_PORT HTTPS_PORT CERT KEY BODY
"""
import http.server
import ssl
import sys
import threading

bind, http_port, https_port, cert, key, body = sys.argv[1:7]
payload = body.encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, fmt, *args):
        pass


plain = http.server.ThreadingHTTPServer((bind, int(http_port)), Handler)
tls = http.server.ThreadingHTTPServer((bind, int(https_port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
for srv in (plain, tls):
    threading.Thread(target=srv.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
