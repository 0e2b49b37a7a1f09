---- MODULE MC_hang ----
\* MC_hang: see MC_hang.cfg for the bounds and what TLC must report
EXTENDS JobLifecycle
====
