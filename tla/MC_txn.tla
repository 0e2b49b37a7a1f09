---- MODULE MC_txn ----
\* MC_txn: three backups in one grouped transaction (bounds in MC_txn.cfg)
EXTENDS JobLifecycle
====
