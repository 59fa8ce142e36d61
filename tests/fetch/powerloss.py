#!/usr/bin/env python3
"""powerloss.py - rebuilds the states a disk could hold after a power cut
during one recorded bootdrop-fetch run, and checks each one.

A power cut loses every write not yet made durable, and a disk writes the
pages of one flush interval back in any order.  So after barrier k-1 the
disk holds everything before it, plus any version of each page written
since: the page as it was, or as any of its writes in between left it.

ext2 (an image): the run is recorded by powerloss_shim.so (every write to
the image and every barrier).  For each barrier interval this builds: none
and all of its writes (the latter is also a SIGKILL right after the
barrier), each page alone, a page caught between two of its writes, the
program-order prefixes, and random subsets (fixed seed); identical images
are checked once, and at most --states of them.

dir (-d DESTDIR): the run is recorded with strace (file operations below
DESTDIR) and replayed under a no-journal model: a file's data is durable
once the file is fsynced, a directory's entries once the directory is, and
each directory and file loses any suffix of its changes since.

Each state must be: old-or-new (every installed file byte-identical to
version 1 or 2; missing only on a first install); for ext2, consistent by
e2fsck -fn, or marked not clean with e2fsck -p repairing it (exit < 4) into
a consistent file system that is also old-or-new; and a plain re-run from
it (and from the repaired copy) exits 0 with version 2 installed, after
which the next run says "up to date".

Prints one summary line: scenario, writes, barriers, states, failures.
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import struct
import subprocess
import sys

PAGE = 4096


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          **kw)


# ---------------------------------------------------------------- recording

def read_image_log(path):
    """[('W', off, bytes) | ('B',)] from the shim's records."""
    ops = []
    with open(path, 'rb') as f:
        data = f.read()
    i = 0
    while i < len(data):
        t = data[i:i + 1]
        off, n = struct.unpack_from('=QQ', data, i + 1)
        i += 17
        if t == b'W':
            ops.append(('W', off, data[i:i + n]))
            i += n
        elif t == b'Z':
            ops.append(('W', off, bytes(n)))
        elif t == b'B':
            ops.append(('B',))
        else:
            raise SystemExit('bad record at %d' % i)
    return ops


def split_epochs(ops):
    """Write lists between barriers; the last one follows the last barrier."""
    epochs, cur = [], []
    for op in ops:
        if op[0] == 'B':
            epochs.append(cur)
            cur = []
        else:
            cur.append(op)
    epochs.append(cur)
    return epochs


def apply_write(img, off, data):
    end = off + len(data)
    if end > len(img):
        img.extend(bytes(end - len(img)))
    img[off:end] = data


def page_versions(base, writes):
    """{page: [version 0 (before), after each write touching it, ...]}"""
    cur = bytearray(base)
    vers = {}
    for _, off, data in writes:
        first, last = off // PAGE, (off + len(data) - 1) // PAGE
        for p in range(first, last + 1):
            if p not in vers:
                vers[p] = [bytes(cur[p * PAGE:(p + 1) * PAGE])]
        apply_write(cur, off, data)
        for p in range(first, last + 1):
            vers[p].append(bytes(cur[p * PAGE:(p + 1) * PAGE]))
    return vers, bytes(cur)


def image_states(base, ops, budget, seed):
    """[(label, image bytes)] chosen as the module comment says."""
    rnd = random.Random(seed)
    epochs = split_epochs(ops)
    must, pools = [], {'page': [], 'torn': [], 'prefix': [], 'random': []}
    cur = bytes(base)
    for k, writes in enumerate(epochs):
        if not writes:
            continue
        vers, after = page_versions(cur, writes)

        def build(choice, cur=cur, vers=vers):
            img = bytearray(cur)
            for p, v in choice.items():
                apply_write(img, p * PAGE, vers[p][v])
            return bytes(img)

        where = 'barrier %d' % k
        must.append(('after %s' % where, after))
        pages = sorted(vers)
        for p in pages:
            n = len(vers[p]) - 1
            pools['page'].append(('%s + page %d alone' % (where, p),
                                  lambda p=p, n=n, b=build: b({p: n})))
            for v in range(1, n):
                pools['torn'].append(
                    ('%s + page %d after %d of its %d writes' % (where, p, v, n),
                     lambda p=p, v=v, b=build: b({p: v})))
        for m in range(1, len(writes)):
            pools['prefix'].append(
                ('%s + first %d of %d writes' % (where, m, len(writes)),
                 lambda m=m, cur=cur, w=writes: prefix_image(cur, w, m)))
        for r in range(4):
            choice = {p: rnd.randint(0, len(vers[p]) - 1) for p in pages}
            pools['random'].append(('%s + random subset %d' % (where, r),
                                    lambda c=choice, b=build: b(c)))
        cur = after
    seen, out = set(), []

    def take(label, img):
        h = hashlib.sha256(img).digest()
        if h in seen or img == base:
            return
        seen.add(h)
        out.append((label, img))

    for label, img in must:
        take(label, img)
    for name in pools:
        rnd.shuffle(pools[name])
    names = list(pools)
    while len(out) < budget and any(pools.values()):
        for name in names:
            if pools[name] and len(out) < budget:
                label, make = pools[name].pop()
                take(label, make())
    return out


def prefix_image(base, writes, m):
    img = bytearray(base)
    for _, off, data in writes[:m]:
        apply_write(img, off, data)
    return bytes(img)


# ------------------------------------------------------------ -d (strace)

STRACE_LINE = re.compile(r'^(\d+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+|\?)')


def unescape(s):
    return bytes(int(h, 16) for h in re.findall(r'\\x([0-9a-f]{2})', s))


def parse_args(argstr):
    """Splits strace's argument list: quoted strings and plain tokens."""
    args, i = [], 0
    while i < len(argstr):
        if argstr[i] == '"':
            j = i + 1
            while argstr[j] != '"':
                j += 2 if argstr[j] == '\\' else 1
            args.append(('s', argstr[i + 1:j]))
            i = j + 1
            while i < len(argstr) and argstr[i] in '.':
                i += 1
        else:
            j = i
            depth = 0
            while j < len(argstr) and (argstr[j] != ',' or depth):
                depth += argstr[j] in '[{<'
                depth -= argstr[j] in ']}>'
                j += 1
            args.append(('t', argstr[i:j].strip()))
            i = j
        while i < len(argstr) and argstr[i] in ', ':
            i += 1
    return args


def fdpath(tok):
    m = re.match(r'^-?\w+<(.*)>$', tok)
    return hexpath(m.group(1)) if m else None


def hexpath(s):
    return unescape(s).decode('utf-8', 'surrogateescape') if '\\x' in s else s


def dir_ops(trace, root):
    """Replays strace -y output into model operations below root."""
    root = os.path.realpath(root)
    ops = []

    def rel(p):
        p = os.path.normpath(p)
        if p == root:
            return '.'
        if p.startswith(root + '/'):
            return p[len(root) + 1:]
        return None

    def at(dirtok, name):
        name = hexpath(name)
        if name.startswith('/'):
            return rel(name)
        d = fdpath(dirtok) if dirtok != 'AT_FDCWD' else os.getcwd()
        return rel(os.path.join(d, name)) if d else None

    for line in open(trace, encoding='utf-8', errors='surrogateescape'):
        m = STRACE_LINE.match(line)
        if not m or m.group(4) == '?' or int(m.group(4)) < 0:
            continue
        call, a, ret = m.group(2), parse_args(m.group(3)), int(m.group(4))
        if call == 'openat' and 'O_CREAT' in a[2][1]:
            p = at(a[0][1], a[1][1])
            if p is not None:
                ops.append(('create', p, 'O_TRUNC' in a[2][1]))
        elif call in ('write', 'pwrite64'):
            p = rel(fdpath(a[0][1]) or '')
            if p is not None:
                data = unescape(a[1][1])[:ret]
                off = int(a[3][1]) if call == 'pwrite64' else None
                ops.append(('write', p, off, data))
        elif call in ('renameat', 'renameat2', 'linkat'):
            s, d = at(a[0][1], a[1][1]), at(a[2][1], a[3][1])
            if s is not None and d is not None:
                ops.append(('rename' if call != 'linkat' else 'link', s, d))
        elif call == 'unlinkat':
            p = at(a[0][1], a[1][1])
            if p is not None:
                ops.append(('rmdir' if 'AT_REMOVEDIR' in a[2][1] else 'unlink', p))
        elif call == 'mkdirat':
            p = at(a[0][1], a[1][1])
            if p is not None:
                ops.append(('mkdir', p, int(a[2][1], 8)))
        elif call in ('fsync', 'fdatasync'):
            p = rel(fdpath(a[0][1]) or '')
            if p is not None:
                ops.append(('fsync', p))
    return ops


class Model:
    """Files and directories as a no-journal file system would hold them:
    names -> inode per directory, data per inode; durable and current."""

    def __init__(self, root):
        self.next = 1
        self.names = {}     # dir path -> {name: ino}
        self.data = {}      # ino -> bytes
        self.isdir = {}     # ino -> dir path it is (for directories)
        self.pos = {}       # path -> write position (current)
        self.mode = {}      # dir path -> permission bits
        self.names['.'] = {}
        self.isdir[0] = '.'
        for dpath, dirs, files in os.walk(root):
            r = os.path.relpath(dpath, root)
            for d in dirs:
                p = os.path.normpath(os.path.join(r, d))
                self._mk(p)
                self.mode[p] = os.stat(os.path.join(root, p)).st_mode & 0o7777
            for f in files:
                p = os.path.normpath(os.path.join(r, f))
                ino = self._ino()
                self.names[os.path.dirname(p) or '.'][os.path.basename(p)] = ino
                with open(os.path.join(root, p), 'rb') as fh:
                    self.data[ino] = fh.read()

    def _ino(self):
        self.next += 1
        return self.next

    def _mk(self, p):
        ino = self._ino()
        self.names[os.path.dirname(p) or '.'][os.path.basename(p)] = ino
        self.names[p] = {}
        self.isdir[ino] = p
        return ino

    def lookup(self, p):
        d = self.names.get(os.path.dirname(p) or '.')
        return None if d is None else d.get(os.path.basename(p))

    def copy(self):
        m = Model.__new__(Model)
        m.next = self.next
        m.names = {k: dict(v) for k, v in self.names.items()}
        m.data = dict(self.data)
        m.isdir = dict(self.isdir)
        m.pos = dict(self.pos)
        m.mode = dict(self.mode)
        return m

    def render(self, out):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        self._render('.', out)

    def _render(self, d, out):
        for name, ino in self.names.get(d, {}).items():
            p = os.path.normpath(os.path.join(d, name))
            if ino in self.isdir and self.isdir[ino] in self.names:
                os.makedirs(os.path.join(out, p), exist_ok=True)
                os.chmod(os.path.join(out, p), self.mode.get(self.isdir[ino], 0o755))
                self._render(self.isdir[ino], out)
            elif ino not in self.isdir:
                with open(os.path.join(out, p), 'wb') as fh:
                    fh.write(self.data.get(ino, b''))


def dir_states(base_dir, ops, budget, seed):
    """Replays ops; at each fsync, the states a crash just before it could
    leave: per directory and per file, any prefix of their changes since
    they were last made durable."""
    rnd = random.Random(seed)
    durable = Model(base_dir)
    pending = {}   # object (dir path or ('f', ino)) -> [op closures]
    cur = durable.copy()
    states, nbar = [], 0

    def obj_dir(p):
        return os.path.dirname(p) or '.'

    def crash_state(choice):
        m = durable.copy()
        for key, n in choice.items():
            for fn in pending[key][:n]:
                fn(m)
        return m

    for op in ops:
        kind = op[0]
        if kind == 'fsync':
            # every subset-of-prefixes state before this barrier completes
            keys = [k for k in pending if pending[k]]
            label = 'fsync %d (%s)' % (nbar, op[1])
            here = [(label + ': all', {k: len(pending[k]) for k in keys}),
                    (label + ': none', {})]
            for k in keys:
                here.append((label + ': only %s' % (k,), {k: len(pending[k])}))
                for n in range(1, len(pending[k])):
                    here.append((label + ': %s first %d' % (k, n), {k: n}))
                here.append((label + ': all but %s' % (k,),
                             {j: len(pending[j]) for j in keys if j != k}))
            for r in range(3):
                here.append((label + ': random %d' % r,
                             {k: rnd.randint(0, len(pending[k])) for k in keys}))
            states += [(lab, ch, crash_state(ch)) for lab, ch in here]
            # the barrier: make the object's changes durable
            p = op[1]
            ino = cur.lookup(p) if p != '.' else 0
            if ino is not None and ino in cur.isdir:
                key = cur.isdir[ino]
            elif ino is not None:
                key = ('f', ino)
            else:
                key = None
            if key in pending:
                for fn in pending.pop(key):
                    fn(durable)
            nbar += 1
            continue
        # apply to cur, queue for durable
        if kind == 'create':
            p = op[1]
            ino = cur.lookup(p)
            if ino is None:
                ino = cur._ino()
                durable.next = max(durable.next, cur.next)
                cur.names[obj_dir(p)][os.path.basename(p)] = ino
                cur.data[ino] = b''
                add = (lambda m, d=obj_dir(p), b=os.path.basename(p), i=ino:
                       m.names.setdefault(d, {}).__setitem__(b, i))
                pending.setdefault(obj_dir(p), []).append(add)
            elif op[2]:
                cur.data[ino] = b''
                pending.setdefault(('f', ino), []).append(
                    lambda m, i=ino: m.data.__setitem__(i, b''))
            cur.pos[p] = 0
        elif kind == 'write':
            p, off, data = op[1], op[2], op[3]
            ino = cur.lookup(p)
            if ino is None:
                continue
            if off is None:
                off = cur.pos.get(p, 0)
            cur.pos[p] = off + len(data)

            def wr(m, i=ino, off=off, data=data):
                old = m.data.get(i, b'')
                if len(old) < off:
                    old += bytes(off - len(old))
                m.data[i] = old[:off] + data + old[off + len(data):]
            wr(cur)
            pending.setdefault(('f', ino), []).append(wr)
        elif kind in ('rename', 'link'):
            s, d = op[1], op[2]
            ino = cur.lookup(s)
            if ino is None:
                continue
            if ino in cur.isdir:
                raise SystemExit('directory rename not modelled: ' + s)
            cur.names[obj_dir(d)][os.path.basename(d)] = ino
            if kind == 'rename':
                del cur.names[obj_dir(s)][os.path.basename(s)]
            pending.setdefault(obj_dir(d), []).append(
                lambda m, dd=obj_dir(d), b=os.path.basename(d), i=ino:
                m.names.setdefault(dd, {}).__setitem__(b, i))
            if kind == 'rename':
                pending.setdefault(obj_dir(s), []).append(
                    lambda m, dd=obj_dir(s), b=os.path.basename(s), i=ino:
                    m.names.get(dd, {}).get(b) == i and
                    m.names[dd].pop(b))
        elif kind in ('unlink', 'rmdir'):
            p = op[1]
            ino = cur.lookup(p)
            if ino is None:
                continue
            del cur.names[obj_dir(p)][os.path.basename(p)]
            pending.setdefault(obj_dir(p), []).append(
                lambda m, dd=obj_dir(p), b=os.path.basename(p), i=ino:
                m.names.get(dd, {}).get(b) == i and m.names[dd].pop(b))
        elif kind == 'mkdir':
            p = op[1]
            if cur.lookup(p) is not None:
                continue
            ino = cur._mk(p)
            durable.next = max(durable.next, cur.next)

            cur.mode[p] = op[2]

            def mk(m, p=p, i=ino, mode=op[2]):
                m.names.setdefault(os.path.dirname(p) or '.', {})[
                    os.path.basename(p)] = i
                m.mode[p] = mode
                m.names.setdefault(p, {})
                m.isdir[i] = p
            pending.setdefault(obj_dir(p), []).append(mk)
    # the end of the run: everything written (a kill after exit)
    out, seen = [], set()
    rnd.shuffle(states)
    for label, choice, m in states:
        key = repr(sorted((d, sorted(n.items())) for d, n in m.names.items())) + \
            repr(sorted((i, hashlib.sha256(v).hexdigest()) for i, v in m.data.items()))
        if key in seen:
            continue
        seen.add(key)
        out.append((label, m))
        if len(out) >= budget:
            break
    return out


# ------------------------------------------------------------------ checks

class Checker:
    def __init__(self, a):
        self.a = a
        self.failures = []
        self.files = {'boot/kernel': ('kernel', 'kernel'),
                      'world.tgz': ('world.tgz', 'world.tgz'),
                      'boot/grub/menu.lst': ('menu.lst', 'menu-fresh.lst'
                                             if a.fresh else 'menu.lst'),
                      # only version 1 names it: version 2's install
                      # removes it (None: no such file)
                      'extra.txt': ('extra.txt', None)}

    def version_bytes(self, v, name):
        if name is None:
            return None
        with open(os.path.join(self.a.versions, 'v%d' % v, name), 'rb') as f:
            return f.read()

    def fail(self, label, what, detail=''):
        keep = os.environ.get('POWERLOSS_KEEP')
        if keep and self.a.kind == 'ext2':
            os.makedirs(keep, exist_ok=True)
            shutil.copyfile(os.path.join(self.a.work, 'slice.img'),
                            os.path.join(keep, 'fail%d.img' % len(self.failures)))
        self.failures.append(label)
        print('FAIL: %s: %s %s' % (label, what, detail.strip()[:2000]),
              file=sys.stderr)

    def get_files(self, where):
        """{install path: bytes or None}."""
        got = {}
        names = list(self.files) + ['boot/kernel.old']
        if self.a.kind == 'dir':
            for n in names:
                p = os.path.join(where, n)
                got[n] = open(p, 'rb').read() if os.path.isfile(p) else None
            return got
        dump = os.path.join(self.a.work, 'got')
        shutil.rmtree(dump, ignore_errors=True)
        os.makedirs(dump)
        cmds = os.path.join(self.a.work, 'dump.cmds')
        with open(cmds, 'w') as f:
            for n in names:
                f.write('dump /%s %s/%s\n' % (n, dump, n.replace('/', '_')))
        run(['debugfs', '-c', '-n', '-f', cmds, where])
        for n in names:
            p = os.path.join(dump, n.replace('/', '_'))
            got[n] = open(p, 'rb').read() if os.path.isfile(p) else None
        return got

    def old_or_new(self, label, where):
        got = self.get_files(where)
        bad = []
        for n, (v1, v2) in self.files.items():
            b = got[n]
            if b is None and self.a.fresh:
                continue
            if b not in (self.version_bytes(1, v1), self.version_bytes(2, v2)):
                bad.append(n)
        if bad:
            self.fail(label, 'neither old nor new:', ' '.join(bad))
            return False
        return True

    def all_new(self, label, where):
        got = self.get_files(where)
        bad = [n for n, (v1, v2) in self.files.items()
               if got[n] != self.version_bytes(2, v2)]
        old = got['boot/kernel.old']
        if self.a.fresh:
            if old is not None:
                bad.append('boot/kernel.old')
        elif old != self.version_bytes(1, 'kernel'):
            bad.append('boot/kernel.old')
        if bad:
            self.fail(label, 'not version 2:', ' '.join(bad))
            return False
        return True

    def fsck(self, label, img):
        """Consistent, or not clean and repaired by e2fsck -p: returns the
        repaired copy's path (or None when consistent, False on failure)."""
        r = run(['e2fsck', '-fn', img])
        if r.returncode == 0:
            return None
        h = run(['dumpe2fs', '-h', img]).stdout.decode(errors='replace')
        if not re.search(r'^Filesystem state:\s+not clean', h, re.M):
            self.fail(label, 'inconsistent and marked clean',
                      r.stdout.decode(errors='replace'))
            return False
        rep = os.path.join(self.a.work, 'repaired.img')
        shutil.copyfile(img, rep)
        p = run(['e2fsck', '-p', rep])
        if p.returncode >= 4 or run(['e2fsck', '-fn', rep]).returncode != 0:
            self.fail(label, 'e2fsck -p cannot repair it (exit %d)' % p.returncode,
                      p.stdout.decode(errors='replace'))
            return False
        return rep

    def fetch(self, where, quiet=True):
        if self.a.kind == 'dir':
            tgt = ['-d', where]
        else:
            tmp = os.path.join(self.a.work, 'tmp')
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            tgt = ['--ext2', where, '--tmpdir', tmp]
        return run([self.a.fetch] + (['-q'] if quiet else []) +
                   ['-P', self.a.pubkey, '-c', self.a.channel] + tgt +
                   [self.a.url], timeout=120)

    def rerun(self, label, where):
        r = self.fetch(where)
        if r.returncode != 0:
            self.fail(label, 're-run failed (exit %d):' % r.returncode,
                      r.stdout.decode(errors='replace'))
            return
        if not self.all_new(label + ', re-run', where):
            return
        if self.a.kind == 'ext2' and self.fsck(label + ', after re-run', where) is False:
            return
        r = self.fetch(where, quiet=False)
        if r.returncode != 0 or b'up to date' not in r.stdout:
            self.fail(label, 'second re-run not up to date:',
                      r.stdout.decode(errors='replace'))

    def check_image(self, label, img):
        path = os.path.join(self.a.work, 'slice.img')
        with open(path, 'wb') as f:
            f.write(img)
        n = len(self.failures)
        rep = self.fsck(label, path)
        if rep is False:
            return
        self.old_or_new(label, path)
        if rep:
            self.old_or_new(label + ', after e2fsck -p', rep)
            keep = os.path.join(self.a.work, 'repaired.keep')
            shutil.copyfile(rep, keep)
        if len(self.failures) > n:
            return
        self.rerun(label, path)
        if rep:
            self.rerun(label + ', after e2fsck -p', keep)

    def check_dir(self, label, model):
        where = os.path.join(self.a.work, 'slice')
        model.render(where)
        if self.old_or_new(label, where):
            self.rerun(label, where)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kind', choices=('ext2', 'dir'), required=True)
    ap.add_argument('--scenario', required=True)
    ap.add_argument('--base', required=True, help='image or directory before the run')
    ap.add_argument('--versions', required=True, help='DIR with v1/ and v2/')
    ap.add_argument('--work', required=True)
    ap.add_argument('--fetch', required=True)
    ap.add_argument('--shim')
    ap.add_argument('--pubkey', required=True)
    ap.add_argument('--channel', required=True)
    ap.add_argument('--url', required=True)
    ap.add_argument('--fresh', action='store_true', help='first install')
    ap.add_argument('--states', type=int, default=120)
    ap.add_argument('--seed', type=int, default=17)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker(a)
    log = os.path.join(a.work, 'record')
    if os.path.exists(log):
        os.unlink(log)
    if a.kind == 'ext2':
        img = os.path.join(a.work, 'recorded.img')
        shutil.copyfile(a.base, img)
        env = dict(os.environ, LD_PRELOAD=a.shim, POWERLOSS_IMAGE=img,
                   POWERLOSS_LOG=log)
        tmp = os.path.join(a.work, 'tmp')
        os.makedirs(tmp, exist_ok=True)
        r = run([a.fetch, '-q', '-P', a.pubkey, '-c', a.channel, '--ext2', img,
                 '--tmpdir', tmp, a.url], env=env)
        if r.returncode != 0 or not c.all_new('recorded run', img):
            print('recorded run failed:', r.stdout.decode(errors='replace'),
                  file=sys.stderr)
            return 1
        ops = read_image_log(log)
        with open(a.base, 'rb') as f:
            base = f.read()
        check = prefix_image(base, [o for o in ops if o[0] == 'W'],
                             len([o for o in ops if o[0] == 'W']))
        with open(img, 'rb') as f:
            if f.read() != check:
                print('the record does not rebuild the run\'s image', file=sys.stderr)
                return 1
        writes = sum(1 for o in ops if o[0] == 'W')
        barriers = sum(1 for o in ops if o[0] == 'B')
        states = image_states(base, ops, a.states, a.seed)
        for label, img_bytes in states:
            c.check_image(label, img_bytes)
    else:
        slice_dir = os.path.join(a.work, 'recorded')
        shutil.rmtree(slice_dir, ignore_errors=True)
        shutil.copytree(a.base, slice_dir, symlinks=True)
        r = run(['strace', '-f', '-qq', '-y', '-xx', '-s', '16777216', '-o', log,
                 '-e', 'trace=openat,write,pwrite64,renameat,renameat2,linkat,'
                 'unlinkat,mkdirat,fsync,fdatasync',
                 a.fetch, '-q', '-P', a.pubkey, '-c', a.channel, '-d', slice_dir,
                 a.url], env=dict(os.environ, ASAN_OPTIONS='detect_leaks=0'))
        if r.returncode != 0 or not c.all_new('recorded run', slice_dir):
            print('recorded run failed:', r.stdout.decode(errors='replace'),
                  file=sys.stderr)
            return 1
        ops = dir_ops(log, slice_dir)
        writes = sum(1 for o in ops if o[0] != 'fsync')
        barriers = sum(1 for o in ops if o[0] == 'fsync')
        states = dir_states(a.base, ops, a.states, a.seed)
        for label, model in states:
            c.check_dir(label, model)
    failed = len(set(c.failures))
    print('%s: %d writes, %d barriers, %d states checked, %d failing' %
          (a.scenario, writes, barriers, len(states), failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
