"""Exit 0 when a MongoDB-wire server answers `ping` with ok: 1 (standard library only).

Usage: python3 ping.py HOST PORT. Sends one OP_MSG (opcode 2013) {ping: 1, $db: "admin"} and reads
the reply, so it proves the server speaks the protocol, not only that the port is open.
"""

import socket
import struct
import sys


def _bson(fields: list[tuple[str, int | str]]) -> bytes:
    body = b""
    for key, value in fields:
        name = key.encode() + b"\x00"
        if isinstance(value, int):
            body += b"\x10" + name + struct.pack("<i", value)
        else:
            data = value.encode() + b"\x00"
            body += b"\x02" + name + struct.pack("<i", len(data)) + data
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def _ok(document: bytes) -> bool:
    i = 4
    while i < len(document) - 1:
        kind = document[i]
        end = document.index(b"\x00", i + 1)
        name = document[i + 1 : end]
        i = end + 1
        if kind == 0x01:  # double
            value = struct.unpack("<d", document[i : i + 8])[0]
            if name == b"ok":
                return value == 1.0
            i += 8
        elif kind in (0x10,):  # int32
            if name == b"ok":
                return struct.unpack("<i", document[i : i + 4])[0] == 1
            i += 4
        elif kind in (0x12, 0x09, 0x11):  # int64, datetime, timestamp
            i += 8
        elif kind == 0x08:  # bool
            if name == b"ok":
                return document[i] == 1
            i += 1
        elif kind == 0x0A:  # null
            pass
        elif kind in (0x02, 0x0D, 0x0E):  # string-like
            i += 4 + struct.unpack("<i", document[i : i + 4])[0]
        elif kind in (0x03, 0x04):  # document, array
            i += struct.unpack("<i", document[i : i + 4])[0]
        elif kind == 0x05:  # binary
            i += 5 + struct.unpack("<i", document[i : i + 4])[0]
        elif kind == 0x07:  # object id
            i += 12
        else:
            return False
    return False


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    body = struct.pack("<I", 0) + b"\x00" + _bson([("ping", 1), ("$db", "admin")])
    message = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.sendall(message)
            length, _, _, opcode = struct.unpack("<iiii", _recv(sock, 16))
            reply = _recv(sock, length - 16)
    except (OSError, ValueError, struct.error):
        return 1
    if opcode != 2013 or reply[4] != 0:
        return 1
    return 0 if _ok(reply[5:]) else 1


if __name__ == "__main__":
    sys.exit(main())
