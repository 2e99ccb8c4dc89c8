#!/usr/bin/env python3
"""gguf_split.py — split a GGUF into shards the way llama.cpp's gguf-split does, for the
`r1 pull USER/REPO:QUANT` test of split models (tests/e2e/pull.sh): shard 1 holds all the metadata
plus split.no / split.count / split.tensors.count, the others only the split.* keys; the tensors
are dealt out in order, their data copied byte for byte.
Usage: gguf_split.py IN.gguf N OUT_PREFIX   (writes OUT_PREFIX-0000k-of-0000N.gguf)
"""
import struct
import sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(b, p, t):
    if t in SIZES:
        return p + SIZES[t]
    if t == 8:  # string
        (n,) = struct.unpack_from("<Q", b, p)
        return p + 8 + n
    if t == 9:  # array
        (et, n) = struct.unpack_from("<IQ", b, p)
        p += 12
        for _ in range(n):
            p = skip_value(b, p, et)
        return p
    raise ValueError("value type %d" % t)


def gguf_str(s):
    e = s.encode()
    return struct.pack("<Q", len(e)) + e


def main():
    src, n_shards, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    b = open(src, "rb").read()
    magic, version, n_t, n_kv = struct.unpack_from("<4sIQQ", b, 0)
    assert magic == b"GGUF" and version == 3
    p = 24
    kvs = []
    align = 32
    for _ in range(n_kv):
        (kl,) = struct.unpack_from("<Q", b, p)
        key = b[p + 8 : p + 8 + kl].decode()
        (t,) = struct.unpack_from("<I", b, p + 8 + kl)
        end = skip_value(b, p + 12 + kl, t)
        if key == "general.alignment":
            (align,) = struct.unpack_from("<I", b, p + 12 + kl)
        kvs.append(b[p:end])
        p = end
    tensors = []  # (name bytes incl. length, dims+type bytes, offset)
    for _ in range(n_t):
        (nl,) = struct.unpack_from("<Q", b, p)
        name = b[p : p + 8 + nl]
        p += 8 + nl
        (nd,) = struct.unpack_from("<I", b, p)
        shape = b[p : p + 4 + 8 * nd + 4]
        p += 4 + 8 * nd + 4
        (off,) = struct.unpack_from("<Q", b, p)
        p += 8
        tensors.append((name, shape, off))
    data0 = (p + align - 1) // align * align
    offs = sorted(t[2] for t in tensors) + [len(b) - data0]
    padded = {o: offs[i + 1] - o for i, o in enumerate(offs[:-1])}
    per = (len(tensors) + n_shards - 1) // n_shards
    for k in range(n_shards):
        mine = tensors[k * per : (k + 1) * per]
        split_kv = (gguf_str("split.no") + struct.pack("<IH", 2, k)
                    + gguf_str("split.count") + struct.pack("<IH", 2, n_shards)
                    + gguf_str("split.tensors.count") + struct.pack("<Ii", 5, len(tensors)))
        meta = kvs if k == 0 else []
        head = struct.pack("<4sIQQ", b"GGUF", 3, len(mine), len(meta) + 3)
        head += b"".join(meta) + split_kv
        infos, blob, off = b"", b"", 0
        for name, shape, o in mine:
            infos += name + shape + struct.pack("<Q", off)
            chunk = b[data0 + o : data0 + o + padded[o]]
            chunk += b"\0" * (-len(chunk) % align)
            blob += chunk
            off += len(chunk)
        out = head + infos
        out += b"\0" * (-len(out) % align)
        with open("%s-%05d-of-%05d.gguf" % (prefix, k + 1, n_shards), "wb") as f:
            f.write(out + blob)


main()
