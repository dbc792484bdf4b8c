"""Finite-sum problems f = (1/n) sum_i f_i with exact constants.

>>> from shiftbench.problems import make
>>> p = make("ridge(seed=3)")                                    # doctest: +SKIP
>>> p.L, p.L_max, p.mu, p.kappa                                  # doctest: +SKIP

Problems (spec strings, see :func:`list_problems` or
``python -m shiftbench problems``):

* ``ridge(seed, m, d, n, lam)``: ridge regression of Shulgin & Richtárik,
  Shifted compression framework, UAI 2022, §4;
* ``quadratic(kappa, n, d, hetero, interp, seed, L, lmax_ratio)``: exact-kappa
  quadratics for the checks of that paper's Table 1;
* ``logreg(data, lam, n, ...)``: L2 logistic regression on a LIBSVM file;
* ``logreg-nc(data, lam, n, ...)``: nonconvex logistic regression of the
  EF21 (Richtárik, Sokolov & Fatkhullin, NeurIPS 2021) and 3PC (Richtárik et al.,
  ICML 2022) experiments;
* ``lsq(n, d, rows, seed, lam)``: synthetic least squares of any size (default
  n = 16, d = 10^6, 10 rows per worker) with exact constants, for speed work;
* ``divergence3(t)``: the Top-1 divergence example of Beznosikov et al.,
  On biased compression for distributed learning ("Exponential divergence
  with biased compressor").

Users' own data: :func:`problem_from_arrays` (squared or logistic loss,
exact constants, a choice of how rows are split among workers).
"""
from .base import LSQ, LOGREG, LOGREG_NC, KIND_NAMES, Problem, local_grad, full_grad  # noqa: F401
from .quadratic import quadratic, divergence3, lsq_problem  # noqa: F401
from .ridge import ridge  # noqa: F401
from .lsq import lsq, lsq_memory  # noqa: F401
from .logreg import logreg, logreg_nc, synthetic_classification  # noqa: F401
from .libsvm import load_libsvm, Dataset  # noqa: F401
from .base import SPLITS, block_offsets  # noqa: F401
from .registry import make, list_problems, parse, spec_with, REGISTRY  # noqa: F401
from .arrays import problem_from_arrays, LOSSES  # noqa: F401

__all__ = ["Problem", "local_grad", "full_grad", "LSQ", "LOGREG", "LOGREG_NC",
           "make", "list_problems", "parse", "ridge", "quadratic", "logreg", "logreg_nc",
           "divergence3", "lsq_problem", "lsq", "lsq_memory", "load_libsvm", "Dataset",
           "synthetic_classification", "problem_from_arrays", "spec_with",
           "block_offsets", "SPLITS", "LOSSES"]
