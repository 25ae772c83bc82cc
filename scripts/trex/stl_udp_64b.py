"""TRex STL profile: one-way UDP at a fixed frame size over many flows.

Load it on port 0 only (shoal's inside): packets go from clients
10.0.0.3... (source address and port varied by the field engine) to
203.0.113.1... port 5001; shoal translates each flow to
198.51.100.10:<lease port> and forwards it out of port 1, where TRex
counts what arrived. Stateless traffic cannot follow the translation, so
there is no return direction (docs/TREX.md).

    start -f stl_udp_64b.py -p 0 -m 10mpps -d 30
    start -f stl_udp_64b.py -p 0 -m 100% -t --size 128 --flows 100000   # TRex >= v2.9x
    start -f stl_udp_64b.py -p 0 -m 100% -t size=128,flows=100000       # older TRex

Flows: exactly --flows distinct (source address, source port) pairs:
STLVmTupleGen walks --clients addresses, then moves to the next source
port, and wraps after --flows tuples. With --dsts > 1 the destination
cycles independently, giving lcm(flows, dsts) distinct 5-tuples (the
profile prints the count when it loads).
"""

import argparse
import math
import os

from trex_stl_lib.api import *  # noqa: F401,F403  (STL* names, scapy layers)

DEFAULTS = {
    'size': 64,
    'flows': 10000,
    'clients': 0,           # 0 = min(flows, 65532)
    'client_first': '10.0.0.3',
    'dst_first': '203.0.113.1',
    'dsts': 1,
    'sport_first': 1025,
    'dport': 5001,
    'csum': 'hw',
}

MAX_CLIENTS = 65532         # 10.0.0.3 .. 10.0.255.254
FCS = 4


def _args(tunables, kwargs):
    """argparse tunables (list, TRex v2.9x+) or old '-t key=val' kwargs."""
    p = argparse.ArgumentParser(
        prog=os.path.basename(__file__),
        description='one-way UDP, fixed frame size, many flows, inside to outside',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--size', type=int, default=DEFAULTS['size'],
                   help='frame size in bytes including FCS (64..9216)')
    p.add_argument('--flows', type=int, default=DEFAULTS['flows'],
                   help='distinct (source address, source port) pairs')
    p.add_argument('--clients', type=int, default=DEFAULTS['clients'],
                   help='source addresses used (0 = min(flows, %d))' % MAX_CLIENTS)
    p.add_argument('--client-first', dest='client_first',
                   default=DEFAULTS['client_first'], help='first source address')
    p.add_argument('--dst-first', dest='dst_first',
                   default=DEFAULTS['dst_first'], help='first destination address')
    p.add_argument('--dsts', type=int, default=DEFAULTS['dsts'],
                   help='destination addresses (1..254, from --dst-first)')
    p.add_argument('--sport-first', dest='sport_first', type=int,
                   default=DEFAULTS['sport_first'], help='first source port')
    p.add_argument('--dport', type=int, default=DEFAULTS['dport'],
                   help='destination UDP port')
    p.add_argument('--csum', choices=['hw', 'zero'], default=DEFAULTS['csum'],
                   help='hw: NIC fixes IPv4+UDP checksums (STLVmFixChecksumHw); '
                        'zero: UDP checksum 0 (legal in IPv4, shoal keeps it 0) '
                        'and IPv4 fixed in software (STLVmFixIpv4)')
    a = p.parse_args(list(tunables) if isinstance(tunables, (list, tuple)) else [])
    for k in DEFAULTS:
        if k in kwargs:
            setattr(a, k, type(DEFAULTS[k])(kwargs[k]))
    if not 64 <= a.size <= 9216:
        raise ValueError('size must be 64..9216, got %d' % a.size)
    if a.flows < 1:
        raise ValueError('flows must be >= 1')
    if not 1 <= a.dsts <= 254:
        raise ValueError('dsts must be 1..254')
    if a.csum not in ('hw', 'zero'):
        raise ValueError('csum must be hw or zero')
    a.clients = a.clients or min(a.flows, MAX_CLIENTS)
    if not 1 <= a.clients <= MAX_CLIENTS:
        raise ValueError('clients must be 1..%d' % MAX_CLIENTS)
    a.ports = int(math.ceil(a.flows / float(a.clients)))
    if a.sport_first < 1 or a.sport_first + a.ports - 1 > 65535:
        raise ValueError('%d source ports from %d do not fit under 65536'
                         % (a.ports, a.sport_first))
    return a


def _ip_add(ip, n):
    v = 0
    for part in ip.split('.'):
        v = v * 256 + int(part)
    v += n
    return '.'.join(str((v >> s) & 255) for s in (24, 16, 8, 0))


class ShoalStlUdp(object):
    def get_streams(self, tunables=(), direction=0, port_id=0, **kwargs):
        if direction != 0 or port_id % 2:
            raise ValueError('one-way profile: load it on port 0 only (-p 0)')
        a = _args(tunables, kwargs)

        udp = UDP(sport=a.sport_first, dport=a.dport)
        if a.csum == 'zero':
            udp = UDP(sport=a.sport_first, dport=a.dport, chksum=0)
        base = Ether() / IP(src=a.client_first, dst=a.dst_first) / udp
        pad = max(0, a.size - FCS - len(base)) * 'x'

        vm = [
            # flow k: address client_first + k % clients, port
            # sport_first + k // clients; wraps after exactly --flows tuples
            STLVmTupleGen(name='tuple',
                          ip_min=a.client_first,
                          ip_max=_ip_add(a.client_first, a.clients - 1),
                          port_min=a.sport_first,
                          port_max=a.sport_first + a.ports - 1,
                          limit_flows=a.flows),
            STLVmWrFlowVar(fv_name='tuple.ip', pkt_offset='IP.src'),
            STLVmWrFlowVar(fv_name='tuple.port', pkt_offset='UDP.sport'),
        ]
        if a.dsts > 1:
            vm += [
                STLVmFlowVar(name='dst', min_value=a.dst_first,
                             max_value=_ip_add(a.dst_first, a.dsts - 1),
                             size=4, op='inc'),
                STLVmWrFlowVar(fv_name='dst', pkt_offset='IP.dst'),
            ]
        if a.csum == 'hw':
            vm.append(STLVmFixChecksumHw(l3_offset='IP', l4_offset='UDP',
                                         l4_type=CTRexVmInsFixHwCs.L4_TYPE_UDP))
        else:
            vm.append(STLVmFixIpv4(offset='IP'))

        tuples = a.flows * a.dsts // math.gcd(a.flows, a.dsts)
        print('stl_udp_64b: %d-byte frames, %d source pairs over %d clients '
              '(up to %d ports each), %d destination(s): %d distinct 5-tuples'
              % (a.size, a.flows, a.clients, a.ports, a.dsts, tuples))

        return [STLStream(packet=STLPktBuilder(pkt=base / pad, vm=vm),
                          mode=STLTXCont(pps=1))]     # rate comes from -m


def register():
    return ShoalStlUdp()
