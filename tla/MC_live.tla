---- MODULE MC_live ----
\* MC_live: see MC_live.cfg for the bounds and what TLC must report
EXTENDS JobLifecycle
====
