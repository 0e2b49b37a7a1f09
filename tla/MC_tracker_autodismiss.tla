---- MODULE MC_tracker_autodismiss ----
\* MC_tracker_autodismiss: jobs started with auto-dismiss (bounds and expected outcome in MC_tracker_autodismiss.cfg)
EXTENDS Tracker
====
