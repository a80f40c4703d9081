#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT on loopback, sends one request on each and
reads the answer, holds them all open, prints the RSS (KiB) of PID, then closes them."""
import socket
import sys
import time

host, port, count, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
request = f"GET /1k.txt HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
sockets = []
try:
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < 1024:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
        sockets.append(s)
    time.sleep(2)
    with open(f"/proc/{pid}/status") as status:
        rss = next(line.split()[1] for line in status if line.startswith("VmRSS"))
    print(rss)
finally:
    for s in sockets:
        s.close()
