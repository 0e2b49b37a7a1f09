---- MODULE MC_broken ----
\* MC_broken: see MC_broken.cfg for the bounds and what TLC must report
EXTENDS JobLifecycle
====
