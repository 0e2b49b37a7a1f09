---- MODULE MC_small_10_0 ----
\* MC_small_10_0: see MC_small_10_0.cfg for the bounds and what TLC must report
EXTENDS JobLifecycle
====
