------------------------------ MODULE Tracker ------------------------------
(***************************************************************************)
(* The management side of the job lifecycle (issue 13): a tracker that     *)
(* starts backups, follows a lossy QMP monitor, crashes and restarts over  *)
(* a durable journal, and must still decide every backup's outcome and     *)
(* every bitmap's state -- composed with QEMU, which may restart (jobs and *)
(* non-persistent bitmaps lost, images kept) and whose other clients may   *)
(* cancel the tracker's jobs and run jobs of their own.                    *)
(*                                                                         *)
(* Every status change of a job goes through Hop, which asserts that it is *)
(* an edge of the generated table of QemuVersion (JobTables; fsm's         *)
(* canonical table); every QMP verb is guarded by that table's Permits, so *)
(* QEMU refuses what the table refuses.  The job side is the lifecycle of JobLifecycle.tla cut down to *)
(* what the tracker can observe: one backup per transaction (the default   *)
(* completion-mode), no pauses or drains (they change no outcome), and the *)
(* steps inside one main-loop call taken together (running -> waiting ->   *)
(* pending, running -> aborting -> concluded).                             *)
(*                                                                         *)
(* The tracker's protocol: it starts every job with auto-finalize=false    *)
(* and auto-dismiss=false; it journals its intent before sending the       *)
(* command; on every (re)connect it reconciles from query-jobs (and the    *)
(* bitmaps of query-named-block-nodes); it finalizes jobs in pending,      *)
(* journals each verdict and only then dismisses.  AutoFinalize and        *)
(* AutoDismiss are the flags it starts jobs with: MC_tracker keeps the     *)
(* protocol's FALSE, MC_tracker_autodismiss sets them as tools did before  *)
(* QEMU 2.12 had PENDING and CONCLUDED.                                    *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC, JobTables

CONSTANTS
    N,             \* the tracker's jobs 1..N (backups, started in id order)
    NOthers,       \* jobs of another client, N+1..N+NOthers
    BitmapJobs,    \* tracked backups that use a dirty bitmap (bitmap mode on-success)
    MayFail,       \* tracked jobs whose run may fail (I/O error, on-error=report)
    OtherCancels,  \* tracked jobs another client may cancel (job-cancel)
    AutoFinalize,  \* the auto-finalize flag the tracker starts its jobs with
    AutoDismiss    \* the auto-dismiss flag the tracker starts its jobs with

Jobs == 1..N
Others == (N + 1)..(N + NOthers)
AllJobs == Jobs \cup Others

ASSUME /\ N \in 1..3 /\ NOthers \in 0..1
       /\ \A S \in {BitmapJobs, MayFail, OtherCancels} : S \subseteq Jobs
       /\ AutoFinalize \in BOOLEAN /\ AutoDismiss \in BOOLEAN

\* The tracker's verdicts (issue 13).  "notstarted" is journaled for a job
\* that QEMU never accepted (refused, or the tracker stopped between
\* journaling its intent and sending); it is reported as failed.
Verdicts == {"succeeded", "failed", "cancelled", "unknown", "notstarted"}
Results == {"ok", "error", "canceled"}   \* job->ret: 0, -EIO, -ECANCELED
Outcome(r) == CASE r = "ok" -> "succeeded" [] r = "error" -> "failed" [] r = "canceled" -> "cancelled"

VARIABLES
    \* QEMU (every function is over AllJobs; the tracker's journal and view too,
    \* because query-jobs shows it every client's jobs)
    status,     \* status[j]: "undefined" until created, "null" once gone
    ret,        \* ret[j]: "none" until the job ends, then "ok", "error" or "canceled"
    committed,  \* committed[j]: the backup committed: its target holds the source (images survive restarts)
    bm,         \* bm[j]: the job's dirty bitmap: "none" (no bitmap), "unused" (job not yet
                \* started), "frozen" (busy), "committed" (cleared: relative to this target),
                \* "restored" (successor merged back: relative to the previous chain), "lost"
    lost,       \* lost[j]: a QEMU restart destroyed job j while it existed (ghost)
    \* the tracker's monitor connection
    conn,       \* "down", "up" (connected, not yet reconciled), "synced" (reconciled since connecting)
    inbox,      \* inbox[j]: an event of job j received and not yet handled: "none", "pending",
                \* or a completion event's result ("ok", "error", "canceled")
    \* the tracker's durable journal
    intent,     \* intent[j]: "none", "intent" (journaled, not yet confirmed), "accepted"
    verdict,    \* verdict[j]: "none" or one of Verdicts
    \* the tracker's volatile state (lost when it crashes)
    view,       \* view[j]: what it last learned of job j (from an event or query-jobs): "?",
                \* "running", "pending", "absent", or concluded with its result ("ok", "error", "canceled")
    bv,         \* bv[j]: the bitmap verdict of its last reconcile: "none", "ok", "needs-full-backup"
    sending     \* the job whose backup command the tracker is sending (0: none)

qemuVars == <<status, ret, committed, bm, lost>>
trackerVars == <<intent, verdict, view, bv, sending>>
vars == <<qemuVars, conn, inbox, trackerVars>>

-----------------------------------------------------------------------------
(* Helpers *)

\* Hop(a, b): the status after the edge a -> b, which must be in the table.
Hop(a, b) == IF Allowed(a, b) THEN b
             ELSE Assert(FALSE, <<"not a JobSTT edge", a, b>>)

Present(j) == status[j] \notin {"undefined", "null"}
Tracked(j) == j \in Jobs /\ intent[j] # "none"
Connected == conn # "down"

\* Events emitted by a step reach the tracker only while it is connected.
Emit(j, e) == IF Connected THEN [inbox EXCEPT ![j] = e] ELSE inbox

\* job_finalize_single for a tracked job in status s0 with result r: commit or
\* abort (graph, bitmap), conclude, and dismiss when auto-dismiss is on.
Conclude(s0, r) ==
    LET s1 == IF r # "ok" THEN Hop(s0, "aborting") ELSE s0
        s2 == Hop(s1, "concluded")
    IN IF AutoDismiss THEN Hop(s2, "null") ELSE s2

\* The step ending job j with result r from status s0: status, ret,
\* committed and bitmap.  Its completion event (BLOCK_JOB_COMPLETED or
\* BLOCK_JOB_CANCELLED, emitted when the job is finalized) is Emit(j, r).
EndJob(j, s0, r) ==
    /\ status' = [status EXCEPT ![j] = Conclude(s0, r)]
    /\ ret' = [ret EXCEPT ![j] = r]
    /\ committed' = [committed EXCEPT ![j] = (r = "ok")]
    /\ bm' = [bm EXCEPT ![j] = IF j \in BitmapJobs THEN (IF r = "ok" THEN "committed" ELSE "restored") ELSE @]

-----------------------------------------------------------------------------
(* QEMU: the tracked jobs run, fail, are cancelled by another client *)

\* The run returns: success goes waiting -> pending (one job per
\* transaction: all members are done) and on to concluded with
\* auto-finalize; an I/O error aborts.
RunEnd(j, r) ==
    /\ status[j] = "running"
    /\ r = "error" => j \in MayFail
    /\ IF r = "ok" /\ ~AutoFinalize THEN
          /\ status' = [status EXCEPT ![j] = Hop(Hop(@, "waiting"), "pending")]
          /\ inbox' = Emit(j, "pending")
          /\ UNCHANGED <<ret, committed, bm>>
       ELSE /\ EndJob(j, IF r = "ok" THEN Hop(Hop(status[j], "waiting"), "pending") ELSE status[j], r)
            /\ inbox' = Emit(j, r)
    /\ UNCHANGED <<lost, conn, trackerVars>>

\* Another client's job-cancel of a tracked job (force: the backup stops).
OtherCancel(j) ==
    /\ j \in OtherCancels
    /\ Permits(status[j], "cancel") /\ status[j] \in {"running", "pending"}
    /\ EndJob(j, status[j], "canceled")
    /\ inbox' = Emit(j, "canceled")
    /\ UNCHANGED <<lost, conn, trackerVars>>

\* QEMU restarts: every job and every (non-persistent) bitmap is gone, images
\* are kept (committed); the monitor connection drops.  Persistent bitmaps
\* are no better: after an unclean stop QEMU marks them inconsistent.
Restart ==
    /\ status' = [j \in AllJobs |-> IF Present(j) THEN "null" ELSE status[j]]
    /\ lost' = [j \in AllJobs |-> lost[j] \/ Present(j)]
    /\ bm' = [j \in AllJobs |-> IF bm[j] = "none" THEN "none" ELSE "lost"]
    /\ conn' = "down"
    /\ inbox' = [j \in AllJobs |-> "none"]
    /\ sending' = 0
    /\ UNCHANGED <<ret, committed, intent, verdict, view, bv>>

(* Another client's own job: already waiting in pending for its client's
   job-finalize when the tracker starts (the job the tracker must not
   finalize, T5), then finalized and dismissed by that client. *)
OtherStep(o) ==
    /\ \/ /\ Permits(status[o], "finalize")
          /\ status' = [status EXCEPT ![o] = Hop(@, "concluded")]
          /\ ret' = [ret EXCEPT ![o] = "ok"]
       \/ /\ Permits(status[o], "dismiss")
          /\ status' = [status EXCEPT ![o] = Hop(@, "null")]
          /\ UNCHANGED ret
    /\ UNCHANGED <<committed, bm, lost, conn, inbox, trackerVars>>

-----------------------------------------------------------------------------
(* The monitor: events are lost, the connection drops *)

\* The lossy monitor loses an event the tracker has not handled yet.
Drop(j) ==
    /\ inbox[j] # "none"
    /\ inbox' = [inbox EXCEPT ![j] = "none"]
    /\ UNCHANGED <<qemuVars, conn, trackerVars>>

\* The connection drops: undelivered events are gone, and a backup command
\* being sent fails (the tracker's backup command gives up).
Disconnect ==
    /\ Connected
    /\ conn' = "down"
    /\ inbox' = [j \in AllJobs |-> "none"]
    /\ sending' = 0
    /\ UNCHANGED <<qemuVars, intent, verdict, view, bv>>

Connect ==
    /\ conn = "down"
    /\ conn' = "up"
    /\ UNCHANGED <<qemuVars, inbox, trackerVars>>

-----------------------------------------------------------------------------
(* The tracker *)

\* The tracker process dies at any instant and is started again: its
\* connection and volatile state are gone, its journal is intact.
Crash ==
    /\ conn' = "down"
    /\ inbox' = [j \in AllJobs |-> "none"]
    /\ view' = [j \in AllJobs |-> "?"]
    /\ bv' = [j \in AllJobs |-> "none"]
    /\ sending' = 0
    /\ UNCHANGED <<qemuVars, intent, verdict>>

\* `jobsim tracker backup`: journal the intent first (jobs in id order).
Intend(j) ==
    /\ Connected /\ sending = 0
    /\ intent[j] = "none" /\ \A i \in 1..(j - 1) : intent[i] # "none"
    /\ intent' = [intent EXCEPT ![j] = "intent"]
    /\ sending' = j
    /\ UNCHANGED <<qemuVars, conn, inbox, verdict, view, bv>>

\* ... then send blockdev-backup (auto-finalize and auto-dismiss as
\* configured).  QEMU creates and starts the job, or refuses it when its
\* bitmap is gone.  The reply is journaled (accepted, or the refusal as
\* notstarted), or the connection drops before it arrives.
Send(j) ==
    /\ Connected /\ sending = j
    /\ LET refused == bm[j] = "lost" IN
       /\ IF refused THEN UNCHANGED <<status, bm>>
          ELSE /\ status' = [status EXCEPT ![j] = Hop(Hop(@, "created"), "running")]
               /\ bm' = [bm EXCEPT ![j] = IF @ = "none" THEN @ ELSE "frozen"]
       /\ \/ /\ intent' = [intent EXCEPT ![j] = IF refused THEN @ ELSE "accepted"]
             /\ verdict' = [verdict EXCEPT ![j] = IF refused THEN "notstarted" ELSE @]
             /\ UNCHANGED <<conn, inbox>>
          \/ /\ conn' = "down" /\ inbox' = [k \in AllJobs |-> "none"]
             /\ UNCHANGED <<intent, verdict>>
    /\ sending' = 0
    /\ UNCHANGED <<ret, committed, lost, view, bv>>

\* The reconcile: a pure function of the journal, the volatile state and
\* QEMU's answers to query-jobs and query-named-block-nodes.  The view covers
\* every job in the answer, other clients' too; verdicts and commands are
\* only for the jobs in the journal (Tracked).
SnapView(j) ==
    CASE ~Present(j) -> "absent"
      [] status[j] = "pending" -> "pending"
      [] status[j] = "concluded" -> ret[j]
      [] OTHER -> "running"

RecIntent(t, j) == IF t.intent[j] = "intent" /\ Present(j) THEN "accepted" ELSE t.intent[j]

\* A result learned (view) is journaled by Journal, a step of its own; a job
\* gone from QEMU is decided here.
RecVerdict(t, j) ==
    IF t.verdict[j] # "none" \/ t.intent[j] = "none" \/ Present(j) THEN t.verdict[j]
    \* gone: QEMU lost a job it had accepted; one never confirmed was never
    \* started (a job accepted and not yet dismissed cannot vanish otherwise)
    ELSE IF t.intent[j] = "accepted" THEN "unknown"
    ELSE "notstarted"

\* A bitmap is ok when it still exists and the job's verdict says on top of
\* which chain it counts (with the target after success, without it after a
\* failure); a lost bitmap or an unknown outcome needs a full backup.
RecBitmap(v, j) ==
    CASE j \notin BitmapJobs \/ v = "none" -> "none"
      [] v # "unknown" /\ bm[j] \notin {"lost", "frozen"} -> "ok"
      [] OTHER -> "needs-full-backup"

Rec(t) ==
    [intent |-> [j \in AllJobs |-> RecIntent(t, j)],
     verdict |-> [j \in AllJobs |-> RecVerdict(t, j)],
     view |-> [j \in AllJobs |-> SnapView(j)],
     bv |-> [j \in AllJobs |-> RecBitmap(RecVerdict(t, j), j)]]

Tr == [intent |-> intent, verdict |-> verdict, view |-> view, bv |-> bv]

\* query-jobs is answered after every event emitted before it, so the
\* tracker has handled (or the monitor lost) those first.
Reconcile ==
    /\ Connected /\ sending = 0
    /\ \A j \in Jobs : inbox[j] = "none"
    /\ LET r == Rec(Tr) IN
       /\ intent' = r.intent /\ verdict' = r.verdict /\ view' = r.view /\ bv' = r.bv
    /\ conn' = "synced"
    /\ UNCHANGED <<qemuVars, inbox, sending>>

\* Handle an event: pending says finalize is due; a completion event carries
\* the job's result.
Hear(j) ==
    /\ Connected /\ inbox[j] # "none"
    /\ view' = [view EXCEPT ![j] = inbox[j]]
    /\ inbox' = [inbox EXCEPT ![j] = "none"]
    /\ UNCHANGED <<qemuVars, conn, intent, verdict, bv, sending>>

\* Write the verdict of a result the tracker learned to the journal.
CanJournal(j) == Tracked(j) /\ verdict[j] = "none" /\ view[j] \in Results
Journal(j) ==
    /\ CanJournal(j)
    /\ verdict' = [verdict EXCEPT ![j] = Outcome(view[j])]
    /\ UNCHANGED <<qemuVars, conn, inbox, intent, view, bv, sending>>

\* A QMP command of the tracker on job j: QEMU applies it when the table
\* permits the verb (else it answers an error and changes nothing).  Then
\* the reply arrives, after the events the command emitted (the tracker
\* forgets what it knew of j: it learns the result from those events or the
\* next query), or the connection drops first (events and reply lost).
\* The tracker sees other clients' jobs in query-jobs; Tracked keeps its
\* commands off them (T5).
CanFinalize(j) == conn = "synced" /\ sending = 0 /\ Tracked(j) /\ verdict[j] = "none" /\ view[j] = "pending"
CanDismiss(j) == conn = "synced" /\ sending = 0 /\ Tracked(j) /\ verdict[j] # "none" /\ view[j] \in Results

Reply(j, events) ==
    \/ /\ view' = [view EXCEPT ![j] = "?"]
       /\ inbox' = events
       /\ UNCHANGED conn
    \/ /\ conn' = "down" /\ inbox' = [k \in AllJobs |-> "none"]
       /\ UNCHANGED view

\* job-finalize: commits the backup (and, with auto-dismiss, drops the job).
TrackerFinalize(j) ==
    /\ CanFinalize(j)
    /\ IF Permits(status[j], "finalize")
       THEN EndJob(j, status[j], "ok") /\ Reply(j, Emit(j, "ok"))
       ELSE UNCHANGED <<status, ret, committed, bm>> /\ Reply(j, inbox)
    /\ UNCHANGED <<lost, intent, verdict, bv, sending>>

\* job-dismiss: only once the verdict is journaled (CanDismiss).
TrackerDismiss(j) ==
    /\ CanDismiss(j)
    /\ IF Permits(status[j], "dismiss")
       THEN status' = [status EXCEPT ![j] = Hop(@, "null")]
       ELSE UNCHANGED status
    /\ Reply(j, inbox)
    /\ UNCHANGED <<ret, committed, bm, lost, intent, verdict, bv, sending>>

-----------------------------------------------------------------------------

Init ==
    /\ status = [j \in AllJobs |-> IF j \in Others THEN "pending" ELSE "undefined"]
    /\ ret = [j \in AllJobs |-> "none"]
    /\ committed = [j \in AllJobs |-> FALSE]
    /\ bm = [j \in AllJobs |-> IF j \in BitmapJobs THEN "unused" ELSE "none"]
    /\ lost = [j \in AllJobs |-> FALSE]
    /\ conn = "down"
    /\ inbox = [j \in AllJobs |-> "none"]
    /\ intent = [j \in AllJobs |-> "none"]
    /\ verdict = [j \in AllJobs |-> "none"]
    /\ view = [j \in AllJobs |-> "?"]
    /\ bv = [j \in AllJobs |-> "none"]
    /\ sending = 0

Next ==
    \/ \E j \in Jobs :
          \/ RunEnd(j, "ok") \/ RunEnd(j, "error") \/ OtherCancel(j)
          \/ Drop(j) \/ Hear(j) \/ Journal(j) \/ Intend(j) \/ Send(j)
    \/ \E j \in AllJobs : TrackerFinalize(j) \/ TrackerDismiss(j)
    \/ \E o \in Others : OtherStep(o)
    \/ Restart \/ Disconnect \/ Connect \/ Crash \/ Reconcile

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants T1-T5 (spec/: the tracker's rules; the Go tracker's property *)
(* tests check the same numbers)                                          *)

TypeOK ==
    /\ status \in [AllJobs -> Statuses]
    /\ ret \in [AllJobs -> {"none"} \cup Results]
    /\ committed \in [AllJobs -> BOOLEAN]
    /\ bm \in [AllJobs -> {"none", "unused", "frozen", "committed", "restored", "lost"}]
    /\ lost \in [AllJobs -> BOOLEAN]
    /\ conn \in {"down", "up", "synced"}
    /\ inbox \in [AllJobs -> {"none", "pending"} \cup Results]
    /\ intent \in [AllJobs -> {"none", "intent", "accepted"}]
    /\ verdict \in [AllJobs -> {"none"} \cup Verdicts]
    /\ view \in [AllJobs -> {"?", "running", "pending", "absent"} \cup Results]
    /\ bv \in [AllJobs -> {"none", "ok", "needs-full-backup"}]
    /\ sending \in {0} \cup Jobs

\* The verdict the tracker reports (`jobsim tracker status`).
Reported(j) ==
    CASE verdict[j] = "none" -> IF intent[j] = "none" THEN "none" ELSE "running"
      [] verdict[j] = "notstarted" -> "failed"
      [] OTHER -> verdict[j]

\* T1: a succeeded verdict means the target is right (the backup really
\* committed), and an ok bitmap is right: it exists and counts from the
\* chain the verdicts describe.  Bitmap verdicts are those of the last
\* reconcile, so they are judged while the tracker is synced (a QEMU restart
\* drops the connection; the next reconcile recomputes them).
BitmapRight(j) ==
    \/ bm[j] = "committed" /\ verdict[j] = "succeeded"
    \/ bm[j] \in {"unused", "restored"} /\ verdict[j] \in {"failed", "cancelled", "notstarted"}
T1 ==
    /\ \A j \in Jobs : Reported(j) = "succeeded" => committed[j]
    /\ conn = "synced" => \A j \in BitmapJobs : bv[j] = "ok" => BitmapRight(j)

\* T2: unknown only when QEMU lost the job (a restart) -- never from missed
\* events or tracker crashes.
T2 == \A j \in Jobs : verdict[j] = "unknown" => lost[j]

\* T2's twin for the other verdict without a result: a job is reported as
\* never started (failed) only when QEMU never had it, refused it (its
\* bitmap was gone) or lost it.
NotStartedRight ==
    \A j \in Jobs : verdict[j] = "notstarted" => (status[j] = "undefined" \/ lost[j] \/ bm[j] = "lost")

\* T3 (safety): a tracked job is gone from QEMU without a restart only after
\* its verdict is journaled (dismiss => verdict durable).  With auto-dismiss
\* QEMU drops jobs itself, which is what T2 then catches.
T3Safe ==
    ~AutoDismiss => \A j \in Jobs : (status[j] = "null" /\ ~lost[j]) => verdict[j] # "none"

\* T3 (progress): when the tracker is connected and has nothing left to do
\* -- no event to handle, a reconcile would change nothing, nothing to
\* journal, finalize or dismiss -- no tracked job waits in pending or
\* concluded.
Idle ==
    /\ conn = "synced" /\ sending = 0
    /\ \A j \in Jobs : inbox[j] = "none" /\ ~CanJournal(j) /\ ~CanFinalize(j) /\ ~CanDismiss(j)
    /\ Rec(Tr) = Tr
T3Done == Idle => \A j \in Jobs : Tracked(j) => status[j] \notin {"pending", "concluded"}

\* T4: reconciling twice changes nothing (in every state, whatever QEMU's
\* answer: the second reconcile of the same answer is the identity).
T4 == Rec(Rec(Tr)) = Rec(Tr)

\* T5: the tracker never sends a command about another client's job.
T5 == [][\A o \in Others : ~TrackerFinalize(o) /\ ~TrackerDismiss(o)]_vars

=============================================================================
