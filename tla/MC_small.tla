---- MODULE MC_small ----
\* MC_small: two independent jobs (bounds in MC_small.cfg)
EXTENDS JobLifecycle
====
