--------------------------- MODULE JobLifecycle ---------------------------
(***************************************************************************)
(* QEMU's background-job lifecycle (job.c), at the level of jobfsm's       *)
(* simulator (sim/manager.go, sim/verbs.go).  Every status change goes     *)
(* through Hop, which asserts that it is an edge of the generated table    *)
(* (fsm's canonical table) of the QEMU version QemuVersion names (the      *)
(* constant of the generated JobTables: "7.2" or "10.0"); every verb is    *)
(* guarded by that table's Permits.  The verbs set-speed and change (10.0) *)
(* change no status and nothing this spec models, so they are not actions  *)
(* here (TraceJobLifecycle matches them as no-ops).                        *)
(*                                                                         *)
(* Jobs are 1..N, created in id order; QEMU's lists are newest first, so a *)
(* transaction's head is its highest id.  At most one grouped transaction  *)
(* (Grouped); every other job is alone in its own (completion-mode         *)
(* individual).  Model/explore (Go) explores exactly this state space.     *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC, JobTables

CONSTANTS
    N,                 \* number of jobs
    Grouped,           \* jobs of the one grouped transaction
    ManualFinalize,    \* jobs created with auto-finalize=false
    ManualDismiss,     \* jobs created with auto-dismiss=false
    ReadyJobs,         \* mirror-like jobs: ready, complete, soft cancel when ready
    MayFail,           \* jobs whose run may fail (before ready)
    StopOnError,       \* jobs whose I/O error policy is stop (they may error-pause)
    PrepareMayFail,    \* jobs whose .prepare may fail
    BitmapJobs,        \* backups that own a sync bitmap (successor while running)
    MaxDrains,         \* bound on a job's concurrent drained sections
    NMonitors,         \* QMP monitors
    RollbackRule,      \* "qemu72": finish_sync polls an unstarted member forever
                       \* (reference 12; 10.0.13 too); "fixed": it is completed
                       \* directly (sim)
    FinalizeInWaiting  \* BROKEN VARIANT: finalize also accepted in waiting

Jobs == 1..N
Monitors == 1..NMonitors
TxnOf(j) == IF j \in Grouped THEN 0 ELSE j
Txns == {TxnOf(j) : j \in Jobs}
TxnJobs(t) == {j \in Jobs : TxnOf(j) = t}
Results == {"ok", "error", "canceled"}   \* job->ret: 0, -EIO, -ECANCELED

ASSUME /\ N \in 1..8 /\ NMonitors \in 0..2 /\ MaxDrains \in 0..3
       /\ \A S \in {Grouped, ManualFinalize, ManualDismiss, ReadyJobs, MayFail,
                    StopOnError, PrepareMayFail, BitmapJobs} : S \subseteq Jobs
       /\ RollbackRule \in {"qemu72", "fixed"}
       /\ FinalizeInWaiting \in BOOLEAN

VARIABLES
    status,       \* job->status
    started,      \* job_start ran (job->co != NULL)
    deferred,     \* the run finished (deferred_to_main_loop); job_exit queued or done
    userPaused,   \* job->user_paused
    drains,       \* internal pauses (drained sections); pause_count is derived
    cancelled,    \* job->cancelled (soft or forced cancel requested)
    forced,       \* job->force_cancel (job_is_cancelled)
    ret,          \* job->ret as a result
    completeReq,  \* job-complete was accepted (mirror should_complete)
    graph,        \* "orig" or "changed": pivot / chain edit / filter removal done
    bitmap,       \* "none", "frozen" (successor, busy), "committed", "restored"
    aborting,     \* txn->aborting, per transaction (never reset)
    conn,         \* conn[m]: monitor m is connected
    seen,         \* seen[m][j]: the last status of j that m learned (event or query)
    lost          \* lost[m][j]: m missed an event of j since it last queried

jobVars == <<status, started, deferred, userPaused, drains, cancelled, forced,
             ret, completeReq, graph, bitmap>>
monVars == <<conn, seen, lost>>
vars == <<jobVars, aborting, monVars>>

-----------------------------------------------------------------------------
(* Helpers *)

\* Hop(a, b): the status after the edge a -> b, which must be in the table.
Hop(a, b) == IF Allowed(a, b) THEN b
             ELSE Assert(FALSE, <<"not a JobSTT edge", a, b>>)

Completed(j) == status[j] \in {"waiting", "pending", "aborting", "concluded", "null"}
Live(s) == s \notin {"undefined", "concluded", "null"}
\* The members still in the transaction (job_finalize_single removes them).
Members(t) == {j \in TxnJobs(t) : Live(status[j])}
\* QLIST_INSERT_HEAD: the newest (highest id) member is first.
TxnHead(t) == CHOOSE j \in Members(t) : \A k \in Members(t) : k <= j
AbortInProgress(t) == aborting[t] /\ Members(t) # {}
\* job_completed_txn_abort_locked runs inside one main-loop call (it polls
\* with job_finish_sync): no QMP command is handled until it returns.
Blocked == \E t \in Txns : AbortInProgress(t)

PauseCount(j) == (IF started[j] THEN 0 ELSE 1) + (IF userPaused[j] THEN 1 ELSE 0) + drains[j]
\* The pause/resume mapping is the table's (running <-> paused,
\* ready <-> standby); a zero-arity name, so TLC computes the set once.
InPauseStatuses == Applies("unpause")
InPause(j) == status[j] \in InPauseStatuses
Resumed(s) == Target("unpause", s)
Paused(s) == Target("pause-point", s)
AutoDismissed(j) == j \notin ManualDismiss \/ ~started[j]

\* The other members that a transaction abort started by j force-cancels
\* (job_cancel_async_locked(other, true)); none when it is already aborting.
AbortSet(j) == IF aborting[TxnOf(j)] THEN {} ELSE Members(TxnOf(j)) \ {j}
NewUserPaused(A, j, v) == [k \in Jobs |-> IF k = j THEN v ELSE IF k \in A THEN FALSE ELSE userPaused[k]]
NewCancelled(A, j, v) == [k \in Jobs |-> IF k = j THEN v ELSE IF k \in A THEN TRUE ELSE cancelled[k]]
NewForced(A, j, v) == [k \in Jobs |-> IF k = j THEN v ELSE IF k \in A THEN TRUE ELSE forced[k]]
StartAbort(j) == IF aborting[TxnOf(j)] THEN aborting ELSE [aborting EXCEPT ![TxnOf(j)] = TRUE]

\* Every step ends here: a dismissed job's drained sections no longer reach
\* it, and each monitor receives (or, disconnected, loses) the status events.
StepTail ==
    /\ drains' = [k \in Jobs |-> IF status'[k] = "null" THEN 0 ELSE drains[k]]
    /\ seen' = [m \in Monitors |-> [k \in Jobs |->
                  IF conn[m] /\ status'[k] # status[k] THEN status'[k] ELSE seen[m][k]]]
    /\ lost' = [m \in Monitors |-> [k \in Jobs |->
                  lost[m][k] \/ (~conn[m] /\ status'[k] # status[k])]]
    /\ UNCHANGED conn

-----------------------------------------------------------------------------
(* Finalization *)

\* job_finalize_single_locked for job h whose status is s0 at that point:
\* job_update_rc (-ECANCELED if force-cancelled; aborting on failure), commit
\* or abort (graph change, bitmap), conclude, dismiss if auto-dismiss or never
\* started.  Result: a record of h's new fields.
Single(h, s0) ==
    LET r == IF ret[h] = "ok" /\ forced[h] THEN "canceled" ELSE ret[h]
        s1 == IF r # "ok" THEN Hop(s0, "aborting") ELSE s0
        s2 == Hop(s1, "concluded")
        s3 == IF AutoDismissed(h) THEN Hop(s2, "null") ELSE s2
    IN [status |-> s3, ret |-> r,
        graph |-> IF r = "ok" THEN "changed" ELSE graph[h],
        bitmap |-> IF h \in BitmapJobs THEN (IF r = "ok" THEN "committed" ELSE "restored")
                   ELSE bitmap[h]]

\* job_do_finalize_locked on transaction t: S are the members to finalize (all
\* of them unless the broken variant finalizes from waiting) and st their
\* statuses at that point (pending).  Prepare runs newest first and stops at
\* the first failure f; jobfsm then aborts on behalf of f (QEMU 7.2 aborts on
\* behalf of the finalize target, spec/deviations.md D2).
DoFinalize(t, S, st) ==
    \E f \in {0} \cup {k \in S \cap PrepareMayFail : ret[k] = "ok"} :
        IF f = 0 THEN
            /\ status' = [k \in Jobs |-> IF k \in S THEN Single(k, st[k]).status ELSE st[k]]
            /\ ret' = [k \in Jobs |-> IF k \in S THEN Single(k, st[k]).ret ELSE ret[k]]
            /\ graph' = [k \in Jobs |-> IF k \in S THEN Single(k, st[k]).graph ELSE graph[k]]
            /\ bitmap' = [k \in Jobs |-> IF k \in S THEN Single(k, st[k]).bitmap ELSE bitmap[k]]
            /\ UNCHANGED <<userPaused, cancelled, forced, aborting>>
        ELSE
            LET A == AbortSet(f) IN
            /\ status' = [st EXCEPT ![f] = Hop(@, "aborting")]
            /\ ret' = [ret EXCEPT ![f] = "error"]
            /\ userPaused' = NewUserPaused(A, f, userPaused[f])
            /\ cancelled' = NewCancelled(A, f, cancelled[f])
            /\ forced' = NewForced(A, f, forced[f])
            /\ aborting' = StartAbort(f)
            /\ UNCHANGED <<graph, bitmap>>

-----------------------------------------------------------------------------
(* QMP commands: the client side.  None is handled while Blocked. *)

\* Jobs are created in id order; a grouped transaction's members all in one
\* step (the prepare phase of one QMP transaction command).
Create(j) ==
    /\ ~Blocked
    /\ status[j] = "undefined"
    /\ \A i \in 1..(j - 1) : status[i] # "undefined"
    /\ LET new == IF j \in Grouped THEN Grouped ELSE {j} IN
       /\ status' = [k \in Jobs |-> IF k \in new THEN Hop(status[k], "created") ELSE status[k]]
       /\ bitmap' = [k \in Jobs |-> IF k \in new \cap BitmapJobs THEN "frozen" ELSE bitmap[k]]
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, aborting>>
    /\ StepTail

\* job_start; a grouped transaction starts its jobs only once all exist.
Start(j) ==
    /\ ~Blocked
    /\ status[j] = "created" /\ ~started[j]
    /\ j \in Grouped => \A k \in Grouped : status[k] # "undefined"
    /\ status' = [status EXCEPT ![j] = Hop(@, "running")]
    /\ started' = [started EXCEPT ![j] = TRUE]
    /\ UNCHANGED <<deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* After pause_count drops to 0 a job sitting in its pause point is entered
\* at once (job_resume_locked -> job_enter_cond_locked -> aio_co_wake).
UnpauseIfFree(j, pc) ==
    IF pc = 0 /\ started[j] /\ ~deferred[j] /\ InPause(j)
    THEN [status EXCEPT ![j] = Hop(@, Resumed(@))]
    ELSE status

Pause(j) ==
    /\ ~Blocked
    /\ Permits(status[j], "pause") /\ ~userPaused[j]
    /\ userPaused' = [userPaused EXCEPT ![j] = TRUE]
    /\ UNCHANGED <<status, started, deferred, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

Resume(j) ==
    /\ ~Blocked
    /\ userPaused[j] /\ Permits(status[j], "resume")
    /\ userPaused' = [userPaused EXCEPT ![j] = FALSE]
    /\ status' = UnpauseIfFree(j, PauseCount(j) - 1)
    /\ UNCHANGED <<started, deferred, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* job-cancel (force) and block-job-cancel (force or soft).  The driver's
\* .cancel decides the effective force (mirror: soft only when ready).
Cancel(j, force) ==
    /\ ~Blocked
    /\ Permits(status[j], "cancel")
    /\ force \/ ~userPaused[j]   \* "The block job for device '%s' is currently paused"
    /\ LET eff == IF j \in ReadyJobs THEN force \/ status[j] \notin {"ready", "standby"} ELSE TRUE
           setC == eff \/ ~deferred[j]
           c1 == cancelled[j] \/ setC
           f1 == forced[j] \/ (setC /\ eff)
           A == AbortSet(j)
       IN IF ~started[j] THEN
             \* job_completed_locked: -ECANCELED, created -> aborting, txn abort
             /\ status' = [status EXCEPT ![j] = Hop(@, "aborting")]
             /\ ret' = [ret EXCEPT ![j] = IF @ = "ok" /\ f1 THEN "canceled" ELSE @]
             /\ userPaused' = NewUserPaused(A, j, FALSE)
             /\ cancelled' = NewCancelled(A, j, c1)
             /\ forced' = NewForced(A, j, f1)
             /\ aborting' = StartAbort(j)
          ELSE IF deferred[j] /\ f1 THEN
             \* the run is over: a forced cancel aborts the transaction now
             /\ status' = status
             /\ ret' = ret
             /\ userPaused' = NewUserPaused(A, j, FALSE)
             /\ cancelled' = NewCancelled(A, j, c1)
             /\ forced' = NewForced(A, j, f1)
             /\ aborting' = StartAbort(j)
          ELSE
             \* job_enter: a job in its pause point leaves it now
             /\ status' = IF ~deferred[j] /\ InPause(j)
                          THEN [status EXCEPT ![j] = Hop(@, Resumed(@))] ELSE status
             /\ ret' = ret
             /\ userPaused' = [userPaused EXCEPT ![j] = FALSE]
             /\ cancelled' = [cancelled EXCEPT ![j] = c1]
             /\ forced' = [forced EXCEPT ![j] = f1]
             /\ UNCHANGED aborting
    /\ UNCHANGED <<started, deferred, completeReq, graph, bitmap>>
    /\ StepTail

\* job_complete_locked: "cannot be completed" after a cancel request.
Complete(j) ==
    /\ ~Blocked
    /\ Permits(status[j], "complete") /\ ~cancelled[j]
    /\ completeReq' = [completeReq EXCEPT ![j] = TRUE]
    /\ UNCHANGED <<status, started, deferred, userPaused, cancelled, forced, ret, graph, bitmap, aborting>>
    /\ StepTail

\* job_finalize_locked finalizes the job's whole transaction.
Finalize(j) ==
    /\ ~Blocked
    /\ \/ Permits(status[j], "finalize")
       \/ FinalizeInWaiting /\ status[j] = "waiting"
    /\ LET t == TxnOf(j)
           S == {k \in Members(t) : status[k] \in {"waiting", "pending"}}
           st == [k \in Jobs |-> IF k \in S /\ status[k] = "waiting"
                                 THEN Hop("waiting", "pending") ELSE status[k]]
       IN DoFinalize(t, S, st)
    /\ UNCHANGED <<started, deferred, completeReq>>
    /\ StepTail

Dismiss(j) ==
    /\ ~Blocked
    /\ Permits(status[j], "dismiss")
    /\ status' = [status EXCEPT ![j] = Hop(@, "null")]
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* A drained section of one of the job's nodes (child_job_drained_begin/end),
\* e.g. the bdrv_drain_all of a QMP transaction: an internal pause.
DrainBegin(j) ==
    /\ ~Blocked
    /\ status[j] \in Drainable
    /\ drains[j] < MaxDrains
    /\ drains' = [drains EXCEPT ![j] = @ + 1]
    /\ UNCHANGED <<status, started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ UNCHANGED monVars

DrainEnd(j) ==
    /\ ~Blocked
    /\ drains[j] > 0
    /\ drains' = [drains EXCEPT ![j] = @ - 1]
    /\ status' = UnpauseIfFree(j, PauseCount(j) - 1)
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ seen' = [m \in Monitors |-> [k \in Jobs |->
                  IF conn[m] /\ status'[k] # status[k] THEN status'[k] ELSE seen[m][k]]]
    /\ lost' = [m \in Monitors |-> [k \in Jobs |->
                  lost[m][k] \/ (~conn[m] /\ status'[k] # status[k])]]
    /\ UNCHANGED conn

-----------------------------------------------------------------------------
(* The job's coroutine and the main loop: internal steps. *)

\* job_pause_point_locked: pause_count > 0 and not force-cancelled.
PausePoint(j) ==
    /\ started[j] /\ ~deferred[j] /\ status[j] \in {"running", "ready"}
    /\ PauseCount(j) > 0 /\ ~forced[j]
    /\ status' = [status EXCEPT ![j] = Hop(@, Paused(@))]
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* job_transition_to_ready (a mirror whose source and target are in sync).
Ready(j) ==
    /\ j \in ReadyJobs
    /\ started[j] /\ ~deferred[j] /\ status[j] = "running" /\ ~forced[j]
    /\ status' = [status EXCEPT ![j] = Hop(@, "ready")]
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* block_job_error_action with on-error=stop: BLOCK_JOB_ERROR, then a pause
\* that counts as the user's (user_paused), undone only by QMP resume or
\* cancel; the job pauses at its next pause point.
ErrorStop(j) ==
    /\ j \in StopOnError
    /\ started[j] /\ ~deferred[j] /\ status[j] = "running" /\ ~forced[j]
    /\ ~userPaused[j]
    /\ userPaused' = [userPaused EXCEPT ![j] = TRUE]
    /\ UNCHANGED <<status, started, deferred, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* The run returns (job_co_entry ends, job_exit is queued): no status change.
\* A mirror-like job returns ok only when force-cancelled, or when ready and
\* completed or (softly) cancelled; other jobs whenever they are done.
RunDone(j, r) ==
    /\ started[j] /\ ~deferred[j] /\ status[j] \in {"running", "ready"}
    /\ \/ /\ r = "ok"
          /\ j \in ReadyJobs => (forced[j] \/ (status[j] = "ready" /\ (completeReq[j] \/ cancelled[j])))
       \/ /\ r = "error"
          /\ j \in MayFail /\ status[j] = "running" /\ ~forced[j]
    /\ deferred' = [deferred EXCEPT ![j] = TRUE]
    /\ ret' = [ret EXCEPT ![j] = r]
    /\ UNCHANGED <<status, started, userPaused, cancelled, forced, completeReq, graph, bitmap, aborting>>
    /\ StepTail

\* job_exit -> job_completed_locked: job_update_rc, then txn abort or success.
Exit(j) ==
    /\ started[j] /\ deferred[j] /\ status[j] \in {"running", "ready"}
    /\ LET t == TxnOf(j)
           r == IF ret[j] = "ok" /\ forced[j] THEN "canceled" ELSE ret[j]
           A == AbortSet(j)
           others == Members(t) \ {j}
       IN IF r # "ok" THEN
             /\ status' = [status EXCEPT ![j] = Hop(@, "aborting")]
             /\ ret' = [ret EXCEPT ![j] = r]
             /\ userPaused' = NewUserPaused(A, j, userPaused[j])
             /\ cancelled' = NewCancelled(A, j, cancelled[j])
             /\ forced' = NewForced(A, j, forced[j])
             /\ aborting' = StartAbort(j)
             /\ UNCHANGED <<graph, bitmap>>
          ELSE IF \E k \in others : ~Completed(k) THEN
             /\ status' = [status EXCEPT ![j] = Hop(@, "waiting")]
             /\ UNCHANGED <<ret, userPaused, cancelled, forced, aborting, graph, bitmap>>
          ELSE
             \* the last member done: all go pending (list order), then
             \* finalize unless a member has auto-finalize off
             LET st == [k \in Jobs |-> IF k = j THEN Hop(Hop(status[j], "waiting"), "pending")
                                       ELSE IF k \in others THEN Hop(status[k], "pending")
                                       ELSE status[k]]
             IN IF Members(t) \cap ManualFinalize # {} THEN
                   /\ status' = st
                   /\ UNCHANGED <<ret, userPaused, cancelled, forced, aborting, graph, bitmap>>
                ELSE DoFinalize(t, Members(t), st)
    /\ UNCHANGED <<started, deferred, completeReq>>
    /\ StepTail

\* One turn of job_completed_txn_abort_locked's loop on its first member h:
\* finalize it when completed; an unstarted one is completed on the spot
\* (fixed rule) or polled forever (QEMU 7.2: no step, a deadlock); a paused
\* one is entered (job_finish_sync) so that it can notice the cancel.
AbortNext(t) ==
    /\ AbortInProgress(t)
    /\ LET h == TxnHead(t) IN
       \/ /\ Completed(h) \/ (~started[h] /\ RollbackRule = "fixed")
          /\ LET s0 == IF Completed(h) THEN status[h] ELSE Hop(status[h], "aborting")
                 new == Single(h, s0)
             IN /\ status' = [status EXCEPT ![h] = new.status]
                /\ ret' = [ret EXCEPT ![h] = new.ret]
                /\ graph' = [graph EXCEPT ![h] = new.graph]
                /\ bitmap' = [bitmap EXCEPT ![h] = new.bitmap]
       \/ /\ started[h] /\ ~deferred[h] /\ InPause(h)
          /\ status' = [status EXCEPT ![h] = Hop(@, Resumed(@))]
          /\ UNCHANGED <<ret, graph, bitmap>>
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, completeReq, aborting>>
    /\ StepTail

-----------------------------------------------------------------------------
(* Monitors *)

Disconnect(m) ==
    /\ ~Blocked /\ conn[m]
    /\ conn' = [conn EXCEPT ![m] = FALSE]
    /\ UNCHANGED <<jobVars, aborting, seen, lost>>

Connect(m) ==
    /\ ~Blocked /\ ~conn[m]
    /\ conn' = [conn EXCEPT ![m] = TRUE]
    /\ UNCHANGED <<jobVars, aborting, seen, lost>>

\* query-jobs: the monitor learns every job's status (null: not listed).
Query(m) ==
    /\ ~Blocked /\ conn[m]
    /\ seen' = [seen EXCEPT ![m] = status]
    /\ lost' = [lost EXCEPT ![m] = [k \in Jobs |-> FALSE]]
    /\ UNCHANGED <<jobVars, aborting, conn>>

Terminated == \A j \in Jobs : status[j] = "null"

-----------------------------------------------------------------------------

Init ==
    /\ status = [j \in Jobs |-> "undefined"]
    /\ started = [j \in Jobs |-> FALSE]
    /\ deferred = [j \in Jobs |-> FALSE]
    /\ userPaused = [j \in Jobs |-> FALSE]
    /\ drains = [j \in Jobs |-> 0]
    /\ cancelled = [j \in Jobs |-> FALSE]
    /\ forced = [j \in Jobs |-> FALSE]
    /\ ret = [j \in Jobs |-> "ok"]
    /\ completeReq = [j \in Jobs |-> FALSE]
    /\ graph = [j \in Jobs |-> "orig"]
    /\ bitmap = [j \in Jobs |-> "none"]
    /\ aborting = [t \in Txns |-> FALSE]
    /\ conn = [m \in Monitors |-> TRUE]
    /\ seen = [m \in Monitors |-> [j \in Jobs |-> "undefined"]]
    /\ lost = [m \in Monitors |-> [j \in Jobs |-> FALSE]]

ClientStep(j) ==
    \/ Create(j) \/ Start(j) \/ Pause(j) \/ Resume(j)
    \/ Cancel(j, TRUE) \/ Cancel(j, FALSE)
    \/ Complete(j) \/ Finalize(j) \/ Dismiss(j)
    \/ DrainBegin(j) \/ DrainEnd(j)

JobStep(j) ==
    \/ PausePoint(j) \/ Ready(j) \/ ErrorStop(j)
    \/ RunDone(j, "ok") \/ RunDone(j, "error")
    \/ Exit(j)

Next ==
    \/ \E j \in Jobs : ClientStep(j) \/ JobStep(j)
    \/ \E t \in Txns : AbortNext(t)
    \/ \E m \in Monitors : Disconnect(m) \/ Connect(m) \/ Query(m)
    \/ Terminated /\ UNCHANGED vars   \* all gone: not a deadlock

Spec == Init /\ [][Next]_vars

\* A client that keeps finalizing, dismissing, completing, resuming and ending
\* its drained sections, and jobs that make progress when they can.  Few
\* conjuncts on purpose: TLC's liveness checking grows with 2^(conjuncts).
\* Resume and DrainEnd are separate from the rest so that a client pausing
\* and resuming (or draining) forever cannot starve a job's start or finalize.
ClientProgress(j) ==
    Create(j) \/ Start(j) \/ Complete(j) \/ Finalize(j) \/ Dismiss(j)
JobProgress(j) == Ready(j) \/ RunDone(j, "ok") \/ Exit(j)

Fairness ==
    /\ \A j \in Jobs :
        /\ SF_vars(ClientProgress(j)) /\ SF_vars(Resume(j)) /\ SF_vars(DrainEnd(j))
        /\ SF_vars(JobProgress(j))
    /\ SF_vars(\E t \in Txns : AbortNext(t))

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Invariants (reference 11; model/explore checks the same ones) *)

TypeOK ==
    /\ status \in [Jobs -> Statuses]
    /\ started \in [Jobs -> BOOLEAN] /\ deferred \in [Jobs -> BOOLEAN]
    /\ userPaused \in [Jobs -> BOOLEAN] /\ drains \in [Jobs -> 0..MaxDrains]
    /\ cancelled \in [Jobs -> BOOLEAN] /\ forced \in [Jobs -> BOOLEAN]
    /\ ret \in [Jobs -> Results] /\ completeReq \in [Jobs -> BOOLEAN]
    /\ graph \in [Jobs -> {"orig", "changed"}]
    /\ bitmap \in [Jobs -> {"none", "frozen", "committed", "restored"}]
    /\ aborting \in [Txns -> BOOLEAN]
    /\ conn \in [Monitors -> BOOLEAN]
    /\ seen \in [Monitors -> [Jobs -> Statuses]]
    /\ lost \in [Monitors -> [Jobs -> BOOLEAN]]

Committed(j) == status[j] \in {"concluded", "null"} /\ graph[j] = "changed"
RolledBack(j) == status[j] = "aborting" \/ (status[j] \in {"concluded", "null"} /\ ret[j] # "ok")

\* I7: all members of the grouped transaction commit or all abort, and none
\* commits before every member has completed.
TxnAtomic ==
    \A a, b \in Grouped : Committed(a) => (~RolledBack(b) /\ Completed(b))

\* I5/I8: no member is pending before all members are done.
PendingOnlyWhenAllDone ==
    \A a \in Jobs : status[a] = "pending" => \A b \in TxnJobs(TxnOf(a)) : Completed(b)

\* I9: graph changes happen only in finalize, only for a successful job.
GraphOnlyAfterFinalize ==
    \A j \in Jobs : graph[j] = "changed" => (Committed(j) /\ ret[j] = "ok" /\ started[j])

\* I10/I11: the bitmap is busy (frozen) exactly while the job lives; bits are
\* committed only on success, restored (no bit lost) otherwise.
BitmapSafe ==
    \A j \in Jobs :
        /\ j \notin BitmapJobs => bitmap[j] = "none"
        /\ j \in BitmapJobs =>
             /\ (bitmap[j] = "frozen") = Live(status[j])
             /\ bitmap[j] = "committed" => ret[j] = "ok"
             /\ status[j] \in {"concluded", "null"} => bitmap[j] \in {"committed", "restored"}

\* I13: a job sits in its pause point only while pause_count > 0, or while a
\* transaction abort has force-cancelled it and not yet entered it.
PauseConsistent ==
    \A j \in Jobs : InPause(j) => (PauseCount(j) > 0 \/ (forced[j] /\ aborting[TxnOf(j)]))

\* I6: a concluded job reports its final result: an error iff it failed or
\* was force-cancelled, and a forced cancel never reports success.
ConcludedReportsResult ==
    \A j \in Jobs : status[j] = "concluded" =>
        /\ forced[j] => ret[j] # "ok"
        /\ (ret[j] = "ok") = (graph[j] = "changed")

\* Monitors: a monitor that lost no event of j since it last queried knows
\* j's status; one that did recovers it with one query-jobs (Query).
MonitorView ==
    \A m \in Monitors, j \in Jobs : ~lost[m][j] => seen[m][j] = status[j]

(* Action properties *)

RECURSIVE Closure(_, _)
Closure(S, n) == IF n = 0 THEN S
                 ELSE Closure(S \cup {e[2] : e \in {x \in Edges : x[1] \in S}}, n - 1)
ReachFrom == [s \in Statuses |-> Closure({s}, Cardinality(Statuses))]

\* I1: statuses change only along the table (each hop is also asserted).
StatusAlongTable == [][\A j \in Jobs : status'[j] \in ReachFrom[status[j]]]_vars

\* I6: a started job with auto-dismiss off leaves concluded only by dismiss:
\* it never reaches null in the step that concludes it.
ConcludedStaysUntilDismiss ==
    [][\A j \in ManualDismiss :
         (started[j] /\ status'[j] = "null" /\ status[j] # "null") => status[j] = "concluded"]_vars

\* I9/I8: with auto-finalize off in the transaction, the graph changes only in
\* a step taken from pending (job-finalize), never on the automatic path.
ManualFinalizeWaits ==
    [][\A j \in Jobs :
         (graph'[j] # graph[j] /\ TxnJobs(TxnOf(j)) \cap ManualFinalize # {}) => status[j] = "pending"]_vars

(* Liveness (MC_live) *)

\* The client eventually stops pausing and draining, and I/O errors stop
\* recurring (else a job can be kept paused forever: TLC finds that
\* counterexample without this premise).
ClientSettles == <>[][\A j \in Jobs : ~Pause(j) /\ ~DrainBegin(j) /\ ~ErrorStop(j)]_vars

AllReachNull == ClientSettles => \A j \in Jobs : <>(status[j] = "null")
NoTxnWaitsForever ==
    ClientSettles => \A t \in Txns : [](AbortInProgress(t) => <>~AbortInProgress(t))
WaitingEnds ==
    ClientSettles => \A j \in Jobs : [](status[j] = "waiting" => <>(status[j] # "waiting"))

=============================================================================
