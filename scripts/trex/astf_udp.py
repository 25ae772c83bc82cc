"""TRex ASTF profile: UDP throughput from many clients through shoal.

Each flow: a client (TRex port 0, inside) sends --msgs datagrams of --size
byte frames to a server (TRex port 1, outside); the server answers once
after the last one, which closes the flow on both sides. Every flow is a
new NAT binding in shoal (198.51.100.10:<lease port>); servers are spread
over 198.18.0.0/15 (RFC 2544's benchmarking range) so shoal reuses outside
ports across destinations (RFC 7857). The TRex server answers whatever
translated source it sees: no NAT learning is involved.

    start -f astf_udp.py -m 20000 -d 60                    # 20000 flows/s x 32 packets
    start -f astf_udp.py -m 20000 -t --size 512 --msgs 64   # TRex >= v2.9x
    start -f astf_udp.py -m 20000 -t size=512,msgs=64       # older TRex

Offered client packets/s = -m x --cps x --msgs. Bursts of 32 packets per
flow are what FD.io CSIT found TRex sustains reliably; longer trains with
--ipg-usec spread them in time.
"""

import argparse
import os

from trex.astf.api import *  # noqa: F401,F403  (ASTF* names)

DEFAULTS = {
    'clients': '10.0.0.3-10.0.255.254',
    'servers': '198.18.0.1-198.19.255.254',
    'port': 5001,
    'cps': 1.0,
    'size': 64,
    'msgs': 32,
    'ipg_usec': 0,
    'keepalive_ms': 2000,
    'limit': 0,
}

L2_L4 = 14 + 20 + 8     # Ethernet + IPv4 + UDP headers
FCS = 4                 # added by the NIC


def _args(tunables, kwargs):
    """argparse tunables (list, TRex v2.9x+) or old '-t key=val' kwargs."""
    p = argparse.ArgumentParser(
        prog=os.path.basename(__file__),
        description='UDP throughput from many clients through a source-NAT DUT',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--clients', default=DEFAULTS['clients'],
                   help='client address range FIRST-LAST (inside, before NAT)')
    p.add_argument('--servers', default=DEFAULTS['servers'],
                   help='server address range FIRST-LAST (outside)')
    p.add_argument('--port', type=int, default=DEFAULTS['port'],
                   help='server UDP port')
    p.add_argument('--cps', type=float, default=DEFAULTS['cps'],
                   help='new flows per second before -m')
    p.add_argument('--size', type=int, default=DEFAULTS['size'],
                   help='frame size in bytes including FCS (>= 64)')
    p.add_argument('--msgs', type=int, default=DEFAULTS['msgs'],
                   help='datagrams per flow, client to server')
    p.add_argument('--ipg-usec', dest='ipg_usec', type=int,
                   default=DEFAULTS['ipg_usec'],
                   help='delay between a flow\'s datagrams (0 = back to back)')
    p.add_argument('--keepalive-ms', dest='keepalive_ms', type=int,
                   default=DEFAULTS['keepalive_ms'],
                   help='idle time after which TRex gives a flow up')
    p.add_argument('--limit', type=int, default=DEFAULTS['limit'],
                   help='stop after this many flows (0 = no limit)')
    a = p.parse_args(list(tunables) if isinstance(tunables, (list, tuple)) else [])
    for k in DEFAULTS:
        if k in kwargs:
            setattr(a, k, type(DEFAULTS[k])(kwargs[k]))
    if a.size < 64 or a.size > 9216:
        raise ValueError('size must be 64..9216, got %d' % a.size)
    if a.msgs < 1:
        raise ValueError('msgs must be >= 1, got %d' % a.msgs)
    return a


def _range(text):
    first, _, last = text.partition('-')
    return [first.strip(), (last or first).strip()]


class ShoalUdp(object):
    def get_profile(self, tunables=(), **kwargs):
        a = _args(tunables, kwargs)
        payload = b'u' * max(1, a.size - FCS - L2_L4)
        reply = b'done'

        # client: --msgs datagrams (a counted loop), then wait for the reply
        prog_c = ASTFProgram(stream=False)
        prog_c.set_keepalive_msg(a.keepalive_ms)
        if a.msgs > 1:
            prog_c.set_var('left', a.msgs)
            prog_c.set_label('again:')
        prog_c.send_msg(payload)
        if a.ipg_usec:
            prog_c.delay(a.ipg_usec)
        if a.msgs > 1:
            prog_c.jmp_nz('left', 'again:')
        prog_c.recv_msg(1)

        # server: wait for all of them, answer once (lost ones end by keepalive)
        prog_s = ASTFProgram(stream=False)
        prog_s.set_keepalive_msg(a.keepalive_ms)
        prog_s.recv_msg(a.msgs)
        prog_s.send_msg(reply)

        ip_gen = ASTFIPGen(
            glob=ASTFIPGenGlobal(ip_offset='1.0.0.0'),
            dist_client=ASTFIPGenDist(ip_range=_range(a.clients), distribution='seq'),
            dist_server=ASTFIPGenDist(ip_range=_range(a.servers), distribution='seq'))

        c_args = dict(program=prog_c, ip_gen=ip_gen, port=a.port, cps=a.cps)
        if a.limit:
            c_args['limit'] = a.limit
        # ASTF uses the "TCP" template classes for UDP too: the program's
        # stream=False makes the flow UDP
        temp_c = ASTFTCPClientTemplate(**c_args)
        temp_s = ASTFTCPServerTemplate(program=prog_s,
                                       assoc=ASTFAssociationRule(port=a.port))
        return ASTFProfile(default_ip_gen=ip_gen,
                           templates=ASTFTemplate(client_template=temp_c,
                                                  server_template=temp_s))


def register():
    return ShoalUdp()
