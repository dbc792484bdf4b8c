"""Section 4 of Shulgin & Richtarik, Shifted compression framework (UAI
2022): Figures 1 and 2 on the paper's ridge regression (m = 100, d = 80,
n = 10 workers, lambda = 1/m, make_regression data, x0 ~ N(0, 10)), relative
error ||x^k - x*||^2/||x^0 - x*||^2 against uplink bits per worker, eps = 1e-6.

Settings the paper does not state, and the choices made here:

* step sizes: the theorems' (Theorems 3 and 4 with their recommended M and p),
  and tuned: the best factor 2^0..2^11 of the theorem's step (fewest
  iterations to eps on separate tuning seeds), as a second convention;
* DIANA uses C_i = 0 and alpha = 1/(omega + 1); Rand-DIANA p = 1/(omega + 1);
* Figure 2 uses Rand-K with q = 0.1 (the paper names q = 0.1 for the p sweep
  only); in the M sweep p = 1/(omega + 1) = 0.1 and M = b 2 omega/(n p); in
  the p sweep M is Theorem 4's recommended 4 omega/(n p) for each p;
* bits: full messages (values and indices; dithering: norm, signs and
  levels) or values only; Rand-DIANA's refreshes (d values, and the initial
  h_i^0 = grad f_i(x^0)) counted or not.
"""
from __future__ import annotations

import math


from . import core as C

PROBLEM = "ridge"
EPS = 1e-6


def _setting(method, comp, **opts):
    o = tuple(sorted(opts.items()))
    tag = "".join(f",{k}={v:g}" for k, v in o)
    return C.Setting(key=f"s1:{method}:{comp}{tag}", method=method, problem=PROBLEM,
                     compressor=comp, opts=o, stop="rel_error", eps=EPS, iters=400_000)


def _name(method):
    return {"diana": "DIANA", "rand-diana": "Rand-DIANA"}[method]


_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def _conv_costs(b, conv):
    return C.cost_to_eps(b, conv["bits"] if conv["bits"] != "any" else "full",
                         conv["refresh"] if conv["refresh"] != "any" else "counted")


def _steps(conv):
    return (conv["step"],) if conv["step"] != "any" else C.STEPS


class _S1(C.FigureBase):
    paper = "s1"
    ylabel = r"relative error $\|x^k - x^\star\|^2 / \|x^0 - x^\star\|^2$"
    xlabel = "uplink bits per worker (bits; refreshes counted)"

    def _panels(self, data, series):
        """``series``: list of (label, setting, style) drawn in a theory and a tuned panel."""
        out = []
        for step in self.steps:
            frames, styles = [], {}
            for label, s, st in series:
                frames.append(C.traces(data[(s.key, step)], label))
                styles[label] = st
            title = ("theorems' step sizes" if step == "theory" else
                     "tuned step sizes (best of 2^0..2^11 x theory)")
            out.append(C.Panel(title, C.curves(frames, "bits", "rel_error"), self.xlabel,
                               self.ylabel, styles=styles))
        return out


class Fig1Left(_S1):
    name = "s1-fig1-left"
    figure = "Figure 1 (left)"
    title = "DIANA vs Rand-DIANA, Rand-K (Shulgin & Richtarik 2022, Fig. 1 left)"

    def __init__(self, quick=False, **kw):
        super().__init__(quick)
        self.qs = (0.05, 0.1, 0.2, 0.5)

    def settings(self):
        return [_setting(m, f"rand-k(q={q})") for q in self.qs for m in ("diana", "rand-diana")]

    def panels(self, data):
        ser = []
        for i, q in enumerate(self.qs):
            for m in ("diana", "rand-diana"):
                ser.append((f"{_name(m)} q={q:g}", _setting(m, f"rand-k(q={q})"),
                            {"color": _COLORS[i], "ls": "-" if m == "diana" else "--"}))
        return self._panels(data, ser)

    def claims(self, data):
        out = []
        for conv in C.conventions({"bits", "refresh", "step"}):
            st = conv["step"]
            cv = C.convention(**conv)
            cm, parts = [], []
            for q in self.qs:
                d = _conv_costs(data[(_setting("diana", f"rand-k(q={q})").key, st)], conv)
                r = _conv_costs(data[(_setting("rand-diana", f"rand-k(q={q})").key, st)], conv)
                c = C.compare(r, d, m=len(self.qs))
                cm.append(c)
                parts.append(f"q={q:g}: Rand/DIANA {C.geo(r) / C.geo(d):.3g}x ({c.text})"
                             if math.isfinite(C.geo(r) / C.geo(d)) else f"q={q:g}: {c.text}")
            out.append(self.claim("s1-fig1l-rand-beats-diana",
                                  "Rand-DIANA needs fewer bits than DIANA to reach eps = 1e-6 "
                                  "at every q (Rand-K, p = 1/(omega+1))", cv,
                                  "; ".join(parts) + f". Rule: per q, {RULE_CMP}; Bonferroni "
                                  f"over {len(self.qs)} q; holds if all favour Rand-DIANA",
                                  C.all_of(cm, "<")))
            for m, cid, want, txt in (
                    ("rand-diana", "s1-fig1l-rand-better-low-q", "+",
                     "Rand-DIANA needs fewer bits at lower q"),):
                out.append(self._trend_claim(data, conv, m, cid, want, txt))
        for conv in C.conventions({"bits", "step"}):
            out.append(self._trend_claim(data, conv, "diana", "s1-fig1l-diana-better-high-q",
                                         "-", "DIANA needs fewer bits at higher q"))
        return out

    def _trend_claim(self, data, conv, m, cid, want, txt):
        st = conv["step"]
        costs = [_conv_costs(data[(_setting(m, f"rand-k(q={q})").key, st)], conv)
                 for q in self.qs]
        c = C.trend(self.qs, costs)
        gm = ", ".join(f"q={q:g}: {C.geo(x):.4g}" for q, x in zip(self.qs, costs))
        return self.claim(cid, txt + " (bits to eps = 1e-6 against q)", C.convention(**conv),
                          f"geometric-mean bits {gm}; {c.text}. Rule: {RULE_TREND}; holds if "
                          f"the slope is {'negative' if want == '-' else 'positive'}",
                          C.one(c, want))


RULE_CMP = ("Student-t 95% interval of the mean log10 bits ratio over seeds (sign test "
            "when a run did not reach eps); inconclusive if the interval contains 0")
RULE_TREND = ("OLS slope of log10 bits on log10 of the parameter over all runs, Student-t "
              "95% interval (Kendall tau test if a run did not reach eps); inconclusive if "
              "the interval contains 0")
RULE_UNSTABLE = ("a run is unstable if it diverged or did not reach eps within the iteration "
                 "cap; Fisher's exact one-sided test at level 0.05 against the other group; "
                 "does not hold if no run is unstable")


class Fig1Right(_S1):
    name = "s1-fig1-right"
    figure = "Figure 1 (right)"
    title = "DIANA vs Rand-DIANA, natural dithering (Shulgin & Richtarik 2022, Fig. 1 right)"

    def __init__(self, quick=False, **kw):
        super().__init__(quick)
        self.ss = (2, 3, 5, 10, 20) if quick else tuple(range(2, 21))

    def _s(self, m, s):
        return _setting(m, f"natural-dither(s={s})")

    def settings(self):
        return [self._s(m, s) for s in self.ss for m in ("diana", "rand-diana")]

    def _best(self, data, m, step, conv=None):
        conv = conv or {"bits": "full", "refresh": "counted"}
        g = {s: C.geo(_conv_costs(data[(self._s(m, s).key, step)], conv)) for s in self.ss}
        return min(g, key=lambda s: g[s]), g

    def panels(self, data):
        out = []
        for step in self.steps:
            sd, _ = self._best(data, "diana", step)
            sr, _ = self._best(data, "rand-diana", step)
            show = sorted({self.ss[0], sd, sr, self.ss[-1]})
            frames, styles = [], {}
            for i, s in enumerate(show):
                for m in ("diana", "rand-diana"):
                    lab = f"{_name(m)} s={s}" + (" (best)" if (m == "diana" and s == sd) or
                                                  (m == "rand-diana" and s == sr) else "")
                    frames.append(C.traces(data[(self._s(m, s).key, step)], lab))
                    styles[lab] = {"color": _COLORS[i], "ls": "-" if m == "diana" else "--"}
            title = ("theorems' step sizes" if step == "theory" else
                     "tuned step sizes (best of 2^0..2^11 x theory)")
            out.append(C.Panel(title + f"; s shown: {', '.join(map(str, show))}",
                               C.curves(frames, "bits", "rel_error"), self.xlabel,
                               self.ylabel, styles=styles))
        return out

    def claims(self, data):
        out = []
        for conv in C.conventions({"bits", "refresh", "step"}):
            st = conv["step"]
            sd, gd = self._best(data, "diana", st, conv)
            sr, gr = self._best(data, "rand-diana", st, conv)
            d = _conv_costs(data[(self._s("diana", sd).key, st)], conv)
            r = _conv_costs(data[(self._s("rand-diana", sr).key, st)], conv)
            c = C.compare(d, r)
            out.append(self.claim(
                "s1-fig1r-diana-best-s-beats-rand",
                "With natural dithering, DIANA at its best s needs fewer bits than "
                "Rand-DIANA at its best s", C.convention(**conv),
                f"best s: DIANA s={sd} ({gd[sd]:.4g} bits), Rand-DIANA s={sr} "
                f"({gr[sr]:.4g} bits); DIANA/Rand {gd[sd] / gr[sr]:.3g}x ({c.text}). "
                f"Rule: {RULE_CMP}; best s by geometric mean over the grid "
                f"{self.ss[0]}..{self.ss[-1]}", C.one(c, "<")))
            s2 = self.ss[0]
            d2 = _conv_costs(data[(self._s("diana", s2).key, st)], conv)
            r2 = _conv_costs(data[(self._s("rand-diana", s2).key, st)], conv)
            c2 = C.compare(r2, d2)
            out.append(self.claim(
                "s1-fig1r-rand-better-s2", f"At s = {s2}, Rand-DIANA needs fewer bits than DIANA",
                C.convention(**conv),
                f"Rand/DIANA {C.geo(r2) / C.geo(d2):.3g}x ({c2.text}). Rule: {RULE_CMP}",
                C.one(c2, "<")))
        return out


class Fig2Left(_S1):
    name = "s1-fig2-left"
    figure = "Figure 2 (left)"
    title = ("Rand-DIANA over M = b 2 omega/(n p), Rand-K q = 0.1 "
             "(Shulgin & Richtarik 2022, Fig. 2 left)")

    Q = "rand-k(q=0.1)"

    def __init__(self, quick=False, **kw):
        super().__init__(quick)
        self.bs = ((0.1, 0.5, 1.0, 1.5, 4.0) if quick else
                   (0.01, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0))
        om, n, p = 9.0, 10, 0.1
        self.Mp = 2 * om / (n * p)
        self.notes.append(f"M' = 2 omega/(n p) = {self.Mp:g} (omega = 9, n = 10, p = 0.1); "
                          f"b < 1 violates Theorem 4's condition M > M'")

    def _s(self, b):
        return _setting("rand-diana", self.Q, M=round(b * self.Mp, 12))

    def settings(self):
        return [self._s(b) for b in self.bs]

    def panels(self, data):
        return self._panels(data, [(f"b={b:g}", self._s(b), {"color": _COLORS[i % 10]})
                                   for i, b in enumerate(self.bs)])

    def claims(self, data):
        out = []
        small = [b for b in self.bs if b < 1]
        large = [b for b in self.bs if b >= 1]
        for conv in C.conventions({"step"}):
            st = conv["step"]
            k1 = sum(C.unstable(data[(self._s(b).key, st)]) for b in small)
            n1 = sum(data[(self._s(b).key, st)].R for b in small)
            k0 = sum(C.unstable(data[(self._s(b).key, st)]) for b in large)
            n0 = sum(data[(self._s(b).key, st)].R for b in large)
            p, txt = C.more_unstable(k1, n1, k0, n0)
            v = "does not hold" if k1 == 0 else ("holds" if p < C.LEVEL else "inconclusive")
            per = ", ".join(f"b={b:g}: {C.unstable(data[(self._s(b).key, st)])}/"
                            f"{data[(self._s(b).key, st)].R}" for b in self.bs)
            out.append(self.claim(
                "s1-fig2l-small-M-unstable",
                "Rand-DIANA with M below Theorem 4's bound (b < 1) is unstable: runs diverge or "
                "fail to converge", C.convention(**conv),
                f"unstable runs {per}; b<1 vs b>=1: {txt}. Rule: {RULE_UNSTABLE}", v))
        for conv in C.conventions({"bits", "refresh", "step"}):
            st = conv["step"]
            costs = [_conv_costs(data[(self._s(b).key, st)], conv) for b in large]
            c = C.trend(large, costs)
            gm = ", ".join(f"b={b:g}: {C.geo(x):.4g}" for b, x in zip(large, costs))
            out.append(self.claim(
                "s1-fig2l-large-M-slow",
                "A larger M (b >= 1) slows Rand-DIANA down: bits to eps grow with b",
                C.convention(**conv),
                f"geometric-mean bits {gm}; {c.text}. Rule: {RULE_TREND}; holds if the slope "
                f"is positive", C.one(c, "+")))
        return out


class Fig2Right(_S1):
    name = "s1-fig2-right"
    figure = "Figure 2 (right)"
    title = "Rand-DIANA over p, Rand-K q = 0.1 (Shulgin & Richtarik 2022, Fig. 2 right)"

    Q = "rand-k(q=0.1)"

    def __init__(self, quick=False, **kw):
        super().__init__(quick)
        self.ps = ((0.01, 0.05, 0.1, 0.5, 1.0) if quick else
                   (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0))
        self.notes.append("M = 4 omega/(n p) for each p (Theorem 4's recommendation), so the "
                          "theory step 1/((1 + 6 omega/n) L_max) does not depend on p")

    def _s(self, p):
        return _setting("rand-diana", self.Q, p=p)

    def settings(self):
        return [self._s(p) for p in self.ps]

    def panels(self, data):
        return self._panels(data, [(f"p={p:g}", self._s(p), {"color": _COLORS[i % 10]})
                                   for i, p in enumerate(self.ps)])

    def claims(self, data):
        out = []
        for conv in C.conventions({"bits", "refresh", "step"}):
            st = conv["step"]
            costs = [_conv_costs(data[(self._s(p).key, st)], conv) for p in self.ps]
            c = C.trend(self.ps, costs)
            gm = ", ".join(f"p={p:g}: {C.geo(x):.4g}" for p, x in zip(self.ps, costs))
            out.append(self.claim(
                "s1-fig2r-small-p-faster",
                "Rand-DIANA (q = 0.1) converges faster for smaller p: bits to eps grow with p",
                C.convention(**conv),
                f"geometric-mean bits {gm}; {c.text}. Rule: {RULE_TREND}; holds if the slope "
                f"is positive", C.one(c, "+")))
        half = len(self.ps) // 2
        lo_ps, hi_ps = self.ps[:len(self.ps) - half], self.ps[len(self.ps) - half:]
        for conv in C.conventions({"step"}):
            st = conv["step"]
            k1 = sum(C.unstable(data[(self._s(p).key, st)]) for p in hi_ps)
            n1 = sum(data[(self._s(p).key, st)].R for p in hi_ps)
            k0 = sum(C.unstable(data[(self._s(p).key, st)]) for p in lo_ps)
            n0 = sum(data[(self._s(p).key, st)].R for p in lo_ps)
            pv, txt = C.more_unstable(k1, n1, k0, n0)
            v = "does not hold" if k1 == 0 else ("holds" if pv < C.LEVEL else "inconclusive")
            per = ", ".join(f"p={p:g}: {C.unstable(data[(self._s(p).key, st)])}/"
                            f"{data[(self._s(p).key, st)].R}" for p in self.ps)
            out.append(self.claim(
                "s1-fig2r-large-p-diverges",
                "Rand-DIANA diverges for p above some threshold", C.convention(**conv),
                f"unstable runs {per}; p >= {hi_ps[0]:g} vs below: {txt}. Rule: "
                f"{RULE_UNSTABLE}", v))
        return out


FIGURES = (Fig1Left, Fig1Right, Fig2Left, Fig2Right)
