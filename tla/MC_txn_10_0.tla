---- MODULE MC_txn_10_0 ----
\* MC_txn_10_0: see MC_txn_10_0.cfg for the bounds and what TLC must report
EXTENDS JobLifecycle
====
