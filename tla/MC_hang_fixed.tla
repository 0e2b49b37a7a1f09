---- MODULE MC_hang_fixed ----
\* MC_hang_fixed: see MC_hang_fixed.cfg for the bounds and what TLC must report
EXTENDS JobLifecycle
====
