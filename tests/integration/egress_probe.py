#!/usr/bin/env python3
"""egress_probe.py — runs inside an egress session's sandbox for
test_egress.c and prints one line saying what one attempt got:
  proxy URL [CAFILE]  GET through HTTP(S)_PROXY: "OK BODY", "HTTP CODE" or
                      "ERR WHY"
  direct HOST PORT    a TCP connection with no proxy: "OK" or "ERR WHY"
  dns NAME            a name lookup in the sandbox: "OK ADDR" or "ERR WHY"
  many N PREFIX...    GET PREFIX + "n/I" for I in 0..N-1 and each PREFIX
                      through HTTP_PROXY (kept-alive connections): "OK"
                      and each status with its count ("200:N 403:N")
  sni HOST:PORT NAME CAFILE
                      CONNECT HOST:PORT through the proxy by hand, then TLS
                      with SNI NAME (checked against NAME): "OK BODY" or
                      "ERR WHY"
"""
import http.client
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request

mode, target = sys.argv[1], sys.argv[2]
try:
    if mode == "proxy":
        ctx = ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv) > 3 else None
        with urllib.request.urlopen(target, timeout=20, context=ctx) as r:
            print("OK", r.read().decode().strip())
    elif mode == "direct":
        socket.create_connection((target, int(sys.argv[3])), timeout=3).close()
        print("OK")
    elif mode == "sni":
        proxy = os.environ["HTTP_PROXY"].split("//")[1].rstrip("/")
        phost, pport = proxy.rsplit(":", 1)
        s = socket.create_connection((phost, int(pport)), timeout=20)
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            if not chunk:
                raise ConnectionError("proxy closed")
            head += chunk
        if b" 200" not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.split(b"\r\n")[0].decode())
        ctx = ssl.create_default_context(cafile=sys.argv[4])
        t = ctx.wrap_socket(s, server_hostname=sys.argv[3])
        t.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % sys.argv[3]).encode())
        data = b""
        while True:
            chunk = t.recv(4096)
            if not chunk:
                break
            data += chunk
        print("OK", data.split(b"\r\n\r\n", 1)[1].decode().strip())
    elif mode == "many":
        proxy = os.environ["HTTP_PROXY"].split("//")[1].rstrip("/")
        phost, pport = proxy.rsplit(":", 1)
        conn = http.client.HTTPConnection(phost, int(pport), timeout=20)
        codes = {}
        for i in range(int(target)):
            for prefix in sys.argv[3:]:
                conn.request("GET", "%sn/%d" % (prefix, i))
                r = conn.getresponse()
                r.read()
                codes[r.status] = codes.get(r.status, 0) + 1
                if r.will_close:
                    conn.close()
        print("OK", " ".join("%d:%d" % kv for kv in sorted(codes.items())))
    elif mode == "dns":
        print("OK", socket.getaddrinfo(target, 80)[0][4][0])
except urllib.error.HTTPError as e:
    print("HTTP", e.code)
except Exception as e:  # what failed is the answer
    print("ERR", type(e).__name__, str(e)[:120].replace("\n", " "))
