#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# RFC 4787 REQ-9 (UDP) and RFC 5382 REQ-8 (TCP), hairpinning: client B
# (10.0.0.3) has a mapping on the slice address because it talked to the
# server from its port; client A (10.0.0.2) sends to that slice address
# and port and reaches B, translated both ways, without the packets
# leaving the engine (the server's capture never sees them); B sees A's
# mapping (slice address, a port of A's lease), not A's own address, and
# its answer reaches A the same way. Then the same over TCP.
. "$(dirname "$0")/lib.sh"

A=10.0.0.2 B=10.0.0.3 BPORT=10700 BTCP=10710
need_counters hairpinned

# B's UDP mapping: a datagram to the server's echo from B:BPORT; the
# server logs the source it saw, which is B's mapping.
cat >"$T/hairpin.py" <<'PY'
import os, socket, sys, time

mode, a_ip, b_ip, b_port, server, out, map_file = sys.argv[1:8]
b_port = int(b_port)
res = open(out, "w")

def mapping():
    """B's mapping, once the test has read it off the server's log."""
    for _ in range(100):
        if os.path.exists(map_file):
            ip, port = open(map_file).read().split()
            return ip, int(port)
        time.sleep(0.1)
    done("no mapping")

def done(msg):
    res.write(msg + "\n")
    res.close()
    sys.exit(0)

if mode == "udp":
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind((b_ip, b_port))
    b.settimeout(3)
    b.sendto(b"map-me", (server, 5353))
    b.recvfrom(2048)                     # the echo: B's mapping exists
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind((a_ip, 0))
    a.settimeout(3)
    a.sendto(b"hello B", mapping())
    data, peer = b.recvfrom(2048)
    assert data == b"hello B", data
    b.sendto(b"hello A", peer)           # answer to what B saw
    data, back = a.recvfrom(2048)
    assert data == b"hello A", data
    done(f"udp peer {peer[0]}:{peer[1]} back {back[0]}:{back[1]}")
else:
    # B's TCP mapping: connect to the server from B:BTCP, then listen on
    # the same port (SO_REUSEADDR) while that connection's flow lives.
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind((b_ip, b_port))
    c.settimeout(3)
    c.connect((server, 8080))
    c.sendall(b"GET /hairpin-map HTTP/1.0\r\n\r\n")
    c.recv(4096)
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((b_ip, b_port))
    l.listen(1)
    l.settimeout(5)
    a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    a.bind((a_ip, 0))
    a.settimeout(5)
    a.connect(mapping())
    s, peer = l.accept()
    s.settimeout(5)
    a.sendall(b"ping over tcp")
    assert s.recv(100) == b"ping over tcp"
    s.sendall(b"pong over tcp")
    assert a.recv(100) == b"pong over tcp"
    local = a.getpeername()
    done(f"tcp peer {peer[0]}:{peer[1]} connected-to {local[0]}:{local[1]}")
PY

# mapping_of PROTO PORT : B's mapping as the server saw it, "IP PORT".
mapping_of() {
	local pat
	case $1 in
	udp) pat="^udp +$TOPO_SLICE_IP:[0-9]+ +map-me" ;;
	tcp) pat="^tcp +$TOPO_SLICE_IP:[0-9]+ +GET /hairpin-map" ;;
	esac
	grep -E "$pat" "$SRV/http.log" | tail -n 1 | awk '{ split($2, a, ":"); print a[1], a[2] }'
}

have_mapping() { [ -n "$(mapping_of "$1")" ]; }

# hairpin PROTO BPORT : run the exchange; B's mapping is what the server
# saw (the slice address; B's own port when this worker owns it).
hairpin() {
	local pid m
	in_c /usr/bin/python3 "$T/hairpin.py" "$1" "$A" "$B" "$2" "$TOPO_SERVER" \
		"$T/$1.out" "$T/$1.map" &
	pid=$!
	until_ok 10 have_mapping "$1" >/dev/null
	m=$(mapping_of "$1")
	[ -n "$m" ] && echo "$m" >"$T/$1.map"
	wait "$pid" || fail "$1 hairpin failed: $(cat "$T/$1.out" 2>/dev/null)"
	[ -n "$m" ] || fail "the server never saw B's $1 mapping"
	grep -q "^$1 peer" "$T/$1.out" || fail "$1 hairpin: $(cat "$T/$1.out")"
}

capture_start "$NS_S" s0 "$T/server.pcap" "host $TOPO_SLICE_IP and not port 5353 and not port 8080"
snap "$T/before"
hairpin udp "$BPORT"
hairpin tcp "$BTCP"
capture_stop

for p in udp tcp; do
	read -r _ _ peer _ _ <"$T/$p.out"
	say "$p: $(cat "$T/$p.out")"
	ip=${peer%:*} port=${peer#*:}
	[ "$ip" = "$TOPO_SLICE_IP" ] || fail "$p: B saw $peer, not A's mapping on $TOPO_SLICE_IP"
	in_range "$port" 10000 10999 || fail "$p: A's mapping port $port is outside its lease"
done
n=$(delta "$T/before" hairpinned)
[ "$n" -ge 4 ] || fail "hairpinned counted $n packets, expected at least 4"
# Nothing hairpinned went to the server.
leaked=$(tcpdump -nn -r "$T/server.pcap" 2>/dev/null | grep -c "$TOPO_SLICE_IP.* > $TOPO_SLICE_IP")
[ "$leaked" -eq 0 ] || fail "$leaked hairpinned packets reached the server"
say "hairpinned: $n packets"
