"""TRex ASTF profile: HTTP-like TCP connections per second through shoal.

Each connection: the client (TRex port 0, behind shoal's inside port) opens
TCP to a server (TRex port 1, behind shoal's outside port), sends one
request, reads one response of --resp-size bytes, and closes. shoal
translates the client's source to 198.51.100.10:<port of the lease>; the
TRex server is a real TCP stack and answers whatever source it sees, so no
NAT learning is needed (see docs/TREX.md, "Which TRex mode works").

    start -f astf_http.py -m 10000 -d 60                       # 10000 conn/s
    start -f astf_http.py -m 10000 -t --resp-size 16384        # TRex >= v2.9x
    start -f astf_http.py -m 10000 -t resp_size=16384          # older TRex

-m multiplies --cps (default 1 connection/s), so `-m N` means N conn/s.
"""

import argparse
import os

from trex.astf.api import *  # noqa: F401,F403  (ASTF* names)

DEFAULTS = {
    'clients': '10.0.0.3-10.0.255.254',   # inside 10.0.0.0/16 minus shoal (.1) and TRex port 0 (.2)
    'servers': '203.0.113.1-203.0.113.254',
    'port': 80,
    'cps': 1.0,
    'req_size': 100,
    'resp_size': 1024,
    'limit': 0,
}


def _args(tunables, kwargs):
    """Tunables as argparse (list of strings, TRex v2.9x+) or as old-style
    '-t key=val,...' keyword arguments; returns an argparse.Namespace."""
    p = argparse.ArgumentParser(
        prog=os.path.basename(__file__),
        description='HTTP-like TCP connections through a source-NAT DUT',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--clients', default=DEFAULTS['clients'],
                   help='client address range FIRST-LAST (inside, before NAT)')
    p.add_argument('--servers', default=DEFAULTS['servers'],
                   help='server address range FIRST-LAST (outside)')
    p.add_argument('--port', type=int, default=DEFAULTS['port'],
                   help='server TCP port')
    p.add_argument('--cps', type=float, default=DEFAULTS['cps'],
                   help='connections per second before -m')
    p.add_argument('--req-size', dest='req_size', type=int,
                   default=DEFAULTS['req_size'], help='request bytes')
    p.add_argument('--resp-size', dest='resp_size', type=int,
                   default=DEFAULTS['resp_size'], help='response body bytes')
    p.add_argument('--limit', type=int, default=DEFAULTS['limit'],
                   help='stop after this many connections (0 = no limit)')
    a = p.parse_args(list(tunables) if isinstance(tunables, (list, tuple)) else [])
    for k in DEFAULTS:                      # old-style -t key=val,...
        if k in kwargs:
            setattr(a, k, type(DEFAULTS[k])(kwargs[k]))
    return a


def _range(text):
    first, _, last = text.partition('-')
    return [first.strip(), (last or first).strip()]


class ShoalHttp(object):
    def get_profile(self, tunables=(), **kwargs):
        a = _args(tunables, kwargs)

        body = b'x' * a.resp_size
        resp = (b'HTTP/1.1 200 OK\r\nServer: trex\r\nContent-Type: text/plain\r\n'
                b'Content-Length: %d\r\n\r\n' % len(body)) + body
        head = b'GET /shoal HTTP/1.1\r\nHost: server\r\nX-Pad: '
        req = head + b'p' * max(0, a.req_size - len(head) - 4) + b'\r\n\r\n'

        # client: connect, request, read the whole response, close
        prog_c = ASTFProgram()
        prog_c.connect()
        prog_c.send(req)
        prog_c.recv(len(resp))

        # server: read the request, answer, close after the client does
        prog_s = ASTFProgram()
        prog_s.recv(len(req))
        prog_s.send(resp)
        prog_s.wait_for_peer_close()

        ip_gen = ASTFIPGen(
            glob=ASTFIPGenGlobal(ip_offset='1.0.0.0'),   # only used with >1 port pair
            dist_client=ASTFIPGenDist(ip_range=_range(a.clients), distribution='seq'),
            dist_server=ASTFIPGenDist(ip_range=_range(a.servers), distribution='seq'))

        c_args = dict(program=prog_c, ip_gen=ip_gen, port=a.port, cps=a.cps)
        if a.limit:
            c_args['limit'] = a.limit
        temp_c = ASTFTCPClientTemplate(**c_args)
        # the server matches by destination port only: the (translated) client
        # source address and port do not matter to it
        temp_s = ASTFTCPServerTemplate(program=prog_s,
                                       assoc=ASTFAssociationRule(port=a.port))
        return ASTFProfile(default_ip_gen=ip_gen,
                           templates=ASTFTemplate(client_template=temp_c,
                                                  server_template=temp_s))


def register():
    return ShoalHttp()
