"""Beznosikov, Horvath, Richtarik & Safaryan, On biased compression for
distributed learning: Figure 2 (CGD with Top-5 vs Rand-5) and the Top-1
divergence example.

Figure 2: single-node compressed gradient descent x^{k+1} = x^k - gamma
C(grad f(x^k)) with Top-5 (deterministic) and Rand-5 (unbiased, d/5 scaling)
on a quadratic (``quadratic(kappa=100, n=1, d=100)``) and on linear
regression (the ridge data of the shifted-compression paper on one node,
``ridge(n=1)``: 100 samples, 80 features, lambda = 1/m); relative f-gap
(f(x^k) - f*)/(f(x^0) - f*) against bits, to 1e-6.  Steps: the class step
of the best claimed class (Top-5: B3(d/5), gamma = 1/L; Rand-5: U(d/5),
gamma = 1/(zeta L); ``shiftbench.methods.theory.cgd``), and tuned (best
factor 2^0..2^11).  Both send 5 values and their indices per iteration, so
bits and iterations rank alike.

Top-1 example (n = d = 3, f_i(x) = <a_i, x>^2 + 1/4 ||x||^2, x^0 = (1, 1, 1)):
distributed CGD with Top-1 gives x^k = (1 + 11 eta/6)^k x^0; error feedback
with the same compressor and eta converges.
"""
from __future__ import annotations

import math

import numpy as np

from . import core as C

EPS = 1e-6
PROBLEMS = (("quad", "quadratic(kappa=100, n=1, d=100)", "quadratic, kappa = 100, d = 100"),
            ("linreg", "ridge(n=1)", "linear regression (ridge data, one node)"))


def _setting(prob, comp):
    return C.Setting(key=f"b:cgd:{prob}:{comp}", method="cgd", problem=prob, compressor=comp,
                     random=comp.startswith("rand"), stop="f_gap", eps=EPS, eps_rel=True,
                     iters=2_000_000)


def _rel_gap(t):
    g0 = float(t["f_gap"].iloc[0])
    t["f_gap_rel"] = t["f_gap"] / g0 if g0 > 0 else np.nan
    return t


class Fig2(C.FigureBase):
    name = "b-fig2"
    paper = "b"
    figure = "Figure 2"
    title = "CGD with Top-5 vs Rand-5 (Beznosikov et al., Fig. 2)"
    COMPS = ("top-k(k=5)", "rand-k(k=5)")

    def settings(self):
        return [_setting(p, c) for _, p, _ in PROBLEMS for c in self.COMPS]

    def panels(self, data):
        out = []
        for tag, prob, desc in PROBLEMS:
            for step in self.steps:
                frames, styles = [], {}
                for i, c in enumerate(self.COMPS):
                    lab = "Top-5" if c.startswith("top") else "Rand-5"
                    frames.append(C.traces(data[(_setting(prob, c).key, step)], lab,
                                           transform=_rel_gap))
                    styles[lab] = {"color": ("#d62728", "#1f77b4")[i]}
                st = "class step sizes" if step == "theory" else "tuned step sizes"
                out.append(C.Panel(f"{desc}; {st}", C.curves(frames, "bits", "f_gap_rel"),
                                   "uplink bits per worker (bits)",
                                   r"$(f(x^k) - f^\star)/(f(x^0) - f^\star)$", styles=styles))
        return out

    def claims(self, data):
        out = []
        for tag, prob, desc in PROBLEMS:
            for conv in C.conventions({"bits", "step"}):
                st = conv["step"]
                t = C.cost_to_eps(data[(_setting(prob, "top-k(k=5)").key, st)], conv["bits"])
                r = C.cost_to_eps(data[(_setting(prob, "rand-k(k=5)").key, st)], conv["bits"])
                c = C.compare(t, r)
                ratio = C.geo(t) / C.geo(r) if math.isfinite(C.geo(r)) else 0.0
                out.append(self.claim(
                    f"b-fig2-{tag}-topk-beats-randk",
                    f"CGD with Top-5 needs fewer bits than with Rand-5 to reach a relative "
                    f"f-gap of 1e-6 ({desc})", C.convention(**conv),
                    f"bits to 1e-6: Top-5 {C.geo(t):.4g}, Rand-5 {C.geo(r):.4g} "
                    f"(ratio {ratio:.3g}; {c.text}). Rule: Top-5 is deterministic: one-sample "
                    f"Student-t 95% interval of mean log10(Rand-5 bits) - log10(Top-5 bits) "
                    f"(sign test if a run did not reach 1e-6)", C.one(c, "<")))
        return out


class Top1(C.FigureBase):
    name = "b-top1"
    paper = "b"
    figure = "Top-1 divergence example"
    title = "Distributed CGD with Top-1 diverges; error feedback converges (Beznosikov et al.)"
    steps = ("given",)
    ETAS = (0.02, 0.05, 0.1)
    K = 40

    def settings(self):
        out = []
        for eta in self.ETAS:
            out.append(C.Setting(key=f"b:top1:dcgd:{eta:g}", method="dcgd",
                                 problem="divergence3", compressor="top-k(k=1)", random=False,
                                 stop="rel_error", eps=0.0, iters=self.K, gamma=eta,
                                 explode=math.inf, stride=1))
            out.append(C.Setting(key=f"b:top1:ef:{eta:g}", method="ef", problem="divergence3",
                                 compressor="top-k(k=1)", random=False, stop="rel_error",
                                 eps=1e-10, iters=20000, gamma=eta, stride=10))
        return out

    def compute(self, runner):
        return {(s.key, "given"): runner.batch(s, "given") for s in self.settings()}

    def panels(self, data):
        import pandas as pd
        left, right = [], []
        for eta in self.ETAS:
            b = data[(f"b:top1:dcgd:{eta:g}", "given")]
            t = b.runs[0].trace
            k = t["iteration"].to_numpy(float)
            meas = np.sqrt(t["dist_sq"].to_numpy(float) / float(t["dist_sq"].iloc[0]))
            pred = (1 + 11 * eta / 6) ** k
            for lab, y in ((f"measured eta={eta:g}", meas), (f"(1+11eta/6)^k eta={eta:g}", pred)):
                left.append(pd.DataFrame({"series": lab, "kind": "curve", "x": k, "y": y,
                                          "y_lo": y, "y_hi": y, "n_runs": 1}))
            e = data[(f"b:top1:ef:{eta:g}", "given")].runs[0].trace
            ke = e["iteration"].to_numpy(float)
            ye = np.sqrt(e["rel_error"].to_numpy(float))
            right.append(pd.DataFrame({"series": f"EF eta={eta:g}", "kind": "curve", "x": ke,
                                       "y": ye, "y_lo": ye, "y_hi": ye, "n_runs": 1}))
        styles = {}
        for i, eta in enumerate(self.ETAS):
            col = ("#1f77b4", "#ff7f0e", "#2ca02c")[i]
            styles[f"measured eta={eta:g}"] = {"color": col, "marker": "o", "ms": 3, "ls": "none"}
            styles[f"(1+11eta/6)^k eta={eta:g}"] = {"color": col, "ls": "--"}
            styles[f"EF eta={eta:g}"] = {"color": col}
        lab = r"$\|x^k - x^\star\| / \|x^0 - x^\star\|$ ($x^\star = 0$)"
        return [C.Panel("distributed CGD, Top-1 (n = d = 3)", pd.concat(left), "iteration k",
                        lab, xscale="linear", styles=styles),
                C.Panel("error feedback, Top-1, same eta", pd.concat(right), "iteration k",
                        lab, xscale="linear", styles=styles)]

    def claims(self, data):
        errs, ef = [], []
        tol = 8 * self.K * np.finfo(float).eps
        for eta in self.ETAS:
            t = data[(f"b:top1:dcgd:{eta:g}", "given")].runs[0].trace
            k = t["iteration"].to_numpy(float)
            meas = np.sqrt(t["dist_sq"].to_numpy(float) / float(t["dist_sq"].iloc[0]))
            errs.append(float(np.max(np.abs(meas / (1 + 11 * eta / 6) ** k - 1))))
            r = data[(f"b:top1:ef:{eta:g}", "given")].runs[0]
            ef.append((r.status, r.iterations, float(r.trace["rel_error"].iloc[-1])))
        conv = C.convention()
        growth = ", ".join(f"eta={e:g}: x^{self.K} = {(1 + 11 * e / 6) ** self.K:.4g} x^0"
                           for e in self.ETAS)
        out = [self.claim(
            "b-top1-diverges",
            "Distributed CGD with Top-1 on the n = d = 3 example gives x^k = (1 + 11 eta/6)^k x^0",
            conv, f"{growth}; largest relative deviation from the closed form over k <= "
                  f"{self.K}: " + ", ".join(f"{e:.2g}" for e in errs) +
                  f". Rule: deterministic; holds if every deviation <= 8 k eps_machine = "
                  f"{tol:.2g}", "holds" if max(errs) <= tol else "does not hold"),
            self.claim(
            "b-top1-ef-fixes",
            "Error feedback with the same Top-1 and eta converges on the example",
            conv, "; ".join(f"eta={e:g}: {st} after {it} iterations, relative error {re:.2g}"
                            for e, (st, it, re) in zip(self.ETAS, ef)) +
                  ". Rule: deterministic; holds if every run reaches ||x - x*||^2 <= 1e-10 "
                  "||x^0 - x*||^2 within 20000 iterations",
            "holds" if all(st == "converged" for st, _, _ in ef) else "does not hold")]
        return out


FIGURES = (Fig2, Top1)
