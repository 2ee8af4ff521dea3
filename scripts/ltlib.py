"""Shared parts of the dataset builders (make-cifar-lt, make-fashion-mnist-lt,
make-folder-dataset): the long-tail rule, PNG writing, Darknet's label rule, the output
folder's safety rules and the .data file. Python standard library only.

Output folder rules, the same for every builder:
  - OUTDIR must not exist, or be an empty folder; a non-empty OUTDIR is refused unless
    --force is given, and --force only replaces a data set that a builder wrote there (it
    removes exactly the entries listed in OUTDIR/.dataset-manifest, nothing else: weights
    in a backup folder stay). A non-empty folder without that manifest is never touched.
  - Everything is read and checked before OUTDIR is touched; the manifest is written first,
    the .data files last, so a data set with its .data file is complete.
  - On any error while writing, what this run wrote is removed again.
  - OUTDIR (and the backup folder) must not contain blanks: Darknet strips them from the
    lines of a .data file.
"""

import os
import shutil
import struct
import subprocess
import sys
import zlib

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "builder"
HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = ".dataset-manifest"
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp"}


class BuildError(Exception):
    pass


def die(msg):
    """Refuses: one clear line on stderr, exit status 2."""
    print("%s: error: %s" % (PROG, msg), file=sys.stderr)
    sys.exit(2)


def warn(msg):
    print("%s: warning: %s" % (PROG, msg), file=sys.stderr)


# ---- the long-tail rule ---------------------------------------------------------------------

def lt_counts(n_max, ir, classes):
    """n_c = int(n_max * IR^(-c/(C-1))), c = 0..C-1 (PASCL/EAT's CIFAR-LT rule, computed as
    they do, n_max * (1/IR)^(c/(C-1)), so that the float rounding is theirs too)."""
    if classes == 1:
        return [int(n_max)]
    return [int(n_max * (1.0 / ir) ** (c / (classes - 1.0))) for c in range(classes)]


def parse_irs(text):
    """'10,50,100' -> [10.0, 50.0, 100.0]; each a finite number >= 1, no repeats."""
    irs = []
    for part in text.split(","):
        part = part.strip()
        try:
            v = float(part)
        except ValueError:
            die("--ir '%s': '%s' is not a number (give imbalance ratios like 10,50,100)" % (text, part))
        if not (v >= 1) or v == float("inf"):
            die("--ir '%s': %s is not an imbalance ratio (a finite number of at least 1)" % (text, part))
        if v in irs:
            die("--ir '%s': %s is given twice" % (text, part))
        irs.append(v)
    return irs


def ir_tag(ir):
    """10.0 -> 'ir10', 12.5 -> 'ir12.5' (file names of one IR's lists)."""
    return "ir%g" % ir


# ---- PNG ------------------------------------------------------------------------------------

def _chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))


def png(width, height, pixels, channels):
    """An 8-bit PNG (channels 1: grey, 3: RGB) from row-major interleaved bytes."""
    stride = width * channels
    if len(pixels) != stride * height:
        raise ValueError("png: %d bytes for %dx%dx%d" % (len(pixels), width, height, channels))
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))
    color = {1: 0, 3: 2}[channels]
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b""))


def planes_to_rgb(planes, side):
    """CIFAR's R, G, B planes (3 * side * side bytes) -> interleaved RGB bytes."""
    n = side * side
    out = bytearray(3 * n)
    out[0::3] = planes[0:n]
    out[1::3] = planes[n:2 * n]
    out[2::3] = planes[2 * n:3 * n]
    return out


# ---- Darknet's label rule (darknet-patches/0011) --------------------------------------------

def label_of_path(path, index):
    """The class Darknet gives an image path: its folder's name, or one '_'-separated token of
    its file name without the extension, matched exactly against the labels. index: label ->
    class number. Returns the class, -1 when no label matches, -2 when several do."""
    folder = os.path.basename(os.path.dirname(path)) if "/" in path else None
    found = index.get(folder, -1) if folder is not None else -1
    stem = os.path.basename(path)
    if "." in stem:
        stem = stem[:stem.rindex(".")]
    for tok in stem.split("_"):
        if tok and tok in index:
            j = index[tok]
            if found >= 0 and found != j:
                return -2
            found = j
    return found


def check_labels(paths_and_classes, labels):
    """Every (path, class) must get exactly its class by Darknet's rule; refuses otherwise."""
    index = {name: i for i, name in enumerate(labels)}
    bad = []
    for path, c in paths_and_classes:
        got = label_of_path(path, index)
        if got != c:
            why = ("matches no label" if got == -1 else "matches more than one label" if got == -2
                   else "would be labelled '%s'" % labels[got])
            bad.append("%s %s, expected '%s'" % (path, why, labels[c]))
    if bad:
        die("Darknet takes an image's class from its folder name or a '_' token of its file name, "
            "and %d image(s) would get the wrong one:\n  %s%s\nrename those files (a file-name token "
            "must not be another class's name)"
            % (len(bad), "\n  ".join(bad[:5]), "\n  ..." if len(bad) > 5 else ""))


def check_label_names(labels, what):
    """Names that Darknet's labels file and folder matching can hold."""
    seen = set()
    for i, name in enumerate(labels):
        if not name or name != name.strip() or any(ch in name for ch in "\n\r\t /\\") or name in (".", ".."):
            die("%s: class %d has the name %r, which cannot be a folder name and a line of the "
                "labels file (no blanks, slashes or empty names)" % (what, i, name))
        if name in seen:
            die("%s: the class name '%s' appears twice" % (what, name))
        seen.add(name)


# ---- the output folder ----------------------------------------------------------------------

def check_plain_path(what, path):
    if any(ch.isspace() for ch in path):
        die("%s must not contain blanks (Darknet strips them from .data files): %r" % (what, path))


class Output:
    """The data set folder. Use: out = Output(dir, force, entries); everything checked; then
    with out: ... out.path(...) ... (on an error inside, what was written is removed)."""

    def __init__(self, outdir, force, entries):
        self.dir = os.path.abspath(outdir)
        self.entries = list(entries)
        self.force = force
        self.created = False
        check_plain_path("OUTDIR", self.dir)
        if os.path.lexists(self.dir) and not os.path.isdir(self.dir):
            die("%s exists and is not a folder" % self.dir)
        self.old = []
        if os.path.isdir(self.dir) and os.listdir(self.dir):
            man = os.path.join(self.dir, MANIFEST)
            if not force:
                die("%s exists and is not empty: refusing to overwrite it (--force replaces a "
                    "data set that a builder wrote there, and nothing else)" % self.dir)
            if not os.path.isfile(man):
                die("%s is not empty and holds no %s: it is not a data set written by a builder, "
                    "so even --force leaves it alone; choose another OUTDIR" % (self.dir, MANIFEST))
            with open(man) as f:
                self.old = [l.strip() for l in f if l.strip() and not l.startswith("#")]
            for name in self.old:
                if "/" in name or name in (".", ".."):
                    die("%s lists %r: not an entry of that folder; remove the data set by hand" % (man, name))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def add_entry(self, name):
        if name not in self.entries:
            self.entries.append(name)
            self._write_manifest()

    def _write_manifest(self):
        with open(self.path(MANIFEST), "w") as f:
            f.write("# written by %s; --force removes these entries of this folder, nothing else\n" % PROG)
            f.write("".join(e + "\n" for e in self.entries))

    def _remove(self, names):
        for name in names:
            p = self.path(name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            elif os.path.lexists(p):
                os.remove(p)

    def __enter__(self):
        if self.old:
            # .data files first: without them, a half-removed data set does not look complete.
            self._remove(sorted(self.old, key=lambda n: not n.endswith(".data")))
            print("%s: --force: removed the earlier data set's %d entries from %s"
                  % (PROG, len(self.old), self.dir))
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir)
            self.created = True
        self._write_manifest()
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            return False
        # Remove what this run wrote; keep anything else (there is nothing else unless --force).
        try:
            self._remove(self.entries + [MANIFEST])
            if self.created and not os.listdir(self.dir):
                os.rmdir(self.dir)
        except OSError:
            pass
        if kind is KeyboardInterrupt:
            print("%s: interrupted; removed what was written" % PROG, file=sys.stderr)
        elif not issubclass(kind, SystemExit):
            print("%s: error: %s; removed what was written" % (PROG, value), file=sys.stderr)
            sys.exit(1)
        return False


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("".join(str(l) + "\n" for l in lines))


def write_data(path, classes, train, valid, labels, backup, ood, top=None):
    """A Darknet .data file; ood: [(name, list path)]."""
    lines = ["classes=%d" % classes, "train=" + train]
    if valid:
        lines.append("valid=" + valid)
    lines += ["labels=" + labels, "names=" + labels, "backup=" + backup,
              "top=%d" % (top if top else min(classes, 5 if classes >= 20 else 2))]
    lines += ["ood_%s=%s" % (n, p) for n, p in ood]
    write_lines(path, lines)


# ---- OOD sets -------------------------------------------------------------------------------

def parse_ood(specs):
    """--ood NAME=SRC values -> [(name, abs src)], checked before anything is written.
    SRC: a file of CIFAR binary records (.bin or .bin.gz: converted to PNGs under
    OUTDIR/ood/NAME), a folder of images (listed into OUTDIR/ood/NAME.list), or an existing
    image list (used as it is)."""
    out = []
    for spec in specs or []:
        if "=" not in spec:
            die("--ood '%s': expected NAME=SRC" % spec)
        name, src = spec.split("=", 1)
        if not name or not all(ch.isalnum() or ch in "-" for ch in name):
            die("--ood '%s': the set name must be letters, digits and '-'" % spec)
        if name in [n for n, _ in out]:
            die("--ood: the set name '%s' is given twice" % name)
        if not os.path.exists(src):
            die("--ood %s: %s does not exist" % (name, src))
        src = os.path.abspath(src)
        check_plain_path("--ood %s" % name, src)
        if os.path.isfile(src) and os.path.getsize(src) == 0:
            die("--ood %s: %s is empty" % (name, src))
        out.append((name, src))
    return out


def ood_kind(src):
    if os.path.isdir(src):
        return "folder"
    if src.endswith(".bin") or src.endswith(".bin.gz"):
        return "cifar-bin"
    return "list"


def make_ood(out, oods):
    """Converts the OOD sources into OUTDIR/ood/; returns [(name, list path)]."""
    made = []
    for name, src in oods:
        kind = ood_kind(src)
        if kind == "list":
            made.append((name, src))
            continue
        out.add_entry("ood")
        os.makedirs(out.path("ood"), exist_ok=True)
        if kind == "cifar-bin":
            cmd = [os.path.join(HERE, "ood-from-cifar-bin"), src, out.path("ood", name)]
            lst = out.path("ood", name, "list.txt")
        else:
            cmd = [os.path.join(HERE, "ood-from-folder"), src, out.path("ood", name + ".list")]
            lst = out.path("ood", name + ".list")
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        if r.returncode != 0:
            die("--ood %s: %s" % (name, r.stderr.strip() or "conversion failed"))
        made.append((name, lst))
    return made


def count_table(labels, columns, heads):
    """A printable table: one row per class, columns = lists of numbers."""
    w = max(8, max(len(l) for l in labels))
    lines = ["  %-3s %-*s %s" % ("id", w, "class", " ".join("%7s" % h for h in heads))]
    for c, name in enumerate(labels):
        lines.append("  %-3d %-*s %s" % (c, w, name, " ".join("%7d" % col[c] for col in columns)))
    lines.append("  %-3s %-*s %s" % ("", w, "total", " ".join("%7d" % sum(col) for col in columns)))
    return lines
