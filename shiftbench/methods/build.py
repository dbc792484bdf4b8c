"""Helpers shared by the method declarations' ``build`` functions."""
from __future__ import annotations

import numpy as np

from ..compressors import Compressor, as_compressor, pack_programs, empty_programs


def per_worker(spec, n, what):
    """One compressor for all workers, or a list (or ';'-separated string) of n.

    ``"spec*3"`` repeats a spec for 3 workers.  A Python function or a
    :class:`Compressor` subclass instance that is not a registered spec is
    refused with the right way to add one.
    """
    if spec is None:
        return None
    if isinstance(spec, Compressor) or callable(spec) or not hasattr(spec, "__iter__"):
        return [as_compressor(spec, what)] * n      # a one-line error for anything else
    if isinstance(spec, str):
        parts = [s.strip() for s in spec.split(";") if s.strip()]
        if not parts:
            raise ValueError(f"{what} is empty; give a compressor spec such as 'rand-k(q=0.1)'")
        expanded = []
        for s in parts:
            if "*" in s and s.rsplit("*", 1)[1].strip().isdigit():
                s0, cnt = s.rsplit("*", 1)
                if int(cnt) < 1:
                    raise ValueError(f"{what}: repeat count in {s!r} must be >= 1")
                expanded += [s0.strip()] * int(cnt)
            else:
                expanded.append(s)
        spec = expanded
    spec = list(spec)
    if len(spec) == 1:
        spec = spec * n
    if len(spec) != n:
        raise ValueError(f"{what}: got {len(spec)} compressors for n = {n} workers; "
                         f"give one spec or exactly n (';'-separated, 'spec*count' repeats)")
    cache = {}
    out = []
    for s in spec:
        if isinstance(s, str):
            if s not in cache:
                cache[s] = Compressor(s)
            out.append(cache[s])
        else:
            out.append(as_compressor(s, what))
    return out


def spec_text(comps):
    """The canonical spec of per-worker compressors (one, or ';'-joined)."""
    if comps is None:
        return None
    if len({c.spec for c in comps}) == 1:
        return comps[0].spec
    return ";".join(c.spec for c in comps)


def check_d(comps, d):
    if comps is not None:
        for c in comps:
            c.node.check_d(d)


def programs(comps, d, n):
    """Packed programs of per-worker compressors (an empty program if None)."""
    if comps is None:
        return empty_programs(n), 0
    return pack_programs(comps, d)


def value_bits(comps):
    """Bits per value (32 or 64) of the messages: the largest over compressors."""
    return int(max(c.value_bits for c in comps))


def claimed(comps, d, what):
    """Per-worker claimed omega (what='omega') or delta (what='delta'); NaN where none."""
    vals = []
    for c in comps:
        v = getattr(c.claims(d), what)
        vals.append(np.nan if v is None else float(v))
    return np.array(vals)


def require_unbiased(method, comps, d, role="compressor"):
    """Algorithm 1's Q_i must be unbiased with a claimed omega."""
    for c in comps:
        cl = c.claims(d)
        if cl.kind != "unbiased" or cl.omega is None:
            raise ValueError(f"{method}: {role} {c.spec!r} is {cl.kind}; this method needs an "
                             f"unbiased Q_i with a claimed omega (e.g. rand-k, natural, dither), "
                             f"or pass gamma to run it without theory")
