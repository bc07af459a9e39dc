#!/usr/bin/env python3
"""Checks that a RabbitMQ broker answers a full AMQP 0-9-1 handshake.

A broker can accept TCP connections and still be hung (seen here: port 5672
open, every handshake and `rabbitmqctl` hanging). This opens a connection,
authenticates (PLAIN), opens the virtual host, closes cleanly, and prints
the time it took. Standard library only, so CI needs nothing installed.

usage: amqp-handshake.py [--host H] [--port P] [--user U] [--password W]
                         [--vhost V] [--timeout SECONDS]
exit 0: answered (prints "handshake <ms> ms"); 1: refused; 2: hung or broken.
"""
import argparse
import socket
import struct
import sys
import time


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def method(class_id, method_id, args=b""):
    return frame(1, 0, struct.pack(">HH", class_id, method_id) + args)


def shortstr(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


def longstr(b):
    return struct.pack(">I", len(b)) + b


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        buf += chunk
    return buf


def read_method(sock):
    """Reads frames until a method frame; returns (class, method, args)."""
    while True:
        kind, _channel, size = struct.unpack(">BHI", read_exact(sock, 7))
        payload = read_exact(sock, size)
        if read_exact(sock, 1) != b"\xce":
            raise ConnectionError("bad frame end")
        if kind == 1:
            class_id, method_id = struct.unpack(">HH", payload[:4])
            return class_id, method_id, payload[4:]
        # heartbeats or other frames: keep reading


def expect(sock, class_id, method_id, what):
    got = read_method(sock)
    if got[:2] != (class_id, method_id):
        if got[:2] == (10, 50):
            code = struct.unpack(">H", got[2][:2])[0]
            text = got[2][3 : 3 + got[2][2]].decode(errors="replace")
            raise ConnectionError(f"the broker closed the connection: {code} {text}")
        raise ConnectionError(f"expected {what}, got method {got[0]}.{got[1]}")
    return got[2]


def handshake(host, port, user, password, vhost, timeout):
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.settimeout(timeout)
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        expect(sock, 10, 10, "connection.start")
        props = b""  # empty client properties table
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        sock.sendall(
            method(
                10,
                11,
                longstr(props) + shortstr("PLAIN") + longstr(response) + shortstr("en_US"),
            )
        )
        tune = expect(sock, 10, 30, "connection.tune")
        channel_max, frame_max, _heartbeat = struct.unpack(">HIH", tune[:8])
        sock.sendall(method(10, 31, struct.pack(">HIH", channel_max, frame_max, 0)))
        sock.sendall(method(10, 40, shortstr(vhost) + shortstr("") + b"\x00"))
        expect(sock, 10, 41, "connection.open-ok")
        sock.sendall(method(10, 50, struct.pack(">H", 200) + shortstr("bye") + struct.pack(">HH", 0, 0)))
        expect(sock, 10, 51, "connection.close-ok")
    finally:
        sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5672)
    p.add_argument("--user", default="guest")
    p.add_argument("--password", default="guest")
    p.add_argument("--vhost", default="/")
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args()
    started = time.monotonic()
    try:
        handshake(a.host, a.port, a.user, a.password, a.vhost, a.timeout)
    except ConnectionRefusedError:
        print(f"RabbitMQ refuses connections on {a.host}:{a.port} (not running)")
        return 1
    except socket.timeout:
        print(
            f"RabbitMQ at {a.host}:{a.port} accepts TCP but does not finish the AMQP "
            f"handshake within {a.timeout:g}s (hung)"
        )
        return 2
    except OSError as e:
        print(f"RabbitMQ at {a.host}:{a.port}: handshake failed: {e}")
        return 2
    print(f"handshake {(time.monotonic() - started) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
