"""Citations of the problems (shown by ``python -m shiftbench problems`` and
stored in ``Problem.meta["source"]``)."""

SHULGIN = ("Shulgin & Richtárik, Shifted compression framework: generalizations and "
           "improvements, UAI 2022")
BEZNOSIKOV = ("Beznosikov, Horváth, Richtárik & Safaryan, On biased compression for "
              "distributed learning (arXiv:2002.12410; JMLR 2023)")
EF21 = ("Richtárik, Sokolov & Fatkhullin, EF21: a new, simpler, theoretically better, and "
        "practically faster error feedback, NeurIPS 2021")
TPC = ("Richtárik, Sokolov, Fatkhullin, Gasanov, Li & Gorbunov, 3PC: three point "
       "compressors for communication-efficient distributed training and a better theory "
       "for lazy aggregation, ICML 2022")

RIDGE = f"{SHULGIN}, §4 (Experiments): ridge regression, make_regression defaults, lam = 1/m"
QUADRATIC = (f"test problems for the complexities of {SHULGIN}, Table 1 (interp=1: the "
             f"interpolation regime grad f_i(x*) = 0 of its DCGD-FIXED/GDCI rows)")
LOGREG_NC = (f"experimental setup of {EF21} and {TPC}: nonconvex regulariser "
             f"lam sum x_k^2/(1+x_k^2), lam = 0.1, n = 20, LIBSVM data (details "
             f"reconstructed from the authors' public code)")
LOGREG = (f"L2-regularised (convex) variant of the logistic regression of the EF21 "
          f"(NeurIPS 2021) and 3PC (ICML 2022) experiments")
DIVERGENCE3 = (f"{BEZNOSIKOV}: 'Exponential divergence with biased compressor' "
               f"(n = d = 3, distributed CGD with Top-1)")
LSQ = ("synthetic least squares for speed measurements (shiftbench): Gaussian data, "
       "ridge's scaling f = 1/2 ||A x - b||^2 + lam/2 ||x||^2")
