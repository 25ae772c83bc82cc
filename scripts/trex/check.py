#!/usr/bin/python3
"""Check the TRex material in scripts/trex/ without TRex.

    /usr/bin/python3 scripts/trex/check.py

What this proves, and what it does not:

* every profile (*.py here except this file) byte-compiles (py_compile);
* every profile imports with stub modules standing in for trex.astf.api,
  trex_stl_lib.api and trex.stl.api. The stubs export only names the real
  TRex APIs export (a misspelt class is a NameError here too) and accept
  any arguments and any attribute access;
* register() returns an object whose get_profile() (ASTF) returns an
  ASTFProfile, or whose get_streams() (STL) returns a non-empty list of
  STLStream, when called the way TRex calls them: new-style
  (tunables=[...], TRex v2.9x+) and old-style (tunables as keywords),
  with no tunables and with the examples of docs/TREX.md;
* trex_cfg.yaml parses as YAML and has the expected shape (skipped, with
  a message, when python3-yaml is not installed).

It does NOT prove TRex semantics: argument types and ranges, field-engine
offsets, whether the programs, templates and streams do what TRex would
do with them, or any traffic result. Only a real TRex run shows that.
Prints one line per item and ends with "N passed, N failed"; exit status
1 when anything failed.
"""

import contextlib
import importlib.util
import io
import os
import py_compile
import sys
import tempfile
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))

# Names the real modules export that profiles may use (from trex-core's
# trex/astf/api.py, trex_stl_lib/api.py and the scapy layers they re-export).
ASTF_NAMES = [
    'ASTFProfile', 'ASTFCapInfo', 'ASTFTemplate', 'ASTFTCPClientTemplate',
    'ASTFTCPServerTemplate', 'ASTFProgram', 'ASTFIPGen', 'ASTFIPGenDist',
    'ASTFIPGenGlobal', 'ASTFAssociation', 'ASTFAssociationRule',
    'ASTFCluster', 'ASTFGlobalInfo', 'ASTFGlobalInfoPerTemplate',
    'ASTFTCPInfo', 'ASTFCmdDelay', 'ASTFCmdDelayRnd', 'ASTFClient',
    'ASTFProfileLight', 'ASTFError', 'TRexError',
]
STL_NAMES = [
    'STLStream', 'STLProfile', 'STLPktBuilder', 'STLTXCont',
    'STLTXSingleBurst', 'STLTXMultiBurst', 'STLFlowStats',
    'STLFlowLatencyStats', 'STLScVmRaw', 'STLVM', 'STLVmFlowVar',
    'STLVmFlowVarRepeatableRandom', 'STLVmWrFlowVar', 'STLVmWrMaskFlowVar',
    'STLVmFixIpv4', 'STLVmFixChecksumHw', 'STLVmTrimPktSize', 'STLVmTupleGen',
    'STLVmSkip', 'STLClient', 'STLError', 'CTRexVmInsFixHwCs', 'TRexError',
    # scapy, re-exported by the real api module
    'Ether', 'Dot1Q', 'IP', 'IPv6', 'UDP', 'TCP', 'ICMP', 'Raw', 'Padding',
]

# TRex-style calls to try on each profile kind: (label, tunables list,
# old-style keyword tunables).
EXAMPLES = {
    'astf_http.py': [['--resp-size', '16384'], {'resp_size': 16384}],
    'astf_udp.py': [['--size', '512', '--msgs', '64'], {'size': 512, 'msgs': 64}],
    'stl_udp_64b.py': [['--size', '128', '--flows', '100000'],
                       {'size': 128, 'flows': 100000}],
}


class _Stub(object):
    """Accepts any call, attribute, operator; records how it was made."""

    def __init__(self, *args, **kwargs):
        self._args, self._kwargs = args, kwargs

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return _Stub()

    def __call__(self, *args, **kwargs):
        return _Stub()

    def __truediv__(self, other):           # scapy layering: Ether()/IP()
        return _Stub()

    __rtruediv__ = __div__ = __truediv__

    def __len__(self):                      # scapy len(packet)
        return 42


def _stub_class(name):
    if name.endswith('Error'):
        return type(name, (Exception,), {})
    return type(name, (_Stub,), {})


def _stub_module(fullname, names):
    m = types.ModuleType(fullname)
    m.__all__ = list(names)
    for n in names:
        setattr(m, n, _stub_class(n))
    if 'CTRexVmInsFixHwCs' in names:        # class constants used by profiles
        for c in ('L4_TYPE_UDP', 'L4_TYPE_TCP', 'L4_TYPE_IP'):
            setattr(m.CTRexVmInsFixHwCs, c, c)
    return m


def install_stubs():
    astf = _stub_module('trex.astf.api', ASTF_NAMES)
    stl = _stub_module('trex_stl_lib.api', STL_NAMES)
    mods = {
        'trex': types.ModuleType('trex'),
        'trex.astf': types.ModuleType('trex.astf'),
        'trex.astf.api': astf,
        'trex_astf_lib': types.ModuleType('trex_astf_lib'),
        'trex_astf_lib.api': astf,
        'trex_stl_lib': types.ModuleType('trex_stl_lib'),
        'trex_stl_lib.api': stl,
        'trex.stl': types.ModuleType('trex.stl'),
        'trex.stl.api': stl,
    }
    for pkg in ('trex', 'trex.astf', 'trex_astf_lib', 'trex_stl_lib', 'trex.stl'):
        mods[pkg].__path__ = []
    mods['trex'].astf, mods['trex'].stl = mods['trex.astf'], mods['trex.stl']
    mods['trex.astf'].api, mods['trex.stl'].api = astf, stl
    sys.modules.update(mods)
    return astf, stl


def check_profile(path, astf, stl):
    """Return (ok, detail)."""
    name = os.path.basename(path)
    with tempfile.TemporaryDirectory() as tmp:
        py_compile.compile(path, cfile=os.path.join(tmp, 'x.pyc'), doraise=True)

    spec = importlib.util.spec_from_file_location('trex_profile_' + name[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    prof = mod.register()

    new_style, old_style = EXAMPLES.get(name, [[], {}])
    calls = 0
    if hasattr(prof, 'get_profile'):                 # ASTF
        for args, kwargs in (((), {'tunables': []}),   # TRex v2.9x+
                             ((), {}),                  # old TRex, no tunables
                             ((), {'tunables': new_style}),
                             ((), dict(old_style))):
            p = prof.get_profile(*args, **kwargs)
            if not isinstance(p, astf.ASTFProfile):
                return False, 'get_profile(%s) returned %r' % (kwargs, type(p))
            calls += 1
        return True, 'ASTF, get_profile() x%d' % calls
    if hasattr(prof, 'get_streams'):                 # STL
        base = {'direction': 0, 'port_id': 0}
        for kwargs in (dict(base, tunables=[]), dict(base),
                       dict(base, tunables=new_style), dict(base, **old_style)):
            s = prof.get_streams(**kwargs)
            if isinstance(s, stl.STLProfile):
                s = s.get_streams()
            if (not isinstance(s, list) or not s
                    or not all(isinstance(x, stl.STLStream) for x in s)):
                return False, 'get_streams(%s) returned %r' % (kwargs, s)
            calls += 1
        return True, 'STL, get_streams() x%d' % calls
    return False, 'register() object has neither get_profile nor get_streams'


def check_yaml(path):
    try:
        import yaml
    except ImportError:
        return None, 'skipped: python3-yaml not installed (apt-get install python3-yaml)'
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not (isinstance(doc, list) and len(doc) == 1 and isinstance(doc[0], dict)):
        return False, 'expected a list with one mapping'
    cfg = doc[0]
    if cfg.get('version') != 2:
        return False, 'version is not 2'
    if len(cfg.get('interfaces', [])) != 2 or len(cfg.get('port_info', [])) != 2:
        return False, 'expected 2 interfaces and 2 port_info entries'
    return True, 'YAML, %d keys' % len(cfg)


def main():
    astf, stl = install_stubs()
    passed = failed = 0
    profiles = sorted(f for f in os.listdir(HERE)
                      if f.endswith('.py') and f != os.path.basename(__file__))
    for f in profiles:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                ok, detail = check_profile(os.path.join(HERE, f), astf, stl)
        except BaseException:                       # SystemExit from argparse too
            ok, detail = False, traceback.format_exc().strip().splitlines()[-1]
            if out.getvalue():
                detail += '\n    ' + out.getvalue().strip().replace('\n', '\n    ')
        print('%-4s %-18s %s' % ('ok' if ok else 'FAIL', f, detail))
        passed, failed = passed + bool(ok), failed + (not ok)

    try:
        ok, detail = check_yaml(os.path.join(HERE, 'trex_cfg.yaml'))
    except Exception:
        ok, detail = False, traceback.format_exc().strip().splitlines()[-1]
    print('%-4s %-18s %s' % ({None: 'skip', True: 'ok', False: 'FAIL'}[ok],
                             'trex_cfg.yaml', detail))
    if ok is not None:
        passed, failed = passed + bool(ok), failed + (not ok)

    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
