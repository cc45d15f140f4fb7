#!/usr/bin/env python3
"""A tiny DNS responder standing in for the host's resolver in the cluster DNS e2e test.

Usage: fake_dns_upstream.py ADDRESS LOGFILE
Answers `external.test` A 192.0.2.10 (TTL 60; an answer only, never contacted), NOERROR without
records for its other types, NXDOMAIN for every other name, and logs each question it gets.
"""
import socket
import struct
import sys


def qname(msg, i):
    labels = []
    while msg[i]:
        n = msg[i]
        labels.append(msg[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += n + 1
    return ".".join(labels).lower(), i + 1


def main():
    addr, log = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        msg, peer = s.recvfrom(4096)
        if len(msg) < 12:
            continue
        qid, flags, qd = struct.unpack(">HHH", msg[:6])
        name, end = qname(msg, 12)
        qtype, _ = struct.unpack(">HH", msg[end : end + 4])
        question = msg[12 : end + 4]
        with open(log, "a") as f:
            f.write(f"{name} {qtype}\n")
        rd = flags & 0x0100
        if name == "external.test":
            answers = b""
            if qtype == 1:
                answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 10])
            count = 1 if answers else 0
            head = struct.pack(">HHHHHH", qid, 0x8080 | rd, 1, count, 0, 0)
            s.sendto(head + question + answers, peer)
        else:
            head = struct.pack(">HHHHHH", qid, 0x8083 | rd, 1, 0, 0, 0)
            s.sendto(head + question, peer)


if __name__ == "__main__":
    main()
