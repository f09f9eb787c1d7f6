"""Hostile frames against a guest on a tap device (run by net_hostile_test.ts inside the network
namespace the test made, as root; nothing leaves the namespace).

Usage: net_hostile_frames.py IFACE GUEST_IP GUEST_MAC PORT SYN_COUNT

Sends through a raw AF_PACKET socket: malformed and truncated frames, bad IP/TCP/UDP/ICMP checksums
and header lengths, IP fragments that overlap or never complete, then opens a TCP connection of its
own from a made-up address (answering the guest's ARP requests for it) and sends an HTTP request
cut into overlapping, duplicated, out-of-order and out-of-window segments among RSTs and SYNs the
guest must ignore or challenge, checks the answer arrives intact, and ends with a SYN flood of
SYN_COUNT segments from random addresses and ports of the subnet. Prints one line per phase and
"hostile: done"; exits non-zero when the guest's answer was wrong or missing.
"""

import random
import socket
import struct
import sys
import time

IFACE, GUEST_IP, GUEST_MAC, PORT, SYN_COUNT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(5)
guest_mac = bytes.fromhex(GUEST_MAC.replace(":", ""))
guest_ip = socket.inet_aton(GUEST_IP)
subnet = GUEST_IP.rsplit(".", 1)[0]
fake_ip = socket.inet_aton(subnet + ".50")
fake_mac = bytes.fromhex("020000007750")

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
sock.bind((IFACE, 0))
sent = 0


def send(frame):
    global sent
    sock.send(frame)
    sent += 1


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ether(payload, ethertype=0x0800, src=fake_mac):
    return guest_mac + src + struct.pack("!H", ethertype) + payload


def ipv4(payload, proto, src=fake_ip, ident=1, frag=0, ihl=5, total=None, bad_sum=False, version=4):
    options = b"\x01" * (4 * ihl - 20) if ihl > 5 else b""
    length = total if total is not None else 4 * max(ihl, 5) + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, length & 0xFFFF, ident, frag, 64, proto, 0, src, guest_ip)
    header += options
    s = checksum(header) ^ (0x0101 if bad_sum else 0)
    return header[:10] + struct.pack("!H", s) + header[12:] + payload


def pseudo(src, proto, length):
    return src + guest_ip + struct.pack("!BBH", 0, proto, length)


def tcp(sport, seq, ack, flags, data=b"", src=fake_ip, window=65535, offset=5, options=b"", bad_sum=False):
    header = struct.pack("!HHIIBBHHH", sport, PORT, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset << 4, flags, window, 0, 0)
    segment = header + options + data
    s = checksum(pseudo(src, 6, len(segment)) + segment) ^ (0x0101 if bad_sum else 0)
    return segment[:16] + struct.pack("!H", s) + segment[18:]


def udp(sport, dport, data, length=None, bad_sum=False):
    length = length if length is not None else 8 + len(data)
    d = struct.pack("!HHHH", sport, dport, length & 0xFFFF, 0) + data
    s = checksum(pseudo(fake_ip, 17, len(d)) + d) ^ (0x0101 if bad_sum else 0)
    return d[:6] + struct.pack("!H", s or 0xFFFF) + d[8:]


def icmp_echo(data, bad_sum=False):
    m = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + data
    s = checksum(m) ^ (0x0101 if bad_sum else 0)
    return m[:2] + struct.pack("!H", s) + m[4:]


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

# --- stateless garbage ------------------------------------------------------------------------------
good_syn = ether(ipv4(tcp(1111, 1, 0, SYN), 6))
for n in range(14, len(good_syn)):
    send(good_syn[:n])  # every truncation (Linux sends nothing shorter than an Ethernet header)
for _ in range(300):
    send(ether(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))))  # IPv4 ethertype, garbage
    send(ether(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 60))), 0x0806))  # ARP garbage
for bit in range(14 * 8, len(good_syn) * 8):
    f = bytearray(good_syn)
    f[bit // 8] ^= 1 << (bit % 8)
    send(bytes(f))  # every single-bit flip of the IP and TCP headers
payload = tcp(1112, 1, 0, SYN)
for frame in [
    ether(ipv4(payload, 6, version=6)),
    ether(ipv4(payload, 6, ihl=4)),
    ether(ipv4(payload, 6, ihl=15)),
    ether(ipv4(payload, 6, total=10)),
    ether(ipv4(payload, 6, total=1400)),
    ether(ipv4(payload, 6, total=65535)),
    ether(ipv4(payload, 6, bad_sum=True)),
    ether(ipv4(tcp(1113, 1, 0, SYN, bad_sum=True), 6)),
    ether(ipv4(tcp(1114, 1, 0, SYN, offset=2), 6)),
    ether(ipv4(tcp(1115, 1, 0, SYN, offset=15), 6)),
    ether(ipv4(tcp(1116, 1, 0, SYN, offset=8, options=b"\x02\x00\x05\x03\x03\xff\x05\x22\x00\x00\x00\x00"), 6)),
    ether(ipv4(udp(1000, 53, b"hello", bad_sum=True), 17)),
    ether(ipv4(udp(1000, 53, b"hello", length=4), 17)),
    ether(ipv4(udp(1000, 53, b"hello", length=900), 17)),
    ether(ipv4(udp(1000, 9, b"x" * 100), 17)),
    ether(ipv4(icmp_echo(b"ping", bad_sum=True), 1)),
    ether(ipv4(icmp_echo(b"ping")[:3], 1)),
    ether(ipv4(b"\x03\x03\x00\x00\x00\x00\x00\x00" + b"\x45" + b"\x00" * 10, 1)),  # truncated quoted header
    ether(ipv4(payload, 99)),  # unknown protocol
]:
    for _ in range(3):
        send(frame)
print("hostile: garbage sent (%d frames)" % sent, flush=True)

# --- fragments ------------------------------------------------------------------------------------
MF = 0x2000
big = icmp_echo(bytes(range(256)) * 6)
for ident in range(200, 400):  # first fragments whose rest never comes: reassembly must stay bounded
    send(ether(ipv4(big[:800], 1, ident=ident, frag=MF)))
for ident in range(400, 420):  # overlapping pieces, with and without the end
    send(ether(ipv4(big[:400], 1, ident=ident, frag=MF)))
    send(ether(ipv4(big[200:800], 1, ident=ident, frag=MF | 25)))
    send(ether(ipv4(big[96:120], 1, ident=ident, frag=MF | 12)))
    if ident % 2:
        send(ether(ipv4(big[800:], 1, ident=ident, frag=100)))
send(ether(ipv4(b"x" * 16, 1, ident=500, frag=MF | 0x1FFF)))  # past 65535
send(ether(ipv4(b"x" * 3, 17, ident=501, frag=MF)))  # not a multiple of 8
send(ether(ipv4(b"", 17, ident=502, frag=1)))  # empty
print("hostile: fragments sent", flush=True)

# --- a live connection from a made-up address ---------------------------------------------------


def answer_arp(frame):
    """Answers the guest's ARP request for the made-up address; True when frame was one."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x01" or frame[38:42] != fake_ip:
        return False
    reply = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + fake_mac + fake_ip + frame[22:28] + frame[28:32]
    send(frame[6:12] + fake_mac + b"\x08\x06" + reply)
    return True


def segments_to_us(seconds):
    """The TCP segments the guest sends to the made-up address within `seconds` (ARP answered), and
    None every 200 ms without one, so that the caller can retransmit (a slow guest drops frames)."""
    sock.settimeout(0.2)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            frame = sock.recv(65536)
        except socket.timeout:
            yield None
            continue
        if answer_arp(frame) or len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        if frame[30:34] != fake_ip:
            continue
        ihl = (frame[14] & 15) * 4
        t = frame[14 + ihl:]
        total = struct.unpack("!H", frame[16:18])[0]
        seq, ack = struct.unpack("!II", t[4:12])
        yield seq, ack, t[13], t[(t[12] >> 4) * 4: total - ihl]


sport = 40000 + rng.randrange(1000)
iss = 1000
syn = ether(ipv4(tcp(sport, iss, 0, SYN, options=b"\x02\x04\x05\xb4", offset=6), 6))
server_seq = None
last = 0
for got in segments_to_us(240):
    if time.time() - last > 3:
        send(syn)
        last = time.time()
    if got is None:
        continue
    seq, ack, flags, data = got
    if flags & SYN and flags & ACK and ack == iss + 1:
        server_seq = seq + 1
        break
if server_seq is None:
    sys.exit("hostile: no SYN-ACK from the guest")
rcv = server_seq
c = iss + 1


def seg(seq, flags, data=b"", **kw):
    send(ether(ipv4(tcp(sport, seq, rcv, flags, data, **kw), 6)))


seg(c, ACK)
request = b"GET /hello HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n\r\n"
seg(c + 10, ACK, request[10:30])  # ahead of a gap
seg(c + 5, ACK, request[5:25])  # overlapping it
seg(c + 10, ACK, request[10:30], bad_sum=True)
seg(c + 1000000, ACK, b"out of window")  # far ahead
seg(c - 100000, ACK, b"long ago")  # far behind
seg(c + 40, RST)  # in the window but not exact: a challenge ACK, no reset
seg(c + 3, SYN)  # a SYN in the window: challenged too
send(ether(ipv4(tcp(sport, c, rcv + 100000, ACK), 6)))  # acknowledges what was never sent
seg(c, ACK | PSH, request[:12])  # the start, overlapping
seg(c + 25, ACK | PSH, request[25:])  # the rest, overlapping the middle
seg(c + 25, ACK | PSH, request[25:])  # and again
answer = b""
fin = False
last = time.time()
for got in segments_to_us(240):
    if got is None:
        if time.time() - last > 5:  # pieces lost on the way: resend the request whole, as TCP would
            seg(c, ACK | PSH, request)
            last = time.time()
        continue
    last = time.time()
    seq, ack, flags, data = got
    if seq == rcv and data:
        answer += data
        rcv += len(data)
    if flags & FIN and seq + len(data) == rcv:
        rcv += 1
        fin = True
    seg(c + len(request), ACK)
    if fin:
        break
seg(c + len(request), RST)
expected = b"hello from %s to %s\n" % ((subnet + ".50").encode(), GUEST_IP.encode())
if not answer.endswith(expected) or b" 200 " not in answer.split(b"\r\n")[0]:
    sys.exit("hostile: wrong answer over the mangled connection: %r" % answer)
print("hostile: request in mangled segments answered", flush=True)

# --- SYN flood ----------------------------------------------------------------------------------
for i in range(SYN_COUNT):
    src = socket.inet_aton("%s.%d" % (subnet, rng.randrange(100, 250)))
    f = ether(ipv4(tcp(rng.randrange(1024, 65536), rng.getrandbits(32), 0, SYN, src=src), 6, src=src),
              src=bytes([2, 0, 0, 0x77, src[3] >> 8, src[3]]))
    send(f)
print("hostile: %d SYNs sent" % SYN_COUNT, flush=True)
print("hostile: done, %d frames" % sent, flush=True)
