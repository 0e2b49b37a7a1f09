---- MODULE MC_tracker ----
\* MC_tracker: the tracker's protocol (bounds and expected outcome in MC_tracker.cfg)
EXTENDS Tracker
====
