#!/usr/bin/env python3
"""DocArray can always open an array written through arrayfs and append to
it without overwriting a live document (docs/FORMAT.md 1.5 rule 8).

A random sequence (printed seed, ARFS_DARULES_SEED; ARFS_DARULES_STEPS
steps, default 160) of put, replace, append (>>), truncate (shrink and
grow), rm, mv (to a free name and over an existing one) and compact, run
through the mount while it is mounted and through arrayctl while it is
not (the mount is taken down and brought back every few steps). The mount
runs with a small automatic compaction threshold, so that compactions
happen in the middle of the sequence too. After every step, by DocArray's
reading rules (darules.py, independent of arrayfs code):
  - header.bin is whole rows, the last row is no tombstone and its p + e
    lies at or after the end of every live document's bytes (DocArray's
    next append overwrites nothing live);
  - the documents, in order, are the mount's listing (or arrayctl ls);
  - every document holds the bytes of the model.
"""
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import darules  # noqa: E402
import mountlib as ml  # noqa: E402

NAMES = ["doc%d" % i for i in range(7)]
OPTS = ("autocompact=0.5", "autocompact_min=32K")


def payload(rng, n):
    b = rng.randrange(256)
    return bytes((b + i * 7 + i // 251) & 0xFF for i in range(n))


def arrayctl_ok(*args):
    r = ml.arrayctl(*args)
    if r.returncode:
        raise RuntimeError("arrayctl %s: %s" % (" ".join(args),
                                                r.stdout.decode(errors="replace")))
    return r.stdout


def put_ctl(array, name, data):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        arrayctl_ok("put", array, name, f.name)
    finally:
        os.unlink(f.name)


def listing(array, mnt):
    if mnt:
        return os.listdir(os.path.join(mnt, "arr"))
    out = arrayctl_ok("ls", array).decode()
    return [line.split()[1] for line in out.splitlines() if line.strip()]


def step(rng, model, array, mnt):
    """One random operation; returns its description."""
    name, other = rng.choice(NAMES), rng.choice(NAMES)
    have = name in model
    d = os.path.join(mnt, "arr") if mnt else None
    op = rng.choice(["put", "put", "append", "append", "truncate", "rm",
                     "mv", "compact"])
    if op in ("append", "truncate", "rm", "mv") and not have:
        op = "put"
    if op == "put":
        data = payload(rng, rng.choice([0, 1, 100, 3000, 20000,
                                        rng.randrange(70000)]))
        if mnt:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        else:
            put_ctl(array, name, data)
        model[name] = data
        return "put %s %d" % (name, len(data))
    if op == "append":
        add = payload(rng, rng.randrange(1, 5000))
        if mnt:
            with open(os.path.join(d, name), "ab") as f:
                f.write(add)
        else:
            put_ctl(array, name, model[name] + add)
        model[name] += add
        return "append %s +%d" % (name, len(add))
    if op == "truncate":
        old = model[name]
        size = rng.randrange(len(old) + 1) if rng.random() < 0.5 else \
            len(old) + rng.randrange(1, 20000)
        data = old[:size] + bytes(max(0, size - len(old)))
        if mnt:
            os.truncate(os.path.join(d, name), size)
        else:
            put_ctl(array, name, data)
        model[name] = data
        return "truncate %s %d -> %d" % (name, len(old), size)
    if op == "rm":
        if mnt:
            os.unlink(os.path.join(d, name))
        else:
            arrayctl_ok("rm", array, name)
        del model[name]
        return "rm %s" % name
    if op == "mv":
        if name == other:
            return "mv (same name)"
        if mnt:
            os.rename(os.path.join(d, name), os.path.join(d, other))
        else:
            arrayctl_ok("mv", array, name, other)
        model[other] = model.pop(name)
        return "mv %s %s" % (name, other)
    if mnt:
        return "compact (mounted: automatic only)"
    arrayctl_ok("compact", array)
    return "compact"


def verify(model, array, mnt):
    problems = darules.append_problems(array)
    try:
        docs = darules.read_array(array)
    except ValueError as e:
        return [str(e)]
    names = [darules.id_to_name(i) for i, _ in docs]
    shown = listing(array, mnt)
    if names != shown:
        problems.append("order by the rules %s, %s %s" %
                        (names, "mount" if mnt else "arrayctl ls", shown))
    if sorted(names) != sorted(model):
        problems.append("names by the rules %s, model %s" %
                        (sorted(names), sorted(model)))
    for i, b in docs:
        n = darules.id_to_name(i)
        if n in model and model[n] != b:
            problems.append("%s: %d bytes by the rules, %d in the model" %
                            (n, len(b), len(model[n])))
    return problems


def main():
    ml.skip_without_fuse()
    seed = int(os.environ.get("ARFS_DARULES_SEED", "20261206"))
    steps = int(os.environ.get("ARFS_DARULES_STEPS", "160"))
    print("# seed %d (ARFS_DARULES_SEED), %d steps" % (seed, steps), flush=True)
    rng = random.Random(seed)
    base = ml.scratch("darules")
    store, mntdir = os.path.join(base, "store"), os.path.join(base, "mnt")
    os.makedirs(store)
    m = ml.Mount(store, mntdir, OPTS)
    os.mkdir(os.path.join(mntdir, "arr"))
    array = os.path.join(store, "arr")
    model, log = {}, []
    mounted, bad = True, None
    for k in range(steps):
        if k and rng.random() < 0.08:
            if mounted:
                m.umount()
            else:
                m = ml.Mount(store, mntdir, OPTS)
            mounted = not mounted
            log.append("umount" if not mounted else "mount")
        log.append(step(rng, model, array, mntdir if mounted else None))
        problems = verify(model, array, mntdir if mounted else None)
        if problems:
            bad = (k, problems)
            break
    if mounted:
        m.umount()
    if bad:
        print("# after step %d (seed %d): %s" % (bad[0], seed, log[-1]))
        print("# last steps: %s" % "; ".join(log[-12:]))
    ml.check("%d steps: DocArray opens the array, sees the mount's documents "
             "in order with the model's bytes, appends over nothing live"
             % (k + 1), bad is None, bad and "; ".join(bad[1]))
    r = ml.arrayctl("check", array)
    ml.check("arrayctl check: sound, no warning",
             r.returncode == 0 and b"warning" not in r.stdout,
             r.stdout.decode(errors="replace"))
    info = ml.arrayctl("info", array).stdout.decode(errors="replace")
    print("# " + info.replace("\n", "\n# "))
    ml.finish()


if __name__ == "__main__":
    main()
